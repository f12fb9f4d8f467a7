package outbox

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/triage-bot/triage/ticket"
)

// TestSlowSinkKeepsItsClaim runs actions whose sends take several times
// the claim's lease with three workers polling all along: the heartbeat
// keeps each claim, so each action is sent exactly once and attempted
// once, and the claims are renewed in one call per batch per interval,
// not one per action.
func TestSlowSinkKeepsItsClaim(t *testing.T) {
	const (
		lease = 300 * time.Millisecond
		slow  = 4 * lease / 3
	)
	st := newMemStore(ticket.Action{Kind: "slow", Key: "a"}, ticket.Action{Kind: "slow", Key: "b"}, ticket.Action{Kind: "slow", Key: "c"})
	var mu sync.Mutex
	sends := map[string]int{}
	sink := sinkFunc(func(ctx context.Context, a ticket.Action) error {
		mu.Lock()
		sends[a.Key]++
		mu.Unlock()
		select {
		case <-time.After(slow): // rendering a large forward, say
			return nil
		case <-ctx.Done():
			return context.Cause(ctx)
		}
	})
	o := New(Config{Worker: "w", Workers: 3, Batch: 3, Lease: lease, Poll: 10 * time.Millisecond, MaxAttempts: 2},
		st, map[string]Sink{"slow": sink}, quiet, nil)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	start := time.Now()
	go func() { _ = o.Run(ctx); close(done) }()
	require.Eventually(t, func() bool {
		for id := int64(1); id <= 3; id++ {
			if st.get(id).State != ticket.StateDone {
				return false
			}
		}
		return true
	}, 20*time.Second, 5*time.Millisecond)
	elapsed := time.Since(start)
	time.Sleep(lease) // time for a wrong second claim to show
	cancel()
	<-done

	mu.Lock()
	defer mu.Unlock()
	assert.Equal(t, map[string]int{"a": 1, "b": 1, "c": 1}, sends, "each action sent exactly once")
	for id := int64(1); id <= 3; id++ {
		a := st.get(id)
		assert.Equal(t, ticket.StateDone, a.State)
		assert.Equal(t, 1, a.Attempts, "attempted once, within max_attempts")
	}
	st.mu.Lock()
	renews := st.renews
	st.mu.Unlock()
	assert.Positive(t, renews, "the claim was renewed")
	assert.LessOrEqual(t, renews, int(elapsed/(lease/3))+3, "one renewal per batch per interval, not one per action")
}

// TestLostClaimStopsSending takes a claim away from a worker mid-send (as
// another worker would after the claim ran out): the next heartbeat finds
// it gone, the send's context ends, the worker records nothing for it,
// and it does not start the rest of its batch.
func TestLostClaimStopsSending(t *testing.T) {
	st := newMemStore(ticket.Action{Kind: "test", Key: "a"}, ticket.Action{Kind: "test", Key: "b"})
	started := make(chan struct{})
	var sends atomic.Int32
	var cause error
	o := New(Config{Worker: "w", Workers: 1, Batch: 2, Lease: 150 * time.Millisecond}, st, map[string]Sink{"test": sinkFunc(func(ctx context.Context, a ticket.Action) error {
		sends.Add(1)
		close(started)
		<-ctx.Done()
		cause = context.Cause(ctx)
		return ctx.Err()
	})}, quiet, nil)
	go func() {
		<-started
		st.mu.Lock()
		st.owner[1] = "w/thief" // taken over
		st.mu.Unlock()
	}()
	n := o.step(context.Background(), "w/0", nil)
	assert.Equal(t, 2, n)
	assert.Equal(t, int32(1), sends.Load(), "the second action is not started")
	assert.ErrorIs(t, cause, errClaimLost)

	a := st.get(1)
	assert.Equal(t, ticket.StateRunning, a.State, "the new holder's, untouched")
	assert.Empty(t, a.LastError, "nothing recorded by the old holder")
	b := st.get(2)
	assert.Equal(t, ticket.StatePending, b.State, "still held: given back")
	assert.Equal(t, 0, b.Attempts, "never started: not counted")
}

// TestRunawaySinkShutdownWithinGrace: a sink that ignores its context
// must not keep Run (and the process) from stopping.
func TestRunawaySinkShutdownWithinGrace(t *testing.T) {
	st := newMemStore(ticket.Action{Kind: "runaway"})
	started := make(chan struct{})
	unblock := make(chan struct{})
	t.Cleanup(func() { close(unblock) })
	const grace = 200 * time.Millisecond
	o := New(Config{Worker: "w", Workers: 1, Grace: grace, Poll: 10 * time.Millisecond}, st, map[string]Sink{"runaway": sinkFunc(func(ctx context.Context, a ticket.Action) error {
		close(started)
		<-unblock // ignores ctx, like a quadratic loop would
		return nil
	})}, quiet, nil)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = o.Run(ctx); close(done) }()
	<-started
	stopping := time.Now()
	cancel()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after the grace period")
	}
	assert.Less(t, time.Since(stopping), grace+time.Second, "stopped within the grace period (and a little)")
	assert.Equal(t, ticket.StateRunning, st.get(1).State, "left claimed: not released while its send may still go out")
}

// TestSendTimeout: a send gets its own deadline, whatever the lease; a
// send that runs into it is retried later like any failure.
func TestSendTimeout(t *testing.T) {
	now := time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)
	st := newMemStore(ticket.Action{Kind: "test", NextAttempt: now})
	o := New(Config{Worker: "w", Workers: 1, Lease: time.Minute, SendTimeout: 100 * time.Millisecond, Backoff: time.Second,
		Now: func() time.Time { return now }, Rand: func() float64 { return 0.5 }},
		st, map[string]Sink{"test": sinkFunc(func(ctx context.Context, a ticket.Action) error {
			<-ctx.Done()
			return ctx.Err()
		})}, quiet, nil)
	start := time.Now()
	o.step(context.Background(), "w/0", nil)
	assert.Less(t, time.Since(start), 5*time.Second)
	a := st.get(1)
	assert.Equal(t, ticket.StatePending, a.State)
	assert.Equal(t, now.Add(time.Second), a.NextAttempt, "retried with backoff, not cut off")
	assert.Contains(t, a.LastError, "deadline exceeded")
}

// TestDrainWaitsForReleasedWork: Drain (run --once) does not return while
// another process's claim is outstanding; once it runs out, the action
// is taken and sent.
func TestDrainWaitsForReleasedWork(t *testing.T) {
	st := newMemStore(ticket.Action{Kind: "test"})
	st.mu.Lock()
	st.actions[1].State, st.actions[1].Attempts = ticket.StateRunning, 1
	st.owner[1], st.until[1] = "dead/0", time.Now().Add(300*time.Millisecond)
	st.mu.Unlock()
	var sends atomic.Int32
	o := New(Config{Worker: "w", Workers: 2, Poll: 20 * time.Millisecond}, st, map[string]Sink{"test": sinkFunc(func(ctx context.Context, a ticket.Action) error {
		sends.Add(1)
		return nil
	})}, quiet, nil)
	start := time.Now()
	n, err := o.Drain(context.Background())
	require.NoError(t, err)
	assert.Equal(t, 1, n)
	assert.GreaterOrEqual(t, time.Since(start), 250*time.Millisecond, "waited for the claim to run out")
	assert.Equal(t, int32(1), sends.Load())
	a := st.get(1)
	assert.Equal(t, ticket.StateDone, a.State)
	assert.Equal(t, 2, a.Attempts)
}

// TestRenewFailureGivesUpBeforeTheClaimRunsOut: when the store cannot be
// reached to renew, the worker stops its send before the claim could
// pass to another worker.
func TestRenewFailureGivesUpBeforeTheClaimRunsOut(t *testing.T) {
	st := &failingRenew{memStore: newMemStore(ticket.Action{Kind: "test"})}
	const lease = 300 * time.Millisecond
	var stopped time.Duration
	start := time.Now()
	o := New(Config{Worker: "w", Workers: 1, Lease: lease}, st, map[string]Sink{"test": sinkFunc(func(ctx context.Context, a ticket.Action) error {
		<-ctx.Done()
		stopped = time.Since(start)
		return ctx.Err()
	})}, quiet, nil)
	o.step(context.Background(), "w/0", nil)
	assert.Less(t, stopped, lease, "stopped before the claim ran out")
	assert.Positive(t, st.calls.Load(), "tried to renew")
	a := st.get(1)
	assert.Equal(t, ticket.StatePending, a.State, "not taken over: the cut-off attempt is recorded, due again")
	assert.Contains(t, a.LastError, "the claim was lost")
	assert.Equal(t, 1, a.Attempts)
}

// failingRenew is a memStore whose Renew always fails.
type failingRenew struct {
	*memStore
	calls atomic.Int32
}

func (f *failingRenew) Renew(context.Context, string, []int64, time.Time) ([]int64, error) {
	f.calls.Add(1)
	return nil, errors.New("connection refused")
}

// TestDrainLeavesLiveClaims: a claim another live process keeps renewing
// does not keep Drain waiting for more than two leases.
func TestDrainLeavesLiveClaims(t *testing.T) {
	st := newMemStore(ticket.Action{Kind: "test"})
	st.mu.Lock()
	st.actions[1].State, st.actions[1].Attempts = ticket.StateRunning, 1
	st.owner[1], st.until[1] = "live/0", time.Now().Add(time.Hour)
	st.mu.Unlock()
	const lease = 100 * time.Millisecond
	o := New(Config{Worker: "w", Workers: 1, Lease: lease, Poll: 10 * time.Millisecond}, st, map[string]Sink{}, quiet, nil)
	start := time.Now()
	n, err := o.Drain(context.Background())
	require.NoError(t, err)
	assert.Zero(t, n)
	assert.GreaterOrEqual(t, time.Since(start), 2*lease)
	assert.Less(t, time.Since(start), 5*time.Second)
	assert.Equal(t, ticket.StateRunning, st.get(1).State, "left to its holder")
}
