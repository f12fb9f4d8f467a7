package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	goimap "github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
	"github.com/emersion/go-imap/v2/imapserver"
	"github.com/emersion/go-imap/v2/imapserver/imapmemserver"
	"github.com/emersion/go-message/mail"
	gosmtp "github.com/emersion/go-smtp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/triage-bot/triage/config"
	"github.com/triage-bot/triage/store"
	"github.com/triage-bot/triage/store/sqlite"
	"github.com/triage-bot/triage/ticket"
)

// smtpCatcher is an in-process SMTP server (go-smtp) recording mail.
type smtpCatcher struct {
	mu   sync.Mutex
	msgs []caught
}

type caught struct {
	to   string
	data []byte
}

type catcherSession struct {
	c  *smtpCatcher
	to []string
}

func (s *catcherSession) Mail(string, *gosmtp.MailOptions) error { return nil }
func (s *catcherSession) Rcpt(to string, _ *gosmtp.RcptOptions) error {
	s.to = append(s.to, to)
	return nil
}
func (s *catcherSession) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	s.c.mu.Lock()
	for _, to := range s.to {
		s.c.msgs = append(s.c.msgs, caught{to: to, data: b})
	}
	s.c.mu.Unlock()
	s.to = nil
	return err
}
func (s *catcherSession) Reset()        { s.to = nil }
func (s *catcherSession) Logout() error { return nil }

func startCatcher(t *testing.T) (*smtpCatcher, string) {
	c := &smtpCatcher{}
	srv := gosmtp.NewServer(gosmtp.BackendFunc(func(*gosmtp.Conn) (gosmtp.Session, error) { return &catcherSession{c: c}, nil }))
	srv.Domain = "localhost"
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return c, ln.Addr().String()
}

func (c *smtpCatcher) all() []caught {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]caught(nil), c.msgs...)
}

func startMemIMAP(t *testing.T) string {
	mem := imapmemserver.New()
	u := imapmemserver.NewUser("bot", "secret")
	require.NoError(t, u.Create("INBOX", nil))
	mem.AddUser(u)
	srv := imapserver.New(&imapserver.Options{
		NewSession: func(*imapserver.Conn) (imapserver.Session, *imapserver.GreetingData, error) {
			return mem.NewSession(), nil, nil
		},
		Caps: goimap.CapSet{goimap.CapIMAP4rev1: {}, goimap.CapIMAP4rev2: {}}, InsecureAuth: true, Logger: quietLogger{},
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().String()
}

type quietLogger struct{}

func (quietLogger) Printf(string, ...any) {}

// startDovecotIMAP starts Dovecot through scripts/dovecot-test-server.sh;
// it skips without dovecot and fails under CI=true.
func startDovecotIMAP(t *testing.T) string {
	if _, err := exec.LookPath("dovecot"); err != nil || os.Geteuid() != 0 {
		if os.Getenv("CI") == "true" {
			t.Fatal("dovecot is required in CI (apt-get install -y dovecot-imapd; run as root)")
		}
		t.Skip("dovecot not installed or not root: apt-get install -y dovecot-imapd to run the Dovecot tests")
	}
	dir := t.TempDir()
	script := filepath.Join("..", "..", "scripts", "dovecot-test-server.sh")
	out, err := exec.Command(script, "start", dir).CombinedOutput()
	require.NoError(t, err, "%s", out)
	t.Cleanup(func() { _ = exec.Command(script, "stop", dir).Run() })
	return strings.TrimSpace(string(out))
}

// mimeShapes are the mails of every MIME shape the scan tests use.
func mimeShapes(t *testing.T) map[string][]byte {
	out := map[string][]byte{}
	for _, pat := range []string{"../../examples/inbox/new/*", "../../normalize/testdata/*.eml"} {
		files, err := filepath.Glob(pat)
		require.NoError(t, err)
		for _, f := range files {
			if strings.HasPrefix(filepath.Base(f), "header-") {
				// normalize's adversarial header shapes (megabyte fields,
				// thousands of fields) are tested where they are bounded;
				// here they only slow the run.
				continue
			}
			b, err := os.ReadFile(f)
			require.NoError(t, err)
			out[filepath.Base(f)] = bytes.ReplaceAll(bytes.ReplaceAll(b, []byte("\r\n"), []byte("\n")), []byte("\n"), []byte("\r\n"))
		}
	}
	require.NotEmpty(t, out)
	return out
}

func emailConfig(dataDir, imapAddr, smtpAddr string) string {
	return fmt.Sprintf(`data_dir: %s
http: {listen: "off"}
log: {level: warn}
imap:
  - name: support
    host: %s
    tls: plain
    allow_plain: true
    username: bot
    password: ${IMAP_TEST_PASSWORD}
    backfill: true
    create_folders: true
    folders: {no-code: Triage/NoCode}
smtp:
  host: %s
  tls: plain
  allow_plain: true
  from: "Support <support@example.com>"
  # The fixtures carry no Authentication-Results: this test is about IMAP
  # and loop safety; sender authentication is tested in integrations/smtp.
  require_sender_auth: false
routes:
  rules:
    - name: robots
      match: {auto_submitted: true}
      actions:
        - kind: email.reply
        - kind: imap.move
          target: Robots
    - name: coded
      match: {has_code: true}
      actions:
        - kind: imap.flag
          target: "{{range .Codes}}$ngrok-{{.Code}} {{end}}$triage-{{.Primary}}"
        - kind: imap.move
          target: "{{.Primary}}"
        - kind: email.reply
  default:
    actions:
      - kind: imap.move
        target: no-code
`, dataDir, imapAddr, smtpAddr)
}

func adminClient(t *testing.T, addr string) *imapclient.Client {
	c, err := imapclient.DialInsecure(addr, nil)
	require.NoError(t, err)
	require.NoError(t, c.Login("bot", "secret").Wait())
	t.Cleanup(func() { c.Close() })
	return c
}

// appendRaw APPENDs raw to mailbox as the admin; what says which mail
// failed, if any.
func appendRaw(t *testing.T, admin *imapclient.Client, mailbox string, raw []byte, what ...any) {
	t.Helper()
	cmd := admin.Append(mailbox, int64(len(raw)), nil)
	_, err := cmd.Write(raw)
	require.NoError(t, err, what...)
	require.NoError(t, cmd.Close(), what...)
	_, err = cmd.Wait()
	require.NoError(t, err, what...)
}

// mailboxContents maps each mailbox to Message-ID → flags.
func mailboxContents(t *testing.T, c *imapclient.Client) map[string]map[string][]string {
	boxes, err := c.List("", "*", nil).Collect()
	require.NoError(t, err)
	out := map[string]map[string][]string{}
	for _, b := range boxes {
		if slices.Contains(b.Attrs, goimap.MailboxAttrNoSelect) || slices.Contains(b.Attrs, goimap.MailboxAttrNonExistent) {
			continue // a parent level only ("Triage" of Triage.NoCode)
		}
		sel, err := c.Select(b.Mailbox, &goimap.SelectOptions{ReadOnly: true}).Wait()
		require.NoError(t, err)
		out[b.Mailbox] = map[string][]string{}
		if sel.NumMessages == 0 {
			continue
		}
		var all goimap.SeqSet
		all.AddRange(1, sel.NumMessages)
		msgs, err := c.Fetch(all, &goimap.FetchOptions{Flags: true, Envelope: true, UID: true}).Collect()
		require.NoError(t, err)
		for _, m := range msgs {
			if m.Envelope == nil {
				// The bot moved this message while we fetched: the
				// server sent only its flags. The caller polls again.
				continue
			}
			id := m.Envelope.MessageID
			if id == "" {
				id = fmt.Sprintf("uid-%d", m.UID)
			}
			var fl []string
			for _, f := range m.Flags {
				fl = append(fl, string(f))
			}
			out[b.Mailbox][id] = fl
		}
	}
	return out
}

func TestEmailRunOnce(t *testing.T) {
	for _, srv := range []struct {
		name  string
		start func(*testing.T) string
	}{{"memserver", startMemIMAP}, {"dovecot", startDovecotIMAP}} {
		t.Run(srv.name, func(t *testing.T) {
			imapAddr := srv.start(t)
			catcher, smtpAddr := startCatcher(t)
			admin := adminClient(t, imapAddr)
			shapes := mimeShapes(t)
			for name, raw := range shapes {
				appendRaw(t, admin, "INBOX", raw, name)
			}
			dir := t.TempDir()
			cfgPath := filepath.Join(dir, "triage.yaml")
			require.NoError(t, os.WriteFile(cfgPath, []byte(emailConfig(filepath.Join(dir, "data"), imapAddr, smtpAddr)), 0o600))
			t.Setenv("IMAP_TEST_PASSWORD", "secret")

			out, errOut, code := triage(t, "", "run", "--once", "--config", cfgPath)
			require.Equal(t, 0, code, "stdout:\n%s\nstderr:\n%s", out, errOut)
			assert.Contains(t, out, fmt.Sprintf("took in %d new ticket(s)", len(shapes)))
			out, errOut, code = triage(t, "", "run", "--once", "--config", cfgPath)
			require.Equal(t, 0, code, "stderr:\n%s", errOut)
			assert.Contains(t, out, "took in 0 new ticket(s)", "every mail annotated once")

			st, err := sqlite.Open(context.Background(), filepath.Join(dir, "data", "triage.db"))
			require.NoError(t, err)
			defer st.Close()
			recs, err := st.Tickets(context.Background(), store.TicketQuery{Limit: 1000})
			require.NoError(t, err)
			require.Len(t, recs, len(shapes))
			failed, err := st.Actions(context.Background(), store.ActionQuery{State: ticket.StateFailed})
			require.NoError(t, err)
			for _, a := range failed {
				t.Errorf("no action may fail: %s %s: %s", a.Kind, a.TicketID, a.LastError)
			}
			held, err := st.Actions(context.Background(), store.ActionQuery{State: ticket.StateSuppressed})
			require.NoError(t, err)
			require.NotEmpty(t, held, "replies to robots are held back")
			for _, a := range held {
				assert.Equal(t, ticket.KindEmailReply, a.Kind)
				assert.True(t, strings.HasPrefix(a.LastError, "suppressed: "), a.LastError)
			}
			assert.Contains(t, out, fmt.Sprintf("%d suppressed", len(held)), "the summary counts them apart")

			list, err := admin.List("", "", nil).Collect()
			require.NoError(t, err)
			require.Len(t, list, 1)
			sep := string(list[0].Delim) // "Triage/NoCode" is Triage.NoCode on Dovecot's Maildir layout
			boxes := mailboxContents(t, admin)
			total := 0
			for _, msgs := range boxes {
				total += len(msgs)
			}
			assert.Equal(t, len(shapes), total, "nothing expunged, nothing duplicated")
			assert.Empty(t, boxes["INBOX"], "every mail moved as routed")
			for _, rec := range recs {
				id := rec.Ticket.MessageID
				if id == "" {
					continue // counted above; found by nothing but its UID, which the move changed
				}
				folder := rec.Category
				switch {
				case isRobot(rec.Ticket.Headers):
					folder = "Robots"
				case folder == "":
					folder = "Triage" + sep + "NoCode"
				}
				flags, ok := boxes[folder][id]
				if !assert.True(t, ok, "%s (%s) should be in %s", rec.Ticket.ID, id, folder) {
					continue
				}
				assert.Contains(t, flags, "$triaged")
				assert.NotContains(t, flags, `\Seen`, "BODY.PEEK leaves mail unread")
				if folder == rec.Category {
					for _, c := range rec.Codes {
						assert.Contains(t, flags, fmt.Sprintf("$ngrok-%d", c))
					}
					assert.Contains(t, flags, "$triage-"+rec.Category)
				}
			}

			// Replies: never to a robot, at most one per sender.
			robots := map[string]bool{}
			for _, rec := range recs {
				if isRobot(rec.Ticket.Headers) {
					robots[strings.ToLower(rec.Ticket.From)] = true
				}
			}
			seen := map[string]bool{}
			for _, m := range catcher.all() {
				to := strings.ToLower(m.to)
				assert.False(t, robots[to], "a robot got a reply: %s", to)
				assert.False(t, seen[to], "two replies to %s", to)
				seen[to] = true
				r, err := mail.CreateReader(bytes.NewReader(m.data))
				require.NoError(t, err)
				assert.Equal(t, "auto-replied", r.Header.Get("Auto-Submitted"))
			}
			assert.NotEmpty(t, seen, "customers got replies")
		})
	}
}

// TestEmailRunOnceFailingMoves: moves the server refuses (the folder is
// missing and create_folders is off) make `run --once` exit non-zero,
// after the summary.
func TestEmailRunOnceFailingMoves(t *testing.T) {
	imapAddr := startMemIMAP(t)
	_, smtpAddr := startCatcher(t)
	admin := adminClient(t, imapAddr)
	raw := "From: ana@customer.example\r\nSubject: down\r\nMessage-ID: <fail-1@x>\r\n\r\nno code here\r\n"
	appendRaw(t, admin, "INBOX", []byte(raw))
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "triage.yaml")
	cfg := strings.Replace(emailConfig(filepath.Join(dir, "data"), imapAddr, smtpAddr), "    create_folders: true\n", "", 1)
	require.NoError(t, os.WriteFile(cfgPath, []byte(cfg), 0o600))
	t.Setenv("IMAP_TEST_PASSWORD", "secret")
	out, errOut, code := triage(t, "", "run", "--once", "--config", cfgPath)
	assert.Equal(t, 1, code, "stdout:\n%s\nstderr:\n%s", out, errOut)
	assert.Contains(t, out, "took in 1 new ticket(s)")
	assert.Contains(t, out, "1 failed")
	assert.Contains(t, errOut, "1 action(s) attempted in this run are failing")

	var check bytes.Buffer
	errs := checkEmail(context.Background(), mustLoad(t, cfgPath), &check)
	require.Len(t, errs, 1)
	assert.Contains(t, errs[0].Error(), "folder Triage/NoCode does not exist: moves there will fail")
}

// TestEmailRunOnceWrongPassword: a refused login is named once, with the
// user, and --once exits 1 without claiming there was no new mail.
func TestEmailRunOnceWrongPassword(t *testing.T) {
	imapAddr := startMemIMAP(t)
	_, smtpAddr := startCatcher(t)
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "triage.yaml")
	require.NoError(t, os.WriteFile(cfgPath, []byte(emailConfig(filepath.Join(dir, "data"), imapAddr, smtpAddr)), 0o600))
	t.Setenv("IMAP_TEST_PASSWORD", "wrong")
	out, errOut, code := triage(t, "", "run", "--once", "--config", cfgPath)
	assert.Equal(t, 1, code, "stdout:\n%s\nstderr:\n%s", out, errOut)
	assert.NotContains(t, out, "no new mail")
	assert.Equal(t, 1, strings.Count(errOut, `"msg":"source pass failed","source":"imap:support/INBOX","err":"imap support: authentication failed for bot (`), "logged once: %s", errOut)
	assert.Contains(t, errOut, "\ntriage: imap support: authentication failed for bot (", "and the reason to exit 1")
}

func isRobot(h map[string]string) bool {
	for k, v := range h {
		switch strings.ToLower(k) {
		case "auto-submitted":
			if !strings.EqualFold(strings.TrimSpace(v), "no") {
				return true
			}
		case "precedence":
			switch strings.ToLower(strings.TrimSpace(v)) {
			case "bulk", "junk", "list":
				return true
			}
		case "list-id", "x-autoreply", "x-autorespond":
			return true
		}
	}
	return false
}

func TestEmailRunIdleWakes(t *testing.T) {
	imapAddr := startMemIMAP(t)
	_, smtpAddr := startCatcher(t)
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "triage.yaml")
	cfg := strings.Replace(emailConfig(filepath.Join(dir, "data"), imapAddr, smtpAddr), "    backfill: true\n", "    backfill: true\n    poll: 10m\n", 1)
	require.NoError(t, os.WriteFile(cfgPath, []byte(cfg), 0o600))
	t.Setenv("IMAP_TEST_PASSWORD", "secret")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	var out, errb bytes.Buffer
	go func() { done <- run(ctx, []string{"run", "--config", cfgPath}, strings.NewReader(""), &out, &errb) }()
	defer func() { cancel(); <-done }()

	admin := adminClient(t, imapAddr)
	raw := "From: ana@customer.example\r\nSubject: down\r\nMessage-ID: <idle-1@x>\r\n\r\nERR_NGROK_108\r\n"
	time.Sleep(300 * time.Millisecond) // the first pass (backfill of an empty INBOX) and IDLE start
	appendRaw(t, admin, "INBOX", []byte(raw))
	// With a 10-minute poll interval, only IDLE can bring it in this fast.
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		boxes := mailboxContents(t, admin)
		if _, ok := boxes["agent-auth"]["idle-1@x"]; ok {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("the mail was not handled within 5 s of APPEND; stderr:\n%s", errb.String())
}

func TestConfigCheckConnectEmail(t *testing.T) {
	imapAddr := startMemIMAP(t)
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "triage.yaml")
	_, smtpAddr := startCatcher(t)
	require.NoError(t, os.WriteFile(cfgPath, []byte(emailConfig(filepath.Join(dir, "data"), imapAddr, smtpAddr)), 0o600))
	t.Setenv("IMAP_TEST_PASSWORD", "secret")
	var out bytes.Buffer
	errs := checkEmail(context.Background(), mustLoad(t, cfgPath), &out)
	assert.Empty(t, errs)
	assert.Contains(t, out.String(), "imap support ("+imapAddr+"): folder Triage/NoCode will be created by the first move there (create_folders: true)")
	assert.Contains(t, out.String(), "smtp: "+smtpAddr+" reachable")

	t.Setenv("IMAP_TEST_PASSWORD", "wrong")
	require.NoError(t, os.WriteFile(cfgPath, []byte(emailConfig(filepath.Join(dir, "data"), imapAddr, "127.0.0.1:1")), 0o600))
	errs = checkEmail(context.Background(), mustLoad(t, cfgPath), &out)
	require.Len(t, errs, 2)
	assert.Contains(t, errs[0].Error(), "auth failed")
	assert.Contains(t, errs[1].Error(), "smtp (127.0.0.1:1): cannot connect")
}

func mustLoad(t *testing.T, path string) *config.Config {
	cfg, err := loadConfig(env{getenv: os.Getenv}, path)
	require.NoError(t, err)
	return cfg
}

func TestEmailConfigValidation(t *testing.T) {
	base := `imap:
  - name: support
    host: imap.example.com:993
    username: bot
    password: ${PW}
smtp:
  host: smtp.example.com:587
  username: bot
  password: ${PW}
  from: "Support <support@example.com>"
  auth_serv_id: mx.example.com
`
	getenv := func(k string) string {
		if k == "PW" {
			return "hunter2-very-secret"
		}
		return ""
	}
	t.Run("defaults and redaction", func(t *testing.T) {
		cfg, err := config.Parse("t.yaml", []byte(base), getenv)
		require.NoError(t, err)
		a := cfg.IMAP[0]
		assert.Equal(t, "implicit", a.TLS)
		assert.Equal(t, []string{"INBOX"}, a.Mailboxes)
		assert.Equal(t, 9*time.Minute, a.ReIdle)
		assert.Equal(t, "password", a.Auth)
		assert.Equal(t, "$triaged", a.Keywords.Triaged)
		assert.Equal(t, 2, a.ActionConnections)
		assert.Equal(t, 2, imapAccount(a).ActionConns)
		assert.Equal(t, "starttls", cfg.SMTP.TLS)
		assert.Equal(t, 24*time.Hour, cfg.SMTP.ReplyWindow)
		assert.True(t, cfg.SMTP.SenderAuthRequired(), "replies need an authenticated sender unless told otherwise")
		assert.Equal(t, 200, cfg.SMTP.RepliesPerHour)
		assert.Equal(t, 20, cfg.SMTP.RepliesPerDomainPerHour)
		sc := smtpConfig(cfg.SMTP)
		assert.False(t, sc.AllowUnauthenticated)
		assert.Equal(t, "mx.example.com", sc.AuthServID)
		assert.Equal(t, 20, sc.RepliesPerDomain)
		red := cfg.Redacted()
		assert.NotContains(t, red, "hunter2")
		assert.Contains(t, red, "[REDACTED]")
		assert.Equal(t, "hunter2-very-secret", cfg.IMAP[0].Password, "redaction works on a copy")
	})
	t.Run("oauth2 defaults and redaction", func(t *testing.T) {
		cfg, err := config.Parse("t.yaml", []byte("imap:\n  - {name: s, host: 'h:993', username: u, oauth2: {provider: microsoft, tenant: contoso.example, client_id: c, client_secret: '${PW}'}}\n"), getenv)
		require.NoError(t, err)
		assert.Equal(t, "xoauth2", cfg.IMAP[0].Auth)
		assert.NotContains(t, cfg.Redacted(), "hunter2")
		assert.Equal(t, "hunter2-very-secret", cfg.IMAP[0].OAuth2.ClientSecret)
	})
	t.Run("oauth2 generic loopback", func(t *testing.T) {
		cfg, err := config.Parse("t.yaml", []byte("imap:\n  - {name: s, host: 'h:993', username: u, oauth2: {provider: generic, flow: loopback, client_id: c, token_url: 'https://id.example/token', auth_url: 'https://id.example/authorize'}}\n"), getenv)
		require.NoError(t, err)
		o := oauthConfig("s", cfg.IMAP[0].OAuth2)
		assert.Equal(t, "loopback", o.Flow)
		assert.Equal(t, "https://id.example/authorize", o.AuthURL)
	})
	t.Run("password file", func(t *testing.T) {
		pw := filepath.Join(t.TempDir(), "pw")
		require.NoError(t, os.WriteFile(pw, []byte("from-file\n"), 0o600))
		cfg, err := config.Parse("t.yaml", []byte("imap:\n  - {name: s, host: 'h:993', username: u, password_file: "+pw+"}\n"), getenv)
		require.NoError(t, err)
		assert.Equal(t, "from-file", cfg.IMAP[0].Password)
		assert.Equal(t, "password", cfg.IMAP[0].Auth)
	})
	tests := []struct {
		name, yaml, want string
	}{
		{"plain needs allow_plain", "imap:\n  - {name: s, host: '127.0.0.1:143', tls: plain, username: u, password: p}\n", "set allow_plain: true"},
		{"plain only on loopback", "imap:\n  - {name: s, host: 'imap.example.com:143', tls: plain, allow_plain: true, username: u, password: p}\n", "only allowed for a loopback host"},
		{"bad tls", "imap:\n  - {name: s, host: 'h:993', tls: ssl, username: u, password: p}\n", `tls "ssl" is not implicit, starttls or plain`},
		{"no credentials", "imap:\n  - {name: s, host: 'h:993', username: u}\n", "no credentials"},
		{"oauth needs a token", "imap:\n  - {name: s, host: 'h:993', username: u, auth: xoauth2}\n", "needs exactly one of oauth2, token_command or token_file"},
		{"both password and token", "imap:\n  - {name: s, host: 'h:993', username: u, password: p, token_file: /x}\n", "both a password and an OAuth token"},
		{"reidle over 29m", "imap:\n  - {name: s, host: 'h:993', username: u, password: p, reidle: 30m}\n", "reidle 30m0s must be between 1m and 29m"},
		{"bad keyword", "imap:\n  - {name: s, host: 'h:993', username: u, password: p, keywords: {triaged: 'has space'}}\n", "not a valid IMAP keyword"},
		{"name with slash", "imap:\n  - {name: a/b, host: 'h:993', username: u, password: p}\n", "may not contain '/'"},
		{"duplicate name", "imap:\n  - {name: s, host: 'h:993', username: u, password: p}\n  - {name: s, host: 'h:993', username: u, password: p}\n", `name "s" is used twice`},
		{"host without port", "imap:\n  - {name: s, host: h, username: u, password: p}\n", "is not host:port"},
		{"too many action connections", "imap:\n  - {name: s, host: 'h:993', username: u, password: p, action_connections: 40}\n", "action_connections 40 must be between 1 and 16"},
		{"smtp bad from", "smtp: {host: 'h:587', from: 'not an address'}\n", "is not an address"},
		{"smtp plain remote", "smtp: {host: 'h:25', tls: plain, allow_plain: true, from: a@b.example}\n", "only allowed for a loopback host"},
		{"sender auth needs auth_serv_id", "smtp: {host: 'h:587', from: a@b.example}\n", "require_sender_auth (on by default) needs auth_serv_id"},
		{"auth_serv_id is one name", "smtp: {host: 'h:587', from: a@b.example, auth_serv_id: 'mx.example.com; dmarc=pass'}\n", "is not a server name"},
		{"reply budget too big", "smtp: {host: 'h:587', from: a@b.example, auth_serv_id: mx.example.com, replies_per_hour: 100000}\n", "replies_per_hour 100000 must be between 1 and 10000"},
		{"negative domain budget", "smtp: {host: 'h:587', from: a@b.example, require_sender_auth: false, replies_per_domain_per_hour: -1}\n", "replies_per_domain_per_hour -1 must be between"},
		{"unknown key", "imap:\n  - {name: s, host: 'h:993', username: u, password: p, pasword: x}\n", "pasword"},
		{"oauth2 provider", "imap:\n  - {name: s, host: 'h:993', username: u, oauth2: {provider: yahoo, client_id: c}}\n", `oauth2: provider "yahoo" is not google, microsoft or generic`},
		{"oauth2 generic needs a token URL", "imap:\n  - {name: s, host: 'h:993', username: u, oauth2: {provider: generic, client_id: c}}\n", "the generic provider needs token_url"},
		{"oauth2 needs a client", "smtp: {host: 'h:587', username: u, from: a@b.example, oauth2: {provider: google}}\n", "client_id is empty"},
		{"oauth2 flow", "imap:\n  - {name: s, host: 'h:993', username: u, oauth2: {provider: google, client_id: c, flow: browser}}\n", `oauth2: flow "browser" is not device or loopback`},
		{"oauth2 tenant is microsoft's", "imap:\n  - {name: s, host: 'h:993', username: u, oauth2: {provider: google, client_id: c, tenant: x}}\n", "tenant is for provider microsoft only"},
		{"oauth2 and a token file", "imap:\n  - {name: s, host: 'h:993', username: u, token_file: /x, oauth2: {provider: google, client_id: c}}\n", "needs exactly one of oauth2, token_command or token_file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := config.Parse("t.yaml", []byte(tt.yaml), getenv)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
		})
	}
}

func TestTokenSource(t *testing.T) {
	assert.Nil(t, tokenSource(nil, ""))
	tok, err := tokenSource([]string{"echo", "ya29.token"}, "")(context.Background())
	require.NoError(t, err)
	assert.Equal(t, "ya29.token", tok)
	f := filepath.Join(t.TempDir(), "tok")
	require.NoError(t, os.WriteFile(f, []byte("file-token\n"), 0o600))
	tok, err = tokenSource(nil, f)(context.Background())
	require.NoError(t, err)
	assert.Equal(t, "file-token", tok)
	_, err = tokenSource([]string{"false"}, "")(context.Background())
	assert.ErrorContains(t, err, "token_command false")
}

// TestConfigCheckExplainsReplyPolicy: `config check` says whom
// email.reply answers, what happens to mail without Authentication-Results
// and what to set when the server writes none; and warns when replies go
// to unauthenticated senders.
func TestConfigCheckExplainsReplyPolicy(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("IMAP_TEST_PASSWORD", "secret")
	open := emailConfig(filepath.Join(dir, "data"), "127.0.0.1:1", "127.0.0.1:2")
	tests := []struct {
		name, yaml       string
		stdout, noStdout []string
		warning          string
	}{
		{"sender auth on", strings.Replace(open, "  require_sender_auth: false\n", "  auth_serv_id: mx.example.com\n  replies_per_hour: 50\n", 1),
			[]string{"email.reply answers only senders that mx.example.com vouches for", "Mail without such a header", "gets no reply",
				"suppressed: the sender is not authenticated", "set smtp.require_sender_auth: false", "At most 50 replies an hour", "20 an hour to one domain"},
			nil, ""},
		{"sender auth off", open, []string{"answers any From address"}, []string{"vouches for"},
			"warning: smtp.require_sender_auth is false: email.reply answers any From address"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfgPath := filepath.Join(dir, "triage.yaml")
			require.NoError(t, os.WriteFile(cfgPath, []byte(tt.yaml), 0o600))
			out, errOut, code := triage(t, "", "config", "check", "--config", cfgPath)
			require.Equal(t, 0, code, "stdout:\n%s\nstderr:\n%s", out, errOut)
			for _, s := range tt.stdout {
				assert.Contains(t, out, s)
			}
			for _, s := range tt.noStdout {
				assert.NotContains(t, out, s)
			}
			if tt.warning != "" {
				assert.Contains(t, errOut, tt.warning)
			} else {
				assert.NotContains(t, errOut, "require_sender_auth")
			}
		})
	}
}

// TestEmailCrashMidMovesLosesNothing kills `triage run --once` with
// SIGKILL while it sets keywords and moves mail on Dovecot (batches of
// hundreds, whose successes are recorded once per batch), runs it again,
// and counts: every mail exactly once, in its category's folder, with
// its keywords; none left in the INBOX, none lost, none duplicated.
func TestEmailCrashMidMovesLosesNothing(t *testing.T) {
	imapAddr := startDovecotIMAP(t)
	admin := adminClient(t, imapAddr)
	const mails = 1200
	codes := []int{108, 3200, 8012, 727, 4018, 334, 3004, 225}
	for i := range mails {
		raw := fmt.Sprintf("From: Customer %d <c%d@customer.example>\r\nTo: support@example.com\r\nSubject: tunnel trouble %d\r\n"+
			"Message-ID: <crash-%d@customer.example>\r\nDate: Mon, 16 Nov 2026 08:43:12 +0100\r\n\r\n"+
			"Hello, the agent says ERR_NGROK_%d since this morning. What now?\r\n", i, i, i, i, codes[i%len(codes)])
		appendRaw(t, admin, "INBOX", []byte(raw))
	}
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "triage.yaml")
	require.NoError(t, os.WriteFile(cfgPath, []byte(fmt.Sprintf(`data_dir: %s
http: {listen: "off"}
log: {level: warn}
outbox: {lease: 2s}
imap:
  - name: support
    host: %s
    tls: plain
    allow_plain: true
    username: bot
    password: ${IMAP_TEST_PASSWORD}
    backfill: true
    create_folders: true
routes:
  rules:
    - name: keyword per code, folder per category
      match: {has_code: true}
      actions:
        - kind: imap.flag
          target: "$ngrok-{code} $triage-{{.Primary}}"
        - kind: imap.move
          target: "Triage/{{.Primary}}"
`, filepath.Join(dir, "data"), imapAddr)), 0o600))
	t.Setenv("IMAP_TEST_PASSWORD", "secret")

	// Killed once a quarter of the mails have been moved: batches are
	// under way, some recorded, some not.
	first := startCLI(t, filepath.Join(dir, "first.log"), "run", "--once", "--config", cfgPath)
	exited := make(chan struct{})
	go func() { _ = first.Wait(); close(exited) }()
	watch := adminClient(t, imapAddr)
	inbox := func() int {
		st, err := watch.Status("INBOX", &goimap.StatusOptions{NumMessages: true}).Wait()
		require.NoError(t, err)
		return int(*st.NumMessages)
	}
	waitFor(t, time.Minute, "a quarter of the moves", func() bool {
		select {
		case <-exited:
			return true
		default:
		}
		return inbox() <= mails*3/4
	})
	select {
	case <-exited:
		t.Log("the first run finished before it could be killed; the rerun checks a finished drain")
	default:
		require.NoError(t, first.Process.Signal(syscall.SIGKILL))
		<-exited
		t.Logf("SIGKILL with %d of %d mails still in the INBOX", inbox(), mails)
	}

	rerun := time.Now()
	out, errOut, code := triage(t, "", "run", "--once", "--config", cfgPath)
	require.Equal(t, 0, code, "stdout:\n%s\nstderr:\n%s", out, errOut)
	assert.Contains(t, out, "0 pending, 0 failed")
	t.Logf("the rerun after the kill took %s", time.Since(rerun).Round(time.Millisecond))

	boxes, err := admin.List("", "*", &goimap.ListOptions{ReturnStatus: &goimap.StatusOptions{NumMessages: true}}).Collect()
	require.NoError(t, err)
	total := 0
	for _, b := range boxes {
		if b.Status != nil && b.Status.NumMessages != nil {
			total += int(*b.Status.NumMessages)
		}
	}
	assert.Equal(t, mails, total, "every mail exactly once: none lost, none duplicated")
	contents := mailboxContents(t, admin)
	assert.Empty(t, contents["INBOX"], "every mail moved")

	st, err := sqlite.Open(context.Background(), filepath.Join(dir, "data", "triage.db"))
	require.NoError(t, err)
	defer st.Close()
	recs, err := st.Tickets(context.Background(), store.TicketQuery{Limit: 2 * mails})
	require.NoError(t, err)
	require.Len(t, recs, mails, "one ticket per mail")
	sep := string(boxes[0].Delim)
	for _, rec := range recs {
		folder := "Triage" + sep + rec.Category
		flags, ok := contents[folder][rec.Ticket.MessageID]
		if !assert.True(t, ok, "%s should be in %s", rec.Ticket.MessageID, folder) {
			continue
		}
		for _, c := range rec.Codes {
			assert.Contains(t, flags, fmt.Sprintf("$ngrok-%d", c), rec.Ticket.MessageID)
		}
		assert.Contains(t, flags, "$triage-"+rec.Category, rec.Ticket.MessageID)
	}
}
