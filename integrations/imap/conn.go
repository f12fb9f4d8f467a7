// Package imap reads support mail from IMAP mailboxes and carries out the
// imap.flag and imap.move actions.
//
// The Source finds new mail by UID: its cursor (UIDVALIDITY and the last
// UID handed over) lives in the store. Each pass SELECTs the mailbox,
// fetches the next batch with BODY.PEEK[] (so \Seen is never set, and at
// most MaxMessageBytes of a message), hands each message to the pipeline,
// and only after the ticket is stored sets the "$triaged" keyword and
// advances the cursor. A changed UIDVALIDITY starts a rescan that skips
// mail whose Message-ID is already stored. A first run processes only
// mail newer than StartDate (default: now), unless Backfill.
//
// The Watcher keeps a second connection in IDLE and wakes the source when
// mail arrives. go-imap v2 has no context, no reconnect and no read
// deadline while idling, so this package sets its own: every connection
// closes itself when the server is silent for longer than Noop+Timeout,
// IDLE is re-issued every ReIdle, and a connection silent for Noop is
// checked with NOOP. Dropped connections are re-dialled with backoff and
// jitter; the cursor makes resuming exact.
//
// Nothing is ever expunged but messages the bot itself moved: UID MOVE,
// or UID COPY + STORE \Deleted + UID EXPUNGE of exactly those UIDs with
// UIDPLUS. A server with neither gets a clear error instead (go-imap's
// own fallback would EXPUNGE every \Deleted message in the mailbox).
//
// The imap.flag and imap.move sinks (Actions) are outbox.BatchSinks: the
// actions of one claim that share a mailbox and target are carried out by
// one command on a UID set, over a small pool of connections per account.
package imap

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"strings"
	"sync/atomic"
	"time"

	goimap "github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
	"github.com/emersion/go-sasl"
)

// Account is one IMAP account. Zero durations and sizes mean defaults.
type Account struct {
	// Name identifies the account in ticket IDs, cursors and logs.
	Name string
	// Host is host:port.
	Host string
	// TLS is "implicit", "starttls" or "plain".
	TLS string
	// InsecureSkipVerify accepts any certificate (test servers only).
	InsecureSkipVerify bool
	// Username and Password log in ("password" auth).
	Username string
	Password string
	// Auth is "password", "xoauth2" or "oauthbearer".
	Auth string
	// Token returns a fresh OAuth access token (xoauth2, oauthbearer).
	Token func(ctx context.Context) (string, error)
	// Mailboxes are read; default INBOX.
	Mailboxes []string
	// Idle turns IDLE push on when the server offers it.
	Idle bool
	// ReIdle re-issues IDLE (default 9m); Noop checks a silent connection
	// (default 2m); Timeout bounds dialing and each answer (default 30s).
	ReIdle, Noop, Timeout time.Duration
	// StartDate and Backfill decide what a first run processes.
	StartDate time.Time
	Backfill  bool
	// MaxMessageBytes caps what is read of one message (default 25 MiB).
	MaxMessageBytes int64
	// Batch caps the messages of one pass (default 200).
	Batch int
	// Inflight is how many messages of a pass are ingested at once
	// (default 1). More lets the pipeline commit several together.
	Inflight int
	// Triaged is the acknowledgement keyword (default "$triaged").
	Triaged string
	// Folders maps an imap.move target (a category) to a mailbox.
	Folders map[string]string
	// CreateFolders creates a missing imap.move destination.
	CreateFolders bool
	// ActionConns is how many connections the imap.flag and imap.move
	// sinks may keep open to the account, so that several outbox workers
	// act at once (default 2).
	ActionConns int
}

func (a *Account) defaults() {
	if len(a.Mailboxes) == 0 {
		a.Mailboxes = []string{"INBOX"}
	}
	if a.ReIdle <= 0 {
		a.ReIdle = 9 * time.Minute
	}
	if a.Noop <= 0 {
		a.Noop = 2 * time.Minute
	}
	if a.Timeout <= 0 {
		a.Timeout = 30 * time.Second
	}
	if a.MaxMessageBytes <= 0 {
		a.MaxMessageBytes = 25 << 20
	}
	if a.Batch <= 0 {
		a.Batch = 200
	}
	if a.Triaged == "" {
		a.Triaged = "$triaged"
	}
	if a.TLS == "" {
		a.TLS = "implicit"
	}
	if a.ActionConns <= 0 {
		a.ActionConns = 2
	}
}

// ErrAuth is returned (wrapped) when the server refused the credentials;
// retrying will not help until they are fixed.
var ErrAuth = errors.New("authentication failed")

// silentConn is a net.Conn whose "no deadline" is a deadline after all:
// go-imap clears the read deadline between answers and while idling, so a
// server that silently vanished would hang the client forever. Here a
// cleared deadline means "now + limit", and every read records its time.
type silentConn struct {
	net.Conn
	limit    time.Duration
	lastRead atomic.Int64 // unix nanoseconds
}

func (c *silentConn) SetReadDeadline(t time.Time) error {
	if t.IsZero() {
		t = time.Now().Add(c.limit)
	}
	return c.Conn.SetReadDeadline(t)
}

func (c *silentConn) SetDeadline(t time.Time) error {
	if err := c.SetReadDeadline(t); err != nil {
		return err
	}
	return c.Conn.SetWriteDeadline(t)
}

func (c *silentConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	if n > 0 {
		c.lastRead.Store(time.Now().UnixNano())
	}
	return n, err
}

// sinceRead is how long the server has been silent.
func (c *silentConn) sinceRead() time.Duration {
	return time.Since(time.Unix(0, c.lastRead.Load()))
}

// conn is one logged-in IMAP connection.
type conn struct {
	*imapclient.Client
	raw *silentConn
	// delim is the server's hierarchy separator (from LIST "" ""), 0
	// for a flat server.
	delim rune
}

// box translates a mailbox name as configured, with '/' between levels
// ("Triage/Agent"), to the server's separator ("Triage.Agent" on
// Dovecot's default Maildir layout). INBOX and names on a '/' server are
// unchanged.
func (c *conn) box(name string) string {
	return serverName(name, c.delim)
}

// serverName writes a configured mailbox name with the separator delim.
func serverName(name string, delim rune) string {
	if delim == 0 || delim == '/' {
		return name
	}
	return strings.ReplaceAll(name, "/", string(delim))
}

// dial connects, logs in and returns the connection. The handler, when
// set, receives unilateral data (EXISTS while idling). Closing ctx while
// dial runs aborts it; afterwards the caller ties the connection to its
// own contexts (see bind).
func dial(ctx context.Context, a *Account, handler *imapclient.UnilateralDataHandler) (*conn, error) {
	d := net.Dialer{Timeout: a.Timeout, KeepAlive: 30 * time.Second}
	nc, err := d.DialContext(ctx, "tcp", a.Host)
	if err != nil {
		return nil, fmt.Errorf("imap %s: connect to %s: %w", a.Name, a.Host, err)
	}
	host, _, _ := net.SplitHostPort(a.Host)
	tcfg := &tls.Config{ServerName: host, InsecureSkipVerify: a.InsecureSkipVerify, MinVersion: tls.VersionTLS12} //nolint:gosec // opt-in for test servers
	if a.TLS == "implicit" {
		tc := tls.Client(nc, tcfg)
		hctx, cancel := context.WithTimeout(ctx, a.Timeout)
		err := tc.HandshakeContext(hctx)
		cancel()
		if err != nil {
			nc.Close()
			return nil, fmt.Errorf("imap %s: TLS with %s: %w", a.Name, a.Host, err)
		}
		nc = tc
	}
	raw := &silentConn{Conn: nc, limit: a.Noop + a.Timeout}
	raw.lastRead.Store(time.Now().UnixNano())
	opts := &imapclient.Options{UnilateralDataHandler: handler, TLSConfig: tcfg}
	stop := context.AfterFunc(ctx, func() { nc.Close() })
	defer stop()
	var c *imapclient.Client
	if a.TLS == "starttls" {
		c, err = imapclient.NewStartTLS(raw, opts)
		if err != nil {
			nc.Close()
			return nil, fmt.Errorf("imap %s: STARTTLS with %s: %w", a.Name, a.Host, err)
		}
	} else {
		c = imapclient.New(raw, opts)
		if err := c.WaitGreeting(); err != nil {
			c.Close()
			return nil, fmt.Errorf("imap %s: greeting from %s: %w", a.Name, a.Host, err)
		}
	}
	if err := login(ctx, c, a); err != nil {
		c.Close()
		return nil, err
	}
	if ctx.Err() != nil {
		c.Close()
		return nil, ctx.Err()
	}
	cn := &conn{Client: c, raw: raw, delim: '/'}
	// The separator, so that configured names with '/' work everywhere.
	if boxes, err := c.List("", "", nil).Collect(); err != nil {
		c.Close()
		return nil, fmt.Errorf("imap %s: ask %s for its folder separator: %w", a.Name, a.Host, err)
	} else if len(boxes) > 0 {
		cn.delim = boxes[0].Delim
	}
	return cn, nil
}

// bind closes the connection when ctx is done, until the returned stop is
// called: the way to give go-imap's blocking calls a context.
func (c *conn) bind(ctx context.Context) (stop func() bool) {
	return context.AfterFunc(ctx, func() { c.Close() })
}

// closed reports whether the connection has ended.
func (c *conn) closed() bool {
	select {
	case <-c.Closed():
		return true
	default:
		return false
	}
}

func login(ctx context.Context, c *imapclient.Client, a *Account) error {
	var err error
	switch a.Auth {
	case "xoauth2", "oauthbearer":
		if a.Token == nil {
			return fmt.Errorf("imap %s: %s login needs a token source: %w", a.Name, a.Auth, ErrAuth)
		}
		tok, terr := a.Token(ctx)
		if terr != nil {
			return fmt.Errorf("imap %s: get OAuth token: %w", a.Name, terr)
		}
		if a.Auth == "xoauth2" {
			err = c.Authenticate(&xoauth2{user: a.Username, token: tok})
		} else {
			err = c.Authenticate(sasl.NewOAuthBearerClient(&sasl.OAuthBearerOptions{Username: a.Username, Token: tok}))
		}
	default:
		if c.Caps().Has(goimap.AuthCap(sasl.Plain)) {
			err = c.Authenticate(sasl.NewPlainClient("", a.Username, a.Password))
		} else {
			err = c.Login(a.Username, a.Password).Wait()
		}
	}
	if err != nil {
		var ie *goimap.Error
		if errors.As(err, &ie) {
			return fmt.Errorf("imap %s: %w for %s (%v)", a.Name, ErrAuth, a.Username, err)
		}
		return fmt.Errorf("imap %s: login as %s: %w", a.Name, a.Username, err)
	}
	return nil
}

// xoauth2 is the SASL XOAUTH2 client of Gmail and Microsoft 365, which
// go-sasl lacks.
type xoauth2 struct{ user, token string }

func (x *xoauth2) Start() (string, []byte, error) {
	return "XOAUTH2", []byte("user=" + x.user + "\x01auth=Bearer " + x.token + "\x01\x01"), nil
}

// Next answers the server's error challenge (a JSON status) with an empty
// response, after which the server fails the exchange.
func (x *xoauth2) Next([]byte) ([]byte, error) { return []byte{}, nil }

// backoff is exponential backoff with jitter that resets on success.
type backoff struct {
	base, max time.Duration
	fails     int
	last      time.Time
}

// delay is how long to wait after the current run of failures.
func (b *backoff) delay() time.Duration {
	if b.fails == 0 {
		return 0
	}
	d := b.base << min(b.fails-1, 16)
	if d > b.max || d <= 0 {
		d = b.max
	}
	return time.Duration(float64(d) * (0.5 + rand.Float64()))
}

func (b *backoff) fail()  { b.fails++; b.last = time.Now() }
func (b *backoff) reset() { b.fails = 0 }

// wait sleeps out the rest of the delay since the last failure.
func (b *backoff) wait(ctx context.Context) error {
	d := b.delay() - time.Since(b.last)
	if d <= 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
