package imap

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/mail"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	goimap "github.com/emersion/go-imap/v2"

	"github.com/triage-bot/triage/normalize"
	"github.com/triage-bot/triage/pipeline"
	"github.com/triage-bot/triage/ticket"
)

// CursorStore keeps a source's position and answers whether a Message-ID
// was stored before (store.Store has these methods).
type CursorStore interface {
	Cursor(ctx context.Context, source string) (string, error)
	SetCursor(ctx context.Context, source, value string) error
	HasMessageID(ctx context.Context, channel, messageID string) (bool, error)
}

// cursor is a mailbox position as saved in the store.
type cursor struct {
	// UIDValidity is the mailbox's UIDVALIDITY the UIDs belong to.
	UIDValidity uint32 `json:"uidvalidity"`
	// UID is the last UID handed over (or skipped as too old).
	UID uint32 `json:"uid"`
	// Since is the start date of the first run: a rescan after a
	// UIDVALIDITY change skips older mail too. Zero after a backfill.
	Since time.Time `json:"since,omitzero"`
	// Rescan is true while the mailbox is read again after a UIDVALIDITY
	// change: every message is checked against the stored Message-IDs.
	Rescan bool `json:"rescan,omitempty"`
}

// Source reads one mailbox of an account. It keeps its connection between
// passes and re-dials (with backoff and jitter) after a failure.
type Source struct {
	acct    *Account
	mailbox string
	store   CursorStore
	log     *slog.Logger
	now     func() time.Time

	mu   sync.Mutex // one pass at a time
	c    *conn
	back backoff
	// ahead is what the last SEARCH found beyond one pass's Batch, so a
	// drain SELECTs and SEARCHes once rather than once per Batch.
	ahead window
}

// window is new mail a SEARCH found that later passes take in order: the
// UIDs (ascending) after after, in the mailbox selected on c with
// UIDVALIDITY v. It is good only on that connection with the mailbox
// still selected, and only once the cursor has reached after (the
// passes before it went through); otherwise the pass SELECTs and
// SEARCHes again. Mail arriving meanwhile has higher UIDs: it comes next.
type window struct {
	c     *conn
	v     uint32
	after uint32
	uids  []goimap.UID
}

// take returns up to n UIDs of the window if it is good for a pass on c
// with cursor cur, and keeps the rest for the next pass.
func (w *window) take(c *conn, mailbox string, cur *cursor, n int) []goimap.UID {
	if w.c == nil || w.c != c || cur == nil || cur.UIDValidity != w.v || cur.UID < w.after ||
		c.Mailbox() == nil || c.Mailbox().Name != c.box(mailbox) {
		*w = window{}
		return nil
	}
	i, _ := slices.BinarySearch(w.uids, goimap.UID(cur.UID+1)) // skip what the cursor passed
	uids := w.uids[i:]
	if len(uids) == 0 {
		*w = window{}
		return nil
	}
	uids = uids[:min(n, len(uids))]
	w.uids, w.after = w.uids[i+len(uids):], uint32(uids[len(uids)-1])
	return uids
}

// NewSource returns the source for one mailbox of acct. It does no I/O.
func NewSource(acct Account, mailbox string, st CursorStore, log *slog.Logger) *Source {
	acct.defaults()
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Source{acct: &acct, mailbox: mailbox, store: st, log: log, now: time.Now,
		back: backoff{base: 2 * time.Second, max: 5 * time.Minute}}
}

// Name returns "imap:<account>/<mailbox>", the source's cursor and lease key.
func (s *Source) Name() string { return "imap:" + s.acct.Name + "/" + s.mailbox }

// Channel returns "<account>/<mailbox>", the tickets' channel.
func (s *Source) Channel() string { return s.acct.Name + "/" + s.mailbox }

// TicketID returns "imap:<account>/<mailbox>/<uidvalidity>/<uid>".
func TicketID(account, mailbox string, uidValidity, uid uint32) string {
	return fmt.Sprintf("imap:%s/%s/%d/%d", account, mailbox, uidValidity, uid)
}

// ParseTicketID splits an IMAP ticket ID; ok is false for other tickets.
// The mailbox may contain '/', the account may not.
func ParseTicketID(id string) (account, mailbox string, uidValidity, uid uint32, ok bool) {
	rest, found := strings.CutPrefix(id, "imap:")
	if !found {
		return "", "", 0, 0, false
	}
	account, rest, found = strings.Cut(rest, "/")
	if !found {
		return "", "", 0, 0, false
	}
	i := strings.LastIndexByte(rest, '/')
	if i < 0 {
		return "", "", 0, 0, false
	}
	u, err1 := strconv.ParseUint(rest[i+1:], 10, 32)
	rest = rest[:i]
	j := strings.LastIndexByte(rest, '/')
	if j <= 0 || err1 != nil {
		return "", "", 0, 0, false
	}
	v, err2 := strconv.ParseUint(rest[j+1:], 10, 32)
	if err2 != nil {
		return "", "", 0, 0, false
	}
	return account, rest[:j], uint32(v), uint32(u), true
}

// Close ends the source's connection.
func (s *Source) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.c != nil {
		s.c.Logout()
		err := s.c.Close()
		s.c = nil
		return err
	}
	return nil
}

// Poll hands over up to Batch new messages, sets the acknowledgement
// keyword on those stored and advances the cursor. An error from ingest
// stops the pass; mail before it is acknowledged, the failed message is
// seen again next pass.
func (s *Source) Poll(ctx context.Context, ingest func(context.Context, pipeline.Incoming) error) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.back.wait(ctx); err != nil {
		return 0, err
	}
	if s.c == nil || s.c.closed() {
		c, err := dial(ctx, s.acct, nil)
		if err != nil {
			s.back.fail()
			if errors.Is(err, ErrAuth) {
				// Not ready until the credentials are fixed; each pass
				// (one per backoff step) says so once.
				err = pipeline.Blocked(err, fmt.Sprintf("authentication failed for %s", s.acct.Username))
			}
			return 0, err
		}
		s.c = c
	}
	stop := s.c.bind(ctx)
	n, err := s.pass(ctx, s.c, ingest)
	stop()
	if err != nil {
		s.ahead = window{} // the next pass starts from the cursor afresh
	}
	if err != nil && (s.c.closed() || ctx.Err() != nil) {
		s.c.Close()
		s.c = nil
		s.back.fail()
		if ctx.Err() != nil {
			return n, ctx.Err()
		}
	} else if err == nil {
		s.back.reset()
	}
	return n, err
}

func (s *Source) loadCursor(ctx context.Context) (*cursor, error) {
	v, err := s.store.Cursor(ctx, s.Name())
	if err != nil || v == "" {
		return nil, err
	}
	var c cursor
	if err := json.Unmarshal([]byte(v), &c); err != nil {
		return nil, fmt.Errorf("imap %s: cursor %q is unreadable: %w", s.Name(), v, err)
	}
	return &c, nil
}

func (s *Source) saveCursor(ctx context.Context, c *cursor) error {
	b, _ := json.Marshal(c)
	if err := s.store.SetCursor(ctx, s.Name(), string(b)); err != nil {
		return fmt.Errorf("imap %s: save cursor: %w", s.Name(), err)
	}
	return nil
}

func (s *Source) pass(ctx context.Context, c *conn, ingest func(context.Context, pipeline.Incoming) error) (int, error) {
	if s.ahead.c != nil {
		// Next in a drain: no SELECT (tens of milliseconds on a big
		// Maildir) and no SEARCH.
		cur, err := s.loadCursor(ctx)
		if err != nil {
			return 0, err
		}
		if uids := s.ahead.take(c, s.mailbox, cur, s.acct.Batch); len(uids) > 0 {
			return s.fetch(ctx, c, cur.UIDValidity, cur, uids, ingest)
		}
	}
	sel, err := c.Select(c.box(s.mailbox), nil).Wait()
	if err != nil {
		return 0, fmt.Errorf("imap %s: select: %w", s.Name(), err)
	}
	cur, err := s.loadCursor(ctx)
	if err != nil {
		return 0, err
	}
	if cur == nil {
		if cur, err = s.firstCursor(ctx, c, sel); err != nil {
			return 0, err
		}
		if err := s.saveCursor(ctx, cur); err != nil {
			return 0, err
		}
	}
	if cur.UIDValidity != sel.UIDValidity {
		s.log.Warn("imap mailbox UIDVALIDITY changed: rescanning, skipping mail already stored", "source", s.Name(),
			"old_uidvalidity", cur.UIDValidity, "new_uidvalidity", sel.UIDValidity)
		cur = &cursor{UIDValidity: sel.UIDValidity, Since: cur.Since, Rescan: true}
		if err := s.saveCursor(ctx, cur); err != nil {
			return 0, err
		}
	}
	if sel.NumMessages == 0 || (sel.UIDNext != 0 && uint32(sel.UIDNext) <= cur.UID+1) {
		return 0, nil // nothing new: no search needed
	}
	// "n:*" always includes the highest UID, even below n: filter.
	var crit goimap.SearchCriteria
	var set goimap.UIDSet
	set.AddRange(goimap.UID(cur.UID+1), 0)
	crit.UID = []goimap.UIDSet{set}
	data, err := c.UIDSearch(&crit, nil).Wait()
	if err != nil {
		return 0, fmt.Errorf("imap %s: search new mail: %w", s.Name(), err)
	}
	var uids []goimap.UID
	for _, u := range data.AllUIDs() {
		if uint32(u) > cur.UID {
			uids = append(uids, u)
		}
	}
	if len(uids) == 0 {
		return 0, nil
	}
	slices.Sort(uids)
	if len(uids) > s.acct.Batch {
		s.ahead = window{c: c, v: sel.UIDValidity, after: uint32(uids[s.acct.Batch-1]), uids: uids[s.acct.Batch:]}
		uids = uids[:s.acct.Batch]
	}
	return s.fetch(ctx, c, sel.UIDValidity, cur, uids, ingest)
}

// firstCursor decides where a first run starts: at the start date (or
// now), or before everything with Backfill.
func (s *Source) firstCursor(ctx context.Context, c *conn, sel *goimap.SelectData) (*cursor, error) {
	cur := &cursor{UIDValidity: sel.UIDValidity}
	if s.acct.Backfill {
		s.log.Info("imap first run: backfilling every message", "source", s.Name())
		return cur, nil
	}
	last := uint32(0)
	if sel.UIDNext > 0 {
		last = uint32(sel.UIDNext) - 1
	}
	start := s.acct.StartDate
	if start.IsZero() {
		cur.UID, cur.Since = last, s.now().UTC()
		s.log.Info("imap first run: only mail arriving from now on is processed (set start_date or backfill to read older mail)", "source", s.Name(), "uid", last)
		return cur, nil
	}
	cur.Since = start.UTC()
	cur.UID = last
	data, err := c.UIDSearch(&goimap.SearchCriteria{Since: start.Add(-24 * time.Hour)}, nil).Wait()
	if err != nil {
		return nil, fmt.Errorf("imap %s: search mail since %s: %w", s.Name(), start.Format(time.DateOnly), err)
	}
	uids := data.AllUIDs()
	if len(uids) > 0 {
		var set goimap.UIDSet
		set.AddNum(uids...)
		msgs, err := c.Fetch(set, &goimap.FetchOptions{UID: true, InternalDate: true}).Collect()
		if err != nil {
			return nil, fmt.Errorf("imap %s: fetch arrival dates: %w", s.Name(), err)
		}
		for _, m := range msgs {
			if !m.InternalDate.Before(start) && uint32(m.UID)-1 < cur.UID {
				cur.UID = uint32(m.UID) - 1
			}
		}
	}
	s.log.Info("imap first run: processing mail since the start date", "source", s.Name(), "start_date", start, "uid", cur.UID)
	_ = ctx
	return cur, nil
}

// fetch hands over the messages uids (ascending), acknowledges those
// stored and advances the cursor.
func (s *Source) fetch(ctx context.Context, c *conn, uidValidity uint32, cur *cursor, uids []goimap.UID, ingest func(context.Context, pipeline.Incoming) error) (int, error) {
	var set goimap.UIDSet
	set.AddNum(uids...)
	max := s.acct.MaxMessageBytes
	cmd := c.Fetch(set, &goimap.FetchOptions{
		UID: true, Flags: true, InternalDate: true, RFC822Size: true,
		BodySection: []*goimap.FetchItemBodySection{{Peek: true, Partial: &goimap.SectionPartial{Offset: 0, Size: max}}},
	})
	// Up to `inflight` messages are ingested at once: while some wait for
	// their commit, others parse, and the pipeline commits them together.
	// Each message's outcome is recorded by UID; the cursor then advances
	// only over the stored prefix, and stored messages after a failure are
	// acknowledged too (the next pass skips them by their keyword).
	inflight := 1
	if s.acct.Inflight > 1 {
		inflight = s.acct.Inflight
	}
	var (
		mu      sync.Mutex
		wg      sync.WaitGroup
		perr    error
		handed  int
		stored  = map[uint32]bool{}
		order   []uint32
		sem     = make(chan struct{}, inflight)
		failure = func() error { mu.Lock(); defer mu.Unlock(); return perr }
		fail    = func(err error) {
			mu.Lock()
			if perr == nil {
				perr = err
			}
			mu.Unlock()
		}
	)
	for {
		msg := cmd.Next()
		if msg == nil {
			break
		}
		if failure() != nil {
			continue // drain the rest of the answer
		}
		buf, err := msg.Collect()
		if err != nil {
			fail(fmt.Errorf("imap %s: fetch: %w", s.Name(), err))
			continue
		}
		uid := uint32(buf.UID)
		if uid <= cur.UID {
			continue
		}
		var raw []byte
		if len(buf.BodySection) > 0 {
			raw = buf.BodySection[0].Bytes
		}
		skip, err := s.skip(ctx, cur, buf.Flags, buf.InternalDate, raw)
		if err != nil {
			fail(err)
			continue
		}
		order = append(order, uid)
		if skip {
			mu.Lock()
			stored[uid] = true
			mu.Unlock()
			continue
		}
		in := pipeline.Incoming{ID: TicketID(s.acct.Name, s.mailbox, uidValidity, uid), Source: "email",
			Channel: s.Channel(), Raw: bytes.NewReader(raw), Received: buf.InternalDate}
		if buf.RFC822Size > max {
			in.Raw, in.Ticket = nil, oversized(raw, buf.RFC822Size, max)
		}
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			err := ingest(ctx, in)
			if err != nil && !errors.Is(err, pipeline.ErrDuplicate) {
				fail(err)
				return
			}
			mu.Lock()
			stored[uid] = true
			handed++
			mu.Unlock()
		}()
	}
	wg.Wait()
	var acked goimap.UIDSet
	last := cur.UID
	prefix := true
	for _, uid := range order {
		if !stored[uid] {
			prefix = false
			continue
		}
		acked.AddNum(goimap.UID(uid))
		if prefix {
			last = uid
		}
	}
	if err := cmd.Close(); err != nil && perr == nil {
		perr = fmt.Errorf("imap %s: fetch: %w", s.Name(), err)
	}
	if len(acked) > 0 {
		// The acknowledgement: every ticket in acked is stored.
		st := c.Store(acked, &goimap.StoreFlags{Op: goimap.StoreFlagsAdd, Silent: true, Flags: []goimap.Flag{goimap.Flag(s.acct.Triaged)}}, nil)
		if err := st.Close(); err != nil {
			return handed, errors.Join(perr, fmt.Errorf("imap %s: set %s: %w", s.Name(), s.acct.Triaged, err))
		}
	}
	start := cur.UID
	if last == start && perr == nil {
		// Every message vanished between search and fetch: move past them.
		last = uint32(uids[len(uids)-1])
	}
	if last != start {
		cur.UID = last
		if err := s.saveCursor(ctx, cur); err != nil {
			return handed, errors.Join(perr, err)
		}
	}
	if handed == 0 && perr == nil && len(acked) > 0 {
		// Skipped mail only: report progress so a drain keeps going.
		return len(acked), nil
	}
	return handed, perr
}

// skip reports whether a message must not be handed over: it carries the
// acknowledgement keyword already, or (during a rescan) arrived before the
// start date or has a Message-ID already stored.
func (s *Source) skip(ctx context.Context, cur *cursor, flags []goimap.Flag, arrived time.Time, raw []byte) (bool, error) {
	for _, f := range flags {
		if strings.EqualFold(string(f), s.acct.Triaged) {
			return true, nil
		}
	}
	if !cur.Rescan {
		return false, nil
	}
	if !cur.Since.IsZero() && !arrived.IsZero() && arrived.Before(cur.Since) {
		return true, nil
	}
	id := messageID(raw)
	if id == "" {
		return false, nil
	}
	seen, err := s.store.HasMessageID(ctx, s.Channel(), id)
	if err != nil {
		return false, fmt.Errorf("imap %s: rescan: %w", s.Name(), err)
	}
	return seen, nil
}

// messageID reads the Message-ID (without angle brackets) from a raw
// message's header; "" when it is not a well-formed id.
func messageID(raw []byte) string {
	end := bytes.Index(raw, []byte("\r\n\r\n"))
	if end < 0 {
		end = bytes.Index(raw, []byte("\n\n"))
	}
	if end < 0 {
		end = len(raw)
	}
	m, err := mail.ReadMessage(bytes.NewReader(append(raw[:end:end], "\r\n\r\n"...)))
	if err != nil {
		return ""
	}
	// The same reading as normalize's, so that the id matches the stored one.
	return normalize.ParseMessageID(m.Header.Get("Message-Id"))
}

// oversized normalizes the first part of a message too big to fetch whole
// and records why its text is incomplete.
func oversized(raw []byte, size, max int64) *ticket.Ticket {
	t, err := normalize.Message(bytes.NewReader(raw), normalize.Limits{})
	if err != nil {
		t = &ticket.Ticket{Source: "email", Problems: []string{"could not read the message: " + err.Error()}}
	}
	t.Problems = append(t.Problems, fmt.Sprintf("the message is %.1f MiB; only its headers and first %.1f MiB were read (imap max_message_bytes)",
		float64(size)/(1<<20), float64(max)/(1<<20)))
	return t
}
