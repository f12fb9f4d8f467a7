// Package outbox carries out planned actions exactly once in effect: each
// action is a row in the store, claimed by one worker at a time, sent to
// the sink for its kind with its idempotency key, and retried with
// exponential backoff and jitter until it succeeds or is parked as failed.
// The row, not a goroutine, is the unit of work: a crash loses nothing,
// and a repeat after a crash carries the same key, so the receiver can
// drop it.
//
// Delivery is at least once. A worker records the successes of each
// send before its next one (see record.go), so a process killed at any
// moment leaves at most one send per worker (one action, or one
// SendBatch call) that reached its peer without being marked done, and
// only that is sent again; an InPlace sink's successes are recorded once
// per batch instead, since its repeats reach nobody.
//
// A worker keeps its claim while it works (a heartbeat renews it, see
// lease.go) and stops sending when it cannot: a slow send is never
// claimed and sent again by another worker. Attempts are counted when an
// action is claimed, so MaxAttempts is a hard cap across crashes. Every
// send runs in a context that ends at SendTimeout, when the claim is
// lost, or when shutdown's grace period is over.
package outbox

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/triage-bot/triage/metrics"
	"github.com/triage-bot/triage/store"
	"github.com/triage-bot/triage/ticket"
)

// Store is what the outbox needs of the store.
type Store interface {
	Claim(ctx context.Context, worker string, now time.Time, lease time.Duration, limit, maxAttempts int) ([]ticket.Action, error)
	Renew(ctx context.Context, worker string, ids []int64, until time.Time) ([]int64, error)
	CompleteBatch(ctx context.Context, ids []int64, worker string) []error
	Retry(ctx context.Context, id int64, worker, errMsg string, next time.Time) error
	Fail(ctx context.Context, id int64, worker, errMsg string) error
	Suppress(ctx context.Context, id int64, worker, reason string) error
	Release(ctx context.Context, id int64, worker string) error
	CountActions(ctx context.Context) (map[ticket.ActionState]int, error)
}

// Sink carries out actions of one kind. Send must be idempotent for the
// same a.Key: it may be called again for an action that already took
// effect (after a crash or a lost answer). An error is retried unless it
// is marked Permanent; an error with a RetryAfter() method sets the delay.
//
// ctx ends at the send's deadline, when the worker lost its claim on the
// action, or when shutdown's grace period is over. Send must return soon
// after: long work (rendering, redacting a large text) checks ctx as it
// goes, and the irreversible step (the request, the SMTP DATA) is not
// begun once ctx is done — another worker may hold the action by then.
type Sink interface {
	Send(ctx context.Context, a ticket.Action) error
}

// InPlace is a Sink whose repeat changes nothing anyone sees: it finds
// its own earlier effect before making it again (a line in a local file
// that it reads back, a message already in its folder), or making it
// twice is making it once (a flag set again). The outbox records an
// in-place sink's successes together, once per batch, rather than each
// one before the next send. A sink whose effect a peer receives (a
// request, a chat message, a mail) must not be InPlace.
type InPlace interface {
	Sink
	// InPlace does nothing; it marks the sink.
	InPlace()
}

// BatchSink is a Sink that can carry out many actions of its kind at once
// (one request for many messages instead of one each). The outbox hands
// a worker's claimed actions of the sink's kind to SendBatch in one call,
// in claim order; Send is still used elsewhere (and must agree with
// SendBatch on every effect).
//
// SendBatch returns one error per action, errs[i] for as[i], with the same
// meaning as Send's: nil for done, Permanent, RetryAfter, anything else
// retried. Each action is idempotent for its Key as with Send, and one
// action's failure must not fail the others: a sink that cannot tell which
// action a failed request was about retries them one by one. A result of
// the wrong length is treated as a temporary failure of every action.
type BatchSink interface {
	Sink
	SendBatch(ctx context.Context, as []ticket.Action) []error
}

// permanent marks an error that retrying cannot fix.
type permanent struct{ err error }

func (p permanent) Error() string { return p.err.Error() }
func (p permanent) Unwrap() error { return p.err }

// Permanent marks err as not worth retrying (a 4xx answer, a missing
// channel, bad credentials): the action is parked as failed at once.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return permanent{err}
}

// suppressed is a Permanent error that is a sink's deliberate refusal.
type suppressed struct{ err error }

func (s suppressed) Error() string { return s.err.Error() }
func (s suppressed) Unwrap() error { return permanent(s) }

// Suppressed marks err as a sink's deliberate refusal to act (a reply
// held back by policy: a robot, an unauthenticated sender, a spent
// budget), worded as the reason: nothing failed and nothing is to be
// retried. The action ends as suppressed (its own state, never offered
// for Retry), logged at INFO and counted apart from failures. A
// Suppressed error is also Permanent, for callers that know only that.
func Suppressed(err error) error {
	if err == nil {
		return nil
	}
	return suppressed{err}
}

// IsSuppressed reports whether err was marked Suppressed.
func IsSuppressed(err error) bool {
	var s suppressed
	return errors.As(err, &s)
}

// ParseRetryAfter reads an HTTP Retry-After value (seconds, or an HTTP
// date taken against now); 0 when it is absent or unreadable.
func ParseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if n, err := strconv.Atoi(v); err == nil && n >= 0 {
		return time.Duration(n) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		return t.Sub(now)
	}
	return 0
}

// ForHTTP classifies err, the failure of a call to an HTTP API that
// answered status: 429 waits as the peer asks (retryAfter, at least a
// second), and so does a 503 that says how long; 408, other 5xx and
// anything else are retried; every other 4xx is Permanent. Sinks that
// talk to an HTTP API classify their errors with it.
func ForHTTP(err error, status int, retryAfter time.Duration) error {
	switch {
	case status == http.StatusTooManyRequests:
		return RetryAfter(err, max(retryAfter, time.Second))
	case status == http.StatusServiceUnavailable && retryAfter > 0:
		return RetryAfter(err, retryAfter)
	case status == http.StatusRequestTimeout || status >= 500:
		return err
	case status >= 400:
		return Permanent(err)
	}
	return err
}

// IsPermanent reports whether err was marked Permanent.
func IsPermanent(err error) bool {
	var p permanent
	return errors.As(err, &p)
}

type retryAfter struct {
	err error
	d   time.Duration
}

func (r retryAfter) Error() string             { return r.err.Error() }
func (r retryAfter) Unwrap() error             { return r.err }
func (r retryAfter) RetryAfter() time.Duration { return r.d }

// RetryAfter marks err as temporary with the delay the peer asked for
// (HTTP Retry-After, Slack's ratelimited).
func RetryAfter(err error, d time.Duration) error { return retryAfter{err, d} }

// Config tunes the outbox. Zero values mean the defaults in config.Outbox.
type Config struct {
	// Worker names this process in claims; it must be unique per process.
	Worker      string
	Workers     int
	MaxAttempts int
	Backoff     time.Duration
	MaxBackoff  time.Duration
	// Lease is how long a claim lasts unless renewed. A worker renews the
	// claims it holds every Lease/3 while it works on them, so a slow send
	// keeps its claim, and a dead process's claims are taken over one
	// Lease after its last renewal. Default 10s.
	Lease time.Duration
	// SendTimeout bounds one send (or one batch of a BatchSink): its
	// context ends then. Default 2m.
	SendTimeout time.Duration
	Poll        time.Duration
	// Grace is how long in-flight actions may finish after shutdown
	// begins before they are released. Default 10s.
	Grace time.Duration
	// Batch is how many actions a worker claims at once. Default 32:
	// fewer store transactions (a fifth faster than 8 on the run
	// benchmark), and a worker that dies leaves no more than this many
	// (BatchSinkBatch for batch sinks) waiting for their claim to expire.
	Batch int
	// BatchSinkBatch is how many actions a worker takes at once while
	// all it has taken are for BatchSinks. Default 2048, about what the
	// direct path's handoff holds when full (1024 tickets of two
	// actions): such a sink's command costs about the same for one
	// message as for hundreds (an IMAP UID MOVE that makes the server
	// re-sync a large mailbox), so a bigger batch means fewer commands
	// (10,000 mails with a move each: 2.98 s at 2048, 3.71 s at 1024, 38
	// s at 32). Its successes are recorded per SendBatch call, or once
	// per batch for an InPlace sink, so a crash repeats up to this many
	// per worker: harmless by the sinks' contracts, but an IMAP repeat
	// looks each message up by Message-ID (tens of seconds for thousands
	// after a crash).
	BatchSinkBatch int
	// Now and Rand make time and jitter testable.
	Now  func() time.Time
	Rand func() float64
}

// Outbox runs due actions.
type Outbox struct {
	cfg     Config
	st      Store
	sinks   map[string]Sink
	log     *slog.Logger
	metrics *metrics.Metrics
	wake    chan struct{}
	direct  directState
}

// New returns an outbox; it does nothing until Run or Drain.
func New(cfg Config, st Store, sinks map[string]Sink, log *slog.Logger, m *metrics.Metrics) *Outbox {
	if cfg.Workers < 1 {
		cfg.Workers = 4
	}
	if cfg.MaxAttempts < 1 {
		cfg.MaxAttempts = 8
	}
	if cfg.Backoff <= 0 {
		cfg.Backoff = 2 * time.Second
	}
	if cfg.MaxBackoff <= 0 {
		cfg.MaxBackoff = 10 * time.Minute
	}
	if cfg.Lease <= 0 {
		cfg.Lease = 10 * time.Second
	}
	if cfg.SendTimeout <= 0 {
		cfg.SendTimeout = 2 * time.Minute
	}
	if cfg.Poll <= 0 {
		cfg.Poll = 500 * time.Millisecond
	}
	if cfg.Grace <= 0 {
		cfg.Grace = 10 * time.Second
	}
	if cfg.Batch <= 0 {
		cfg.Batch = 32
	}
	if cfg.BatchSinkBatch < cfg.Batch {
		cfg.BatchSinkBatch = max(cfg.Batch, 2048)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Rand == nil {
		cfg.Rand = rand.Float64
	}
	if cfg.Worker == "" {
		cfg.Worker = fmt.Sprintf("worker-%d", rand.Int64())
	}
	return &Outbox{cfg: cfg, st: st, sinks: sinks, log: log, metrics: m, wake: make(chan struct{}, 1),
		direct: directState{handoff: make(chan handed, handoffSlots)}}
}

// Notify wakes the workers early, e.g. right after new actions were stored.
func (o *Outbox) Notify() {
	select {
	case o.wake <- struct{}{}:
	default:
	}
}

// Run runs due actions until ctx is done. Then it stops claiming, lets
// in-flight actions finish within the grace period, releases the rest
// and returns nil.
func (o *Outbox) Run(ctx context.Context) error {
	stopTaking := o.takeDirect()
	defer context.AfterFunc(ctx, stopTaking)()
	rec := o.startRecorder()
	var wg sync.WaitGroup
	for i := range o.cfg.Workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			worker := fmt.Sprintf("%s/%d", o.cfg.Worker, i)
			var looked time.Time // when this worker last claimed from the store
			for ctx.Err() == nil {
				// Actions handed over by ingest come first. Between
				// batches of them the worker claims from the store once
				// per Poll, or at once when woken (actions stored
				// pending): retries that fall due wait no longer than
				// for an idle worker, and a busy direct path does not
				// query the store after every batch.
				select {
				case first := <-o.direct.handoff:
					o.runDirect(ctx, first, rec)
					select {
					case <-o.wake:
					default:
						if time.Since(looked) < o.cfg.Poll {
							continue
						}
					}
				default:
				}
				looked = time.Now()
				n := o.step(ctx, worker, rec)
				if n >= o.cfg.Batch {
					o.Notify() // more may be due: wake an idle worker to help
				}
				if n > 0 {
					continue
				}
				t := time.NewTimer(o.cfg.Poll)
				select {
				case <-ctx.Done():
				case <-o.wake:
				case <-t.C:
				case first := <-o.direct.handoff:
					o.runDirect(ctx, first, rec)
				}
				t.Stop()
			}
		}()
	}
	o.wait(ctx, &wg)
	rec.stop()
	stopTaking()
	return nil
}

// wait waits for wg, but once ctx is done no longer than the grace
// period and a little more: a sink that ignores its context must not keep
// the process from stopping. Its actions stay claimed until their claims
// run out (no longer renewed) or the next start releases them.
func (o *Outbox) wait(ctx context.Context, wg *sync.WaitGroup) {
	finished := make(chan struct{})
	go func() { wg.Wait(); close(finished) }()
	select {
	case <-finished:
		return
	case <-ctx.Done():
	}
	t := time.NewTimer(o.cfg.Grace + graceSlack)
	defer t.Stop()
	select {
	case <-finished:
	case <-t.C:
		o.log.Error("outbox: a send ignored the end of the grace period; leaving it behind, its actions stay claimed until the claim runs out or the next start")
	}
}

// graceSlack is how long after the grace period the outbox waits for
// workers to record what their cut-off sends returned.
const graceSlack = 500 * time.Millisecond

// Drain runs actions until none is due now and none is claimed by
// another worker, then returns how many were attempted. A claim left by
// a dead process runs out within the lease and is then taken, so Drain
// waits up to two leases without anything to do for claimed actions
// (those of a live process may take longer: they are left to it).
// Actions waiting for a later retry stay pending.
func (o *Outbox) Drain(ctx context.Context) (int, error) {
	total := 0
	rec := o.startRecorder()
	defer rec.stop()
	var (
		mu        sync.Mutex
		waited    time.Time // since when nothing was due while others held claims
		announced bool
	)
	for ctx.Err() == nil {
		var wg sync.WaitGroup
		round := 0
		for i := range o.cfg.Workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				n := o.step(ctx, fmt.Sprintf("%s/%d", o.cfg.Worker, i), rec)
				mu.Lock()
				round += n
				mu.Unlock()
			}()
		}
		o.wait(ctx, &wg)
		mu.Lock()
		n := round
		mu.Unlock()
		if n > 0 {
			total += n
			waited = time.Time{}
			continue
		}
		counts, err := o.st.CountActions(ctx)
		if err != nil {
			return total, fmt.Errorf("outbox: drain: count actions: %w", err)
		}
		held := counts[ticket.StateRunning]
		if held == 0 {
			return total, nil
		}
		if waited.IsZero() {
			waited = time.Now()
		}
		if !announced {
			o.log.Info("outbox: waiting for actions claimed by another process to be finished or released", "actions", held, "lease", o.cfg.Lease)
			announced = true
		}
		if time.Since(waited) > 2*o.cfg.Lease {
			o.log.Info("outbox: actions still claimed by another live process; leaving them to it", "actions", held)
			return total, nil
		}
		t := time.NewTimer(o.cfg.Poll)
		select {
		case <-ctx.Done():
		case <-t.C:
		}
		t.Stop()
	}
	return total, ctx.Err()
}

// survivePanic, deferred by a worker's unit of work, keeps a panicking
// sink from taking the process down: it is counted and logged, and the
// actions it held are claimed again once their claim runs out.
func (o *Outbox) survivePanic(worker string) {
	if r := recover(); r != nil {
		o.metrics.Panic("outbox")
		o.log.Error("outbox worker panicked", "worker", worker, "panic", r)
	}
}

// step claims and runs up to one batch of actions, recording successes
// through rec (itself when rec is nil); it returns how many it took from
// the store (those it found out of attempts and parked included). A
// full claim of actions all for BatchSinks is followed by more claims,
// up to BatchSinkBatch (see batchLimit).
func (o *Outbox) step(ctx context.Context, worker string, rec *recorder) (n int) {
	defer o.survivePanic(worker)
	now := o.cfg.Now()
	var actions []ticket.Action
	limit := o.cfg.BatchSinkBatch
	for {
		more, err := o.st.Claim(ctx, worker, now, o.cfg.Lease, o.cfg.Batch, o.cfg.MaxAttempts)
		if err != nil {
			if ctx.Err() == nil {
				o.log.Error("outbox: claim actions", "worker", worker, "err", err)
			}
			if len(actions) == 0 {
				return 0
			}
			break // run what is claimed already
		}
		actions = append(actions, more...)
		limit = min(limit, o.batchLimit(more))
		if len(more) < o.cfg.Batch || len(actions)+o.cfg.Batch > limit {
			break
		}
	}
	n = len(actions)
	actions = o.parkedAtClaim(actions)
	if len(actions) == 0 {
		return n
	}
	h := o.newHold(ctx, worker, actions, now.Add(o.cfg.Lease))
	defer h.stop()
	o.recordNow(h, rec, o.sendAll(ctx, h, rec, actions))
	return n
}

// batchLimit is how many actions a worker may take at once with taken
// among them: BatchSinkBatch when all are for BatchSinks, else Batch.
func (o *Outbox) batchLimit(taken []ticket.Action) int {
	for _, a := range taken {
		if _, ok := o.sinks[a.Kind].(BatchSink); !ok {
			return o.cfg.Batch
		}
	}
	return o.cfg.BatchSinkBatch
}

// parkedAtClaim reports the actions Claim parked as out of attempts and
// returns the others, the ones claimed.
func (o *Outbox) parkedAtClaim(actions []ticket.Action) []ticket.Action {
	claimed := actions[:0]
	for _, a := range actions {
		if a.State != ticket.StateFailed {
			claimed = append(claimed, a)
			continue
		}
		o.metrics.Action(a.Kind, "failed")
		o.log.Error("action out of attempts and parked; retry it from the dashboard once the cause is fixed",
			"action_id", a.ID, "ticket_id", a.TicketID, "kind", a.Kind, "attempt", a.Attempts, "err", a.LastError)
	}
	return claimed
}

// sendAll sends actions held by h and records every outcome, each
// success before the next send (through rec, see recordNow), except the
// successes of InPlace sinks: those it returns for the caller to record
// with the batch. Actions are grouped by kind, keeping the claim order
// within a kind, and the kinds run in the order the tickets' own actions
// put them (see kindOrder): a BatchSink gets its group in one SendBatch
// call, any other sink one Send per action. When ctx (shutdown) or the
// hold is done before a group or action starts, it and everything after
// it is released without counting the attempt.
func (o *Outbox) sendAll(ctx context.Context, h *hold, rec *recorder, actions []ticket.Action) (later []ticket.Action) {
	kinds := kindOrder(actions)
	groups := map[string][]ticket.Action{}
	for _, a := range actions {
		groups[a.Kind] = append(groups[a.Kind], a)
	}
	var left []ticket.Action // not yet started, in the order they would run
	for _, k := range kinds {
		left = append(left, groups[k]...)
	}
	// settle records the successes of one send before the next, or
	// keeps an in-place sink's for later (recorded with the next
	// success recorded here, or by the caller).
	settle := func(sink Sink, done []ticket.Action) {
		if len(done) == 0 {
			return
		}
		if _, ok := sink.(InPlace); ok {
			later = append(later, done...)
			return
		}
		o.recordNow(h, rec, append(later, done...))
		later = nil
	}
kinds:
	for _, k := range kinds {
		group := groups[k]
		if bs, ok := o.sinks[k].(BatchSink); ok {
			if ctx.Err() != nil || h.ctx.Err() != nil {
				break
			}
			left = left[len(group):]
			settle(bs, o.runBatch(ctx, h, bs, group))
			continue
		}
		for _, a := range group {
			if ctx.Err() != nil || h.ctx.Err() != nil {
				break kinds
			}
			left = left[1:]
			if o.run(ctx, h, a) {
				settle(o.sinks[k], []ticket.Action{a})
			}
		}
	}
	if len(left) > 0 {
		// Shutting down or the claim is lost: give back what was claimed
		// but not started (what another worker took is not ours to give).
		for _, a := range left {
			h.finish(a.ID)
		}
		o.release(ctx, h.worker, left)
	}
	return later
}

// kindOrder returns the kinds of actions in the order to run them: the
// order of a ticket's own actions (its routes' order) where the tickets
// of the batch agree on it, else the order each kind first appears. A
// claim can begin with a ticket's second action, its first taken by an
// earlier claim: the batch's first action does not decide for the rest
// (an IMAP keyword is cheap before its message's move, and after it has
// to find the message in its new folder).
func kindOrder(actions []ticket.Action) []string {
	var kinds []string
	seen := map[string]bool{}
	perTicket := map[string][]string{} // each ticket's kinds, in order
	var tickets []string
	for _, a := range actions {
		if !seen[a.Kind] {
			seen[a.Kind] = true
			kinds = append(kinds, a.Kind)
		}
		ks, ok := perTicket[a.TicketID]
		if !ok {
			tickets = append(tickets, a.TicketID)
		}
		if !slices.Contains(ks, a.Kind) {
			perTicket[a.TicketID] = append(ks, a.Kind)
		}
	}
	if len(kinds) < 2 {
		return kinds
	}
	// before[x][y] counts the tickets whose x action comes before their y.
	before := map[string]map[string]int{}
	for _, t := range tickets {
		ks := perTicket[t]
		for i, x := range ks {
			for _, y := range ks[i+1:] {
				if before[x] == nil {
					before[x] = map[string]int{}
				}
				before[x][y]++
			}
		}
	}
	// Swap neighbours the tickets order the other way; a few kinds at most.
	for range kinds {
		for i := 0; i+1 < len(kinds); i++ {
			x, y := kinds[i], kinds[i+1]
			if before[y][x] > before[x][y] {
				kinds[i], kinds[i+1] = y, x
			}
		}
	}
	return kinds
}

// complete records successes in one transaction.
func (o *Outbox) complete(ctx context.Context, worker string, done []ticket.Action) {
	if len(done) == 0 {
		return
	}
	ids := make([]int64, len(done))
	for i, a := range done {
		ids[i] = a.ID
	}
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	errs := o.st.CompleteBatch(rctx, ids, worker)
	for i, a := range done {
		if errs[i] != nil {
			// The action took effect but is not marked done: it will run
			// again after its claim expires, with the same key.
			o.log.Error("outbox: record success", "action_id", a.ID, "ticket_id", a.TicketID, "kind", a.Kind, "err", errs[i])
			continue
		}
		o.metrics.Action(a.Kind, "done")
		o.log.Debug("action done", "action_id", a.ID, "ticket_id", a.TicketID, "kind", a.Kind)
	}
}

// release gives claimed actions back without counting the attempt.
func (o *Outbox) release(ctx context.Context, worker string, actions []ticket.Action) {
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	for _, a := range actions {
		if err := o.st.Release(rctx, a.ID, worker); errors.Is(err, store.ErrLeaseLost) {
			o.log.Info("outbox: not releasing an action another worker holds", "action_id", a.ID)
		} else if err != nil {
			o.log.Error("outbox: release an action not started", "action_id", a.ID, "err", err)
		}
	}
}

// run sends one held action and records a failed outcome; it reports
// success to the caller, which records it.
func (o *Outbox) run(ctx context.Context, h *hold, a ticket.Action) (ok bool) {
	sctx, cancel := context.WithTimeout(h.ctx, o.cfg.SendTimeout)
	defer cancel()
	var err error
	if sink, found := o.sinks[a.Kind]; found {
		err = sink.Send(sctx, a)
	} else {
		err = noSink(a.Kind)
	}
	return o.outcome(ctx, h, a, err)
}

// runBatch sends one kind's held actions through its BatchSink in one
// call and records each failed outcome as run does; it returns the
// actions that took effect, for the caller to record.
func (o *Outbox) runBatch(ctx context.Context, h *hold, sink BatchSink, group []ticket.Action) (done []ticket.Action) {
	sctx, cancel := context.WithTimeout(h.ctx, o.cfg.SendTimeout)
	defer cancel()
	errs := sink.SendBatch(sctx, group)
	if len(errs) != len(group) {
		o.log.Error("outbox: a batch sink returned the wrong number of results; retrying its actions", "kind", group[0].Kind, "actions", len(group), "results", len(errs))
		err := fmt.Errorf("the %s sink returned %d results for %d actions", group[0].Kind, len(errs), len(group))
		errs = make([]error, len(group))
		for i := range errs {
			errs[i] = err
		}
	}
	for i, a := range group {
		if o.outcome(ctx, h, a, errs[i]) {
			done = append(done, a)
		}
	}
	return done
}

// noSink is the error of an action whose kind no sink carries out.
func noSink(kind string) error {
	return Permanent(fmt.Errorf("no sink is configured for %q actions", kind))
}

// outcome records what err (the result of sending a under hold h) means
// for the action: nil is success, reported to the caller, which records
// it; a send cut off because the hold ended (shutdown's
// grace period over, the claim lost) is due again at once, its attempt
// counted (it may have taken effect); a Permanent error or the last
// attempt parks the action as failed; any other error schedules a retry
// with backoff. It records even when ctx is done. A claim another worker
// took over is not recorded at all: the store refuses it, and the new
// holder decides.
func (o *Outbox) outcome(ctx context.Context, h *hold, a ticket.Action, err error) (ok bool) {
	if err == nil {
		// Still held, and renewed, until the success is recorded.
		return true
	}
	h.finish(a.ID)
	log := o.log.With("action_id", a.ID, "ticket_id", a.TicketID, "kind", a.Kind, "attempt", a.Attempts)
	rctx, rcancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer rcancel()
	var e error
	switch {
	case h.ctx.Err() != nil:
		why := "cut off by shutdown"
		if h.lost() {
			why = "cut off: the claim was lost"
		}
		e = o.st.Retry(rctx, a.ID, h.worker, why+": "+shortError(err), o.cfg.Now())
		if e == nil {
			o.metrics.Action(a.Kind, "released")
			log.Info("action cut off; due again at once", "why", why)
		}
	case IsSuppressed(err):
		if e = o.st.Suppress(rctx, a.ID, h.worker, shortError(err)); e == nil {
			o.metrics.Action(a.Kind, "suppressed")
			log.Info("action held back on purpose (suppressed)", "reason", shortError(err))
		}
	case IsPermanent(err) || a.Attempts >= o.cfg.MaxAttempts:
		if e = o.st.Fail(rctx, a.ID, h.worker, shortError(err)); e == nil {
			o.metrics.Action(a.Kind, "failed")
			log.Error("action failed and parked; retry it from the dashboard once the cause is fixed", "err", shortError(err), "permanent", IsPermanent(err))
		}
	default:
		delay := o.backoff(a.Attempts, err)
		if e = o.st.Retry(rctx, a.ID, h.worker, shortError(err), o.cfg.Now().Add(delay)); e == nil {
			o.metrics.Action(a.Kind, "retry")
			log.Warn("action failed, will retry", "err", shortError(err), "retry_in", delay.Round(time.Millisecond))
		}
	}
	switch {
	case errors.Is(e, store.ErrLeaseLost):
		log.Warn("outbox: another worker holds the action now; leaving its outcome to it", "err", shortError(err))
	case e != nil:
		log.Error("outbox: record a failed attempt", "err", e)
	}
	return false
}

// backoff returns the delay before the next attempt: the peer's
// Retry-After when it gave one, else Backoff·2^(attempts-1) capped at
// MaxBackoff, with ±50 % jitter.
func (o *Outbox) backoff(attempts int, err error) time.Duration {
	var ra interface{ RetryAfter() time.Duration }
	if errors.As(err, &ra) && ra.RetryAfter() > 0 {
		return ra.RetryAfter()
	}
	d := o.cfg.Backoff
	for i := 1; i < attempts && d < o.cfg.MaxBackoff; i++ {
		d *= 2
	}
	d = min(d, o.cfg.MaxBackoff)
	return time.Duration(float64(d) * (0.5 + o.cfg.Rand()))
}

// shortError keeps the stored error short and on one line.
func shortError(err error) string {
	s := strings.Join(strings.Fields(err.Error()), " ")
	if len(s) > 500 {
		s = s[:500] + "…"
	}
	return s
}

var _ Store = store.Store(nil)
