// Package smtp carries out email.reply and email.forward actions over
// SMTP, and keeps the bot from ever answering a robot or mailing a
// stranger.
//
// Loop safety (RFC 3834) is enforced here, from the stored ticket: no
// automatic reply to mail with Auto-Submitted other than "no", Precedence
// bulk/junk/list, List-Id or List-Unsubscribe, X-Autoreply, delivery
// reports (multipart/report, DSNs), an empty, MAILER-DAEMON or noreply
// sender or return path, or the bot's own addresses.
//
// Backscatter (replies to forged senders) is kept off in three ways: a
// reply goes only to a sender the receiving server authenticated (see
// authenticate; Config.AllowUnauthenticated turns that off), Reply-To is
// followed only when its domain is aligned with the From domain, and
// replies are budgeted: one per sender per ReplyWindow, RepliesPerDomain
// per recipient domain and RepliesPerHour in all, in any hour (see
// takeReply).
//
// A reply held back is not a failure: it is returned as an
// outbox.Suppressed error whose text starts with "suppressed:" and names
// the reason, so the action ends as suppressed (counted apart, never
// retried); it is logged at INFO and counted
// (triage_email_replies_held_total by reason class).
//
// Each message carries a Message-ID derived from the action's idempotency
// key, so a repeat after a crash is recognisable as the same message.
package smtp

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"log/slog"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/emersion/go-sasl"
	gosmtp "github.com/emersion/go-smtp"

	"github.com/triage-bot/triage/metrics"
	"github.com/triage-bot/triage/normalize"
	"github.com/triage-bot/triage/outbox"
	"github.com/triage-bot/triage/redact"
	"github.com/triage-bot/triage/store"
	"github.com/triage-bot/triage/ticket"
)

// Config is the outgoing mail server and the bot's identity.
type Config struct {
	// Host is host:port.
	Host string
	// TLS is "implicit", "starttls" or "plain".
	TLS                string
	InsecureSkipVerify bool
	// Username authenticates; empty means no AUTH.
	Username string
	Password string
	// Auth is "password" (PLAIN) or "xoauth2".
	Auth  string
	Token func(ctx context.Context) (string, error)
	// From is the bot's address ("Support <support@example.com>").
	From string
	// BotAddresses are more addresses of the bot.
	BotAddresses []string
	// ReplyWindow allows one automatic reply per sender per window
	// (default 24h); the sender is counted in canonical form (lower case,
	// no +tag, no trailing dot).
	ReplyWindow time.Duration
	// RepliesPerHour bounds all replies in any hour (default 200).
	RepliesPerHour int
	// RepliesPerDomain bounds replies to one recipient domain in any hour
	// (default 20).
	RepliesPerDomain int
	// AuthServID is the authserv-id the receiving mail server writes at
	// the start of its Authentication-Results headers ("mx.google.com").
	// Only those headers are believed.
	AuthServID string
	// AllowUnauthenticated answers mail whose sender the receiving server
	// did not authenticate. Off (the zero value), a reply needs a DMARC
	// pass or an aligned DKIM or SPF pass from AuthServID.
	AllowUnauthenticated bool
	// Holder names this process in the store lease over the reply
	// budgets; default a random name.
	Holder string
	// Metrics counts held replies; nil counts nothing.
	Metrics *metrics.Metrics
	// Timeout bounds one delivery (default 30s).
	Timeout time.Duration
}

// Store is what the sink needs of the store: the ticket (for loop-safety
// headers and threading), a small key-value for reply budgets and a lease
// that serialises budget updates across replicas.
type Store interface {
	Ticket(ctx context.Context, id string) (*store.Record, error)
	Cursor(ctx context.Context, key string) (string, error)
	SetCursor(ctx context.Context, key, value string) error
	AcquireLease(ctx context.Context, name, holder string, now time.Time, ttl time.Duration) (bool, error)
	ReleaseLease(ctx context.Context, name, holder string) error
}

// Sink sends replies and forwards.
type Sink struct {
	cfg  Config
	from *mail.Address
	bots map[string]bool
	st   Store
	log  *slog.Logger
	now  func() time.Time
	// holder names this process in the budget lease.
	holder string

	mu sync.Mutex // serialises reply budgets within this process
}

// New returns a sink; it does no I/O. cfg.From must parse, and
// cfg.AuthServID must be set unless cfg.AllowUnauthenticated.
func New(cfg Config, st Store, log *slog.Logger) (*Sink, error) {
	from, err := mail.ParseAddress(cfg.From)
	if err != nil {
		return nil, fmt.Errorf("smtp: from %q: %w", cfg.From, err)
	}
	if !cfg.AllowUnauthenticated && strings.TrimSpace(cfg.AuthServID) == "" {
		return nil, errors.New("smtp: replies need the receiving server's authserv-id (auth_serv_id) to authenticate senders, or require_sender_auth: false")
	}
	if cfg.ReplyWindow <= 0 {
		cfg.ReplyWindow = 24 * time.Hour
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 30 * time.Second
	}
	if cfg.RepliesPerHour <= 0 {
		cfg.RepliesPerHour = 200
	}
	if cfg.RepliesPerDomain <= 0 {
		cfg.RepliesPerDomain = 20
	}
	if cfg.Holder == "" {
		cfg.Holder = "smtp-" + rand.Text()
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Sink{cfg: cfg, from: from, bots: map[string]bool{strings.ToLower(from.Address): true}, st: st, log: log, now: time.Now, holder: cfg.Holder}
	for _, b := range cfg.BotAddresses {
		if a, err := mail.ParseAddress(b); err == nil {
			s.bots[strings.ToLower(a.Address)] = true
		}
	}
	return s, nil
}

// ReplySink returns the email.reply sink.
func (s *Sink) ReplySink() outbox.Sink { return sinkFunc(s.reply) }

// ForwardSink returns the email.forward sink.
func (s *Sink) ForwardSink() outbox.Sink { return sinkFunc(s.forward) }

type sinkFunc func(context.Context, ticket.Action) error

func (f sinkFunc) Send(ctx context.Context, a ticket.Action) error { return f(ctx, a) }

// payload is the part of route.Payload the sink reads.
type payload struct {
	Text string `json:"text"`
}

func (s *Sink) load(ctx context.Context, kind string, a ticket.Action) (*store.Record, string, error) {
	var p payload
	if err := json.Unmarshal(a.Payload, &p); err != nil {
		return nil, "", outbox.Permanent(fmt.Errorf("%s: the action's payload is not JSON: %w", kind, err))
	}
	rec, err := s.st.Ticket(ctx, a.TicketID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, "", outbox.Permanent(fmt.Errorf("%s: ticket %s is not stored", kind, a.TicketID))
	}
	if err != nil {
		return nil, "", fmt.Errorf("%s: read ticket %s: %w", kind, a.TicketID, err)
	}
	text, err := redactCtx(ctx, p.Text)
	if err != nil {
		return nil, "", fmt.Errorf("%s: render: %w", kind, err)
	}
	return rec, text, nil
}

// redactChunk is how much text redactCtx redacts between looks at ctx.
const redactChunk = 64 << 10

// redactCtx is redact.String for a text that may be large: it redacts
// whole lines a chunk at a time (a secret never spans a line break) and
// stops when ctx ends, so a send past its deadline, cut off by shutdown
// or whose claim was lost stops rendering instead of burning CPU.
func redactCtx(ctx context.Context, s string) (string, error) {
	if len(s) <= redactChunk {
		if err := ctx.Err(); err != nil {
			return "", context.Cause(ctx)
		}
		return redact.String(s), nil
	}
	var b strings.Builder
	b.Grow(len(s))
	for len(s) > 0 {
		if err := ctx.Err(); err != nil {
			return "", context.Cause(ctx)
		}
		n := len(s)
		if n > redactChunk {
			n = redactChunk
			if i := strings.IndexByte(s[n:], '\n'); i >= 0 {
				n += i + 1
			} else {
				n = len(s)
			}
		}
		b.WriteString(redact.String(s[:n]))
		s = s[n:]
	}
	return b.String(), nil
}

// suppress parks the action with the reason, logs it and counts it
// under class (robot, address, sender_auth, window, domain_budget,
// budget, own_address).
func (s *Sink) suppress(a ticket.Action, to, class, reason string) error {
	s.log.Info("email reply suppressed", "ticket_id", a.TicketID, "action_id", a.ID, "kind", a.Kind, "to", to, "class", class, "reason", reason)
	s.cfg.Metrics.ReplyHeld(class)
	return outbox.Suppressed(fmt.Errorf("suppressed: %s", reason))
}

func (s *Sink) reply(ctx context.Context, a ticket.Action) error {
	rec, text, err := s.load(ctx, "email.reply", a)
	if err != nil {
		return err
	}
	t := &rec.Ticket
	to := t.From
	if strings.TrimSpace(a.Target) != "" {
		to = strings.TrimSpace(a.Target)
	}
	if reason := s.robot(t, to); reason != "" {
		return s.suppress(a, to, "robot", reason)
	}
	fromDomain := ""
	from, ferr := recipient(t.From)
	if ferr == nil {
		fromDomain = domainOf(from)
	}
	if !s.cfg.AllowUnauthenticated {
		if ferr != nil {
			return s.suppress(a, to, "address", "the sender's address cannot be authenticated: "+ferr.Error())
		}
		v := authenticate(storedAuthResults(t.Headers), s.cfg.AuthServID, fromDomain)
		if !v.ok {
			return s.suppress(a, to, "sender_auth", "the sender is not authenticated: "+v.why+
				"; replies go only to senders the receiving server vouches for (smtp.require_sender_auth)")
		}
		s.log.Debug("email reply: sender authenticated", "ticket_id", a.TicketID, "action_id", a.ID, "by", v.why)
	}
	if strings.TrimSpace(a.Target) == "" {
		to = s.replyTo(a, t, fromDomain, to)
	}
	addr, err := recipient(to)
	if err != nil {
		return s.suppress(a, to, "address", err.Error())
	}
	to = addr
	if h, err := s.takeReply(ctx, to, a.Key); err != nil {
		return err
	} else if h != nil {
		return s.suppress(a, to, h.class, h.reason)
	}
	subject := t.Subject
	if !strings.HasPrefix(strings.ToLower(subject), "re:") {
		subject = "Re: " + subject
	}
	h := s.headers(a, to, redact.String(subject))
	h = append(h, [2]string{"Auto-Submitted", "auto-replied"})
	if normalize.ValidMessageID(t.MessageID) {
		// Only well-formed ids are echoed, whatever a ticket stored before
		// normalize checked them.
		h = append(h, [2]string{"In-Reply-To", "<" + t.MessageID + ">"})
		var refs []string
		for _, r := range append(append([]string(nil), t.References...), t.MessageID) {
			if normalize.ValidMessageID(r) {
				refs = append(refs, "<"+r+">")
			}
		}
		refs = refs[max(len(refs)-normalize.MaxReferences, 0):]
		h = append(h, [2]string{"References", strings.Join(refs, " ")})
	}
	msg := build(h, text)
	return s.send(ctx, "email.reply", to, msg)
}

func (s *Sink) forward(ctx context.Context, a ticket.Action) error {
	rec, text, err := s.load(ctx, "email.forward", a)
	if err != nil {
		return err
	}
	to := strings.TrimSpace(a.Target)
	addr, err := recipient(to)
	if err != nil {
		return outbox.Permanent(fmt.Errorf("email.forward: target: %w", err))
	}
	if s.bots[strings.ToLower(addr)] {
		return s.suppress(a, to, "own_address", fmt.Sprintf("%s is the bot's own address: forwarding there would loop", addr))
	}
	t := &rec.Ticket
	h := s.headers(a, addr, redact.String("Fwd: "+t.Subject))
	// Team autoresponders must not answer the bot.
	h = append(h, [2]string{"Auto-Submitted", "auto-generated"}, [2]string{"X-Triage-Ticket", a.TicketID})
	if from, err := recipient(t.From); err == nil {
		// Only an address that reads back as itself: the team's reply must
		// go to the customer and no one else.
		h = append(h, [2]string{"Reply-To", "<" + from + ">"})
	}
	var b strings.Builder
	b.WriteString(text)
	b.WriteString("\n---------- Original message (redacted) ----------\n")
	fmt.Fprintf(&b, "From: %s\nSubject: %s\n", t.From, redact.String(t.Subject))
	if !t.Date.IsZero() {
		fmt.Fprintf(&b, "Date: %s\n", t.Date.Format(time.RFC1123Z))
	}
	b.WriteString("\n")
	for _, p := range t.Parts {
		if p.Kind == ticket.KindSubject {
			continue
		}
		if p.Kind == ticket.KindAttachment {
			fmt.Fprintf(&b, "\n[attachment %s]\n", p.Name)
		}
		text, err := redactCtx(ctx, p.Text)
		if err != nil {
			return fmt.Errorf("email.forward: render: %w", err)
		}
		b.WriteString(text)
		b.WriteString("\n")
	}
	return s.send(ctx, "email.forward", addr, build(h, b.String()))
}

// replyTo returns where a reply to the sender goes: the mail's Reply-To
// when it is one plain address whose domain is aligned with the From
// domain (equal, or one a subdomain of the other), else from. Reply-To is
// not what the receiving server authenticates: followed anywhere, it
// would let an authenticated sender aim the bot at a third party.
func (s *Sink) replyTo(a ticket.Action, t *ticket.Ticket, fromDomain, from string) string {
	rt := ""
	for k, v := range t.Headers {
		if strings.EqualFold(k, "Reply-To") {
			rt = v
		}
	}
	if strings.TrimSpace(rt) == "" {
		return from
	}
	addr, err := recipient(rt)
	var why string
	switch d := domainOf(addr); {
	case err != nil:
		why = err.Error()
	case noreplyRE.MatchString(addr) || s.bots[strings.ToLower(addr)]:
		why = "it is a no-reply, mailer-daemon or bot address"
	case fromDomain == "" || !(aligned(d, fromDomain) || aligned(fromDomain, d)):
		why = fmt.Sprintf("its domain %s is not the sender's domain %s", d, fromDomain)
	default:
		return addr
	}
	s.log.Info("email reply: Reply-To ignored, replying to the sender", "ticket_id", a.TicketID, "action_id", a.ID,
		"reply_to", clip(rt, 200), "reason", why)
	return from
}

// headers are those every message of the bot carries.
func (s *Sink) headers(a ticket.Action, to, subject string) [][2]string {
	return [][2]string{
		{"From", s.from.String()},
		{"To", to},
		{"Subject", subject},
		{"Date", s.now().Format(time.RFC1123Z)},
		{"Message-ID", MessageID(a.Key, s.from.Address)},
		{"X-Auto-Response-Suppress", "All"},
	}
}

// MessageID derives the message's Message-ID from the action's
// idempotency key: a repeat carries the same one.
func MessageID(key, from string) string {
	domain := "triage.invalid"
	if i := strings.LastIndexByte(from, '@'); i >= 0 {
		domain = from[i+1:]
	}
	sum := sha256.Sum256([]byte(key))
	return "<triage-" + hex.EncodeToString(sum[:12]) + "@" + domain + ">"
}

var (
	noreplyRE = regexp.MustCompile(`(?i)^(mailer-daemon|postmaster|no-?reply|do-?not-?reply|bounces?)([+\-.@]|$)`)
)

// robot returns why mail must not get an automatic reply, or "".
func (s *Sink) robot(t *ticket.Ticket, to string) string {
	h := map[string]string{}
	for k, v := range t.Headers {
		h[strings.ToLower(k)] = strings.TrimSpace(v)
	}
	if v, ok := h["auto-submitted"]; ok && !strings.EqualFold(strings.SplitN(v, ";", 2)[0], "no") {
		return fmt.Sprintf("the mail is automatic (Auto-Submitted: %s)", v)
	}
	switch p := strings.ToLower(h["precedence"]); p {
	case "bulk", "junk", "list":
		return fmt.Sprintf("the mail is bulk or list mail (Precedence: %s)", p)
	}
	if v := h["list-id"]; v != "" {
		return fmt.Sprintf("the mail came through a mailing list (List-Id: %s)", v)
	}
	if h["list-unsubscribe"] != "" {
		return "the mail is a newsletter or list mail (List-Unsubscribe)"
	}
	if h["x-autoreply"] != "" || h["x-autorespond"] != "" {
		return "the mail is an autoreply (X-Autoreply)"
	}
	ct := strings.ToLower(h["content-type"])
	if strings.HasPrefix(ct, "multipart/report") || strings.Contains(ct, "delivery-status") {
		return "the mail is a delivery report (" + strings.SplitN(ct, ";", 2)[0] + ")"
	}
	if rp, ok := h["return-path"]; ok {
		addr := strings.Trim(strings.TrimSpace(rp), "<>")
		if addr == "" {
			return "the mail has an empty return path (Return-Path: <>), as bounces do"
		}
		if noreplyRE.MatchString(addr) {
			return fmt.Sprintf("the return path %s is a mailer-daemon or no-reply address", addr)
		}
	}
	addr := to
	if a, err := mail.ParseAddress(to); err == nil {
		addr = a.Address
	}
	if strings.TrimSpace(addr) == "" || !strings.Contains(addr, "@") {
		return "the mail has no sender address to answer"
	}
	if noreplyRE.MatchString(addr) {
		return fmt.Sprintf("the sender %s is a mailer-daemon or no-reply address", addr)
	}
	if s.bots[strings.ToLower(addr)] {
		return fmt.Sprintf("the sender %s is the bot itself", addr)
	}
	return ""
}

// build writes a multipart/alternative message: the text, and the same
// text as simple HTML with links.
func build(h [][2]string, text string) []byte {
	var b bytes.Buffer
	boundary := "triage-" + hex.EncodeToString(sha(text)[:8])
	for _, kv := range h {
		if kv[0] == "Subject" {
			writeText(&b, kv[0], kv[1])
		} else {
			writeFolded(&b, kv[0], kv[1])
		}
	}
	b.WriteString("MIME-Version: 1.0\r\n")
	fmt.Fprintf(&b, "Content-Type: multipart/alternative; boundary=%q\r\n\r\n", boundary)
	part := func(ct, body string) {
		fmt.Fprintf(&b, "--%s\r\nContent-Type: %s; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n", boundary, ct)
		w := quotedprintable.NewWriter(&b)
		_, _ = w.Write([]byte(strings.ReplaceAll(body, "\n", "\r\n")))
		_ = w.Close()
		b.WriteString("\r\n")
	}
	part("text/plain", text)
	part("text/html", toHTML(text))
	fmt.Fprintf(&b, "--%s--\r\n", boundary)
	return b.Bytes()
}

func sha(s string) []byte { x := sha256.Sum256([]byte(s)); return x[:] }

var urlRE = regexp.MustCompile(`https?://[^\s<>"]+[^\s<>".,;:!?)]`)

// toHTML renders plain text as HTML: escaped, paragraphs, links.
func toHTML(text string) string {
	var b strings.Builder
	b.WriteString("<!DOCTYPE html>\n<html><body style=\"font-family: sans-serif\">\n")
	for _, para := range strings.Split(strings.TrimSpace(text), "\n\n") {
		lines := strings.Split(para, "\n")
		for i, l := range lines {
			esc := html.EscapeString(l)
			esc = urlRE.ReplaceAllStringFunc(esc, func(u string) string {
				return `<a href="` + u + `">` + u + `</a>`
			})
			lines[i] = esc
		}
		b.WriteString("<p>" + strings.Join(lines, "<br>\n") + "</p>\n")
	}
	b.WriteString("</body></html>\n")
	return b.String()
}

// send delivers one message.
func (s *Sink) send(ctx context.Context, kind, to string, msg []byte) error {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	defer cancel()
	c, stop, err := s.connect(ctx, kind)
	if err != nil {
		return err
	}
	defer stop()
	defer c.Close()
	if err := c.Mail(s.from.Address, nil); err != nil {
		return classify(fmt.Errorf("%s: MAIL FROM: %w", kind, err))
	}
	if err := c.Rcpt(to, nil); err != nil {
		return classify(fmt.Errorf("%s: RCPT TO %s: %w", kind, to, err))
	}
	w, err := c.Data()
	if err != nil {
		return classify(fmt.Errorf("%s: DATA: %w", kind, err))
	}
	if _, err := w.Write(msg); err != nil {
		return fmt.Errorf("%s: write message: %w", kind, err)
	}
	// Ending DATA is what sends the message: not once the worker's claim
	// is lost or the deadline passed (closing the connection instead
	// makes the server drop it).
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("%s: not sent: %w", kind, context.Cause(ctx))
	}
	if err := w.Close(); err != nil {
		return classify(fmt.Errorf("%s: send message: %w", kind, err))
	}
	_ = c.Quit()
	return nil
}

// connect dials, secures and logs in; stop releases the context hook.
func (s *Sink) connect(ctx context.Context, kind string) (*gosmtp.Client, func() bool, error) {
	d := net.Dialer{Timeout: s.cfg.Timeout}
	nc, err := d.DialContext(ctx, "tcp", s.cfg.Host)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: connect to %s: %w", kind, s.cfg.Host, err)
	}
	if dl, ok := ctx.Deadline(); ok {
		_ = nc.SetDeadline(dl)
	}
	stop := context.AfterFunc(ctx, func() { nc.Close() })
	host, _, _ := net.SplitHostPort(s.cfg.Host)
	tcfg := &tls.Config{ServerName: host, InsecureSkipVerify: s.cfg.InsecureSkipVerify, MinVersion: tls.VersionTLS12} //nolint:gosec // opt-in for test servers
	var c *gosmtp.Client
	switch s.cfg.TLS {
	case "implicit":
		c = gosmtp.NewClient(tls.Client(nc, tcfg))
	case "starttls":
		c, err = gosmtp.NewClientStartTLS(nc, tcfg)
		if err != nil {
			nc.Close()
			stop()
			return nil, nil, fmt.Errorf("%s: STARTTLS with %s: %w", kind, s.cfg.Host, err)
		}
	default:
		c = gosmtp.NewClient(nc)
	}
	if s.cfg.Username != "" {
		var auth sasl.Client
		if s.cfg.Auth == "xoauth2" {
			if s.cfg.Token == nil {
				c.Close()
				stop()
				return nil, nil, outbox.Permanent(fmt.Errorf("%s: xoauth2 needs a token source", kind))
			}
			tok, err := s.cfg.Token(ctx)
			if err != nil {
				c.Close()
				stop()
				return nil, nil, fmt.Errorf("%s: get OAuth token: %w", kind, err)
			}
			auth = &xoauth2{user: s.cfg.Username, token: tok}
		} else {
			auth = sasl.NewPlainClient("", s.cfg.Username, s.cfg.Password)
		}
		if err := c.Auth(auth); err != nil {
			c.Close()
			stop()
			return nil, nil, classify(fmt.Errorf("%s: login to %s as %s: %w: %w", kind, s.cfg.Host, s.cfg.Username, errAuth, err))
		}
	}
	return c, stop, nil
}

var errAuth = errors.New("authentication failed")

// Check connects to the SMTP server, secures the connection and logs in,
// and reports problems in plain words ("cannot connect …", "auth failed
// …"); nil means mail can be sent. It sends nothing.
func (s *Sink) Check(ctx context.Context) []string {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	defer cancel()
	c, stop, err := s.connect(ctx, "smtp")
	if err != nil {
		if errors.Is(err, errAuth) {
			return []string{fmt.Sprintf("auth failed: %v", err)}
		}
		return []string{fmt.Sprintf("cannot connect: %v", err)}
	}
	defer stop()
	defer c.Close()
	_ = c.Quit()
	return nil
}

// classify marks 5xx answers permanent; 4xx and network errors retry.
func classify(err error) error {
	var se *gosmtp.SMTPError
	if errors.As(err, &se) && se.Code >= 500 {
		return outbox.Permanent(err)
	}
	return err
}

// xoauth2 is the SASL XOAUTH2 client (Gmail, Microsoft 365), which
// go-sasl lacks.
type xoauth2 struct{ user, token string }

func (x *xoauth2) Start() (string, []byte, error) {
	return "XOAUTH2", []byte("user=" + x.user + "\x01auth=Bearer " + x.token + "\x01\x01"), nil
}

func (x *xoauth2) Next([]byte) ([]byte, error) { return []byte{}, nil }
