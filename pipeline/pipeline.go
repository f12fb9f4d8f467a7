// Package pipeline is the ingest path of the bot: a raw ticket is
// normalized, annotated, routed, and stored with its planned actions in
// one transaction — and only then may its source acknowledge it. The
// Runner drives the sources: one pass at a time, under a lease when
// several replicas share the store, recording each source's last success
// so a stalled source is noticed.
package pipeline

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/triage-bot/triage/annotate"
	"github.com/triage-bot/triage/catalog"
	"github.com/triage-bot/triage/internal/group"
	"github.com/triage-bot/triage/metrics"
	"github.com/triage-bot/triage/normalize"
	"github.com/triage-bot/triage/route"
	"github.com/triage-bot/triage/store"
	"github.com/triage-bot/triage/ticket"
)

// Incoming is one raw ticket from a source.
type Incoming struct {
	// ID is the ticket's stable ID (source-specific).
	ID string
	// EventID is the source's delivery ID, if it has one (Slack event_id,
	// an API Idempotency-Key); redelivery with the same ID is a no-op.
	EventID string
	// Source is "email", "slack", "api", "file".
	Source string
	// Channel is the mailbox, Maildir or Slack channel.
	Channel string
	// Raw is an RFC 822 message to normalize; nil when Ticket is set.
	Raw io.Reader
	// Ticket is an already-normalized ticket (Slack, API text).
	Ticket *ticket.Ticket
	// Received is when the source got it; zero means now.
	Received time.Time
	// Strict makes unreadable raw mail an ErrBadInput error (for the API,
	// which can answer 400). Otherwise such mail is stored as a ticket
	// with the reason in Problems, so a poison message never blocks its
	// source.
	Strict bool
	// OnStored, when set, is called with the stored record (its actions
	// handed to the outbox if they were claimed at ingest) before Ingest
	// returns; not for a duplicate or a failure.
	OnStored func(*store.Record)
}

// Dispatcher is an outbox in this process that takes actions straight
// from ingest: their claim is stored in the same transaction as the
// ticket (see store.Claim), sparing the outbox a claim transaction per
// batch, and they run without waiting for a poll.
type Dispatcher interface {
	// Claim returns the claim to store new due actions under, or nil when
	// the dispatcher is not taking work now.
	Claim() *store.Claim
	// Dispatch hands over actions stored under claim c, which Claim
	// returned. It may block while the dispatcher is busy, and it never
	// loses them: what it cannot run it gives back to the store.
	Dispatch(ctx context.Context, c *store.Claim, actions []ticket.Action)
}

// Store is what ingest needs of the store.
type Store interface {
	IngestBatch(ctx context.Context, recs []*store.Record) []error
}

// Pipeline turns Incoming into stored records.
type Pipeline struct {
	Catalog *catalog.Catalog
	Rules   *route.Rules
	Store   Store
	Limits  normalize.Limits
	Log     *slog.Logger
	Metrics *metrics.Metrics
	// Stored, when set, is called after each stored ticket (to wake the
	// outbox, to report).
	Stored func(*store.Record)
	// Dispatcher, when set, is handed each stored ticket's due actions.
	Dispatcher Dispatcher
	// Now defaults to time.Now.
	Now func() time.Time

	// group lets concurrent Ingest calls share one transaction.
	group group.Group[*store.Record, error]
}

// ErrBadInput is returned (wrapped) when the input cannot be read as a
// ticket at all; retrying will not help.
var ErrBadInput = errors.New("unreadable ticket")

// ErrDuplicate is returned (wrapped) when the ticket was stored before.
// Sources treat it as success and acknowledge.
var ErrDuplicate = store.ErrDuplicate

// Ingest normalizes, annotates, routes and stores one ticket with its
// actions in one transaction. It returns the stored record, or an error
// wrapping ErrDuplicate for a redelivery. Only after it returns nil (or
// ErrDuplicate) may the source acknowledge the ticket.
func (p *Pipeline) Ingest(ctx context.Context, in Incoming) (*store.Record, error) {
	rec, ann, err := p.prepare(in)
	if err != nil {
		return nil, err
	}
	if p.Dispatcher != nil {
		rec.Claim = p.Dispatcher.Claim()
	}
	// Flatten the record here, in parallel with other ingests, rather
	// than in the shared commit.
	if err := store.Prepare(rec, time.Now()); err != nil {
		return nil, fmt.Errorf("pipeline: store ticket %s: %w", in.ID, err)
	}
	err = p.group.Do(rec, maxGroup, func(recs []*store.Record) []error { return p.Store.IngestBatch(ctx, recs) })
	rec.Prepared = nil // the row's copies are the store's business now
	if err != nil {
		if errors.Is(err, store.ErrDuplicate) {
			p.Metrics.Duplicate(in.Source)
			return nil, fmt.Errorf("pipeline: ticket %s: %w", in.ID, err)
		}
		return nil, fmt.Errorf("pipeline: store ticket %s: %w", in.ID, err)
	}
	cats := make([]string, 0, len(ann.Codes))
	for _, c := range ann.Codes {
		cats = append(cats, string(c.Category))
	}
	p.Metrics.Ticket(in.Source, rec.Category, cats)
	if p.Log != nil {
		p.Log.Info("ticket stored", "ticket_id", rec.Ticket.ID, "source", in.Source, "category", rec.Category, "codes", rec.Codes, "actions", len(rec.Actions), "rules", rec.Rules)
	}
	if p.Stored != nil {
		p.Stored(rec)
	}
	if rec.Claim != nil {
		var claimed []ticket.Action
		for _, a := range rec.Actions {
			if a.State == ticket.StateRunning {
				claimed = append(claimed, a)
			}
		}
		if len(claimed) > 0 {
			p.Dispatcher.Dispatch(ctx, rec.Claim, claimed)
		}
	}
	if in.OnStored != nil {
		in.OnStored(rec)
	}
	return rec, nil
}

// Prepare does everything but storing: normalize, annotate, route. It is
// what `triage rules test` runs.
func (p *Pipeline) Prepare(in Incoming) (*store.Record, error) {
	rec, _, err := p.prepare(in)
	return rec, err
}

func (p *Pipeline) prepare(in Incoming) (*store.Record, annotate.Annotation, error) {
	now := time.Now
	if p.Now != nil {
		now = p.Now
	}
	t := in.Ticket
	if t == nil {
		if in.Raw == nil {
			return nil, annotate.Annotation{}, fmt.Errorf("pipeline: ticket %s has neither raw mail nor text", in.ID)
		}
		var err error
		t, err = normalize.Message(in.Raw, p.Limits)
		if err != nil {
			if in.Strict {
				return nil, annotate.Annotation{}, fmt.Errorf("pipeline: ticket %s: %w: %w", in.ID, ErrBadInput, err)
			}
			t = &ticket.Ticket{Source: in.Source, Problems: []string{"could not read the message: " + err.Error()}}
		}
	}
	t.ID = in.ID
	if in.Source != "" {
		t.Source = in.Source
	}
	if in.Channel != "" {
		t.Channel = in.Channel
	}
	_, ann := annotate.Ticket(t, p.Catalog)
	dec, err := p.Rules.Decide(route.Input{Ticket: t, Annotation: ann})
	if err != nil {
		// Some actions did not render for this ticket (a template that
		// fails on it, a folder its text would make special-use, a
		// keyword budget spent): each is parked in the decision, failed
		// and never attempted (route.Parked), and the ticket is stored
		// with the reason, rather than refused and offered again by its
		// source forever.
		t.Problems = append(t.Problems, "some actions were not planned: "+err.Error())
		if p.Log != nil {
			p.Log.Warn("pipeline: some actions were not planned", "ticket_id", in.ID, "err", err)
		}
	}
	// The ticket keeps every code (rec.Codes); its stored annotation
	// describes the first annotate.StoredCodes of them.
	annJSON, err := json.Marshal(ann.Bounded(annotate.StoredCodes))
	if err != nil {
		return nil, annotate.Annotation{}, fmt.Errorf("pipeline: encode annotation of %s: %w", in.ID, err)
	}
	received := in.Received
	if received.IsZero() {
		received = now()
	}
	rec := &store.Record{
		Ticket:     *t,
		EventID:    in.EventID,
		Annotation: annJSON,
		Category:   string(ann.Primary),
		Rules:      dec.Matched,
		Received:   received.UTC(),
		Actions:    dec.Actions,
	}
	for _, c := range ann.Codes {
		rec.Codes = append(rec.Codes, c.Code)
	}
	return rec, ann, nil
}

// maxGroup caps how many tickets one commit carries.
const maxGroup = 128
