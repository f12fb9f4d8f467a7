// Package outbox carries out planned actions exactly once in effect: each
// action is a row in the store, claimed by one worker at a time, sent to
// the sink for its kind with its idempotency key, and retried with
// exponential backoff and jitter until it succeeds or is parked as failed.
// The row, not a goroutine, is the unit of work: a crash loses nothing,
// and a repeat after a crash carries the same key, so the receiver can
// drop it.
package outbox

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strings"
	"sync"
	"time"

	"github.com/triage-bot/triage/metrics"
	"github.com/triage-bot/triage/store"
	"github.com/triage-bot/triage/ticket"
)

// Store is what the outbox needs of the store.
type Store interface {
	Claim(ctx context.Context, worker string, now time.Time, lease time.Duration, limit int) ([]ticket.Action, error)
	CompleteBatch(ctx context.Context, ids []int64, worker string) []error
	Retry(ctx context.Context, id int64, worker, errMsg string, next time.Time) error
	Fail(ctx context.Context, id int64, worker, errMsg string) error
	Release(ctx context.Context, id int64, worker string) error
}

// Sink carries out actions of one kind. Send must be idempotent for the
// same a.Key: it may be called again for an action that already took
// effect (after a crash or a lost answer). An error is retried unless it
// is marked Permanent; an error with a RetryAfter() method sets the delay.
type Sink interface {
	Send(ctx context.Context, a ticket.Action) error
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
	Lease       time.Duration
	Poll        time.Duration
	// Grace is how long in-flight actions may finish after shutdown
	// begins before they are released. Default 10s.
	Grace time.Duration
	// Batch is how many actions a worker claims at once. Default 32:
	// fewer store transactions (a fifth faster than 8 on the run
	// benchmark), and a worker that dies leaves no more than this many
	// waiting for their claim to expire.
	Batch int
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
		cfg.Lease = 2 * time.Minute
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
				n := o.step(ctx, worker)
				if n == o.cfg.Batch {
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
	wg.Wait()
	rec.stop()
	stopTaking()
	return nil
}

// Drain runs actions until none is due now, then returns how many were
// attempted. Actions waiting for a later retry stay pending.
func (o *Outbox) Drain(ctx context.Context) (int, error) {
	total := 0
	var mu sync.Mutex
	for ctx.Err() == nil {
		var wg sync.WaitGroup
		round := 0
		for i := range o.cfg.Workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				n := o.step(ctx, fmt.Sprintf("%s/%d", o.cfg.Worker, i))
				mu.Lock()
				round += n
				mu.Unlock()
			}()
		}
		wg.Wait()
		if round == 0 {
			return total, nil
		}
		total += round
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

// step claims and runs up to one batch of actions; it returns how many.
func (o *Outbox) step(ctx context.Context, worker string) (n int) {
	defer o.survivePanic(worker)
	actions, err := o.st.Claim(ctx, worker, o.cfg.Now(), o.cfg.Lease, o.cfg.Batch)
	if err != nil {
		if ctx.Err() == nil {
			o.log.Error("outbox: claim actions", "worker", worker, "err", err)
		}
		return 0
	}
	o.complete(ctx, worker, o.sendAll(ctx, worker, actions))
	return len(actions)
}

// sendAll sends actions claimed by worker and records every failed
// outcome; it returns the actions that took effect, which the caller
// records in bulk (complete). Actions are grouped by kind in the order
// each kind first appears, keeping the claim order within a kind: a
// BatchSink gets its group in one SendBatch call, any other sink one Send
// per action. When ctx is done before a group or action starts, it and
// everything after it is released without counting the attempt.
func (o *Outbox) sendAll(ctx context.Context, worker string, actions []ticket.Action) (done []ticket.Action) {
	var kinds []string
	groups := map[string][]ticket.Action{}
	for _, a := range actions {
		if _, ok := groups[a.Kind]; !ok {
			kinds = append(kinds, a.Kind)
		}
		groups[a.Kind] = append(groups[a.Kind], a)
	}
	var left []ticket.Action // not yet started, in the order they would run
	for _, k := range kinds {
		left = append(left, groups[k]...)
	}
kinds:
	for _, k := range kinds {
		group := groups[k]
		if bs, ok := o.sinks[k].(BatchSink); ok {
			if ctx.Err() != nil {
				break
			}
			left = left[len(group):]
			done = append(done, o.runBatch(ctx, worker, bs, group)...)
			continue
		}
		for _, a := range group {
			if ctx.Err() != nil {
				break kinds
			}
			left = left[1:]
			if o.run(ctx, worker, a) {
				done = append(done, a)
			}
		}
	}
	if len(left) > 0 {
		// Shutting down: give back what was claimed but not started.
		o.release(ctx, worker, left)
	}
	return done
}

// complete records the batch's successes in one transaction.
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
		if err := o.st.Release(rctx, a.ID, worker); err != nil {
			o.log.Error("outbox: release on shutdown", "action_id", a.ID, "err", err)
		}
	}
}

// sendContext is the context a send runs in: bounded by the lease, and
// not cancelled with ctx at once: a shutdown that begins during the send
// gives it the grace period to finish. Call stop when the send returned.
func (o *Outbox) sendContext(ctx context.Context) (sctx context.Context, stop func()) {
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), o.cfg.Lease)
	after := context.AfterFunc(ctx, func() { time.AfterFunc(o.cfg.Grace, cancel) })
	return sctx, func() { after(); cancel() }
}

// run sends one claimed action and records a failed outcome; it reports
// success to the caller, which records successes in bulk.
func (o *Outbox) run(ctx context.Context, worker string, a ticket.Action) (ok bool) {
	sctx, stop := o.sendContext(ctx)
	defer stop()
	var err error
	if sink, found := o.sinks[a.Kind]; found {
		err = sink.Send(sctx, a)
	} else {
		err = noSink(a.Kind)
	}
	return o.outcome(ctx, sctx, worker, a, err)
}

// runBatch sends one kind's claimed actions through its BatchSink in one
// call and records each failed outcome as run does; it returns the
// actions that took effect.
func (o *Outbox) runBatch(ctx context.Context, worker string, sink BatchSink, group []ticket.Action) (done []ticket.Action) {
	sctx, stop := o.sendContext(ctx)
	defer stop()
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
		if o.outcome(ctx, sctx, worker, a, errs[i]) {
			done = append(done, a)
		}
	}
	return done
}

// noSink is the error of an action whose kind no sink carries out.
func noSink(kind string) error {
	return Permanent(fmt.Errorf("no sink is configured for %q actions", kind))
}

// outcome records what err (the result of sending a within sctx) means for
// the claimed action a: nil is success, reported to the caller, which
// records successes in bulk; a send cut off by shutdown is released; a
// Permanent error or the last attempt parks the action as failed; any
// other error schedules a retry with backoff. It records even when ctx is
// done.
func (o *Outbox) outcome(ctx, sctx context.Context, worker string, a ticket.Action, err error) (ok bool) {
	if err == nil {
		return true
	}
	log := o.log.With("action_id", a.ID, "ticket_id", a.TicketID, "kind", a.Kind, "attempt", a.Attempts)
	rctx, rcancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer rcancel()
	switch {
	case ctx.Err() != nil && sctx.Err() != nil:
		if e := o.st.Release(rctx, a.ID, worker); e != nil {
			log.Error("outbox: release on shutdown", "err", e)
		}
		o.metrics.Action(a.Kind, "released")
		log.Info("action released on shutdown")
	case IsPermanent(err) || a.Attempts >= o.cfg.MaxAttempts:
		if e := o.st.Fail(rctx, a.ID, worker, shortError(err)); e != nil {
			log.Error("outbox: park failed action", "err", e)
			return false
		}
		o.metrics.Action(a.Kind, "failed")
		log.Error("action failed and parked; retry it from the dashboard once the cause is fixed", "err", shortError(err), "permanent", IsPermanent(err))
	default:
		delay := o.backoff(a.Attempts, err)
		if e := o.st.Retry(rctx, a.ID, worker, shortError(err), o.cfg.Now().Add(delay)); e != nil {
			log.Error("outbox: schedule retry", "err", e)
			return false
		}
		o.metrics.Action(a.Kind, "retry")
		log.Warn("action failed, will retry", "err", shortError(err), "retry_in", delay.Round(time.Millisecond))
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
