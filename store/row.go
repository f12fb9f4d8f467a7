package store

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/triage-bot/triage/ticket"
)

// This file holds what both implementations do the same way: checking a
// Record before it is written, flattening it into columns, and reading it
// back.

// Row is a Record flattened into the tickets table's columns.
type Row struct {
	// TicketJSON is the ticket, parts' text included.
	TicketJSON []byte
	// RulesJSON is the matched rules as a JSON array (never null).
	RulesJSON []byte
	// Annotation is nil when the record has none.
	Annotation []byte
	// Search is the lower-cased sender, subject and parts' text, without
	// NUL bytes or invalid UTF-8, for case-insensitive substring search.
	Search string
}

// PrepareRow validates rec and fills what the store sets: Received when
// zero, and for each action TicketID, State (pending when empty),
// NextAttempt (Received when zero, so due at once), Created and Updated.
// Times are normalized with DBTime, the precision stored, so the caller's
// copy equals what a later read returns.
func PrepareRow(rec *Record, now time.Time) (Row, error) {
	var r Row
	if rec.Ticket.ID == "" {
		return r, errors.New("empty ticket ID")
	}
	if len(rec.Annotation) > 0 && !json.Valid(rec.Annotation) {
		return r, errors.New("annotation is not valid JSON")
	}
	now = DBTime(now)
	if rec.Received.IsZero() {
		rec.Received = now
	}
	rec.Received = DBTime(rec.Received)
	for i := range rec.Actions {
		a := &rec.Actions[i]
		switch {
		case a.TicketID == "":
			a.TicketID = rec.Ticket.ID
		case a.TicketID != rec.Ticket.ID:
			return r, fmt.Errorf("action %d belongs to ticket %q", i, a.TicketID)
		}
		if a.Kind == "" {
			return r, fmt.Errorf("action %d has no kind", i)
		}
		switch a.State {
		case "":
			a.State = ticket.StatePending
		case ticket.StatePending, ticket.StateDone, ticket.StateFailed, ticket.StateSuppressed, ticket.StateShadow:
		default:
			return r, fmt.Errorf("action %d: cannot store an action as %q", i, a.State)
		}
		if a.NextAttempt.IsZero() {
			a.NextAttempt = rec.Received
		}
		a.NextAttempt = DBTime(a.NextAttempt)
		a.Created, a.Updated = now, now
		if rec.Claim != nil && a.State == ticket.StatePending && !a.NextAttempt.After(now) {
			a.State = ticket.StateRunning
			a.Attempts++
		}
	}
	if rec.Claim != nil {
		if rec.Claim.Worker == "" {
			return r, errors.New("claim without a worker")
		}
		rec.Claim = &Claim{Worker: rec.Claim.Worker, Until: DBTime(rec.Claim.Until)}
	}

	var err error
	if r.TicketJSON, err = json.Marshal(rec.Ticket); err != nil {
		return r, fmt.Errorf("encode ticket: %w", err)
	}
	n := len(rec.Ticket.From) + 1 + len(rec.Ticket.Subject)
	for _, p := range rec.Ticket.Parts {
		n += 1 + len(p.Text)
	}
	var search strings.Builder
	search.Grow(n)
	writeSearch(&search, rec.Ticket.From)
	search.WriteByte('\n')
	writeSearch(&search, rec.Ticket.Subject)
	for _, p := range rec.Ticket.Parts {
		search.WriteByte('\n')
		writeSearch(&search, p.Text)
	}
	rules := rec.Rules
	if rules == nil {
		rules = []string{}
	}
	if r.RulesJSON, err = json.Marshal(rules); err != nil {
		return r, fmt.Errorf("encode rules: %w", err)
	}
	if len(rec.Annotation) > 0 {
		r.Annotation = rec.Annotation
	}
	r.Search = search.String()
	return r, nil
}

// writeSearch writes s to b as the search column holds it:
// Clean(strings.ToLower(s)) in one pass, ASCII without decoding.
func writeSearch(b *strings.Builder, s string) {
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == 0:
			case 'A' <= c && c <= 'Z':
				b.WriteByte(c + 'a' - 'A')
			default:
				b.WriteByte(c)
			}
			i++
			continue
		}
		r, w := utf8.DecodeRuneInString(s[i:])
		b.WriteRune(unicode.ToLower(r)) // an invalid byte: RuneError, as ToLower writes it
		i += w
	}
}

// DecodeRow rebuilds a Record's ticket, rules and annotation from the
// stored JSON columns.
func DecodeRow(rec *Record, ticketJSON, rulesJSON, annotation []byte) error {
	if err := json.Unmarshal(ticketJSON, &rec.Ticket); err != nil {
		return fmt.Errorf("decode ticket: %w", err)
	}
	if err := json.Unmarshal(rulesJSON, &rec.Rules); err != nil {
		return fmt.Errorf("decode rules: %w", err)
	}
	if len(rec.Rules) == 0 {
		rec.Rules = nil
	}
	if len(annotation) > 0 {
		rec.Annotation = json.RawMessage(annotation)
	}
	return nil
}

// DBTime is t as stored: UTC, truncated to microseconds.
func DBTime(t time.Time) time.Time {
	return t.UTC().Truncate(time.Microsecond)
}

// Clean makes s storable in any text column: no NUL bytes, valid UTF-8.
// JSON columns keep such bytes escaped instead.
func Clean(s string) string {
	return strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "\x00", "")
}

// NullString is s, or nil (SQL NULL) when s is empty.
func NullString(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// QueryLimit applies the contract's default of 100 to a query's Limit.
func QueryLimit(n int) int {
	if n <= 0 {
		return 100
	}
	return n
}

// Batch is a set of records being written together by IngestBatch: each
// record's working copy, its flattened row, and its result so far.
type Batch struct {
	recs  []*Record
	Works []Record
	Rows  []Row
	// Errs holds each record's result; nil means "still to be written".
	Errs   []error
	prefix string
}

// Prepare runs PrepareRow on rec itself ahead of a write and keeps the
// row in rec.Prepared, so that the store's IngestBatch (whose writer
// works for everyone) need not. rec must not change before it is stored.
func Prepare(rec *Record, now time.Time) error {
	r, err := PrepareRow(rec, now)
	if err != nil {
		return err
	}
	rec.Prepared = &r
	return nil
}

// PrepareBatch validates and flattens recs (see PrepareRow), taking the
// rows of records prepared with Prepare as they are; records that fail
// get their error at once. prefix names the implementation in errors
// ("sqlite").
func PrepareBatch(prefix string, recs []*Record, now time.Time) *Batch {
	b := &Batch{recs: recs, Works: make([]Record, len(recs)), Rows: make([]Row, len(recs)), Errs: make([]error, len(recs)), prefix: prefix}
	for i, rec := range recs {
		b.Works[i] = *rec
		b.Works[i].Actions = append([]ticket.Action(nil), rec.Actions...)
		if rec.Prepared != nil {
			b.Rows[i] = *rec.Prepared
			continue
		}
		r, err := PrepareRow(&b.Works[i], now)
		if err != nil {
			b.Errs[i] = fmt.Errorf("%s: ingest %q: %w", prefix, rec.Ticket.ID, err)
			continue
		}
		b.Rows[i] = r
	}
	return b
}

// Pending reports whether any record is still to be written.
func (b *Batch) Pending() bool {
	for _, err := range b.Errs {
		if err == nil {
			return true
		}
	}
	return false
}

// Fail gives every record still to be written the error err (a failed
// transaction) and returns the results.
func (b *Batch) Fail(err error) []error {
	for i := range b.Errs {
		if b.Errs[i] == nil {
			b.Errs[i] = fmt.Errorf("%s: ingest %q: %w", b.prefix, b.recs[i].Ticket.ID, err)
		}
	}
	return b.Errs
}

// Done writes the stored records back to the caller's copies (action IDs,
// states, times) and returns the results.
func (b *Batch) Done() []error {
	for i, rec := range b.recs {
		if b.Errs[i] == nil {
			*rec = b.Works[i]
		}
	}
	return b.Errs
}

// ClaimColumns returns the claimed_by and claim_until values to store for
// action a of rec: the record's claim for a running action, else nils.
func ClaimColumns(rec *Record, a *ticket.Action) (worker, until any) {
	if rec.Claim == nil || a.State != ticket.StateRunning {
		return nil, nil
	}
	return rec.Claim.Worker, rec.Claim.Until
}
