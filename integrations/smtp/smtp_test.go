package smtp

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-message/mail"
	"github.com/emersion/go-sasl"
	gosmtp "github.com/emersion/go-smtp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/triage-bot/triage/normalize"
	"github.com/triage-bot/triage/outbox"
	"github.com/triage-bot/triage/redact"
	"github.com/triage-bot/triage/store"
	"github.com/triage-bot/triage/ticket"
)

// received is one message the fake SMTP server accepted.
type received struct {
	from string
	to   []string
	data []byte
	user string
}

// fakeServer is go-smtp's server with a backend that records deliveries
// and checks PLAIN credentials.
type fakeServer struct {
	mu   sync.Mutex
	msgs []received
}

type session struct {
	srv *fakeServer
	cur received
}

func (s *session) AuthMechanisms() []string { return []string{sasl.Plain} }
func (s *session) Auth(mech string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(identity, user, pass string) error {
		if user != "bot" || pass != "secret" {
			return errors.New("bad credentials")
		}
		s.cur.user = user
		return nil
	}), nil
}
func (s *session) Mail(from string, _ *gosmtp.MailOptions) error { s.cur.from = from; return nil }
func (s *session) Rcpt(to string, _ *gosmtp.RcptOptions) error {
	s.cur.to = append(s.cur.to, to)
	return nil
}
func (s *session) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	s.cur.data = b
	s.srv.mu.Lock()
	s.srv.msgs = append(s.srv.msgs, s.cur)
	s.srv.mu.Unlock()
	s.cur = received{user: s.cur.user}
	return nil
}
func (s *session) Reset()        {}
func (s *session) Logout() error { return nil }

func startSMTP(t *testing.T) (*fakeServer, string) {
	t.Helper()
	fs := &fakeServer{}
	srv := gosmtp.NewServer(gosmtp.BackendFunc(func(*gosmtp.Conn) (gosmtp.Session, error) {
		return &session{srv: fs}, nil
	}))
	srv.Domain = "localhost"
	srv.AllowInsecureAuth = true
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return fs, ln.Addr().String()
}

func (f *fakeServer) all() []received {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]received(nil), f.msgs...)
}

// memStore is the store as the sink sees it.
type memStore struct {
	mu      sync.Mutex
	tickets map[string]*store.Record
	cursors map[string]string
	leases  map[string]lease
}

type lease struct {
	holder string
	until  time.Time
}

func (m *memStore) Ticket(_ context.Context, id string) (*store.Record, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if r, ok := m.tickets[id]; ok {
		return r, nil
	}
	return nil, store.ErrNotFound
}
func (m *memStore) Cursor(_ context.Context, k string) (string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.cursors[k], nil
}
func (m *memStore) SetCursor(_ context.Context, k, v string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.cursors[k] = v
	return nil
}
func (m *memStore) AcquireLease(_ context.Context, name, holder string, now time.Time, ttl time.Duration) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.leases == nil {
		m.leases = map[string]lease{}
	}
	if l, ok := m.leases[name]; ok && l.holder != holder && l.until.After(now) {
		return false, nil
	}
	m.leases[name] = lease{holder, now.Add(ttl)}
	return true, nil
}
func (m *memStore) ReleaseLease(_ context.Context, name, holder string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.leases[name].holder == holder {
		delete(m.leases, name)
	}
	return nil
}

var _ Store = (*memStore)(nil)

func newSink(t *testing.T, addr string) (*Sink, *memStore) {
	t.Helper()
	st := &memStore{tickets: map[string]*store.Record{}, cursors: map[string]string{}}
	s, err := New(Config{Host: addr, TLS: "plain", Username: "bot", Password: "secret", Auth: "password",
		From: "Support <support@example.com>", BotAddresses: []string{"help@example.com"}, Timeout: 5 * time.Second,
		AuthServID: testAuthServID}, st, nil)
	require.NoError(t, err)
	return s, st
}

func action(id, kind, target, key string) ticket.Action {
	p, _ := json.Marshal(map[string]any{"kind": kind, "target": target,
		"text": "ERR_NGROK_108: Too many agent sessions.\n  Docs: https://ngrok.com/docs/errors/err_ngrok_108\nmy token 2abcdefghijklmnopqrstuvwxyz_0123456789ABCDEFGHIJ"})
	return ticket.Action{ID: 1, TicketID: id, Kind: kind, Target: target, Key: key, Payload: p}
}

// fromDomain is the domain of a ticket's From, however it is written.
func fromDomain(from string) string {
	if a, err := recipient(from); err == nil {
		return domainOf(a)
	}
	return domainOf(from)
}

// testAuthServID is the receiving server of the tests.
const testAuthServID = "mx.example.net"

// human is a ticket from a person whose domain the receiving server
// authenticated (dmarc=pass).
func human(id, from string) *store.Record {
	return &store.Record{Ticket: ticket.Ticket{ID: id, Source: "email", From: from, Subject: "tunnel down",
		MessageID: id + "@mail.example", References: []string{"root@mail.example"},
		Headers: map[string]string{normalize.AuthResultsHeader: testAuthServID + "; dmarc=pass header.from=" + fromDomain(from)},
		Parts:   []ticket.Part{{Kind: ticket.KindBody, Text: "ERR_NGROK_108 again"}}}}
}

func TestReply(t *testing.T) {
	srv, addr := startSMTP(t)
	s, st := newSink(t, addr)
	st.tickets["t1"] = human("t1", "ana@customer.example")
	a := action("t1", ticket.KindEmailReply, "", "key-1")
	require.NoError(t, s.ReplySink().Send(context.Background(), a))
	require.NoError(t, s.ReplySink().Send(context.Background(), a), "a repeat of the same action is not suppressed")

	got := srv.all()
	require.Len(t, got, 2)
	assert.Equal(t, "support@example.com", got[0].from)
	assert.Equal(t, []string{"ana@customer.example"}, got[0].to)
	assert.Equal(t, "bot", got[0].user)
	mr, err := mail.CreateReader(bytes.NewReader(got[0].data))
	require.NoError(t, err)
	h := mr.Header
	assert.Equal(t, "auto-replied", h.Get("Auto-Submitted"))
	assert.Equal(t, "<t1@mail.example>", h.Get("In-Reply-To"))
	assert.Equal(t, "<root@mail.example> <t1@mail.example>", h.Get("References"))
	assert.Equal(t, "Re: tunnel down", h.Get("Subject"))
	assert.Equal(t, MessageID("key-1", "support@example.com"), h.Get("Message-Id"))
	m2, _ := mail.CreateReader(bytes.NewReader(got[1].data))
	assert.Equal(t, h.Get("Message-Id"), m2.Header.Get("Message-Id"), "a repeat is recognisable")
	var types []string
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		require.NoError(t, err)
		ct, _, _ := p.Header.(*mail.InlineHeader).ContentType()
		types = append(types, ct)
		body, _ := io.ReadAll(p.Body)
		assert.Contains(t, string(body), "ERR_NGROK_108")
		assert.NotContains(t, string(body), "2abcdefghijklmnopqrstuvwxyz_0123456789ABCDEFGHIJ", "secrets are redacted")
		if ct == "text/html" {
			assert.Contains(t, string(body), `<a href="https://ngrok.com/docs/errors/err_ngrok_108">`)
		}
	}
	assert.Equal(t, []string{"text/plain", "text/html"}, types)
}

func TestReplyLoopSafety(t *testing.T) {
	tests := []struct {
		name    string
		from    string
		headers map[string]string
		reason  string
	}{
		{"auto-submitted", "ana@customer.example", map[string]string{"Auto-Submitted": "auto-replied"}, "Auto-Submitted"},
		{"auto-generated", "ana@customer.example", map[string]string{"Auto-Submitted": "auto-generated; owner-email=x@y"}, "Auto-Submitted"},
		{"precedence bulk", "ana@customer.example", map[string]string{"Precedence": "bulk"}, "Precedence: bulk"},
		{"precedence junk", "ana@customer.example", map[string]string{"Precedence": "junk"}, "Precedence: junk"},
		{"precedence list", "ana@customer.example", map[string]string{"Precedence": "list"}, "Precedence: list"},
		{"list-id", "news@vendor.example", map[string]string{"List-Id": "<news.vendor.example>"}, "List-Id"},
		{"list-unsubscribe", "news@vendor.example", map[string]string{"List-Unsubscribe": "<mailto:u@vendor.example>"}, "List-Unsubscribe"},
		{"x-autoreply", "ana@customer.example", map[string]string{"X-Autoreply": "yes"}, "X-Autoreply"},
		{"dsn", "ana@customer.example", map[string]string{"Content-Type": "multipart/report; report-type=delivery-status; boundary=x"}, "delivery report"},
		{"empty return path", "ana@customer.example", map[string]string{"Return-Path": "<>"}, "empty return path"},
		{"mailer-daemon return path", "ana@customer.example", map[string]string{"Return-Path": "<MAILER-DAEMON@mx.example>"}, "mailer-daemon"},
		{"mailer-daemon sender", "MAILER-DAEMON@mx.example", nil, "mailer-daemon"},
		{"noreply sender", "noreply@service.example", nil, "no-reply"},
		{"no-reply sender", "no-reply@service.example", nil, "no-reply"},
		{"empty sender", "", nil, "no sender"},
		{"the bot itself", "support@example.com", nil, "the bot itself"},
		{"the bot's other address", "Help@Example.com", nil, "the bot itself"},
	}
	srv, addr := startSMTP(t)
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, st := newSink(t, addr)
			rec := human("r", tt.from)
			maps.Copy(rec.Ticket.Headers, tt.headers)
			st.tickets["r"] = rec
			err := s.ReplySink().Send(context.Background(), action("r", ticket.KindEmailReply, "", fmt.Sprint("k", i)))
			require.Error(t, err)
			assert.True(t, outbox.IsPermanent(err))
			assert.True(t, outbox.IsSuppressed(err), "held back on purpose, not failed: %v", err)
			assert.True(t, strings.HasPrefix(err.Error(), "suppressed: "), err.Error())
			assert.Contains(t, err.Error(), tt.reason)
		})
	}
	assert.Empty(t, srv.all(), "no robot got a reply")

	t.Run("Auto-Submitted: no is a human", func(t *testing.T) {
		s, st := newSink(t, addr)
		rec := human("h", "ana@customer.example")
		rec.Ticket.Headers["Auto-Submitted"] = "no"
		st.tickets["h"] = rec
		require.NoError(t, s.ReplySink().Send(context.Background(), action("h", ticket.KindEmailReply, "", "kh")))
		assert.Len(t, srv.all(), 1)
	})
}

func TestReplyBurstGetsOneReply(t *testing.T) {
	srv, addr := startSMTP(t)
	s, st := newSink(t, addr)
	var wg sync.WaitGroup
	errs := make([]error, 20)
	for i := range 20 {
		id := fmt.Sprint("b", i)
		st.tickets[id] = human(id, "ana@customer.example")
	}
	for i := range 20 {
		wg.Add(1)
		go func() { // as the outbox's parallel workers would
			defer wg.Done()
			id := fmt.Sprint("b", i)
			errs[i] = s.ReplySink().Send(context.Background(), action(id, ticket.KindEmailReply, "", "key-"+id))
		}()
	}
	wg.Wait()
	ok, suppressed := 0, 0
	for _, err := range errs {
		if err == nil {
			ok++
		} else if strings.Contains(err.Error(), "already answered") {
			suppressed++
		}
	}
	assert.Equal(t, 1, ok)
	assert.Equal(t, 19, suppressed)
	assert.Len(t, srv.all(), 1)

	// After the window, the sender may get a reply again.
	s.now = func() time.Time { return time.Now().Add(25 * time.Hour) }
	st.tickets["later"] = human("later", "ana@customer.example")
	require.NoError(t, s.ReplySink().Send(context.Background(), action("later", ticket.KindEmailReply, "", "key-later")))
	assert.Len(t, srv.all(), 2)
}

func TestForward(t *testing.T) {
	srv, addr := startSMTP(t)
	s, st := newSink(t, addr)
	rec := human("f", "ana@customer.example")
	rec.Ticket.Headers = map[string]string{"Precedence": "bulk"} // forwards of robot mail are fine
	st.tickets["f"] = rec
	require.NoError(t, s.ForwardSink().Send(context.Background(), action("f", ticket.KindEmailForward, "billing@example.com", "kf")))
	got := srv.all()
	require.Len(t, got, 1)
	assert.Equal(t, []string{"billing@example.com"}, got[0].to)
	mr, err := mail.CreateReader(bytes.NewReader(got[0].data))
	require.NoError(t, err)
	assert.Equal(t, "auto-generated", mr.Header.Get("Auto-Submitted"))
	assert.Equal(t, "<ana@customer.example>", mr.Header.Get("Reply-To"))
	assert.Equal(t, "Fwd: tunnel down", mr.Header.Get("Subject"))
	p, err := mr.NextPart()
	require.NoError(t, err)
	body, _ := io.ReadAll(p.Body)
	assert.Regexp(t, `(?s)^ERR_NGROK_108: Too many.*Original message.*ERR_NGROK_108 again`, string(body))

	err = s.ForwardSink().Send(context.Background(), action("f", ticket.KindEmailForward, "help@example.com", "kf2"))
	assert.True(t, outbox.IsPermanent(err))
	assert.Contains(t, err.Error(), "suppressed: help@example.com is the bot's own address")
}

func TestSendErrors(t *testing.T) {
	_, addr := startSMTP(t)
	st := &memStore{tickets: map[string]*store.Record{"t": human("t", "ana@customer.example")}, cursors: map[string]string{}}
	s, err := New(Config{Host: addr, TLS: "plain", Username: "bot", Password: "wrong", From: "support@example.com", AuthServID: testAuthServID}, st, nil)
	require.NoError(t, err)
	err = s.ReplySink().Send(context.Background(), action("t", ticket.KindEmailReply, "", "k"))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "login to "+addr+" as bot") // go-smtp answers 454: retried

	err = s.ReplySink().Send(context.Background(), action("missing", ticket.KindEmailReply, "", "k"))
	assert.True(t, outbox.IsPermanent(err))

	s2, err := New(Config{Host: "127.0.0.1:1", TLS: "plain", From: "support@example.com", Timeout: time.Second, AllowUnauthenticated: true}, st, nil)
	require.NoError(t, err)
	err = s2.ForwardSink().Send(context.Background(), action("t", ticket.KindEmailForward, "team@example.com", "k"))
	require.Error(t, err)
	assert.False(t, outbox.IsPermanent(err), "a connection failure is retried")
}

// TestForwardStopsWhenItsContextEnds: rendering a large forward checks
// its context, so a send whose claim was lost (or whose deadline passed)
// stops and sends nothing.
func TestForwardStopsWhenItsContextEnds(t *testing.T) {
	srv, addr := startSMTP(t)
	s, st := newSink(t, addr)
	rec := human("big", "ana@customer.example")
	big := strings.Repeat("key=value token key password=x\n", 1<<13) // 256 KiB of lines: several chunks
	rec.Ticket.Parts = append(rec.Ticket.Parts, ticket.Part{Kind: ticket.KindAttachment, Name: "log.txt", Text: big})
	st.tickets["big"] = rec
	lost := errors.New("claim lost")
	ctx, cancel := context.WithCancelCause(context.Background())
	cancel(lost)
	err := s.ForwardSink().Send(ctx, action("big", ticket.KindEmailForward, "billing@example.com", "kbig"))
	require.Error(t, err)
	assert.ErrorIs(t, err, lost)
	assert.Empty(t, srv.all(), "nothing sent")

	got, err := redactCtx(context.Background(), big+"authtoken: 2abcdefghijklmnopqrstuvwxyz_0123456789ABCDEFGHIJ\n")
	require.NoError(t, err)
	assert.Equal(t, redact.String(big+"authtoken: 2abcdefghijklmnopqrstuvwxyz_0123456789ABCDEFGHIJ\n"), got, "the same as redacting it whole")
}

func TestUnsafeAddressesGetNoMail(t *testing.T) {
	tests := []struct {
		name   string
		from   string // the ticket's sender
		target string // the action's target, when set
		reason string
	}{
		{"quoted local part, as stored", "victim@third.example, x@evil.example", "", "not one mail address"},
		{"quoted local part, as written", `"victim@third.example, x"@evil.example`, "", "quoted local parts are not mailed to"},
		{"quoted space", `"a b"@evil.example`, "", "does not read back"},
		{"two addresses", "a@one.example, b@two.example", "", "not one mail address"},
		{"CRLF smuggled", "a@one.example\r\nRCPT TO:<b@two.example>", "", "not one mail address"},
		{"address literal", "a@[192.0.2.1]", "", "address literals"},
		{"group", "team: a@one.example, b@two.example;", "", "not one mail address"},
		{"unsafe reply target", "ana@customer.example", `"x@y.example, z"@evil.example`, "quoted local parts"},
	}
	srv, addr := startSMTP(t)
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, st := newSink(t, addr)
			st.tickets["u"] = human("u", tt.from)
			err := s.ReplySink().Send(context.Background(), action("u", ticket.KindEmailReply, tt.target, fmt.Sprint("u", i)))
			require.Error(t, err)
			assert.True(t, outbox.IsPermanent(err), "never retried: %v", err)
			assert.True(t, outbox.IsSuppressed(err), "held back on purpose, not failed: %v", err)
			assert.True(t, strings.HasPrefix(err.Error(), "suppressed: "), err.Error())
			assert.Contains(t, err.Error(), tt.reason)
		})
	}
	t.Run("forward target", func(t *testing.T) {
		s, st := newSink(t, addr)
		st.tickets["u"] = human("u", "ana@customer.example")
		err := s.ForwardSink().Send(context.Background(), action("u", ticket.KindEmailForward, `"team@example.com, x"@evil.example`, "fw"))
		require.Error(t, err)
		assert.True(t, outbox.IsPermanent(err))
		assert.Contains(t, err.Error(), "quoted local parts are not mailed to")
	})
	assert.Empty(t, srv.all(), "nothing was sent to an address that does not read back as itself")

	t.Run("a forward names no unsafe Reply-To", func(t *testing.T) {
		s, st := newSink(t, addr)
		st.tickets["u"] = human("u", "victim@third.example, x@evil.example")
		require.NoError(t, s.ForwardSink().Send(context.Background(), action("u", ticket.KindEmailForward, "team@example.com", "fw2")))
		got := srv.all()
		require.Len(t, got, 1)
		assert.Equal(t, []string{"team@example.com"}, got[0].to)
		mr, err := mail.CreateReader(bytes.NewReader(got[0].data))
		require.NoError(t, err)
		assert.Empty(t, mr.Header.Get("Reply-To"))
	})
}

func TestPlainAddressesGetMail(t *testing.T) {
	srv, addr := startSMTP(t)
	for i, from := range []string{"Ana Silva <ana@customer.example>", "ana+tag@customer.example", "o'brien@customer.example", `"ana"@customer.example`, "a@sub-1.customer.example"} {
		s, st := newSink(t, addr)
		st.tickets["p"] = human("p", from)
		require.NoError(t, s.ReplySink().Send(context.Background(), action("p", ticket.KindEmailReply, "", fmt.Sprint("p", i))), from)
	}
	var to []string
	for _, m := range srv.all() {
		to = append(to, m.to...)
	}
	assert.Equal(t, []string{"ana@customer.example", "ana+tag@customer.example", "o'brien@customer.example", "ana@customer.example", "a@sub-1.customer.example"}, to)
}

// headerLines returns the header lines of a raw message.
func headerLines(t *testing.T, raw []byte) []string {
	t.Helper()
	head, _, ok := bytes.Cut(raw, []byte("\r\n\r\n"))
	require.True(t, ok)
	return strings.Split(string(head), "\r\n")
}

func TestLongSubjectIsFolded(t *testing.T) {
	words := strings.Repeat("agent fails again ", 170) // 3,060 characters
	tests := []struct {
		name    string
		subject string
	}{
		{"ascii words", strings.TrimSpace(words)},
		{"non-ascii words", strings.TrimSpace(strings.Repeat("Tunnel geht nicht – Fehler übermäßig ", 80))},
		{"one ascii word", strings.Repeat("x", 3051)},
		{"one cjk run", strings.Repeat("接続できません", 200)},
		{"looks encoded", "=?utf-8?q?not_really?= hello"},
		{"short", "tunnel down"},
	}
	srv, addr := startSMTP(t)
	encoded := regexp.MustCompile(`=\?utf-8\?q\?[^?]*\?=`)
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, st := newSink(t, addr)
			rec := human("s", fmt.Sprintf("ana%d@customer.example", i))
			rec.Ticket.Subject = tt.subject
			st.tickets["s"] = rec
			require.NoError(t, s.ReplySink().Send(context.Background(), action("s", ticket.KindEmailReply, "", fmt.Sprint("s", i))))
			msgs := srv.all()
			raw := msgs[len(msgs)-1].data
			for _, l := range headerLines(t, raw) {
				assert.LessOrEqual(t, len(l), 78, "header line %.60q…", l)
				for _, w := range encoded.FindAllString(l, -1) {
					assert.LessOrEqual(t, len(w), 75, "encoded word")
				}
			}
			for _, l := range strings.Split(string(raw), "\r\n") {
				assert.LessOrEqual(t, len(l), 998)
			}
			mr, err := mail.CreateReader(bytes.NewReader(raw))
			require.NoError(t, err)
			got, err := mr.Header.Subject()
			require.NoError(t, err)
			assert.Equal(t, "Re: "+tt.subject, got)
		})
	}
}

func TestReplyEchoesOnlyWellFormedIDs(t *testing.T) {
	var refs []string
	for i := range 30 {
		refs = append(refs, fmt.Sprintf("r%02d@thread.example", i))
	}
	tests := []struct {
		name      string
		messageID string
		refs      []string
		inReplyTo string
		wantRefs  string
	}{
		{"junk id stored before the check", "(" + strings.Repeat("a", 5000), nil, "", ""},
		{"spaces inside", "a b@evil.example", nil, "", ""},
		{"junk references dropped, the last 20 kept", "m@x.example", append(append([]string{"<bad>", "x y@z"}, refs...), "q\r\nBcc: v@x.example"),
			"<m@x.example>", "<r11@thread.example> " + strings.Join(func() []string {
				var w []string
				for _, r := range refs[12:] {
					w = append(w, "<"+r+">")
				}
				return w
			}(), " ") + " <m@x.example>"},
	}
	srv, addr := startSMTP(t)
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, st := newSink(t, addr)
			rec := human("i", fmt.Sprintf("ids%d@customer.example", i))
			rec.Ticket.MessageID, rec.Ticket.References = tt.messageID, tt.refs
			st.tickets["i"] = rec
			require.NoError(t, s.ReplySink().Send(context.Background(), action("i", ticket.KindEmailReply, "", fmt.Sprint("i", i))))
			msgs := srv.all()
			mr, err := mail.CreateReader(bytes.NewReader(msgs[len(msgs)-1].data))
			require.NoError(t, err)
			assert.Equal(t, tt.inReplyTo, mr.Header.Get("In-Reply-To"))
			assert.Equal(t, tt.wantRefs, mr.Header.Get("References"))
			assert.Empty(t, mr.Header.Get("Bcc"))
		})
	}
}
