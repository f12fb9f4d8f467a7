package outbox

import (
	"context"
	"sync"
	"time"

	"github.com/triage-bot/triage/store"
	"github.com/triage-bot/triage/ticket"
)

// The direct path: ingest in this process stores a ticket's due actions
// already claimed for the outbox (store.Claim) and hands them over, so
// they run without a claim transaction or a poll. The outbox implements
// pipeline.Dispatcher with Claim and Dispatch.

// directState is whether a Run is taking handed-over actions.
type directState struct {
	// handoff holds actions handed over and not yet taken by a worker.
	// It is buffered so ingest need not wait for a worker, and bounded so
	// it cannot run ahead of them without limit; it is only sent to under
	// mu while taking, so whoever stops taking can empty it for good.
	handoff chan handed
	mu      sync.Mutex
	taking  bool
	stopped chan struct{} // closed when the current Run stops taking
}

// handed is one ticket's actions in the handoff, with the time after
// which a worker must give them back to the store: half the lease after
// their claim was taken, so that a worker that takes them has time to
// renew the claim before it runs out. claimed is when it runs out.
type handed struct {
	actions []ticket.Action
	until   time.Time
	claimed time.Time
}

// handoffSlots bounds the tickets' worth of actions waiting for a worker
// (a few MiB at most); Claim stops at half, so a burst of ingest can
// still hand over what it claimed.
const handoffSlots = 1024

// directWorker is the claim holder for actions handed over directly; any
// worker goroutine of this process may run them under that name.
func (o *Outbox) directWorker() string { return o.cfg.Worker + "/direct" }

// takeDirect marks the outbox as taking handed-over actions and returns
// the function that stops it (idempotent): actions still waiting in the
// handoff are then released to the store, due at once.
func (o *Outbox) takeDirect() (stop func()) {
	d := &o.direct
	d.mu.Lock()
	defer d.mu.Unlock()
	stopped := make(chan struct{})
	d.taking, d.stopped = true, stopped
	var once sync.Once
	return func() {
		once.Do(func() {
			d.mu.Lock()
			if d.stopped == stopped {
				d.taking = false
			}
			d.mu.Unlock()
			close(stopped)
			for {
				select {
				case left := <-d.handoff:
					o.release(context.Background(), o.directWorker(), left.actions)
					continue
				default:
				}
				return
			}
		})
	}
}

// Claim returns the claim under which ingest may store due actions for
// this outbox to run, or nil when it is not running or its workers are
// behind (the handoff half full: a slow helpdesk, a sink retrying).
// Then ingest stores actions pending and the workers find them in the
// store later: ingest never waits for the outbox.
func (o *Outbox) Claim() *store.Claim {
	d := &o.direct
	d.mu.Lock()
	defer d.mu.Unlock()
	if !d.taking || len(d.handoff) >= handoffSlots/2 {
		return nil
	}
	return &store.Claim{Worker: o.directWorker(), Until: o.cfg.Now().Add(o.cfg.Lease)}
}

// Dispatch hands actions stored under claim c (from Claim) to the workers.
// The handoff has room for what Claim let through; should it be full,
// Dispatch waits a little. If the outbox stops first, ctx ends or the
// wait runs out, the actions are released to the store, due at once, so
// nothing waits for its claim to expire.
func (o *Outbox) Dispatch(ctx context.Context, c *store.Claim, actions []ticket.Action) {
	// Half the lease after the claim was taken (not after the commit
	// that stored it, which may have waited its turn).
	until := c.Until.Add(-o.cfg.Lease / 2)
	d := &o.direct
	var wait *time.Timer
	for deadline := time.Now().Add(time.Second); ctx.Err() == nil && time.Now().Before(deadline); {
		d.mu.Lock()
		if !d.taking {
			d.mu.Unlock()
			break
		}
		select {
		case d.handoff <- handed{actions, until, c.Until}:
			d.mu.Unlock()
			return
		default:
		}
		stopped := d.stopped
		d.mu.Unlock()
		// Full: the workers are behind. Wait a little for room.
		if wait == nil {
			wait = time.NewTimer(time.Millisecond)
			defer wait.Stop()
		} else {
			wait.Reset(time.Millisecond)
		}
		select {
		case <-stopped:
		case <-ctx.Done():
		case <-wait.C:
		}
	}
	o.release(ctx, o.directWorker(), actions)
}

// runDirect runs handed-over actions, first and whatever more is waiting
// up to a batch (see batchLimit), and has rec record the successes. Actions
// that waited too long are released to the store instead, due at once.
func (o *Outbox) runDirect(ctx context.Context, first handed, rec *recorder) {
	defer o.survivePanic(o.directWorker())
	now := o.cfg.Now()
	var batch, stale []ticket.Action
	var claimed time.Time // the earliest claim of batch runs out then
	take := func(h handed) {
		if now.After(h.until) {
			stale = append(stale, h.actions...)
			return
		}
		batch = append(batch, h.actions...)
		if claimed.IsZero() || h.claimed.Before(claimed) {
			claimed = h.claimed
		}
	}
	take(first)
	limit := o.batchLimit(first.actions)
	for len(batch) < limit {
		select {
		case more := <-o.direct.handoff:
			take(more)
			limit = min(limit, o.batchLimit(more.actions))
			continue
		default:
		}
		break
	}
	worker := o.directWorker()
	if len(stale) > 0 {
		// Given back, due at once: a worker claims them afresh, with a
		// whole lease to send them in.
		o.log.Info("outbox: handed-over actions waited past half their claim; releasing them for a fresh claim", "actions", len(stale))
		o.release(ctx, worker, stale)
	}
	if len(batch) == 0 {
		return
	}
	h := o.newHold(ctx, worker, batch, claimed)
	defer h.stop()
	done := o.sendAll(ctx, h, rec, batch)
	if len(done) == 0 {
		return
	}
	// What is left are in-place sinks' successes (see sendAll). The
	// recorder records them soon, under claims no longer renewed: fine
	// while they have most of a lease left, and the worker goes on to
	// the next batch meanwhile. After a slow send, or when Run gave up
	// waiting for this worker (a send that ignored the grace period) and
	// stopped the recorder, record them here.
	if !h.fresh() || !rec.put(worker, done) {
		o.recordNow(h, nil, done)
	}
}
