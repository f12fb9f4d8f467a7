package outbox

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/triage-bot/triage/metrics"
	"github.com/triage-bot/triage/store"
	"github.com/triage-bot/triage/ticket"
)

// memStore is a hand-written fake of the outbox's view of the store.
type memStore struct {
	mu      sync.Mutex
	actions map[int64]*ticket.Action
	owner   map[int64]string
	until   map[int64]time.Time
	claims  int // calls to Claim
	renews  int // calls to Renew
	records int // calls to CompleteBatch
	// onRecord, when set, is called as CompleteBatch begins.
	onRecord func()
}

func newMemStore(actions ...ticket.Action) *memStore {
	m := &memStore{actions: map[int64]*ticket.Action{}, owner: map[int64]string{}, until: map[int64]time.Time{}}
	for i := range actions {
		a := actions[i]
		a.ID = int64(i + 1)
		if a.State == "" {
			a.State = ticket.StatePending
		}
		m.actions[a.ID] = &a
	}
	return m
}

func (m *memStore) Claim(ctx context.Context, worker string, now time.Time, lease time.Duration, limit, maxAttempts int) ([]ticket.Action, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.claims++
	var out []ticket.Action
	for id := int64(1); id <= int64(len(m.actions)) && len(out) < limit; id++ {
		a := m.actions[id]
		due := a.State == ticket.StatePending && !a.NextAttempt.After(now) || a.State == ticket.StateRunning && m.until[id].Before(now)
		if !due {
			continue
		}
		if maxAttempts > 0 && a.Attempts >= maxAttempts {
			a.State, a.LastError = ticket.StateFailed, "gave up"
			delete(m.owner, id)
		} else {
			a.State = ticket.StateRunning
			a.Attempts++
			m.owner[id], m.until[id] = worker, now.Add(lease)
		}
		out = append(out, *a)
	}
	return out, nil
}

func (m *memStore) Renew(ctx context.Context, worker string, ids []int64, until time.Time) ([]int64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.renews++
	var held []int64
	for _, id := range ids {
		if _, err := m.held(id, worker); err == nil {
			m.until[id] = until
			held = append(held, id)
		}
	}
	return held, nil
}

func (m *memStore) CountActions(ctx context.Context) (map[ticket.ActionState]int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := map[ticket.ActionState]int{}
	for _, a := range m.actions {
		out[a.State]++
	}
	return out, nil
}

func (m *memStore) held(id int64, worker string) (*ticket.Action, error) {
	a := m.actions[id]
	if a == nil || a.State != ticket.StateRunning || m.owner[id] != worker {
		return nil, store.ErrLeaseLost
	}
	return a, nil
}

func (m *memStore) CompleteBatch(ctx context.Context, ids []int64, worker string) []error {
	if m.onRecord != nil {
		m.onRecord()
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.records++
	errs := make([]error, len(ids))
	for i, id := range ids {
		a, err := m.held(id, worker)
		if err == nil {
			a.State = ticket.StateDone
		}
		errs[i] = err
	}
	return errs
}

func (m *memStore) Retry(ctx context.Context, id int64, worker, msg string, next time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	a, err := m.held(id, worker)
	if err == nil {
		a.State, a.LastError, a.NextAttempt = ticket.StatePending, msg, next
	}
	return err
}

func (m *memStore) Fail(ctx context.Context, id int64, worker, msg string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if a := m.actions[id]; a != nil && a.State == ticket.StateFailed {
		return nil // parking is idempotent
	}
	a, err := m.held(id, worker)
	if err == nil {
		a.State, a.LastError = ticket.StateFailed, msg
	}
	return err
}

func (m *memStore) Suppress(ctx context.Context, id int64, worker, reason string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if a := m.actions[id]; a != nil && a.State == ticket.StateSuppressed {
		return nil
	}
	a, err := m.held(id, worker)
	if err == nil {
		a.State, a.LastError = ticket.StateSuppressed, reason
	}
	return err
}

func (m *memStore) Release(ctx context.Context, id int64, worker string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	a, err := m.held(id, worker)
	if err == nil {
		a.State = ticket.StatePending
		a.Attempts--
	}
	return err
}

// done returns the IDs of the actions done, in order.
func (m *memStore) done() []int64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	var ids []int64
	for id := int64(1); id <= int64(len(m.actions)); id++ {
		if a := m.actions[id]; a != nil && a.State == ticket.StateDone {
			ids = append(ids, id)
		}
	}
	return ids
}

func (m *memStore) get(id int64) ticket.Action {
	m.mu.Lock()
	defer m.mu.Unlock()
	return *m.actions[id]
}

// sinkFunc adapts a function to Sink.
type sinkFunc func(ctx context.Context, a ticket.Action) error

func (f sinkFunc) Send(ctx context.Context, a ticket.Action) error { return f(ctx, a) }

// batchSink is a hand-written BatchSink: it records each call's keys and
// answers each action with errFor.
type batchSink struct {
	mu     sync.Mutex
	calls  [][]string // keys of each SendBatch call
	sends  []string   // keys of each Send call
	errFor func(ctx context.Context, a ticket.Action) error
	// results, when set, replaces the answer of SendBatch.
	results func(as []ticket.Action) []error
}

func (b *batchSink) Send(ctx context.Context, a ticket.Action) error {
	b.mu.Lock()
	b.sends = append(b.sends, a.Key)
	b.mu.Unlock()
	return b.errFor(ctx, a)
}

func (b *batchSink) SendBatch(ctx context.Context, as []ticket.Action) []error {
	keys := make([]string, len(as))
	for i, a := range as {
		keys[i] = a.Key
	}
	b.mu.Lock()
	b.calls = append(b.calls, keys)
	b.mu.Unlock()
	if b.results != nil {
		return b.results(as)
	}
	errs := make([]error, len(as))
	for i, a := range as {
		errs[i] = b.errFor(ctx, a)
	}
	return errs
}

var _ BatchSink = (*batchSink)(nil)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// outcomeCase is one sink answer and what the store must say after it.
type outcomeCase struct {
	name      string
	err       error
	attempts  int // attempts before this run
	wantState ticket.ActionState
	wantNext  time.Duration
	wantError string
	unsent    bool // parked when claimed, never sent
}

func outcomeCases() []outcomeCase {
	temp := errors.New("connection reset")
	return []outcomeCase{
		{"success", nil, 0, ticket.StateDone, 0, "", false},
		{"first failure retries after the base delay", temp, 0, ticket.StatePending, 2 * time.Second, "connection reset", false},
		{"third failure backs off exponentially", temp, 2, ticket.StatePending, 8 * time.Second, "connection reset", false},
		{"out of attempts when claimed: parked unsent", temp, 8, ticket.StateFailed, 0, "gave up", true},
		{"peer's Retry-After wins", RetryAfter(temp, 42*time.Second), 0, ticket.StatePending, 42 * time.Second, "connection reset", false},
		{"permanent errors park at once", Permanent(errors.New("400 Bad Request")), 0, ticket.StateFailed, 0, "400 Bad Request", false},
		{"last attempt parks", temp, 7, ticket.StateFailed, 0, "connection reset", false},
		{"held back on purpose: suppressed, not failed", Suppressed(errors.New("suppressed: the sender is a robot")), 0, ticket.StateSuppressed, 0, "suppressed: the sender is a robot", false},
		{"suppressed even on the last attempt", Permanent(Suppressed(errors.New("suppressed: answered already"))), 7, ticket.StateSuppressed, 0, "suppressed: answered already", false},
	}
}

// TestOutcomes runs each sink answer through a plain Sink and through a
// BatchSink: the store's outcome is the same.
func TestOutcomes(t *testing.T) {
	now := time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)
	for _, tt := range outcomeCases() {
		for _, batch := range []bool{false, true} {
			name := tt.name + "/send"
			if batch {
				name = tt.name + "/batch"
			}
			t.Run(name, func(t *testing.T) {
				st := newMemStore(ticket.Action{Kind: "test", Key: "k", Attempts: tt.attempts, NextAttempt: now})
				var sent []string
				send := func(ctx context.Context, a ticket.Action) error {
					sent = append(sent, a.Key)
					return tt.err
				}
				var sink Sink = sinkFunc(send)
				bs := &batchSink{errFor: send}
				if batch {
					sink = bs
				}
				o := New(Config{Worker: "w", Workers: 1, MaxAttempts: 8, MaxBackoff: time.Minute, Now: func() time.Time { return now }, Rand: func() float64 { return 0.5 }},
					st, map[string]Sink{"test": sink}, quiet, nil)
				n, err := o.Drain(context.Background())
				require.NoError(t, err)
				assert.Equal(t, 1, n)
				if tt.unsent {
					assert.Empty(t, sent, "max_attempts is a hard cap")
					assert.Equal(t, tt.attempts, st.get(1).Attempts)
				} else {
					assert.Equal(t, []string{"k"}, sent)
				}
				if batch && !tt.unsent {
					assert.Equal(t, [][]string{{"k"}}, bs.calls, "sent through SendBatch")
					assert.Empty(t, bs.sends)
				}
				a := st.get(1)
				assert.Equal(t, tt.wantState, a.State)
				assert.Equal(t, tt.wantError, a.LastError)
				if tt.wantState == ticket.StatePending {
					assert.Equal(t, now.Add(tt.wantNext), a.NextAttempt)
				}
			})
		}
	}
}

// TestBatchMixedOutcomes sends every answer of TestOutcomes in one batch:
// each action gets its own outcome, as if it had been sent alone.
func TestBatchMixedOutcomes(t *testing.T) {
	now := time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)
	cases := outcomeCases()
	var actions []ticket.Action
	for _, c := range cases {
		actions = append(actions, ticket.Action{Kind: "test", Key: c.name, Attempts: c.attempts, NextAttempt: now})
	}
	byKey := map[string]outcomeCase{}
	for _, c := range cases {
		byKey[c.name] = c
	}
	st := newMemStore(actions...)
	bs := &batchSink{errFor: func(ctx context.Context, a ticket.Action) error { return byKey[a.Key].err }}
	o := New(Config{Worker: "w", Workers: 1, MaxAttempts: 8, MaxBackoff: time.Minute, Now: func() time.Time { return now }, Rand: func() float64 { return 0.5 }},
		st, map[string]Sink{"test": bs}, quiet, nil)
	n, err := o.Drain(context.Background())
	require.NoError(t, err)
	require.Equal(t, len(cases), n)
	require.Len(t, bs.calls, 1, "one SendBatch for the whole claim")
	assert.Len(t, bs.calls[0], len(cases)-1, "all but the one out of attempts")
	for i, tt := range cases {
		t.Run(tt.name, func(t *testing.T) {
			a := st.get(int64(i + 1))
			assert.Equal(t, tt.wantState, a.State)
			assert.Equal(t, tt.wantError, a.LastError)
			if tt.wantState == ticket.StatePending {
				assert.Equal(t, now.Add(tt.wantNext), a.NextAttempt)
			}
		})
	}
}

// TestBatchSinkGroups checks how a claim is split: one SendBatch per kind
// whose sink is a BatchSink, with that kind's actions in claim order, and
// one Send per action for any other sink.
// TestKindOrder: the kinds of a batch run in the order the tickets' own
// actions put them, even when the claim begins with a ticket's later
// action.
func TestKindOrder(t *testing.T) {
	act := func(ticketID, kind string) ticket.Action { return ticket.Action{TicketID: ticketID, Kind: kind} }
	tests := []struct {
		name    string
		actions []ticket.Action
		want    []string
	}{
		{"none", nil, nil},
		{"one kind", []ticket.Action{act("a", "flag"), act("b", "flag")}, []string{"flag"}},
		{"as the tickets order them", []ticket.Action{act("a", "flag"), act("a", "move"), act("b", "flag"), act("b", "move")}, []string{"flag", "move"}},
		{"a claim that begins with a ticket's second action",
			[]ticket.Action{act("a", "move"), act("b", "flag"), act("b", "move"), act("c", "flag"), act("c", "move")}, []string{"flag", "move"}},
		{"tickets that disagree: the majority", []ticket.Action{act("a", "move"), act("a", "flag"), act("b", "flag"), act("b", "move"), act("c", "flag"), act("c", "move")}, []string{"flag", "move"}},
		{"a tie keeps first appearance", []ticket.Action{act("a", "move"), act("a", "flag"), act("b", "flag"), act("b", "move")}, []string{"move", "flag"}},
		{"three kinds", []ticket.Action{act("a", "hook"), act("b", "flag"), act("b", "move"), act("b", "hook"), act("c", "flag"), act("c", "hook")}, []string{"flag", "move", "hook"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, kindOrder(tt.actions))
		})
	}
}

func TestBatchSinkGroups(t *testing.T) {
	tests := []struct {
		name     string
		kinds    []string // of the claimed actions, in claim order
		wantFlag [][]string
		wantMove [][]string
		wantHook []string
		claim    int // actions per claim (Config.Batch)
		most     int // actions taken at once for batch sinks (Config.BatchSinkBatch)
	}{
		{"one kind", []string{"flag", "flag", "flag"}, [][]string{{"0", "1", "2"}}, nil, nil, 32, 0},
		{"interleaved kinds", []string{"flag", "hook", "move", "flag", "hook", "move", "flag"},
			[][]string{{"0", "3", "6"}}, [][]string{{"2", "5"}}, []string{"1", "4"}, 32, 0},
		{"plain sinks only", []string{"hook", "hook"}, nil, nil, []string{"0", "1"}, 32, 0},
		{"one call per kind per claim", []string{"flag", "move", "flag", "move", "flag"},
			[][]string{{"0", "2"}, {"4"}}, [][]string{{"1", "3"}}, nil, 4, 4},
		{"batch sinks take several claims at once", []string{"flag", "move", "flag", "move", "flag"},
			[][]string{{"0", "2", "4"}}, [][]string{{"1", "3"}}, nil, 2, 0},
		{"up to BatchSinkBatch", []string{"flag", "flag", "flag", "flag", "flag", "flag", "flag"},
			[][]string{{"0", "1", "2", "3"}, {"4", "5", "6"}}, nil, nil, 2, 4},
		{"a plain sink's action ends the growth", []string{"flag", "flag", "hook", "flag", "flag"},
			[][]string{{"0", "1", "3"}, {"4"}}, nil, []string{"2"}, 2, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var actions []ticket.Action
			for i, k := range tt.kinds {
				actions = append(actions, ticket.Action{Kind: k, Key: fmt.Sprint(i)})
			}
			st := newMemStore(actions...)
			ok := func(context.Context, ticket.Action) error { return nil }
			flag, move := &batchSink{errFor: ok}, &batchSink{errFor: ok}
			var hook []string
			o := New(Config{Worker: "w", Workers: 1, Batch: tt.claim, BatchSinkBatch: tt.most}, st, map[string]Sink{
				"flag": flag, "move": move,
				"hook": sinkFunc(func(ctx context.Context, a ticket.Action) error { hook = append(hook, a.Key); return nil }),
			}, quiet, nil)
			n, err := o.Drain(context.Background())
			require.NoError(t, err)
			assert.Equal(t, len(tt.kinds), n)
			assert.Equal(t, tt.wantFlag, flag.calls)
			assert.Equal(t, tt.wantMove, move.calls)
			assert.Equal(t, tt.wantHook, hook)
			assert.Empty(t, flag.sends, "a batch sink's Send is not used")
			for id := int64(1); id <= int64(len(tt.kinds)); id++ {
				assert.Equal(t, ticket.StateDone, st.get(id).State, "action %d", id)
			}
		})
	}
}

// TestBatchWrongResultCount retries every action of a batch whose sink
// answered with the wrong number of results: none is taken as done.
func TestBatchWrongResultCount(t *testing.T) {
	st := newMemStore(ticket.Action{Kind: "test"}, ticket.Action{Kind: "test"})
	bs := &batchSink{results: func(as []ticket.Action) []error { return []error{nil} }}
	o := New(Config{Worker: "w", Workers: 1}, st, map[string]Sink{"test": bs}, quiet, nil)
	_, err := o.Drain(context.Background())
	require.NoError(t, err)
	for id := int64(1); id <= 2; id++ {
		a := st.get(id)
		assert.Equal(t, ticket.StatePending, a.State)
		assert.Contains(t, a.LastError, "returned 1 results for 2 actions")
	}
}

// TestBatchShutdown: a batch in flight when shutdown begins may finish
// within the grace period, one cut off by it is released, and the groups
// not yet started are released without counting the attempt.
func TestBatchShutdown(t *testing.T) {
	tests := []struct {
		name      string
		first     func(ctx context.Context, cancel func()) error
		wantFirst ticket.ActionState
	}{
		{"in-flight batch finishes in time", func(ctx context.Context, cancel func()) error {
			cancel()
			return nil
		}, ticket.StateDone},
		{"in-flight batch cut off by the grace period", func(ctx context.Context, cancel func()) error {
			cancel()
			<-ctx.Done()
			return ctx.Err()
		}, ticket.StatePending},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := newMemStore(ticket.Action{Kind: "a"}, ticket.Action{Kind: "b"}, ticket.Action{Kind: "a"}, ticket.Action{Kind: "c"})
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			first := &batchSink{errFor: func(sctx context.Context, a ticket.Action) error { return tt.first(sctx, cancel) }}
			second := &batchSink{errFor: func(context.Context, ticket.Action) error { return nil }}
			var plain int
			o := New(Config{Worker: "w", Workers: 1, Grace: 50 * time.Millisecond}, st, map[string]Sink{
				"a": first, "b": second,
				"c": sinkFunc(func(context.Context, ticket.Action) error { plain++; return nil }),
			}, quiet, nil)
			n := o.step(ctx, "w", nil)
			assert.Equal(t, 4, n)
			assert.Len(t, first.calls, 1)
			assert.Empty(t, second.calls, "not started after shutdown began")
			assert.Zero(t, plain, "not started after shutdown began")
			for _, id := range []int64{1, 3} {
				a := st.get(id)
				assert.Equal(t, tt.wantFirst, a.State)
				if a.State == ticket.StatePending {
					assert.Equal(t, 1, a.Attempts, "a cut-off attempt counts: it may have taken effect")
					assert.Contains(t, a.LastError, "cut off by shutdown")
				}
			}
			for _, id := range []int64{2, 4} {
				a := st.get(id)
				assert.Equal(t, ticket.StatePending, a.State)
				assert.Equal(t, 0, a.Attempts, "a released attempt does not count")
			}
		})
	}
}

func TestBackoffJitterAndCap(t *testing.T) {
	o := New(Config{Backoff: time.Second, MaxBackoff: 10 * time.Second, Rand: func() float64 { return 0 }}, nil, nil, quiet, nil)
	assert.Equal(t, 500*time.Millisecond, o.backoff(1, errors.New("x")), "jitter goes down to half")
	o.cfg.Rand = func() float64 { return 0.999999 }
	assert.InDelta(t, float64(1500*time.Millisecond), float64(o.backoff(1, errors.New("x"))), float64(time.Millisecond))
	assert.InDelta(t, float64(15*time.Second), float64(o.backoff(30, errors.New("x"))), float64(time.Millisecond), "the cap holds at any attempt")
}

func TestUnknownKindIsParked(t *testing.T) {
	st := newMemStore(ticket.Action{Kind: "carrier-pigeon", Key: "k"})
	o := New(Config{Worker: "w", Workers: 2}, st, map[string]Sink{}, quiet, nil)
	_, err := o.Drain(context.Background())
	require.NoError(t, err)
	a := st.get(1)
	assert.Equal(t, ticket.StateFailed, a.State)
	assert.Contains(t, a.LastError, `no sink is configured for "carrier-pigeon"`)
}

func TestDrainRunsEverythingOnceAndLeavesLaterRetries(t *testing.T) {
	var actions []ticket.Action
	for range 50 {
		actions = append(actions, ticket.Action{Kind: "test"})
	}
	st := newMemStore(actions...)
	var mu sync.Mutex
	count := map[int64]int{}
	o := New(Config{Worker: "w", Workers: 4}, st, map[string]Sink{"test": sinkFunc(func(ctx context.Context, a ticket.Action) error {
		mu.Lock()
		defer mu.Unlock()
		count[a.ID]++
		if a.ID%10 == 0 {
			return errors.New("try later")
		}
		return nil
	})}, quiet, nil)
	n, err := o.Drain(context.Background())
	require.NoError(t, err)
	assert.Equal(t, 50, n)
	for id := int64(1); id <= 50; id++ {
		assert.Equal(t, 1, count[id], "action %d", id)
		if id%10 == 0 {
			assert.Equal(t, ticket.StatePending, st.get(id).State)
		} else {
			assert.Equal(t, ticket.StateDone, st.get(id).State)
		}
	}
}

func TestShutdownFinishesOrReleasesInFlight(t *testing.T) {
	st := newMemStore(ticket.Action{Kind: "quick"}, ticket.Action{Kind: "stuck"})
	started := make(chan struct{}, 2)
	sinks := map[string]Sink{
		"quick": sinkFunc(func(ctx context.Context, a ticket.Action) error {
			started <- struct{}{}
			time.Sleep(100 * time.Millisecond) // finishes within the grace period
			return nil
		}),
		"stuck": sinkFunc(func(ctx context.Context, a ticket.Action) error {
			started <- struct{}{}
			<-ctx.Done() // only ends when the grace period is over
			return ctx.Err()
		}),
	}
	o := New(Config{Worker: "w", Workers: 2, Grace: 300 * time.Millisecond, Poll: 10 * time.Millisecond}, st, sinks, quiet, nil)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = o.Run(ctx); close(done) }()
	<-started
	<-started
	cancel()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return within the grace period")
	}
	assert.Equal(t, ticket.StateDone, st.get(1).State, "in-flight work that finishes in time is recorded")
	stuck := st.get(2)
	assert.Equal(t, ticket.StatePending, stuck.State, "work cut off by shutdown is released for the next run")
	assert.Equal(t, 1, stuck.Attempts, "a cut-off attempt counts: it may have taken effect")
}

func TestRunWakesOnNotify(t *testing.T) {
	st := newMemStore(ticket.Action{Kind: "test"})
	sent := make(chan struct{}, 1)
	o := New(Config{Worker: "w", Workers: 1, Poll: time.Hour}, st, map[string]Sink{"test": sinkFunc(func(ctx context.Context, a ticket.Action) error {
		sent <- struct{}{}
		return nil
	})}, quiet, nil)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go o.Run(ctx)
	select {
	case <-sent: // the first pass runs at once
	case <-time.After(5 * time.Second):
		t.Fatal("no first pass")
	}
	st.mu.Lock()
	st.actions[2] = &ticket.Action{ID: 2, Kind: "test", State: ticket.StatePending}
	st.mu.Unlock()
	o.Notify()
	select {
	case <-sent:
	case <-time.After(5 * time.Second):
		t.Fatal("Notify did not wake the worker")
	}
}

// TestSuppressedIsParkedQuietly: a sink's deliberate refusal ends as
// suppressed with its reason, logged at INFO, not ERROR, and counted as
// suppressed.
func TestSuppressedIsParkedQuietly(t *testing.T) {
	st := newMemStore(ticket.Action{Kind: "test", Key: "k", NextAttempt: time.Now()})
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	m := metrics.New()
	sink := sinkFunc(func(context.Context, ticket.Action) error {
		return Suppressed(errors.New("suppressed: the sender is not authenticated"))
	})
	o := New(Config{Worker: "w", Workers: 1, MaxAttempts: 8}, st, map[string]Sink{"test": sink}, log, m)
	_, err := o.Drain(context.Background())
	require.NoError(t, err)
	a := st.get(1)
	assert.Equal(t, ticket.StateSuppressed, a.State)
	assert.Equal(t, "suppressed: the sender is not authenticated", a.LastError)
	assert.Contains(t, logs.String(), `level=INFO msg="action held back on purpose (suppressed)"`)
	assert.NotContains(t, logs.String(), "level=ERROR")
	assert.Equal(t, 1.0, actionCount(t, m, "test", "suppressed"))
	assert.Zero(t, actionCount(t, m, "test", "failed"))
}

// actionCount reads triage_action_attempts_total{kind,result}.
func actionCount(t *testing.T, m *metrics.Metrics, kind, result string) float64 {
	t.Helper()
	mfs, err := m.Registry.Gather()
	require.NoError(t, err)
	for _, mf := range mfs {
		if mf.GetName() != "triage_action_attempts_total" {
			continue
		}
		for _, c := range mf.GetMetric() {
			labels := map[string]string{}
			for _, l := range c.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if labels["kind"] == kind && labels["result"] == result {
				return c.GetCounter().GetValue()
			}
		}
	}
	return 0
}

func TestErrorHelpers(t *testing.T) {
	assert.Nil(t, Permanent(nil))
	assert.Nil(t, Suppressed(nil))
	held := Suppressed(errors.New("held"))
	assert.True(t, IsSuppressed(held))
	assert.True(t, IsPermanent(held), "a suppressed action is never retried")
	assert.False(t, IsSuppressed(Permanent(errors.New("x"))))
	base := errors.New("x")
	assert.ErrorIs(t, Permanent(base), base)
	assert.ErrorIs(t, RetryAfter(base, time.Second), base)
	assert.False(t, IsPermanent(base))
	assert.Nil(t, Suppressed(nil))
	assert.ErrorIs(t, Suppressed(base), base)
	assert.True(t, IsSuppressed(Permanent(Suppressed(base))))
	assert.False(t, IsSuppressed(base))
	long := errors.New(string(make([]byte, 2000)))
	assert.LessOrEqual(t, len(shortError(long)), 504)
}

func TestForHTTP(t *testing.T) {
	base := errors.New("boom")
	tests := []struct {
		status     int
		retryAfter time.Duration
		permanent  bool
		wait       time.Duration // 0: no RetryAfter
	}{
		{429, 7 * time.Second, false, 7 * time.Second},
		{429, 0, false, time.Second},
		{503, 3 * time.Second, false, 3 * time.Second},
		{503, 0, false, 0},
		{500, 0, false, 0},
		{408, 0, false, 0},
		{404, 0, true, 0},
		{401, 0, true, 0},
		{0, 0, false, 0},
	}
	for _, tt := range tests {
		err := ForHTTP(base, tt.status, tt.retryAfter)
		require.ErrorIs(t, err, base, "status %d", tt.status)
		assert.Equal(t, tt.permanent, IsPermanent(err), "status %d", tt.status)
		var ra interface{ RetryAfter() time.Duration }
		if tt.wait > 0 {
			require.ErrorAs(t, err, &ra, "status %d", tt.status)
			assert.Equal(t, tt.wait, ra.RetryAfter())
		} else {
			assert.False(t, errors.As(err, &ra), "status %d", tt.status)
		}
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 12, 7, 6, 0, 0, 0, time.UTC)
	for v, want := range map[string]time.Duration{
		"": 0, "7": 7 * time.Second, " 3 ": 3 * time.Second, "0": 0, "-2": 0, "soon": 0,
		"Mon, 07 Dec 2026 06:00:30 GMT": 30 * time.Second,
	} {
		assert.Equal(t, want, ParseRetryAfter(v, now), "%q", v)
	}
}
