package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	goimap "github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver"
	"github.com/emersion/go-imap/v2/imapserver/imapmemserver"
	"github.com/emersion/go-sasl"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/triage-bot/triage/oauth/oauthtest"
)

// xoauthSession is an in-memory IMAP session that accepts only XOAUTH2
// with a token the provider stand-in issued (as Microsoft 365 does).
type xoauthSession struct {
	imapserver.Session
	user  string
	valid func(string) bool
}

func (s *xoauthSession) Login(string, string) error {
	return &goimap.Error{Type: goimap.StatusResponseTypeNo, Text: "password login is disabled: use XOAUTH2"}
}

func (s *xoauthSession) AuthenticateMechanisms() []string { return []string{"XOAUTH2"} }

func (s *xoauthSession) Authenticate(mech string) (sasl.Server, error) {
	if mech != "XOAUTH2" {
		return nil, &goimap.Error{Type: goimap.StatusResponseTypeNo, Text: "XOAUTH2 only"}
	}
	return xoauthServer(func(user, token string) error {
		if user != s.user || !s.valid(token) {
			return &goimap.Error{Type: goimap.StatusResponseTypeNo, Code: goimap.ResponseCodeAuthenticationFailed, Text: "invalid token"}
		}
		return s.Session.Login("bot", "secret")
	}), nil
}

// xoauthServer reads the XOAUTH2 initial response
// ("user=…\x01auth=Bearer …\x01\x01").
type xoauthServer func(user, token string) error

func (f xoauthServer) Next(resp []byte) ([]byte, bool, error) {
	var user, token string
	for _, kv := range strings.Split(string(resp), "\x01") {
		if v, ok := strings.CutPrefix(kv, "user="); ok {
			user = v
		}
		if v, ok := strings.CutPrefix(kv, "auth=Bearer "); ok {
			token = v
		}
	}
	return nil, true, f(user, token)
}

// literal is a message as an APPEND literal.
type literal struct{ *strings.Reader }

func (l literal) Size() int64 { return l.Reader.Size() }

func startXOAUTH2IMAP(t *testing.T, user string, valid func(string) bool) (string, *imapmemserver.User) {
	mem := imapmemserver.New()
	u := imapmemserver.NewUser("bot", "secret")
	require.NoError(t, u.Create("INBOX", nil))
	mem.AddUser(u)
	srv := imapserver.New(&imapserver.Options{
		NewSession: func(*imapserver.Conn) (imapserver.Session, *imapserver.GreetingData, error) {
			return &xoauthSession{Session: mem.NewSession(), user: user, valid: valid}, nil, nil
		},
		Caps: goimap.CapSet{goimap.CapIMAP4rev1: {}}, InsecureAuth: true, Logger: quietLogger{},
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().String(), u
}

// TestOAuth2LoginAndRun: `triage auth login` signs in with the device
// code against a provider stand-in and keeps the refresh token in the
// store; `config check --connect` and `run --once` then log in to an
// IMAP server that demands XOAUTH2, refreshing the access token.
func TestOAuth2LoginAndRun(t *testing.T) {
	p := oauthtest.Start(t)
	user := "support@example.com"
	imapAddr, mem := startXOAUTH2IMAP(t, user, p.Valid)
	raw := "From: ana@customer.example\r\nSubject: down\r\nMessage-ID: <oauth-1@x>\r\n\r\nERR_NGROK_108\r\n"
	_, err := mem.Append("INBOX", literal{strings.NewReader(raw)}, &goimap.AppendOptions{})
	require.NoError(t, err)
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "triage.yaml")
	require.NoError(t, os.WriteFile(cfgPath, []byte(fmt.Sprintf(`data_dir: %s
http: {listen: "off"}
log: {level: warn}
imap:
  - name: support
    host: %s
    tls: plain
    allow_plain: true
    username: %s
    backfill: true
    oauth2:
      provider: generic
      client_id: %s
      token_url: %s/token
      device_auth_url: %s/device
routes:
  rules:
    - name: coded
      match: {has_code: true}
      actions:
        - {kind: imap.flag, target: "$ngrok-{code}"}
`, filepath.Join(dir, "data"), imapAddr, user, p.ClientID, p.URL, p.URL)), 0o600))

	out, errOut, code := triage(t, "", "run", "--once", "--config", cfgPath)
	assert.Equal(t, 1, code, "not signed in yet")
	assert.Contains(t, errOut, "no OAuth2 sign-in stored for support@example.com: run `triage auth login support`", out)

	p.ExpiresIn = 60 // under five minutes left: every login refreshes first
	out, errOut, code = triage(t, "", "auth", "login", "--config", cfgPath, "support")
	require.Equal(t, 0, code, "stdout:\n%s\nstderr:\n%s", out, errOut)
	assert.Contains(t, out, "enter the code WDJB-MJHT")
	assert.Contains(t, out, "Signed in")

	var check bytes.Buffer
	errs := checkEmail(context.Background(), mustLoad(t, cfgPath), &check)
	require.Len(t, errs, 1, "logged in; only the test server's missing MOVE is reported")
	assert.Contains(t, errs[0].Error(), "no MOVE and no UIDPLUS")
	assert.Equal(t, 1, p.Refreshes(), "refreshed before its expiry")

	out, errOut, code = triage(t, "", "run", "--once", "--config", cfgPath)
	require.Equal(t, 0, code, "stdout:\n%s\nstderr:\n%s", out, errOut)
	assert.Contains(t, out, "took in 1 new ticket(s)")
	assert.Contains(t, out, "1 done")
	assert.Positive(t, p.Refreshes())

	_, errOut, code = triage(t, "", "auth", "login", "--config", cfgPath, "nobody")
	assert.Equal(t, 2, code)
	assert.Contains(t, errOut, `no imap account or smtp named "nobody" has an oauth2 block (accounts with oauth2: support)`)
}

// urlWriter is a terminal that hands over the first address printed on a
// line of its own (indented), as auth login prints the one to open.
type urlWriter struct {
	mu   sync.Mutex
	buf  bytes.Buffer
	urls chan string
}

func (w *urlWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, line := range strings.Split(string(p), "\n") {
		if u, ok := strings.CutPrefix(line, "  http"); ok {
			select {
			case w.urls <- "http" + u:
			default:
			}
		}
	}
	return w.buf.Write(p)
}

func (w *urlWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}

// TestOAuth2LoginGmailOverSSH: with the google preset `auth login` runs
// the loopback flow; the browser is "elsewhere", so the address it was
// sent back to is pasted on stdin, and the bot then logs in to an IMAP
// server that demands XOAUTH2.
func TestOAuth2LoginGmailOverSSH(t *testing.T) {
	p := oauthtest.Start(t)
	user := "support@example.com"
	imapAddr, _ := startXOAUTH2IMAP(t, user, p.Valid)
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "triage.yaml")
	require.NoError(t, os.WriteFile(cfgPath, []byte(fmt.Sprintf(`data_dir: %s
http: {listen: "off"}
log: {level: warn}
imap:
  - name: gmail
    host: %s
    tls: plain
    allow_plain: true
    username: %s
    oauth2:
      provider: google
      client_id: %s
      client_secret: desktop-app-secret
      token_url: %s/token
      auth_url: %s/authorize
`, filepath.Join(dir, "data"), imapAddr, user, p.ClientID, p.URL, p.URL)), 0o600))

	stdin, paste := io.Pipe()
	t.Cleanup(func() { paste.Close() })
	term := &urlWriter{urls: make(chan string, 1)}
	var errOut bytes.Buffer
	done := make(chan error, 1)
	go func() {
		done <- run(context.Background(), []string{"auth", "login", "--config", cfgPath, "gmail"}, stdin, term, &errOut)
	}()
	var authURL string
	select {
	case authURL = <-term.urls:
	case <-time.After(10 * time.Second):
		require.FailNow(t, "auth login printed no address", term.String())
	}
	hc := &http.Client{Timeout: 10 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := hc.Get(authURL)
	require.NoError(t, err)
	resp.Body.Close()
	back := resp.Header.Get("Location")
	require.True(t, strings.HasPrefix(back, "http://127.0.0.1:"), back)
	_, err = io.WriteString(paste, back+"\n")
	require.NoError(t, err)
	select {
	case err = <-done:
	case <-time.After(10 * time.Second):
		require.FailNow(t, "auth login did not return", term.String())
	}
	out := term.String()
	require.NoError(t, err, "stdout:\n%s\nstderr:\n%s", out, errOut.String())
	assert.Contains(t, out, "Signing in gmail (support@example.com) with google.")
	assert.Contains(t, out, "paste it here")
	assert.Contains(t, out, "Signed in")
	assert.NotContains(t, out+errOut.String(), "desktop-app-secret")
	assert.Equal(t, "offline", p.Authorization().Get("access_type"))

	errs := checkEmail(context.Background(), mustLoad(t, cfgPath), &bytes.Buffer{})
	require.Len(t, errs, 1, "logged in; only the test server's missing MOVE is reported")
	assert.Contains(t, errs[0].Error(), "no MOVE and no UIDPLUS")
}
