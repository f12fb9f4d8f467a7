package outbox

import (
	"context"
	"sync"

	"github.com/triage-bot/triage/ticket"
)

// Recording successes. An action that took effect but is not yet marked
// done in the store is sent again after a crash, with the same key. So a
// worker records the successes of each send (one action, or a BatchSink's
// call) before its next send (recordNow), and a crash leaves at most one
// send per worker that reached its peer unrecorded: the one in flight, or
// the one whose record was under way. The exception is a sink that is
// InPlace: its repeats reach nobody, so its successes are recorded with
// the rest of the batch, once.
//
// Recording a success costs a store transaction, and the worker waits
// for it. To keep that cheap the workers do not commit their own: a
// recorder goroutine commits what all of them handed over meanwhile in
// one transaction (per claim holder), so the commits follow the
// deliveries rather than one per action. On the direct path the
// recorder also takes a batch's in-place successes without the worker
// waiting: workers that waited for their own commit, behind ingest's on
// the one SQLite writer, fell behind ingest and made it store actions
// pending (claimed later: one more write per action).

// recorder records successes in the store on behalf of the workers.
type recorder struct {
	o    *Outbox
	in   chan recording
	done chan struct{}

	mu     sync.Mutex // guards closed and sending on in
	closed bool
}

// recording is one worker's successes handed to the recorder; recorded,
// when not nil, is closed once the store has been asked to record them
// (whatever it answered: errors are logged by complete).
type recording struct {
	worker   string
	actions  []ticket.Action
	recorded chan struct{}
}

// recordMax bounds the successes recorded in one round.
const recordMax = 1024

func (o *Outbox) startRecorder() *recorder {
	r := &recorder{o: o, in: make(chan recording, o.cfg.Workers), done: make(chan struct{})}
	go r.run()
	return r
}

// run records what arrives until in is closed, each time with whatever
// else is waiting (up to recordMax successes) in the same round.
func (r *recorder) run() {
	defer close(r.done)
	for first := range r.in {
		round, n := []recording{first}, len(first.actions)
	more:
		for n < recordMax {
			select {
			case x, ok := <-r.in:
				if !ok {
					break more
				}
				round = append(round, x)
				n += len(x.actions)
			default:
				break more
			}
		}
		r.record(round)
	}
}

// record records one round, one transaction per claim holder (on the
// direct path there is one: all of this process's handed-over actions
// are held under one name). A panic in the store is counted and logged
// like a worker's, and the recorder goes on (the round's actions are
// claimed again once their claim runs out); whoever waits is let go
// either way.
func (r *recorder) record(round []recording) {
	defer func() {
		for _, x := range round {
			if x.recorded != nil {
				close(x.recorded)
			}
		}
	}()
	defer r.o.survivePanic("recorder")
	var workers []string
	byWorker := map[string][]ticket.Action{}
	for _, x := range round {
		if _, ok := byWorker[x.worker]; !ok {
			workers = append(workers, x.worker)
		}
		byWorker[x.worker] = append(byWorker[x.worker], x.actions...)
	}
	for _, w := range workers {
		// Recorded even while shutting down (complete does not end with
		// the caller's context).
		r.o.complete(context.Background(), w, byWorker[w])
	}
}

// send hands x over; false when the recorder is nil or stopped.
func (r *recorder) send(x recording) bool {
	if r == nil {
		return false
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return false
	}
	r.in <- x
	return true
}

// put hands worker's successes over to be recorded soon; false when the
// recorder is nil or stopped (the caller records them itself).
func (r *recorder) put(worker string, done []ticket.Action) bool {
	return r.send(recording{worker: worker, actions: done})
}

// putAndWait is put, returning once the successes are recorded.
func (r *recorder) putAndWait(worker string, done []ticket.Action) bool {
	x := recording{worker: worker, actions: done, recorded: make(chan struct{})}
	if !r.send(x) {
		return false
	}
	<-x.recorded
	return true
}

// stop records what was handed over and returns; put refuses what comes
// after.
func (r *recorder) stop() {
	r.mu.Lock()
	r.closed = true
	close(r.in)
	r.mu.Unlock()
	<-r.done
}

// recordNow records done, successes held by h, and returns once they are
// recorded: through rec with what other workers record meanwhile, or
// itself when rec is nil or stopped. Their claims are renewed until then.
func (o *Outbox) recordNow(h *hold, rec *recorder, done []ticket.Action) {
	if len(done) == 0 {
		return
	}
	h.settling(done)
	if !rec.putAndWait(h.worker, done) {
		o.complete(context.Background(), h.worker, done)
	}
	for _, a := range done {
		h.finish(a.ID)
	}
}
