package outbox

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/triage-bot/triage/store"
	"github.com/triage-bot/triage/ticket"
)

// storeClaimed puts an action into st as ingest with claim c would.
func storeClaimed(st *memStore, id int64, c *store.Claim) ticket.Action {
	st.mu.Lock()
	defer st.mu.Unlock()
	a := ticket.Action{ID: id, Kind: "test", State: ticket.StateRunning, Attempts: 1}
	st.actions[id] = &a
	st.owner[id], st.until[id] = c.Worker, c.Until
	return a
}

// startTaking runs o until cancel, returning once it takes handed-over
// actions; done is closed when Run has returned.
func startTaking(t *testing.T, o *Outbox) (ctx context.Context, cancel context.CancelFunc, done chan struct{}) {
	t.Helper()
	ctx, cancel = context.WithCancel(context.Background())
	done = make(chan struct{})
	go func() { _ = o.Run(ctx); close(done) }()
	require.Eventually(t, func() bool { return o.Claim() != nil }, 5*time.Second, time.Millisecond)
	return ctx, cancel, done
}

func TestDirectDispatchRunsHandedActionsOnce(t *testing.T) {
	st := newMemStore()
	var mu sync.Mutex
	sent := map[int64]int{}
	o := New(Config{Worker: "w", Workers: 2, Poll: time.Hour, Batch: 4}, st, map[string]Sink{"test": sinkFunc(func(ctx context.Context, a ticket.Action) error {
		mu.Lock()
		sent[a.ID]++
		mu.Unlock()
		if a.ID == 3 {
			return errors.New("helpdesk hiccup")
		}
		return nil
	})}, quiet, nil)
	assert.Nil(t, o.Claim(), "an outbox that is not running takes nothing: ingest stores actions pending")

	ctx, cancel, done := startTaking(t, o)
	c := o.Claim()
	assert.Equal(t, "w/direct", c.Worker)
	for id := int64(1); id <= 10; id++ {
		o.Dispatch(ctx, c, []ticket.Action{storeClaimed(st, id, c)})
	}
	require.Eventually(t, func() bool {
		for id := int64(1); id <= 10; id++ {
			if a := st.get(id); a.State == ticket.StateRunning {
				return false
			}
		}
		return true
	}, 5*time.Second, time.Millisecond)
	for id := int64(1); id <= 10; id++ {
		a := st.get(id)
		if id == 3 {
			assert.Equal(t, ticket.StatePending, a.State, "a failure is scheduled for retry as usual")
			assert.Equal(t, "helpdesk hiccup", a.LastError)
			continue
		}
		assert.Equal(t, ticket.StateDone, a.State, "action %d", id)
	}
	mu.Lock()
	for id := int64(1); id <= 10; id++ {
		assert.Equal(t, 1, sent[id], "action %d sent once", id)
	}
	mu.Unlock()

	cancel()
	<-done
	assert.Nil(t, o.Claim(), "a stopped outbox takes nothing")
	late := storeClaimed(st, 11, c)
	o.Dispatch(context.Background(), c, []ticket.Action{late})
	got := st.get(11)
	assert.Equal(t, ticket.StatePending, got.State, "what a stopped outbox is handed goes back to the store, due at once")
	assert.Equal(t, 0, got.Attempts)
}

func TestDirectDispatchLeavesNothingHeldOnShutdown(t *testing.T) {
	st := newMemStore()
	gate := make(chan struct{})
	o := New(Config{Worker: "w", Workers: 1, Poll: time.Hour, Grace: time.Second}, st, map[string]Sink{"test": sinkFunc(func(ctx context.Context, a ticket.Action) error {
		<-gate // the one worker is stuck until shutdown: the handoff fills up
		return nil
	})}, quiet, nil)
	ctx, cancel, done := startTaking(t, o)
	c := o.Claim()
	const n = handoffSlots + 50
	dispatched := make(chan struct{})
	go func() {
		defer close(dispatched)
		for id := int64(1); id <= n; id++ {
			o.Dispatch(ctx, c, []ticket.Action{storeClaimed(st, id, c)})
		}
	}()
	time.Sleep(50 * time.Millisecond)
	cancel()
	close(gate)
	<-done
	<-dispatched
	for id := int64(1); id <= n; id++ {
		a := st.get(id)
		assert.Contains(t, []ticket.ActionState{ticket.StateDone, ticket.StatePending}, a.State, "action %d is done or back in the store, never left held", id)
	}
}

func TestClaimStopsWhileWorkersAreBehind(t *testing.T) {
	st := newMemStore()
	gate := make(chan struct{})
	o := New(Config{Worker: "w", Workers: 1, Poll: time.Hour, Grace: time.Second}, st, map[string]Sink{"test": sinkFunc(func(ctx context.Context, a ticket.Action) error {
		<-gate // a helpdesk that hangs
		return nil
	})}, quiet, nil)
	ctx, cancel, done := startTaking(t, o)
	id := int64(0)
	for o.Claim() != nil {
		id++
		c := o.Claim()
		o.Dispatch(ctx, c, []ticket.Action{storeClaimed(st, id, c)})
		require.Equal(t, ticket.StateRunning, st.get(id).State, "handed over, not given back after a wait")
		require.Less(t, id, int64(handoffSlots), "Claim must stop before the handoff fills")
	}
	assert.Nil(t, o.Claim(), "with the workers behind, ingest stores actions pending instead of waiting")
	cancel()
	close(gate)
	<-done
	for i := int64(1); i <= id; i++ {
		assert.Contains(t, []ticket.ActionState{ticket.StateDone, ticket.StatePending}, st.get(i).State)
	}
}

func TestHandedActionsPastHalfTheirClaimGoBackToTheStore(t *testing.T) {
	st := newMemStore()
	var clock atomic.Int64
	clock.Store(time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC).UnixNano())
	now := func() time.Time { return time.Unix(0, clock.Load()) }
	gate := make(chan struct{})
	var mu sync.Mutex
	var sent []int64
	o := New(Config{Worker: "w", Workers: 1, Poll: time.Hour, Lease: time.Minute, Now: now}, st, map[string]Sink{"test": sinkFunc(func(ctx context.Context, a ticket.Action) error {
		mu.Lock()
		sent = append(sent, a.ID)
		mu.Unlock()
		if a.ID == 1 {
			<-gate // the worker is stuck on the first one
		}
		return nil
	})}, quiet, nil)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go o.Run(ctx)
	require.Eventually(t, func() bool { return o.Claim() != nil }, 5*time.Second, time.Millisecond)
	c := o.Claim()
	o.Dispatch(ctx, c, []ticket.Action{storeClaimed(st, 1, c)})
	require.Eventually(t, func() bool { mu.Lock(); defer mu.Unlock(); return len(sent) == 1 }, 5*time.Second, time.Millisecond)
	o.Dispatch(ctx, c, []ticket.Action{storeClaimed(st, 2, c)}) // waits in the handoff
	clock.Add(int64(45 * time.Second))                          // past half the lease
	close(gate)
	require.Eventually(t, func() bool { return st.get(1).State == ticket.StateDone }, 5*time.Second, time.Millisecond)
	// A fresh one after it: once it is sent, the one worker has dealt
	// with the stale one.
	fresh := o.Claim()
	o.Dispatch(ctx, fresh, []ticket.Action{storeClaimed(st, 3, fresh)})
	require.Eventually(t, func() bool { return st.get(3).State == ticket.StateDone }, 5*time.Second, time.Millisecond)
	require.Eventually(t, func() bool { return st.get(2).State == ticket.StateDone }, 5*time.Second, time.Millisecond)
	mu.Lock()
	assert.ElementsMatch(t, []int64{1, 2, 3}, sent, "each sent once")
	mu.Unlock()
	assert.Equal(t, 1, st.get(2).Attempts, "the stale one went back to the store (its attempt not counted)")
	st.mu.Lock()
	assert.Equal(t, "w/0", st.owner[2], "and was sent under a fresh claim, not from the handoff")
	st.mu.Unlock()
}

// TestBusyDirectPathStillClaimsFromTheStore: while ingest keeps the
// workers busy with handed-over actions, a retry that falls due in the
// store is still run (within about Poll), and the store is not queried
// after every handed-over batch.
func TestBusyDirectPathStillClaimsFromTheStore(t *testing.T) {
	st := newMemStore(ticket.Action{Kind: "test", State: ticket.StateDone}) // ID 1: falls due later
	var mu sync.Mutex
	sent := map[int64]int{}
	o := New(Config{Worker: "w", Workers: 1, Poll: 200 * time.Millisecond, Batch: 4}, st, map[string]Sink{"test": sinkFunc(func(ctx context.Context, a ticket.Action) error {
		time.Sleep(200 * time.Microsecond)
		mu.Lock()
		sent[a.ID]++
		mu.Unlock()
		return nil
	})}, quiet, nil)
	ctx, cancel, done := startTaking(t, o)
	c := o.Claim()

	var produced atomic.Int64
	feeding := make(chan struct{})
	go func() {
		defer close(feeding)
		for id := int64(2); ctx.Err() == nil; id++ {
			o.Dispatch(ctx, c, []ticket.Action{storeClaimed(st, id, c)})
			produced.Store(id - 1)
		}
	}()
	count := func(id int64) int {
		mu.Lock()
		defer mu.Unlock()
		return sent[id]
	}
	claimCount := func() int {
		st.mu.Lock()
		defer st.mu.Unlock()
		return st.claims
	}
	require.Eventually(t, func() bool { return count(50) > 0 }, 5*time.Second, time.Millisecond, "the direct path is busy")
	claimsBefore, producedBefore := claimCount(), produced.Load()
	require.Eventually(t, func() bool { return produced.Load() >= producedBefore+400 }, 10*time.Second, time.Millisecond)
	claims, batches := claimCount()-claimsBefore, (produced.Load()-producedBefore)/4
	assert.Less(t, int64(claims), batches/4, "the store is looked at about once per Poll, not after every one of %d batches", batches)

	st.mu.Lock()
	st.actions[1].State = ticket.StatePending // a retry falls due; nobody notifies
	st.mu.Unlock()
	require.Eventually(t, func() bool { return count(1) == 1 }, 5*time.Second, time.Millisecond, "the due retry runs while the direct path is busy")
	cancel()
	<-feeding
	<-done
}

// TestDirectBatchSinkTakesMoreThanABatch: a worker takes handed-over
// actions for a BatchSink up to BatchSinkBatch, not Batch, so what piled
// up while it was busy goes out in one SendBatch call.
func TestDirectBatchSinkTakesMoreThanABatch(t *testing.T) {
	st := newMemStore()
	release := make(chan struct{})
	var once sync.Once
	bs := &batchSink{errFor: func(ctx context.Context, a ticket.Action) error {
		if a.Key == "1" {
			once.Do(func() { <-release }) // busy while the rest is handed over
		}
		return nil
	}}
	o := New(Config{Worker: "w", Workers: 1, Poll: time.Hour, Batch: 2, BatchSinkBatch: 6}, st, map[string]Sink{"test": bs}, quiet, nil)
	ctx, cancel, done := startTaking(t, o)
	defer func() { cancel(); <-done }()
	c := o.Claim()
	dispatch := func(id int64) {
		a := storeClaimed(st, id, c)
		a.Key = fmt.Sprint(id)
		o.Dispatch(ctx, c, []ticket.Action{a})
	}
	dispatch(1)
	require.Eventually(t, func() bool { bs.mu.Lock(); defer bs.mu.Unlock(); return len(bs.calls) == 1 }, 5*time.Second, time.Millisecond)
	for id := int64(2); id <= 9; id++ {
		dispatch(id)
	}
	close(release)
	require.Eventually(t, func() bool {
		for id := int64(1); id <= 9; id++ {
			if st.get(id).State != ticket.StateDone {
				return false
			}
		}
		return true
	}, 5*time.Second, time.Millisecond)
	bs.mu.Lock()
	defer bs.mu.Unlock()
	assert.Equal(t, [][]string{{"1"}, {"2", "3", "4", "5", "6", "7"}, {"8", "9"}}, bs.calls, "up to BatchSinkBatch at once")
}
