package pipeline

import (
	"context"
	"errors"
	"log/slog"
	"sort"
	"sync"
	"time"

	"github.com/triage-bot/triage/metrics"
)

// Source yields raw tickets. It is driven in passes; it never acts on its
// own between them.
type Source interface {
	// Name identifies the source in logs, metrics, health and leases.
	Name() string
	// Poll hands every ticket available now to ingest, one at a time, and
	// acknowledges a ticket at its origin (marks mail handled, acks an
	// event) only after ingest returned nil. It returns how many tickets
	// it handed over. An error from ingest stops the pass without
	// acknowledging that ticket; the next pass sees it again.
	Poll(ctx context.Context, ingest func(context.Context, Incoming) error) (int, error)
}

// LeaseStore gives one replica at a time the right to poll a source.
type LeaseStore interface {
	AcquireLease(ctx context.Context, name, holder string, now time.Time, ttl time.Duration) (bool, error)
	ReleaseLease(ctx context.Context, name, holder string) error
}

// SourceSpec is a source with its schedule.
type SourceSpec struct {
	Source Source
	// Interval is the pause between passes.
	Interval time.Duration
	// StaleAfter marks the source unhealthy when it has not completed a
	// pass for this long.
	StaleAfter time.Duration
	// Wake, when set, starts the next pass early (IMAP IDLE, a Slack
	// event, a file-system notification).
	Wake <-chan struct{}
}

// Health is what /readyz reports about one source.
type Health struct {
	Name        string    `json:"name"`
	LastSuccess time.Time `json:"last_success"`
	LastError   string    `json:"last_error,omitempty"`
	Standby     bool      `json:"standby,omitempty"`
	Stale       bool      `json:"stale"`
	// Blocked is the reason the last pass failed when it will not heal
	// by itself (see Blocked): the source is not ready at once, however
	// recent its last success.
	Blocked string `json:"blocked,omitempty"`
}

// blocked is a source error that waits for a person.
type blocked struct {
	err    error
	reason string
}

func (b blocked) Error() string { return b.err.Error() }
func (b blocked) Unwrap() error { return b.err }

// Blocked marks a source's error as one that will not heal by itself
// (the server refused the credentials): the runner reports the source
// not ready with reason, a short sentence for the operator ("authentication
// failed for support@example.com"), until a pass succeeds. The source
// still backs off and tries again: the fix may come without a restart.
func Blocked(err error, reason string) error {
	if err == nil {
		return nil
	}
	return blocked{err: err, reason: reason}
}

// blockedReason returns the reason of an error marked Blocked, else "".
func blockedReason(err error) string {
	var b blocked
	if errors.As(err, &b) {
		return b.reason
	}
	return ""
}

// Runner drives sources into a Pipeline.
type Runner struct {
	Pipeline *Pipeline
	// Leases, when set, makes each pass take the source's lease so that
	// only one replica polls a source at a time.
	Leases LeaseStore
	// Holder names this replica in leases.
	Holder  string
	Log     *slog.Logger
	Metrics *metrics.Metrics
	Now     func() time.Time

	mu     sync.Mutex
	health map[string]*sourceState
}

type sourceState struct {
	spec    SourceSpec
	started time.Time
	last    time.Time
	lastErr string
	blocked string
	standby bool
}

func (r *Runner) now() time.Time {
	if r.Now != nil {
		return r.Now()
	}
	return time.Now()
}

func (r *Runner) register(specs []SourceSpec) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.health == nil {
		r.health = map[string]*sourceState{}
	}
	for _, s := range specs {
		r.health[s.Source.Name()] = &sourceState{spec: s, started: r.now()}
	}
}

// ingest is the callback sources get: a duplicate counts as success.
func (r *Runner) ingest(ctx context.Context, in Incoming) error {
	_, err := r.Pipeline.Ingest(ctx, in)
	if errors.Is(err, ErrDuplicate) {
		return nil
	}
	return err
}

// pass runs one poll of a source under its lease; it returns how many
// tickets were handed over.
func (r *Runner) pass(ctx context.Context, spec SourceSpec) (n int, err error) {
	name := spec.Source.Name()
	defer func() {
		if p := recover(); p != nil {
			r.Metrics.Panic("source")
			r.Log.Error("source panicked", "source", name, "panic", p)
			err = errors.New("source panicked")
		}
	}()
	standby := false
	if r.Leases != nil {
		// Renewed every pass; a replica that dies loses it within ttl.
		ttl := max(5*spec.Interval, 2*time.Second)
		ok, lerr := r.Leases.AcquireLease(ctx, "source:"+name, r.Holder, r.now(), ttl)
		if lerr != nil {
			r.record(name, lerr, false)
			return 0, lerr
		}
		standby = !ok
	}
	if !standby {
		n, err = spec.Source.Poll(ctx, r.ingest)
	}
	if ctx.Err() == nil {
		r.record(name, err, standby)
	}
	return n, err
}

func (r *Runner) record(name string, err error, standby bool) {
	now := r.now()
	r.mu.Lock()
	st := r.health[name]
	if err == nil {
		st.last, st.lastErr, st.blocked = now, "", ""
	} else {
		st.lastErr, st.blocked = err.Error(), blockedReason(err)
	}
	st.standby = standby
	r.mu.Unlock()
	r.Metrics.Source(name, float64(now.UnixNano())/1e9, err == nil)
	if err != nil {
		r.Log.Error("source pass failed", "source", name, "err", err)
	}
}

// Run polls every source until ctx is done, then releases its leases.
func (r *Runner) Run(ctx context.Context, specs []SourceSpec) error {
	r.register(specs)
	var wg sync.WaitGroup
	for _, spec := range specs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				n, err := r.pass(ctx, spec)
				if n > 0 && err == nil {
					continue // more may be waiting
				}
				t := time.NewTimer(spec.Interval)
				select {
				case <-ctx.Done():
				case <-t.C:
				case <-spec.Wake:
				}
				t.Stop()
			}
			if r.Leases != nil {
				rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
				_ = r.Leases.ReleaseLease(rctx, "source:"+spec.Source.Name(), r.Holder)
				cancel()
			}
		}()
	}
	wg.Wait()
	return nil
}

// Once polls each source until a pass hands over nothing, and returns the
// number of tickets handed over in all. Errors from all sources are
// joined.
func (r *Runner) Once(ctx context.Context, specs []SourceSpec) (int, error) {
	r.register(specs)
	total := 0
	var errs []error
	for _, spec := range specs {
		for {
			n, err := r.pass(ctx, spec)
			total += n
			if err != nil {
				errs = append(errs, err)
				break
			}
			if n == 0 {
				break
			}
		}
	}
	return total, errors.Join(errs...)
}

// Health reports each source, sorted by name. A source is stale when its
// last successful pass (or its start, before the first) is older than its
// StaleAfter.
func (r *Runner) Health() []Health {
	now := r.now()
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []Health
	for name, st := range r.health {
		ref := st.last
		if ref.IsZero() {
			ref = st.started
		}
		out = append(out, Health{
			Name: name, LastSuccess: st.last, LastError: st.lastErr, Standby: st.standby, Blocked: st.blocked,
			Stale: st.spec.StaleAfter > 0 && now.Sub(ref) > st.spec.StaleAfter,
		})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}
