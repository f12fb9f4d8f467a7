package imap

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	goimap "github.com/emersion/go-imap/v2"

	"github.com/triage-bot/triage/outbox"
	"github.com/triage-bot/triage/store"
	"github.com/triage-bot/triage/ticket"
)

// TicketReader reads a stored ticket (store.Store has this method); the
// sinks use it to find a message by Message-ID after a UIDVALIDITY change.
type TicketReader interface {
	Ticket(ctx context.Context, id string) (*store.Record, error)
}

// Actions carries out imap.flag and imap.move for a set of accounts over
// a small pool of connections per account (Account.ActionConns), each
// dialled on first use and re-dialled after a failure.
//
// Both sinks are outbox.BatchSinks: a claim's actions on the same mailbox
// with the same target become one command with a UID set (one UID STORE,
// one UID MOVE) instead of one round trip each. Whatever the batched
// command cannot settle (a message whose UID is gone, a changed
// UIDVALIDITY, a command the server refused) is sent one action at a
// time, exactly as Send would, so one bad message does not fail its
// neighbours.
type Actions struct {
	accounts map[string]*account
	tickets  TicketReader
	log      *slog.Logger
	moves    combiner
	flags    combiner
}

// combiner gathers the batches of one kind that workers send at the
// same time into one. A UID MOVE has a fixed cost whatever its size (on
// Dovecot's Maildir the expunge syncs the source folder: 50–200 ms with
// 10,000 mails on a loaded machine), and so, to a lesser degree, has a
// UID STORE that renames files there; a claim's moves spread over several
// folders and its keywords over several keyword sets, so each command
// carried only a few messages. The worker that takes run carries out
// every batch queued by then, one command per group for all of them; the
// workers whose batches it took find theirs done when they get run in
// turn.
type combiner struct {
	mu    sync.Mutex // guards queue
	queue []*batchReq
	run   sync.Mutex // held by the worker carrying the queue out
}

// batchReq is one worker's batch waiting in a combiner (of moves or of
// flags).
type batchReq struct {
	ctx  context.Context
	as   []ticket.Action
	errs []error
	done bool // set under combiner.run
}

type account struct {
	acct *Account
	// pool holds the idle sessions; a sink takes one for the length of a
	// send, so at most cap(pool) commands run against the account at once.
	pool chan *session
	// moves counts move commands sent on any session of the pool.
	moves atomic.Uint64
	// order keeps one message's keywords and its move apart: flags hold
	// it shared, moves exclusively. A STORE on one connection racing a
	// MOVE of the same message on another can land on the source copy
	// after the server copied the message, and the keyword is lost while
	// the STORE answers OK. Taken before a session, never after.
	order sync.RWMutex
}

// lock takes the account's order lock for kind: shared for imap.flag,
// exclusive for imap.move. It returns the unlock.
func (ac *account) lock(kind string) func() {
	if kind == ticket.KindIMAPMove {
		ac.order.Lock()
		return ac.order.Unlock
	}
	ac.order.RLock()
	return ac.order.RUnlock
}

// session is one pooled connection and what is selected on it.
type session struct {
	c *conn
	// selected and selectedV are the mailbox selected on c and its
	// UIDVALIDITY, so a run of actions on one mailbox selects it once.
	selected  string
	selectedV uint32
	// synced is true while the session is taken and its view of the
	// selected mailbox is up to date with the pool's moves (seenMoves).
	synced    bool
	seenMoves uint64
}

// selectBox selects mailbox unless it is selected already.
func (s *session) selectBox(mailbox string) (uint32, error) {
	c := s.c
	if s.selected == mailbox && c.Mailbox() != nil && c.Mailbox().Name == c.box(mailbox) {
		return s.selectedV, nil
	}
	s.selected = ""
	sel, err := c.Select(c.box(mailbox), nil).Wait()
	if err != nil {
		return 0, err
	}
	s.selected, s.selectedV = mailbox, sel.UIDValidity
	return sel.UIDValidity, nil
}

// acquire takes an idle session, waiting while all are busy.
func (ac *account) acquire(ctx context.Context) (*session, error) {
	select {
	case s := <-ac.pool:
		return s, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// release gives a session back to the pool.
func (ac *account) release(s *session) {
	s.synced = false
	ac.pool <- s
}

// NewActions returns the sinks' shared state. It does no I/O.
func NewActions(accts []Account, tickets TicketReader, log *slog.Logger) *Actions {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	a := &Actions{accounts: map[string]*account{}, tickets: tickets, log: log}
	for _, ac := range accts {
		ac.defaults()
		pool := make(chan *session, ac.ActionConns)
		for range ac.ActionConns {
			pool <- &session{}
		}
		a.accounts[ac.Name] = &account{acct: &ac, pool: pool}
	}
	return a
}

// Close ends every connection, waiting for sends in progress to finish.
// The sinks stay usable: a later send dials again.
func (a *Actions) Close() error {
	var errs []error
	for _, ac := range a.accounts {
		held := make([]*session, 0, cap(ac.pool))
		for range cap(ac.pool) {
			s := <-ac.pool
			if s.c != nil {
				s.c.Logout()
				errs = append(errs, s.c.Close())
				s.c, s.selected = nil, ""
			}
			held = append(held, s)
		}
		for _, s := range held {
			ac.release(s)
		}
	}
	return errors.Join(errs...)
}

// FlagSink returns the imap.flag sink: the target is one or more keywords
// or flags separated by spaces ("$ngrok-108 $triage-agent-auth").
// Setting a flag twice is harmless, so repeats are idempotent. It is an
// outbox.BatchSink; batches that several workers send while one is being
// carried out go out together (see combiner).
func (a *Actions) FlagSink() outbox.Sink { return flagSink{a} }

// MoveSink returns the imap.move sink: the target is a mailbox, or a
// category that the account's Folders map to a mailbox. A message already
// in the destination counts as moved. It is an outbox.BatchSink; batches
// that several workers send while one is being carried out go out
// together (see combiner). Moves of an account never run at the same
// time as its flags (see account.order).
func (a *Actions) MoveSink() outbox.Sink { return moveSink{a} }

type flagSink struct{ a *Actions }

// InPlace marks the sink as outbox.InPlace: a flag set twice changes
// nothing.
func (flagSink) InPlace() {}

func (f flagSink) Send(ctx context.Context, act ticket.Action) error { return f.a.flag(ctx, act) }

func (f flagSink) SendBatch(ctx context.Context, as []ticket.Action) []error {
	return f.a.flags.do(ctx, as, func(ctx context.Context, all []ticket.Action) []error {
		return f.a.batch(ctx, ticket.KindIMAPFlag, all, f.a.flagTarget, f.a.flagGroup, f.a.flagOne)
	})
}

type moveSink struct{ a *Actions }

// InPlace marks the sink as outbox.InPlace: a message already in the
// destination counts as moved.
func (moveSink) InPlace() {}

func (m moveSink) Send(ctx context.Context, act ticket.Action) error { return m.a.move(ctx, act) }

func (m moveSink) SendBatch(ctx context.Context, as []ticket.Action) []error {
	return m.a.moves.do(ctx, as, func(ctx context.Context, all []ticket.Action) []error {
		return m.a.batch(ctx, ticket.KindIMAPMove, all, m.a.moveTarget, m.a.moveGroup, m.a.moveOne)
	})
}

// do queues one worker's batch and, unless another worker carried it out
// meanwhile, carries out everything queued by then with one call of run.
// A batch whose ctx ended while it waited fails with that, unsent.
func (cb *combiner) do(ctx context.Context, as []ticket.Action, run func(ctx context.Context, all []ticket.Action) []error) []error {
	req := &batchReq{ctx: ctx, as: as}
	cb.mu.Lock()
	cb.queue = append(cb.queue, req)
	cb.mu.Unlock()
	cb.run.Lock()
	defer cb.run.Unlock()
	if req.done {
		return req.errs // carried out with another worker's batch
	}
	cb.mu.Lock()
	reqs := cb.queue
	cb.queue = nil
	cb.mu.Unlock()
	var all []ticket.Action
	var live []*batchReq
	for _, r := range reqs {
		r.done = true
		if err := r.ctx.Err(); err != nil {
			// Its claim ended while it waited: nothing was sent.
			r.errs = make([]error, len(r.as))
			for i := range r.errs {
				r.errs[i] = fmt.Errorf("%s: %w", r.as[0].Kind, err)
			}
			continue
		}
		live = append(live, r)
		all = append(all, r.as...)
	}
	errs := run(ctx, all)
	for _, r := range live {
		r.errs, errs = errs[:len(r.as):len(r.as)], errs[len(r.as):]
	}
	return req.errs
}

// with runs fn for one action on a session of the ticket's account.
func (a *Actions) with(ctx context.Context, kind, ticketID string, fn func(ac *account, s *session, mailbox string, uidValidity, uid uint32) error) error {
	name, mailbox, v, uid, ok := ParseTicketID(ticketID)
	if !ok {
		return outbox.Permanent(fmt.Errorf("%s: ticket %s did not come from an IMAP mailbox", kind, ticketID))
	}
	ac, ok := a.accounts[name]
	if !ok {
		return outbox.Permanent(fmt.Errorf("%s: no IMAP account named %q is configured", kind, name))
	}
	defer ac.lock(kind)()
	s, err := ac.acquire(ctx)
	if err != nil {
		return fmt.Errorf("%s: wait for a connection to %s: %w", kind, name, err)
	}
	defer ac.release(s)
	return a.on(ctx, ac, s, kind, func() error { return fn(ac, s, mailbox, v, uid) })
}

// on runs fn on the session's connection, dialling it when needed (an
// authentication failure is retried too: credentials may be fixed) and
// closing it when ctx ends. A connection that broke is dropped: s.c is
// nil afterwards.
func (a *Actions) on(ctx context.Context, ac *account, s *session, kind string, fn func() error) error {
	if s.c == nil || s.c.closed() {
		c, err := dial(ctx, ac.acct, nil)
		if err != nil {
			s.c = nil
			return fmt.Errorf("%s: %w", kind, err)
		}
		s.c, s.selected = c, ""
	}
	stop := s.c.bind(ctx)
	var err error
	if moves := ac.moves.Load(); !s.synced && s.selected != "" && s.seenMoves != moves {
		// Another connection of the pool moved messages since this one
		// last looked, and a server need not say so before a NOOP:
		// without it a UID moved away could seem to be still here.
		if err = s.c.Noop().Wait(); err != nil {
			err = fmt.Errorf("%s: check %s for changes: %w", kind, s.selected, err)
		}
		s.seenMoves = moves
	}
	if err == nil {
		s.synced = true
		err = fn()
	}
	stop()
	if s.c.closed() {
		s.c, s.selected = nil, ""
	}
	return err
}

// item is one action of a batch with its ticket's place.
type item struct {
	i       int // index in the batch
	act     ticket.Action
	mailbox string
	v, uid  uint32
}

// group is the actions of a batch that one command can carry out: same
// account, mailbox, UIDVALIDITY and target.
type group struct {
	ac      *account
	mailbox string
	v       uint32
	target  string // the keywords (space-separated) or the destination mailbox
	items   []item
}

// uids is the group's UID set.
func (g *group) uids() goimap.UIDSet {
	var set goimap.UIDSet
	for _, it := range g.items {
		set.AddNum(goimap.UID(it.uid))
	}
	return set
}

// batch carries out a batch of one kind: target checks each action and
// returns its group's target ("" with a nil error: nothing to do);
// send carries out a group with one command, recording what it settled in
// errs and returning the items it left for one, the single-action path,
// with the error that made it give up on them (nil when the messages were
// just not where their UIDs said). Errors are per action, in order.
func (a *Actions) batch(ctx context.Context, kind string, as []ticket.Action,
	target func(ac *account, act ticket.Action, mailbox string) (string, error),
	send func(ctx context.Context, s *session, g *group, errs []error) ([]item, error),
	one func(ctx context.Context, ac *account, s *session, act ticket.Action, mailbox string, v, uid uint32) error,
) []error {
	errs := make([]error, len(as))
	var groups []*group
	byKey := map[string]*group{}
	for i, act := range as {
		name, mailbox, v, uid, ok := ParseTicketID(act.TicketID)
		if !ok {
			errs[i] = outbox.Permanent(fmt.Errorf("%s: ticket %s did not come from an IMAP mailbox", kind, act.TicketID))
			continue
		}
		ac, ok := a.accounts[name]
		if !ok {
			errs[i] = outbox.Permanent(fmt.Errorf("%s: no IMAP account named %q is configured", kind, name))
			continue
		}
		tgt, err := target(ac, act, mailbox)
		if err != nil || tgt == "" {
			errs[i] = err
			continue
		}
		key := fmt.Sprintf("%s\x00%s\x00%d\x00%s", name, mailbox, v, tgt)
		g := byKey[key]
		if g == nil {
			g = &group{ac: ac, mailbox: mailbox, v: v, target: tgt}
			byKey[key] = g
			groups = append(groups, g)
		}
		g.items = append(g.items, item{i: i, act: act, mailbox: mailbox, v: v, uid: uid})
	}
	// One account at a time, a mailbox's groups together: one SELECT each.
	slices.SortStableFunc(groups, func(x, y *group) int {
		return cmp.Or(strings.Compare(x.ac.acct.Name, y.ac.acct.Name), strings.Compare(x.mailbox, y.mailbox))
	})
	for len(groups) > 0 {
		ac := groups[0].ac
		n := 1
		for n < len(groups) && groups[n].ac == ac {
			n++
		}
		a.batchAccount(ctx, kind, ac, groups[:n], errs, send, one)
		groups = groups[n:]
	}
	return errs
}

// batchAccount carries out one account's groups on one session.
func (a *Actions) batchAccount(ctx context.Context, kind string, ac *account, groups []*group, errs []error,
	send func(ctx context.Context, s *session, g *group, errs []error) ([]item, error),
	one func(ctx context.Context, ac *account, s *session, act ticket.Action, mailbox string, v, uid uint32) error,
) {
	fail := func(gs []*group, err error) {
		for _, g := range gs {
			for _, it := range g.items {
				errs[it.i] = err
			}
		}
	}
	defer ac.lock(kind)()
	s, err := ac.acquire(ctx)
	if err != nil {
		fail(groups, fmt.Errorf("%s: wait for a connection to %s: %w", kind, ac.acct.Name, err))
		return
	}
	defer ac.release(s)
	for gi, g := range groups {
		var left []item
		sent := false
		err := a.on(ctx, ac, s, kind, func() error {
			sent = true
			var err error
			left, err = send(ctx, s, g, errs)
			return err
		})
		if !sent {
			// Dialling failed: the other groups would fail the same way.
			fail(groups[gi:], err)
			return
		}
		if err != nil {
			if s.c == nil || ctx.Err() != nil {
				// The connection broke (or the send was cut off): no
				// message is to blame, and one at a time would fail too.
				fail([]*group{{items: left}}, err)
				continue
			}
			a.log.Warn("imap: a batched command failed; sending its actions one at a time", "kind", kind,
				"account", ac.acct.Name, "mailbox", g.mailbox, "actions", len(left), "err", err)
		}
		for j, it := range left {
			err := ctx.Err()
			if err == nil {
				err = a.on(ctx, ac, s, kind, func() error { return one(ctx, ac, s, it.act, it.mailbox, it.v, it.uid) })
			} else {
				err = fmt.Errorf("%s: %w", kind, err)
			}
			errs[it.i] = err
			if err != nil && s.c == nil {
				// The connection broke: the rest would fail the same way.
				fail([]*group{{items: left[j+1:]}}, err)
				break
			}
		}
	}
}

// maxFlags bounds the keywords of one imap.flag target. Routing keeps a
// ticket's keywords within its limits.keywords (at most 100); a target
// with more was planned before that limit existed, and is refused rather
// than fill the message's and the mailbox's keyword lists.
const maxFlags = 100

// flagsOf checks an imap.flag target and returns its flags, each once.
func flagsOf(target string) ([]goimap.Flag, error) {
	var flags []goimap.Flag
	for _, f := range strings.Fields(target) {
		if !keywordOK(f) {
			return nil, outbox.Permanent(fmt.Errorf("imap.flag: %q is not a valid IMAP keyword (letters, digits, $ - _ . ; no spaces or brackets)", f))
		}
		if !slices.ContainsFunc(flags, func(g goimap.Flag) bool { return strings.EqualFold(string(g), f) }) {
			flags = append(flags, goimap.Flag(f))
		}
	}
	if len(flags) == 0 {
		return nil, outbox.Permanent(errors.New("imap.flag: the target names no keyword"))
	}
	if len(flags) > maxFlags {
		return nil, outbox.Permanent(fmt.Errorf("imap.flag: the target names %d keywords, more than the %d one message may get", len(flags), maxFlags))
	}
	return flags, nil
}

func (a *Actions) flag(ctx context.Context, act ticket.Action) error {
	if _, err := flagsOf(act.Target); err != nil {
		return err
	}
	return a.with(ctx, "imap.flag", act.TicketID, func(ac *account, s *session, mailbox string, v, uid uint32) error {
		return a.flagOne(ctx, ac, s, act, mailbox, v, uid)
	})
}

// flagTarget is a flag action's group target: its keywords, checked.
func (a *Actions) flagTarget(_ *account, act ticket.Action, _ string) (string, error) {
	flags, err := flagsOf(act.Target)
	if err != nil {
		return "", err
	}
	kw := make([]string, len(flags))
	for i, f := range flags {
		kw[i] = string(f)
	}
	return strings.Join(kw, " "), nil
}

// flagGroup sets a group's keywords on all its messages with one UID
// STORE. The STORE is not silent: the server answers with the flags of
// each message it found, which proves which UIDs still exist; those moved
// to their imap.move destination are flagged there (flaggedElsewhere),
// and the rest (expunged, or after a UIDVALIDITY change: all) are left
// for the single-action path, which looks for them by Message-ID.
func (a *Actions) flagGroup(ctx context.Context, s *session, g *group, errs []error) ([]item, error) {
	cur, err := s.selectBox(g.mailbox)
	if err != nil {
		return g.items, fmt.Errorf("imap.flag: select %s: %w", g.mailbox, err)
	}
	if cur != g.v {
		return g.items, nil
	}
	flags, _ := flagsOf(g.target) // checked by flagTarget
	found, err := storeFound(s.c, g, flags)
	if err != nil {
		return g.items, fmt.Errorf("imap.flag: %w", err)
	}
	var left []item
	for _, it := range g.items {
		if found[it.uid] {
			errs[it.i] = nil
		} else {
			left = append(left, it)
		}
	}
	return a.flaggedElsewhere(ctx, s, g, left, errs, flags)
}

// flaggedElsewhere sets a flag group's keywords on the items whose
// messages left its mailbox for their imap.move destination (the move
// ran first, or a run stopped after it and repeats the batch), with one
// SELECT, one FETCH and one STORE per destination: it finds them among
// the destination's newest messages by Message-ID, as movedAlready does.
// The rest go on to the single-action path, which looks everywhere.
func (a *Actions) flaggedElsewhere(ctx context.Context, s *session, g *group, left []item, errs []error, flags []goimap.Flag) ([]item, error) {
	if len(left) < 2 || a.tickets == nil {
		return left, nil // one is as cheap on its own
	}
	// Destination → Message-ID → the items whose message it is.
	byDest := map[string]map[string][]item{}
	for _, it := range left {
		rec, err := a.tickets.Ticket(ctx, it.act.TicketID)
		if err != nil || rec == nil || rec.Ticket.MessageID == "" {
			continue
		}
		for _, dest := range moveDestinations(g.ac, rec) {
			if dest == g.mailbox {
				continue // looked at already
			}
			if byDest[dest] == nil {
				byDest[dest] = map[string][]item{}
			}
			byDest[dest][rec.Ticket.MessageID] = append(byDest[dest][rec.Ticket.MessageID], it)
		}
	}
	settled := map[int]bool{}
	unsettled := func() []item {
		var rest []item
		for _, it := range left {
			if !settled[it.i] {
				rest = append(rest, it)
			}
		}
		return rest
	}
	for _, dest := range slices.Sorted(maps.Keys(byDest)) {
		want := byDest[dest]
		n := 0
		for _, its := range want {
			n += len(its)
		}
		ids, err := newestMessageIDs(s, dest, min(maxSettle, 4*n))
		if err != nil {
			return unsettled(), fmt.Errorf("imap.flag: %w", err)
		}
		there := &group{ac: g.ac, mailbox: dest}
		for id, its := range want {
			if uid, ok := ids[id]; ok {
				for _, it := range its {
					if !settled[it.i] {
						it.uid = uid
						there.items = append(there.items, it)
					}
				}
			}
		}
		if len(there.items) == 0 {
			continue
		}
		found, err := storeFound(s.c, there, flags)
		if err != nil {
			return unsettled(), fmt.Errorf("imap.flag: %w", err)
		}
		for _, it := range there.items {
			if found[it.uid] {
				errs[it.i], settled[it.i] = nil, true
			}
		}
	}
	return unsettled(), nil
}

// storeFound adds flags to the group's messages in the selected mailbox
// and returns the UIDs that exist there. The STORE is not silent, so the
// server answers with the flags of each message it changed; but a server
// may say nothing of a message whose flags did not change (Dovecot, for
// a keyword already set: $triaged before every move), so the UIDs it did
// not mention are looked up with one UID FETCH. Two round trips at most,
// whatever the group's size.
func storeFound(c *conn, g *group, flags []goimap.Flag) (map[uint32]bool, error) {
	msgs, err := c.Store(g.uids(), &goimap.StoreFlags{Op: goimap.StoreFlagsAdd, Flags: flags}, nil).Collect()
	if err != nil {
		return nil, fmt.Errorf("store %v on %d messages in %s: %w", flags, len(g.items), g.mailbox, err)
	}
	found := make(map[uint32]bool, len(g.items))
	for _, m := range msgs {
		found[uint32(m.UID)] = true
	}
	var quiet goimap.UIDSet
	for _, it := range g.items {
		if !found[it.uid] {
			quiet.AddNum(goimap.UID(it.uid))
		}
	}
	if len(quiet) == 0 {
		return found, nil
	}
	msgs, err = c.Fetch(quiet, &goimap.FetchOptions{UID: true}).Collect()
	if err != nil {
		return nil, fmt.Errorf("fetch %d UIDs in %s: %w", len(g.items)-len(found), g.mailbox, err)
	}
	for _, m := range msgs {
		found[uint32(m.UID)] = true
	}
	return found, nil
}

// flagOne sets an action's keywords on its message, wherever it is now.
func (a *Actions) flagOne(ctx context.Context, ac *account, s *session, act ticket.Action, mailbox string, v, uid uint32) error {
	flags, err := flagsOf(act.Target)
	if err != nil {
		return err
	}
	c := s.c
	// Fast path: the message is where the source found it. A non-silent
	// UID STORE answers with the message's flags, proving it exists.
	if cur, err := s.selectBox(mailbox); err == nil && cur == v {
		msgs, err := c.Store(goimap.UIDSetNum(goimap.UID(uid)), &goimap.StoreFlags{Op: goimap.StoreFlagsAdd, Flags: flags}, nil).Collect()
		if err != nil {
			return fmt.Errorf("imap.flag: store %s on uid %d in %s: %w", act.Target, uid, mailbox, err)
		}
		for _, m := range msgs {
			if uint32(m.UID) == uid {
				return nil
			}
		}
	}
	box, found, err := a.locate(ctx, s, act.TicketID, mailbox, v, uid, a.moveTargets(ctx, ac, act.TicketID))
	if err != nil {
		return fmt.Errorf("imap.flag: %w", err)
	}
	if found == 0 {
		return outbox.Permanent(fmt.Errorf("imap.flag: message of ticket %s is no longer in %s (nor found by Message-ID)", act.TicketID, mailbox))
	}
	cmd := c.Store(goimap.UIDSetNum(goimap.UID(found)), &goimap.StoreFlags{Op: goimap.StoreFlagsAdd, Silent: true, Flags: flags}, nil)
	if err := cmd.Close(); err != nil {
		return fmt.Errorf("imap.flag: store %s on uid %d in %s: %w", act.Target, found, box, err)
	}
	return nil
}

func (a *Actions) move(ctx context.Context, act ticket.Action) error {
	return a.with(ctx, "imap.move", act.TicketID, func(ac *account, s *session, mailbox string, v, uid uint32) error {
		return a.moveOne(ctx, ac, s, act, mailbox, v, uid)
	})
}

// destination is the mailbox a move action's target names.
func destination(ac *account, target string) string {
	dest := strings.TrimSpace(target)
	if f, ok := ac.acct.Folders[dest]; ok {
		dest = f
	}
	return dest
}

// moveTarget is a move action's group target: its destination mailbox;
// "" when the message is there already.
func (a *Actions) moveTarget(ac *account, act ticket.Action, mailbox string) (string, error) {
	dest := destination(ac, act.Target)
	if dest == "" {
		return "", outbox.Permanent(errors.New("imap.move: the target names no mailbox"))
	}
	if dest == mailbox {
		return "", nil
	}
	return dest, nil
}

// moveGroup moves a group's messages with one command. A non-silent UID
// STORE of the acknowledgement keyword comes first: the ticket is stored
// (this action exists), so the message may be acknowledged before it
// leaves, in case the source has not done it yet; and the answer proves
// which UIDs still exist. Those are moved together (UID MOVE, or with
// UIDPLUS: UID COPY, STORE \Deleted and UID EXPUNGE of exactly those
// UIDs); the rest are left for the single-action path, which looks for
// them by Message-ID and counts a message already in the destination as
// moved.
func (a *Actions) moveGroup(ctx context.Context, s *session, g *group, errs []error) ([]item, error) {
	ac, c := g.ac, s.c
	cur, err := s.selectBox(g.mailbox)
	if err != nil {
		return g.items, fmt.Errorf("imap.move: select %s: %w", g.mailbox, err)
	}
	if cur != g.v {
		return g.items, nil
	}
	found, err := storeFound(c, g, []goimap.Flag{goimap.Flag(ac.acct.Triaged)})
	if err != nil {
		return g.items, fmt.Errorf("imap.move: %w", err)
	}
	var here, left []item
	var set goimap.UIDSet
	for _, it := range g.items {
		if found[it.uid] {
			here = append(here, it)
			set.AddNum(goimap.UID(it.uid))
		} else {
			left = append(left, it)
		}
	}
	if len(here) == 0 {
		return a.movedAlready(ctx, s, g, left, errs)
	}
	copied, err := moveUIDs(c, set, g.target)
	ac.moves.Add(1)
	if err != nil && !copied && isNo(err) && ac.acct.CreateFolders {
		if cerr := c.Create(c.box(g.target), nil).Wait(); cerr != nil && !isCode(cerr, goimap.ResponseCodeAlreadyExists) {
			return append(left, here...), fmt.Errorf("imap.move: create %s: %w", g.target, cerr)
		}
		a.log.Info("imap folder created", "account", ac.acct.Name, "mailbox", g.target)
		copied, err = moveUIDs(c, set, g.target)
	}
	if err != nil && copied {
		// The copies exist: moving one at a time would copy again. The
		// retry finds each message still here and finishes the move.
		for _, it := range here {
			errs[it.i] = fmt.Errorf("imap.move: move %d messages from %s to %s: %w", len(here), g.mailbox, g.target, err)
		}
		return left, nil
	}
	if err != nil {
		return append(left, here...), fmt.Errorf("imap.move: move %d messages from %s to %s: %w", len(here), g.mailbox, g.target, err)
	}
	for _, it := range here {
		errs[it.i] = nil
	}
	return a.movedAlready(ctx, s, g, left, errs)
}

// maxSettle bounds the messages of a destination that movedAlready reads.
const maxSettle = 8192

// movedAlready settles, with one SELECT and one FETCH, the items of a
// move group whose messages are no longer in its mailbox because they
// are in its destination already: a run stopped after its move and
// before it recorded it repeats the whole batch. Moved messages are the
// destination's newest (UIDs only grow), so it reads the Message-IDs of
// the last few times as many messages as there are items, at most
// maxSettle, and counts each item whose message it finds there as moved
// (as moveOne would). The rest go on to the single-action path, which
// looks everywhere. Without it, a restart after a kill looked up every
// repeated move on its own: 33–56 s for 10,000 mails.
func (a *Actions) movedAlready(ctx context.Context, s *session, g *group, left []item, errs []error) ([]item, error) {
	if len(left) < 2 || a.tickets == nil {
		return left, nil // one is as cheap on its own
	}
	want := map[string][]item{}
	for _, it := range left {
		rec, err := a.tickets.Ticket(ctx, it.act.TicketID)
		if err != nil || rec == nil || rec.Ticket.MessageID == "" {
			continue
		}
		want[rec.Ticket.MessageID] = append(want[rec.Ticket.MessageID], it)
	}
	if len(want) == 0 {
		return left, nil
	}
	found, err := newestMessageIDs(s, g.target, min(maxSettle, 4*len(left)))
	if err != nil {
		return left, fmt.Errorf("imap.move: %w", err)
	}
	var rest []item
	settled := map[int]bool{}
	for id, its := range want {
		if _, ok := found[id]; ok {
			for _, it := range its {
				errs[it.i], settled[it.i] = nil, true
			}
		}
	}
	for _, it := range left {
		if !settled[it.i] {
			rest = append(rest, it)
		}
	}
	return rest, nil
}

// newestMessageIDs selects mailbox afresh and reads the Message-IDs of
// its newest k messages (where messages moved there lately are: UIDs
// only grow), with one FETCH; it maps each to its lowest UID. A mailbox
// that does not exist holds none. SELECT is sent even when the session
// has mailbox selected: the message count it last saw may predate moves
// made on other sessions, and the count comes from the SELECT's own
// answer (the client's mailbox state may lag behind it).
func newestMessageIDs(s *session, mailbox string, k int) (map[string]uint32, error) {
	s.selected = ""
	sel, err := s.c.Select(s.c.box(mailbox), nil).Wait()
	if err != nil {
		if isNo(err) {
			return nil, nil
		}
		return nil, fmt.Errorf("select %s: %w", mailbox, err)
	}
	s.selected, s.selectedV = mailbox, sel.UIDValidity
	n := sel.NumMessages
	if n == 0 || k <= 0 {
		return nil, nil
	}
	k = int(min(n, uint32(k)))
	var set goimap.SeqSet
	set.AddRange(n-uint32(k)+1, n)
	msgs, err := s.c.Fetch(set, &goimap.FetchOptions{UID: true, BodySection: []*goimap.FetchItemBodySection{{
		Peek: true, Specifier: goimap.PartSpecifierHeader, HeaderFields: []string{"Message-Id"},
	}}}).Collect()
	if err != nil {
		return nil, fmt.Errorf("read the Message-IDs in %s: %w", mailbox, err)
	}
	ids := make(map[string]uint32, len(msgs))
	for _, m := range msgs {
		for _, sec := range m.BodySection {
			if id := messageID(sec.Bytes); id != "" && m.UID != 0 {
				if u, ok := ids[id]; !ok || uint32(m.UID) < u {
					ids[id] = uint32(m.UID)
				}
			}
		}
	}
	return ids, nil
}

// moveOne moves an action's message, wherever it is now.
func (a *Actions) moveOne(ctx context.Context, ac *account, s *session, act ticket.Action, mailbox string, v, uid uint32) error {
	dest := destination(ac, act.Target)
	if dest == "" {
		return outbox.Permanent(errors.New("imap.move: the target names no mailbox"))
	}
	if dest == mailbox {
		return nil
	}
	c := s.c
	_, found, err := a.locate(ctx, s, act.TicketID, mailbox, v, uid, nil)
	if err != nil {
		return fmt.Errorf("imap.move: %w", err)
	}
	if found == 0 {
		// Moved before (a repeat after a crash or a lost answer)?
		if _, there, err := a.locate(ctx, s, act.TicketID, dest, 0, 0, nil); err == nil && there != 0 {
			return nil
		}
		return outbox.Permanent(fmt.Errorf("imap.move: message of ticket %s is in neither %s nor %s", act.TicketID, mailbox, dest))
	}
	// The ticket is stored (this action exists): acknowledge before the
	// message leaves the source mailbox, in case the source has not yet.
	_ = c.Store(goimap.UIDSetNum(goimap.UID(found)), &goimap.StoreFlags{Op: goimap.StoreFlagsAdd, Silent: true, Flags: []goimap.Flag{goimap.Flag(ac.acct.Triaged)}}, nil).Close()
	set := goimap.UIDSetNum(goimap.UID(found))
	_, err = moveUIDs(c, set, dest)
	ac.moves.Add(1)
	if err != nil && isNo(err) && ac.acct.CreateFolders {
		if cerr := c.Create(c.box(dest), nil).Wait(); cerr != nil && !isCode(cerr, goimap.ResponseCodeAlreadyExists) {
			return fmt.Errorf("imap.move: create %s: %w", dest, cerr)
		}
		a.log.Info("imap folder created", "account", ac.acct.Name, "mailbox", dest)
		_, err = moveUIDs(c, set, dest)
	}
	if err != nil {
		if errors.Is(err, errNoSafeMove) {
			return outbox.Permanent(fmt.Errorf("imap.move: %w", err))
		}
		if isNo(err) {
			hint := ""
			if !ac.acct.CreateFolders {
				hint = " (does it exist? set create_folders: true to create it)"
			}
			return outbox.Permanent(fmt.Errorf("imap.move: move uid %d from %s to %s: %w%s", found, mailbox, dest, err, hint))
		}
		return fmt.Errorf("imap.move: move uid %d from %s to %s: %w", found, mailbox, dest, err)
	}
	return nil
}

// errNoSafeMove is returned by moveUID on a server with neither MOVE nor
// UIDPLUS.
var errNoSafeMove = errors.New("the server supports neither MOVE nor UIDPLUS, so a move would need a plain EXPUNGE that deletes every \\Deleted message in the mailbox; refusing (nothing was changed)")

// moveUIDs moves the messages set of the selected mailbox to dest. Without
// MOVE it copies, and only when the copy succeeded marks and UID EXPUNGEs
// exactly those messages (UIDPLUS); never a plain EXPUNGE. copied reports
// that the copies were made before a later step failed.
func moveUIDs(c *conn, set goimap.UIDSet, dest string) (copied bool, err error) {
	caps := c.Caps()
	dest = c.box(dest)
	if caps.Has(goimap.CapMove) {
		_, err := c.Move(set, dest).Wait()
		return false, err
	}
	if !caps.Has(goimap.CapUIDPlus) {
		return false, errNoSafeMove
	}
	if _, err := c.Copy(set, dest).Wait(); err != nil {
		return false, err
	}
	if err := c.Store(set, &goimap.StoreFlags{Op: goimap.StoreFlagsAdd, Silent: true, Flags: []goimap.Flag{goimap.FlagDeleted}}, nil).Close(); err != nil {
		return true, err
	}
	return true, c.UIDExpunge(set).Close()
}

// locate selects mailbox and finds the ticket's message in it: by UID
// when the UIDVALIDITY still matches, else by the stored Message-ID. It
// also looks in extra mailboxes (where a move action may have put it). It
// returns the mailbox and UID, or 0 when the message is not there.
func (a *Actions) locate(ctx context.Context, s *session, ticketID, mailbox string, v, uid uint32, extra []string) (string, uint32, error) {
	c := s.c
	msgID := ""
	for i, box := range append([]string{mailbox}, extra...) {
		selV, err := s.selectBox(box)
		if err != nil {
			if i > 0 && isNo(err) {
				continue
			}
			return "", 0, fmt.Errorf("select %s: %w", box, err)
		}
		if i == 0 && uid != 0 && selV == v {
			msgs, err := c.Fetch(goimap.UIDSetNum(goimap.UID(uid)), &goimap.FetchOptions{UID: true}).Collect()
			if err != nil {
				return "", 0, fmt.Errorf("fetch uid %d in %s: %w", uid, box, err)
			}
			for _, m := range msgs {
				if uint32(m.UID) == uid {
					return box, uid, nil
				}
			}
		}
		if msgID == "" && a.tickets != nil {
			rec, err := a.tickets.Ticket(ctx, ticketID)
			if err != nil && !errors.Is(err, store.ErrNotFound) {
				return "", 0, fmt.Errorf("read ticket %s: %w", ticketID, err)
			}
			if rec != nil {
				msgID = rec.Ticket.MessageID
			}
		}
		if msgID == "" {
			continue
		}
		data, err := c.UIDSearch(&goimap.SearchCriteria{Header: []goimap.SearchCriteriaHeaderField{{Key: "Message-ID", Value: "<" + msgID + ">"}}}, nil).Wait()
		if err != nil {
			return "", 0, fmt.Errorf("search Message-ID in %s: %w", box, err)
		}
		if u := data.AllUIDs(); len(u) > 0 {
			return box, uint32(u[0]), nil
		}
	}
	return mailbox, 0, nil
}

// moveTargets lists the mailboxes the ticket's imap.move actions send it
// to, so a flag set after the move still finds the message.
func (a *Actions) moveTargets(ctx context.Context, ac *account, ticketID string) []string {
	if a.tickets == nil {
		return nil
	}
	rec, err := a.tickets.Ticket(ctx, ticketID)
	if err != nil || rec == nil {
		return nil
	}
	return moveDestinations(ac, rec)
}

// moveDestinations lists the mailboxes rec's imap.move actions send its
// message to.
func moveDestinations(ac *account, rec *store.Record) []string {
	var out []string
	for _, x := range rec.Actions {
		if x.Kind == ticket.KindIMAPMove && x.State != ticket.StateShadow {
			if dest := destination(ac, x.Target); dest != "" && !slices.Contains(out, dest) {
				out = append(out, dest)
			}
		}
	}
	return out
}

func isNo(err error) bool {
	var ie *goimap.Error
	return errors.As(err, &ie) && ie.Type == goimap.StatusResponseTypeNo
}

func isCode(err error, code goimap.ResponseCode) bool {
	var ie *goimap.Error
	return errors.As(err, &ie) && ie.Code == code
}

// keywordOK reports whether s is a flag or keyword the bot may set.
func keywordOK(s string) bool {
	if strings.HasPrefix(s, `\`) {
		switch strings.ToLower(s) {
		case `\flagged`, `\seen`, `\answered`, `\draft`:
			return true
		}
		return false // never \Deleted
	}
	for _, r := range s {
		if r <= ' ' || r >= 0x7f || strings.ContainsRune(`(){%*"\]`, r) {
			return false
		}
	}
	return s != ""
}
