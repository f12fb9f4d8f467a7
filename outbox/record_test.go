package outbox

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/triage-bot/triage/store"
	"github.com/triage-bot/triage/ticket"
)

// inPlaceSink is a sinkFunc that says its repeats reach nobody.
type inPlaceSink struct{ sinkFunc }

func (inPlaceSink) InPlace() {}

var _ InPlace = inPlaceSink{}

// crashOnThird is a sink that delivers the first two actions it is given
// and, on the third, notes what the store holds as done and then dies
// with the process (a panic: nothing after it in the worker runs).
type crashOnThird struct {
	st *memStore

	mu          sync.Mutex
	delivered   []int64
	doneAtThird []int64
}

func (c *crashOnThird) send(ctx context.Context, a ticket.Action) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.delivered) == 2 {
		c.doneAtThird = c.st.done()
		panic("killed")
	}
	c.delivered = append(c.delivered, a.ID)
	return nil
}

// TestSuccessesRecordedBeforeTheNextSend kills a worker (a sink that
// panics) on the third send of a batch of five: the first two successes
// are recorded before it, on the store path and on the direct path, so a
// restart sends neither again. An in-place sink's successes are recorded
// with the batch instead: both are repeated, which such a sink drops.
func TestSuccessesRecordedBeforeTheNextSend(t *testing.T) {
	tests := []struct {
		name     string
		direct   bool // handed over by ingest rather than claimed from the store
		inPlace  bool
		wantDone []int64 // at the third send and after the crash
	}{
		{"claimed from the store", false, false, []int64{1, 2}},
		{"handed over by ingest", true, false, []int64{1, 2}},
		{"in-place sink: recorded with the batch", false, true, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := newMemStore()
			if !tt.direct {
				st = newMemStore(make([]ticket.Action, 5)...)
				for _, a := range st.actions {
					a.Kind = "test"
				}
			}
			crash := &crashOnThird{st: st}
			var sink Sink = sinkFunc(crash.send)
			if tt.inPlace {
				sink = inPlaceSink{sinkFunc(crash.send)}
			}
			o := New(Config{Worker: "w", Workers: 1}, st, map[string]Sink{"test": sink}, quiet, nil)
			rec := o.startRecorder()
			if tt.direct {
				until := time.Now().Add(o.cfg.Lease)
				c := &store.Claim{Worker: o.directWorker(), Until: until}
				var batch []ticket.Action
				for id := int64(1); id <= 5; id++ {
					batch = append(batch, storeClaimed(st, id, c))
				}
				o.runDirect(context.Background(), handed{actions: batch, until: until.Add(-o.cfg.Lease / 2), claimed: until}, rec)
			} else {
				o.step(context.Background(), "w/0", rec)
			}
			rec.stop()

			assert.Equal(t, []int64{1, 2}, crash.delivered)
			assert.Equal(t, tt.wantDone, crash.doneAtThird, "done in the store when the third send began")
			assert.Equal(t, tt.wantDone, st.done(), "done in the store after the crash")
			for id := int64(3); id <= 5; id++ {
				assert.Equal(t, ticket.StateRunning, st.get(id).State, "action %d: left claimed by the dead worker", id)
			}
		})
	}
}

// TestRecordsPerSendOrPerBatch counts store transactions: one per
// success of a sink that reaches a peer (no worker waits for another's
// send, so none are merged here), one per batch for in-place sinks,
// whose successes also ride along with the next success recorded.
func TestRecordsPerSendOrPerBatch(t *testing.T) {
	ok := func(context.Context, ticket.Action) error { return nil }
	tests := []struct {
		name        string
		kinds       []string
		wantRecords int
	}{
		{"peer sink: one per action", []string{"hook", "hook", "hook", "hook"}, 4},
		{"in-place sink: one per batch", []string{"file", "file", "file", "file"}, 1},
		{"batch sink reaching a peer: one per call", []string{"flag", "flag", "flag"}, 1},
		{"in-place successes ride with the next", []string{"file", "hook", "hook"}, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var actions []ticket.Action
			for _, k := range tt.kinds {
				actions = append(actions, ticket.Action{Kind: k})
			}
			st := newMemStore(actions...)
			o := New(Config{Worker: "w", Workers: 1}, st, map[string]Sink{
				"hook": sinkFunc(ok),
				"file": inPlaceSink{sinkFunc(ok)},
				"flag": &batchSink{errFor: ok},
			}, quiet, nil)
			n, err := o.Drain(context.Background())
			require.NoError(t, err)
			require.Equal(t, len(tt.kinds), n)
			assert.Len(t, st.done(), len(tt.kinds), "every action done")
			assert.Equal(t, tt.wantRecords, st.records)
		})
	}
}

// TestRecorderMergesWaitingSuccesses: successes handed over while the
// store is busy recording are recorded together, in one transaction, and
// each worker waits for its own.
func TestRecorderMergesWaitingSuccesses(t *testing.T) {
	st := newMemStore(ticket.Action{Kind: "test"}, ticket.Action{Kind: "test"}, ticket.Action{Kind: "test"})
	o := New(Config{Worker: "w", Workers: 3}, st, nil, quiet, nil)
	claimed, err := st.Claim(context.Background(), "w/direct", time.Now(), time.Minute, 3, 0)
	require.NoError(t, err)
	require.Len(t, claimed, 3)

	recording, busy := make(chan struct{}), make(chan struct{})
	var once sync.Once
	st.onRecord = func() { once.Do(func() { close(recording); <-busy }) }
	rec := o.startRecorder()
	var wg sync.WaitGroup
	put := func(a ticket.Action) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			assert.True(t, rec.putAndWait("w/direct", []ticket.Action{a}))
			assert.Equal(t, ticket.StateDone, st.get(a.ID).State, "recorded when putAndWait returns")
		}()
	}
	put(claimed[0])
	<-recording // the store is busy with the first
	put(claimed[1])
	put(claimed[2])
	require.Eventually(t, func() bool { return len(rec.in) == 2 }, 5*time.Second, time.Millisecond, "two wait behind the first")
	close(busy)
	wg.Wait()
	rec.stop()
	assert.Equal(t, []int64{1, 2, 3}, st.done())
	assert.Equal(t, 2, st.records, "the first alone, the two that waited together")
	assert.False(t, rec.put("w/direct", claimed), "a stopped recorder takes nothing")
}
