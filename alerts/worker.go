package alerts

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"time"

	"github.com/triage-bot/triage/annotate"
	"github.com/triage-bot/triage/store"
)

// Store is what the worker needs of the store.
type Store interface {
	Ingest(ctx context.Context, rec *store.Record) error
	Tickets(ctx context.Context, q store.TicketQuery) ([]store.Record, error)
	Cursor(ctx context.Context, source string) (string, error)
	SetCursor(ctx context.Context, source, value string) error
	AcquireLease(ctx context.Context, name, holder string, now time.Time, ttl time.Duration) (bool, error)
}

// LeaseName is the lease the alerting replica holds, and CursorName its
// saved position.
const (
	LeaseName  = "alerts:spike"
	CursorName = "alerts:spike"
)

// pageSize and maxPages bound one pass: at most pageSize*maxPages tickets
// are read; beyond that the oldest new tickets of the pass are skipped
// (logged).
const (
	pageSize = 500
	maxPages = 20
)

// Worker polls the store for new tickets, feeds the Detector, and stores
// each alert as a synthetic ticket with its actions. Only the replica that
// holds the lease works; a replica taking over restores the state saved
// in the store's cursor and replays the last window.
type Worker struct {
	Detector *Detector
	Recorder *Recorder
	Store    Store
	// Holder names this replica in the lease.
	Holder string
	// Poll is the pass interval. Default 10s.
	Poll time.Duration
	// Lookback is the longest rule window (replayed on takeover).
	Lookback time.Duration
	// Now defaults to time.Now.
	Now func() time.Time
	Log *slog.Logger
	// Raised, when set, is called after an alert is stored (to wake the
	// outbox, to count).
	Raised func(*store.Record)
	// Panicked, when set, counts a recovered panic (metrics).
	Panicked func()

	leader  bool
	after   time.Time
	seen    map[string]time.Time
	pending []Alert
}

// state is the worker's saved position.
type state struct {
	After  time.Time `json:"after"`
	Raised []Raised  `json:"raised,omitempty"`
}

func (w *Worker) now() time.Time {
	if w.Now != nil {
		return w.Now()
	}
	return time.Now()
}

func (w *Worker) poll() time.Duration {
	if w.Poll > 0 {
		return w.Poll
	}
	return 10 * time.Second
}

// overlap is how far back each pass looks again, so a ticket stored a
// little late (a slow transaction) is still counted; IDs seen are skipped.
func (w *Worker) overlap() time.Duration { return 3*w.poll() + time.Minute }

// Run makes a pass every Poll until ctx is done. Errors of one pass are
// logged and the next pass tries again.
func (w *Worker) Run(ctx context.Context) error {
	t := time.NewTicker(w.poll())
	defer t.Stop()
	for {
		if _, err := w.safePass(ctx); err != nil && ctx.Err() == nil && w.Log != nil {
			w.Log.Warn("alerts: pass failed", "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// safePass is Pass with a panic turned into an error, so one bad ticket
// cannot stop spike detection for good. The next pass starts over from
// the saved state.
func (w *Worker) safePass(ctx context.Context) (n int, err error) {
	defer func() {
		if p := recover(); p != nil {
			w.leader = false
			if w.Panicked != nil {
				w.Panicked()
			}
			err = fmt.Errorf("alerts: pass panicked: %v", p)
		}
	}()
	return w.Pass(ctx)
}

// Pass reads the tickets stored since the last pass, and stores the
// alerts they raise; it returns how many alerts were stored.
func (w *Worker) Pass(ctx context.Context) (int, error) {
	now := w.now()
	ok, err := w.Store.AcquireLease(ctx, LeaseName, w.Holder, now, 3*w.poll()+30*time.Second)
	if err != nil {
		return 0, fmt.Errorf("alerts: lease: %w", err)
	}
	if !ok {
		w.leader = false
		return 0, nil
	}
	if !w.leader {
		if err := w.takeOver(ctx, now); err != nil {
			return 0, err
		}
		w.leader = true
	}
	recs, err := w.fetch(ctx, w.after.Add(-w.overlap()))
	if err != nil {
		return 0, err
	}
	newest := w.after
	for _, rec := range recs {
		if _, dup := w.seen[rec.Ticket.ID]; dup || strings.HasPrefix(rec.Ticket.ID, IDPrefix) {
			continue
		}
		w.seen[rec.Ticket.ID] = rec.Received
		if rec.Received.After(newest) {
			newest = rec.Received
		}
		w.pending = append(w.pending, w.Detector.Observe(observation(rec))...)
	}
	n, rerr := w.raise(ctx, now)
	w.after = newest
	for id, at := range w.seen {
		if at.Before(w.after.Add(-w.overlap())) {
			delete(w.seen, id)
		}
	}
	if err := w.save(ctx); err != nil {
		return n, errors.Join(rerr, err)
	}
	return n, rerr
}

// takeOver restores the saved state and replays the last window without
// raising (alerts for those tickets were raised before, and their IDs
// are deterministic anyway).
func (w *Worker) takeOver(ctx context.Context, now time.Time) error {
	raw, err := w.Store.Cursor(ctx, CursorName)
	if err != nil {
		return fmt.Errorf("alerts: read state: %w", err)
	}
	var st state
	if raw != "" {
		if err := json.Unmarshal([]byte(raw), &st); err != nil && w.Log != nil {
			w.Log.Warn("alerts: saved state unreadable, starting afresh", "err", err)
		}
	}
	if st.After.IsZero() || st.After.After(now) {
		st.After = now
	}
	w.seen = map[string]time.Time{}
	w.Detector.Restore(st.Raised)
	recs, err := w.fetch(ctx, st.After.Add(-w.Lookback))
	if err != nil {
		return err
	}
	for _, rec := range recs {
		if rec.Received.After(st.After) || strings.HasPrefix(rec.Ticket.ID, IDPrefix) {
			continue
		}
		w.seen[rec.Ticket.ID] = rec.Received
		w.Detector.Observe(observation(rec))
	}
	w.after = st.After
	return nil
}

// fetch returns the tickets received at or after since, oldest first,
// reading at most maxPages pages.
func (w *Worker) fetch(ctx context.Context, since time.Time) ([]store.Record, error) {
	var all []store.Record
	q := store.TicketQuery{Since: since, Limit: pageSize}
	for page := 0; ; page++ {
		if page == maxPages {
			if w.Log != nil {
				w.Log.Warn("alerts: too many new tickets in one pass; older ones are not counted", "read", len(all))
			}
			break
		}
		recs, err := w.Store.Tickets(ctx, q)
		if err != nil {
			return nil, fmt.Errorf("alerts: read tickets: %w", err)
		}
		for i := range recs {
			recs[i].Ticket.Parts = nil // not needed; keep memory small
		}
		all = append(all, recs...)
		if len(recs) < pageSize {
			break
		}
		q.Before = recs[len(recs)-1].Ticket.ID
	}
	sort.SliceStable(all, func(i, j int) bool {
		if !all[i].Received.Equal(all[j].Received) {
			return all[i].Received.Before(all[j].Received)
		}
		return all[i].Ticket.ID < all[j].Ticket.ID
	})
	return all, nil
}

// raise stores pending alerts; those that fail stay pending for the next
// pass.
func (w *Worker) raise(ctx context.Context, now time.Time) (int, error) {
	var (
		errs []error
		keep []Alert
		n    int
	)
	for _, a := range w.pending {
		rec, err := w.Recorder.Record(a, now)
		if err != nil {
			errs = append(errs, err) // a rendering error will not heal
			continue
		}
		err = w.Store.Ingest(ctx, rec)
		switch {
		case errors.Is(err, store.ErrDuplicate):
		case err != nil:
			keep = append(keep, a)
			errs = append(errs, fmt.Errorf("alerts: store %s: %w", rec.Ticket.ID, err))
		default:
			n++
			if w.Log != nil {
				w.Log.Warn("spike alert", "rule", a.Rule, "key", a.Key, "count", a.Count, "window", a.WindowText(), "ticket_id", rec.Ticket.ID, "actions", len(rec.Actions))
			}
			if w.Raised != nil {
				w.Raised(rec)
			}
		}
	}
	w.pending = keep
	return n, errors.Join(errs...)
}

func (w *Worker) save(ctx context.Context) error {
	b, err := json.Marshal(state{After: w.after, Raised: w.Detector.Raised()})
	if err != nil {
		return fmt.Errorf("alerts: save state: %w", err)
	}
	if err := w.Store.SetCursor(ctx, CursorName, string(b)); err != nil {
		return fmt.Errorf("alerts: save state: %w", err)
	}
	return nil
}

// observation reads what the detector needs from a stored record.
func observation(rec store.Record) Observation {
	o := Observation{ID: rec.Ticket.ID, At: rec.Received, Codes: rec.Codes, Category: rec.Category}
	var ann annotate.Annotation
	if json.Unmarshal(rec.Annotation, &ann) == nil && len(ann.Codes) > 0 {
		o.Codes = o.Codes[:0:0]
		for _, c := range ann.Codes {
			o.Codes = append(o.Codes, c.Code)
			o.CodeCategories = append(o.CodeCategories, string(c.Category))
		}
	}
	return o
}
