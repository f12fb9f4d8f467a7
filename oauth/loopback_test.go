package oauth_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/triage-bot/triage/oauth"
	"github.com/triage-bot/triage/oauth/oauthtest"
)

// terminal is Login's output; it hands over the address Login prints
// for the browser.
type terminal struct {
	mu   sync.Mutex
	buf  bytes.Buffer
	urls chan string
}

func newTerminal() *terminal { return &terminal{urls: make(chan string, 1)} }

func (t *terminal) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, line := range strings.Split(string(p), "\n") {
		if u, ok := strings.CutPrefix(line, "  http"); ok {
			select {
			case t.urls <- "http" + u:
			default:
			}
		}
	}
	return t.buf.Write(p)
}

func (t *terminal) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.buf.String()
}

// authURL waits for the address Login prints.
func (t *terminal) authURL(tb testing.TB) string {
	tb.Helper()
	select {
	case u := <-t.urls:
		return u
	case <-time.After(10 * time.Second):
		require.FailNow(tb, "Login printed no address", t.String())
		return ""
	}
}

// visit opens u as the browser does and returns the status and page.
func visit(t *testing.T, u string) (int, string) {
	t.Helper()
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Get(u)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(b)
}

func TestLoopbackLogin(t *testing.T) {
	tests := []struct {
		name    string
		cfg     func(p *oauthtest.Provider) oauth.Config
		deny    bool
		browser func(t *testing.T, authURL string, paste io.Writer)
		want    string // error, or "" for success
		outHas  []string
	}{
		{
			name: "browser reaches the loopback server",
			browser: func(t *testing.T, authURL string, _ io.Writer) {
				status, page := visit(t, authURL) // follows the redirect to 127.0.0.1
				assert.Equal(t, http.StatusOK, status)
				assert.Contains(t, page, "you may close this tab")
			},
		},
		{
			name: "generic provider with flow loopback",
			cfg: func(p *oauthtest.Provider) oauth.Config {
				return oauth.Config{Account: "support", Provider: "generic", Flow: "loopback", ClientID: p.ClientID, TokenURL: p.URL + "/token", AuthURL: p.URL + "/authorize"}
			},
			browser: func(t *testing.T, authURL string, _ io.Writer) {
				status, _ := visit(t, authURL)
				assert.Equal(t, http.StatusOK, status)
			},
		},
		{
			name: "address pasted over SSH",
			browser: func(t *testing.T, authURL string, paste io.Writer) {
				back := oauthtest.Approve(t, authURL)
				_, err := io.WriteString(paste, "\nnot an address\nhttp://127.0.0.1/?x=1\n  "+back.String()+"  \n")
				require.NoError(t, err)
			},
			outHas: []string{"paste it here and press Enter", "Paste the address of the page", "neither an address nor a code", "holds no sign-in answer"},
		},
		{
			name: "escaped code pasted alone",
			browser: func(t *testing.T, authURL string, paste io.Writer) {
				back := oauthtest.Approve(t, authURL)
				code := back.Query().Get("code")
				require.True(t, strings.HasPrefix(code, "code-"))
				_, err := io.WriteString(paste, "code%2D"+strings.TrimPrefix(code, "code-")+"\n")
				require.NoError(t, err)
			},
		},
		{
			name: "code pasted alone",
			browser: func(t *testing.T, authURL string, paste io.Writer) {
				back := oauthtest.Approve(t, authURL)
				_, err := io.WriteString(paste, back.Query().Get("code")+"\n")
				require.NoError(t, err)
			},
		},
		{
			name: "state mismatch at the loopback server",
			browser: func(t *testing.T, authURL string, _ io.Writer) {
				back := oauthtest.Approve(t, authURL)
				q := back.Query()
				q.Set("state", "forged")
				back.RawQuery = q.Encode()
				status, page := visit(t, back.String())
				assert.Equal(t, http.StatusBadRequest, status)
				assert.Contains(t, page, "refused")
			},
			want: "not for this sign-in (its state does not match)",
		},
		{
			name: "state mismatch pasted",
			browser: func(t *testing.T, authURL string, paste io.Writer) {
				back := oauthtest.Approve(t, authURL)
				_, err := io.WriteString(paste, strings.Replace(back.String(), "state=", "state=old", 1)+"\n")
				require.NoError(t, err)
			},
			want: "not for this sign-in",
		},
		{
			name: "person refuses",
			deny: true,
			browser: func(t *testing.T, authURL string, _ io.Writer) {
				status, _ := visit(t, authURL)
				assert.Equal(t, http.StatusBadRequest, status)
			},
			want: "the provider refused the sign-in: access_denied",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := oauthtest.Start(t)
			p.Deny = tt.deny
			// The google preset, pointed at the stand-in.
			cfg := oauth.Config{Account: "support", Provider: "google", ClientID: p.ClientID, ClientSecret: "desktop-secret",
				TokenURL: p.URL + "/token", AuthURL: p.URL + "/authorize"}
			if tt.cfg != nil {
				cfg = tt.cfg(p)
			}
			st := &memStore{m: map[string]string{}}
			key := oauth.Key("support@example.com")
			pr, pw := io.Pipe()
			t.Cleanup(func() { pw.Close() })
			term := newTerminal()
			done := make(chan error, 1)
			go func() { done <- oauth.Login(context.Background(), cfg, st, key, pr, term) }()

			tt.browser(t, term.authURL(t), pw)
			var err error
			select {
			case err = <-done:
			case <-time.After(10 * time.Second):
				require.FailNow(t, "Login did not return", term.String())
			}

			out := term.String()
			assert.NotContains(t, out, "code-", "the code is never printed")
			assert.NotContains(t, out, "access-", "nor the access token")
			assert.NotContains(t, out, "refresh-", "nor the refresh token")
			assert.NotContains(t, out, "desktop-secret", "nor the client secret")
			for _, h := range tt.outHas {
				assert.Contains(t, out, h)
			}
			auth := p.Authorization()
			require.NotNil(t, auth)
			assert.Equal(t, "S256", auth.Get("code_challenge_method"))
			assert.Regexp(t, `^http://127\.0\.0\.1:\d+/$`, auth.Get("redirect_uri"))
			if tt.want != "" {
				assert.ErrorContains(t, err, tt.want)
				assert.Empty(t, st.m[key], "nothing stored")
				return
			}
			require.NoError(t, err, out)
			assert.Contains(t, out, "Signed in")
			assert.Contains(t, st.m[key], `"refresh_token":"refresh-`)
			if cfg.Provider == "google" {
				assert.Equal(t, "offline", auth.Get("access_type"), "Google gives a refresh token only offline")
				assert.Equal(t, "consent", auth.Get("prompt"))
			} else {
				assert.Empty(t, auth.Get("access_type"), "Google's parameter only for Google")
			}
			src, err := oauth.Source(cfg, st, key)
			require.NoError(t, err)
			tok, err := src(context.Background())
			require.NoError(t, err)
			assert.True(t, p.Valid(tok))
		})
	}
}

// TestLoopbackCancel: cancelling stops the wait and closes the loopback
// server; stdin that ends early does not end the wait.
func TestLoopbackCancel(t *testing.T) {
	p := oauthtest.Start(t)
	cfg := oauth.Config{Provider: "google", ClientID: p.ClientID, TokenURL: p.URL + "/token", AuthURL: p.URL + "/authorize"}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	term := newTerminal()
	done := make(chan error, 1)
	go func() {
		done <- oauth.Login(ctx, cfg, &memStore{m: map[string]string{}}, "k", strings.NewReader(""), term)
	}()
	authURL := term.authURL(t)
	u, err := url.Parse(authURL)
	require.NoError(t, err)
	redirect := u.Query().Get("redirect_uri")
	resp, err := http.Get(redirect)
	require.NoError(t, err, "the loopback server listens")
	resp.Body.Close()
	assert.Equal(t, http.StatusNotFound, resp.StatusCode, "a request without an answer is not one")

	cancel()
	select {
	case err = <-done:
	case <-time.After(10 * time.Second):
		require.FailNow(t, "Login did not stop")
	}
	assert.ErrorIs(t, err, context.Canceled)
	assert.ErrorContains(t, err, "sign-in did not complete")
	_, err = http.Get(redirect + "?code=x&state=y")
	assert.Error(t, err, "the loopback server is closed")
}
