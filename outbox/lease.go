package outbox

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/triage-bot/triage/ticket"
)

// The lease model. A worker holds the actions it works on under a claim
// that lasts Config.Lease (seconds). While it works, a heartbeat renews
// the claims of the actions it still holds, in one store call per worker
// every third of the lease, so a slow send keeps its claim however long
// it takes (up to SendTimeout), and a dead process's claims run out one
// lease after its last heartbeat. A worker that learns its claim is gone
// (taken over), or cannot renew it before it runs out (the store is
// unreachable), cancels the context its sends run in and starts no more:
// one claim, one sender. Nothing is recorded as done for a claim that was
// taken over (the store refuses it).

var (
	// errClaimLost ends a hold whose claims ran out or were taken over.
	errClaimLost = errors.New("the claim on the action ran out or passed to another worker")
	// errShutdown ends a hold when shutdown's grace period is over.
	errShutdown = errors.New("shutting down: the grace period is over")
)

// hold is one worker's claim on a batch of actions while it works on them:
// ctx (the context sends run in) ends when the claim may be lost or the
// grace period after shutdown is over; the heartbeat renews the claims
// of the actions not yet finished.
type hold struct {
	o      *Outbox
	worker string
	ctx    context.Context
	cancel context.CancelCauseFunc

	mu sync.Mutex
	// ids are the actions held and not yet finished: true while being
	// worked on, false once their success is being recorded (still
	// renewed, but a claim that ends then is no loss: the record may
	// have ended it).
	ids      map[int64]bool
	deadline time.Time   // the claims run out then (this process's clock), unless renewed
	renew    *time.Timer // renews the claims
	expire   *time.Timer // gives up the hold shortly before deadline
	stopped  bool
	onShut   func() bool // stops watching the caller's context
}

// newHold starts holding actions claimed by worker until until (the
// claim's time, Config.Now's clock). Shutdown (ctx done) gives sends the
// grace period, then ends the hold. Call stop when done with it.
func (o *Outbox) newHold(ctx context.Context, worker string, actions []ticket.Action, until time.Time) *hold {
	hctx, cancel := context.WithCancelCause(context.WithoutCancel(ctx))
	h := &hold{o: o, worker: worker, ctx: hctx, cancel: cancel, ids: make(map[int64]bool, len(actions)),
		deadline: time.Now().Add(until.Sub(o.cfg.Now()))}
	for _, a := range actions {
		h.ids[a.ID] = true
	}
	h.onShut = context.AfterFunc(ctx, func() {
		grace := time.AfterFunc(o.cfg.Grace, func() { cancel(errShutdown) })
		context.AfterFunc(hctx, func() { grace.Stop() })
	})
	h.mu.Lock()
	defer h.mu.Unlock()
	h.renew = time.AfterFunc(h.renewIn(), h.beat)
	h.expire = time.AfterFunc(h.expireIn(), func() { h.lose("the claim could not be renewed in time") })
	return h
}

// renewIn is when to renew: once a third of the lease has gone by.
func (h *hold) renewIn() time.Duration {
	return time.Until(h.deadline.Add(-2 * h.o.cfg.Lease / 3))
}

// expireIn is when to give up a claim that could not be renewed: a sixth
// of the lease before it runs out, a margin for clocks and for a send
// just starting.
func (h *hold) expireIn() time.Duration {
	return time.Until(h.deadline.Add(-h.o.cfg.Lease / 6))
}

// beat renews the claims still held (one store call) and schedules the
// next renewal; a claim found gone ends the hold.
func (h *hold) beat() {
	h.mu.Lock()
	if h.stopped || h.ctx.Err() != nil || len(h.ids) == 0 {
		h.mu.Unlock()
		return
	}
	ids := make([]int64, 0, len(h.ids))
	for id := range h.ids {
		ids = append(ids, id)
	}
	h.mu.Unlock()

	lease := h.o.cfg.Lease
	start := time.Now()
	rctx, cancel := context.WithTimeout(context.Background(), lease/6)
	held, err := h.o.st.Renew(rctx, h.worker, ids, h.o.cfg.Now().Add(lease))
	cancel()

	h.mu.Lock()
	defer h.mu.Unlock()
	if h.stopped || h.ctx.Err() != nil {
		return
	}
	if err != nil {
		// Try again soon; expire ends the hold if it never works.
		h.o.log.Warn("outbox: renew claims", "worker", h.worker, "actions", len(ids), "err", err)
		h.renew.Reset(lease / 10)
		return
	}
	still := make(map[int64]bool, len(held))
	for _, id := range held {
		still[id] = true
	}
	for _, id := range ids {
		if h.ids[id] && !still[id] {
			h.o.log.Error("outbox: lost the claim on actions being worked on; stopping their sends", "worker", h.worker, "actions", len(h.ids), "why", "another worker took the claim over")
			h.cancel(errClaimLost)
			return
		}
	}
	h.deadline = start.Add(lease)
	h.expire.Reset(h.expireIn())
	h.renew.Reset(h.renewIn())
}

// lose ends the hold because its claims may be gone.
func (h *hold) lose(why string) {
	h.mu.Lock()
	n, stopped := len(h.ids), h.stopped
	h.mu.Unlock()
	if stopped || h.ctx.Err() != nil {
		return
	}
	h.o.log.Error("outbox: lost the claim on actions being worked on; stopping their sends", "worker", h.worker, "actions", n, "why", why)
	h.cancel(errClaimLost)
}

// finish stops renewing the claim on id: its outcome is recorded (a
// success stays held until the caller records it).
func (h *hold) finish(id int64) {
	h.mu.Lock()
	delete(h.ids, id)
	h.mu.Unlock()
}

// settling marks actions whose success is about to be recorded: their
// claims are still renewed, but a claim found gone is no longer taken
// as lost (the record ends it).
func (h *hold) settling(as []ticket.Action) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, a := range as {
		if _, ok := h.ids[a.ID]; ok {
			h.ids[a.ID] = false
		}
	}
}

// fresh reports whether the claims have at least half a lease left.
func (h *hold) fresh() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return time.Until(h.deadline) > h.o.cfg.Lease/2
}

// lost reports whether the hold ended because its claims may be gone.
func (h *hold) lost() bool { return errors.Is(context.Cause(h.ctx), errClaimLost) }

// stop ends the hold: no more renewals.
func (h *hold) stop() {
	h.mu.Lock()
	h.stopped = true
	h.renew.Stop()
	h.expire.Stop()
	h.mu.Unlock()
	h.onShut()
	h.cancel(context.Canceled)
}
