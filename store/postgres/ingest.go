package postgres

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/triage-bot/triage/store"
)

// The batched write path. Writing a batch record by record costs a
// savepoint, a ticket INSERT, one INSERT per action and a release: five
// round trips for a mail with two actions, which made PostgreSQL a fifth
// as fast as SQLite on the run benchmark. insertBatch writes the whole
// batch in two statements (tickets, then actions, each one INSERT over
// unnest'ed arrays) and needs a third only when a record has to be
// taken out again. Duplicates are found the way the per-record path
// finds them, through the unique constraints, with ON CONFLICT DO
// NOTHING: a ticket not returned was a duplicate; a record with fewer
// actions returned than it has repeated an action key, and its ticket
// and actions are deleted again, so that it leaves nothing written.

// errFallback stops the batched path: the batch is written again record
// by record, in a new transaction.
var errFallback = errors.New("batched write refused")

// insertBatch writes every record of b not yet refused and sets their
// results and action IDs, or returns an error, after which the
// transaction must be rolled back (nothing in b has changed then, except
// action IDs of records that will be written again).
func insertBatch(ctx context.Context, tx pgx.Tx, b *store.Batch) error {
	var (
		idx                                         []int // record index of each row
		ids, sources, channels, froms, subjects     []string
		categories, codes, tickets, rules, searches []string
		eventIDs, messageIDs, annotations           []*string
		received                                    []time.Time
	)
	for i := range b.Works {
		if b.Errs[i] != nil {
			continue
		}
		w, r := &b.Works[i], &b.Rows[i]
		t := &w.Ticket
		idx = append(idx, i)
		ids = append(ids, t.ID)
		eventIDs = append(eventIDs, nullable(w.EventID))
		sources = append(sources, t.Source)
		channels = append(channels, t.Channel)
		froms = append(froms, store.Clean(t.From))
		subjects = append(subjects, store.Clean(t.Subject))
		messageIDs = append(messageIDs, nullable(t.MessageID))
		categories = append(categories, w.Category)
		codes = append(codes, intArray(w.Codes))
		tickets = append(tickets, string(r.TicketJSON))
		annotations = append(annotations, nullable(string(r.Annotation)))
		rules = append(rules, string(r.RulesJSON))
		received = append(received, w.Received)
		searches = append(searches, r.Search)
	}
	rows, err := tx.Query(ctx, `INSERT INTO tickets
		(id, event_id, source, channel, from_addr, subject, message_id, category, codes,
		 ticket, annotation, rules, received, search)
		SELECT id, event_id, source, channel, from_addr, subject, message_id, category, codes::integer[],
			ticket::json, annotation::json, rules::json, received, search
		FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[],
			$9::text[], $10::text[], $11::text[], $12::text[], $13::timestamptz[], $14::text[])
			WITH ORDINALITY AS r(id, event_id, source, channel, from_addr, subject, message_id, category, codes,
				ticket, annotation, rules, received, search, n)
		ORDER BY n
		ON CONFLICT DO NOTHING
		RETURNING id, event_id`,
		ids, eventIDs, sources, channels, froms, subjects, messageIDs, categories, codes, tickets, annotations, rules, received, searches)
	if err != nil {
		return fmt.Errorf("insert tickets: %w", err)
	}
	stored := make([]bool, len(idx))
	for rows.Next() {
		var id string
		var eventID *string
		if err := rows.Scan(&id, &eventID); err != nil {
			rows.Close()
			return fmt.Errorf("insert tickets: %w", err)
		}
		// Two records of the batch may share an ID: the first written
		// (with this event ID) is the one stored.
		k := slices.IndexFunc(idx, func(i int) bool {
			w := &b.Works[i]
			return w.Ticket.ID == id && (w.EventID == "") == (eventID == nil) && (eventID == nil || *eventID == w.EventID)
		})
		for k >= 0 && stored[k] {
			next := slices.IndexFunc(idx[k+1:], func(i int) bool { return b.Works[i].Ticket.ID == id })
			if next < 0 {
				k = -1
				break
			}
			k += 1 + next
		}
		if k < 0 {
			rows.Close()
			return fmt.Errorf("%w: the database returned ticket %q, which the batch does not hold", errFallback, id)
		}
		stored[k] = true
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("insert tickets: %w", err)
	}

	var (
		aTickets, kinds, targets, aRules, states, lastErrors []string
		keys, workers                                        []*string
		payloads                                             [][]byte
		attempts                                             []int32
		next, created, updated                               []time.Time
		until                                                []*time.Time
	)
	for k, i := range idx {
		w := &b.Works[i]
		if !stored[k] {
			b.Errs[i] = fmt.Errorf("postgres: ingest %q (event %q): %w", w.Ticket.ID, w.EventID, store.ErrDuplicate)
			continue
		}
		for j := range w.Actions {
			a := &w.Actions[j]
			worker, claimUntil := store.ClaimColumns(w, a)
			aTickets = append(aTickets, a.TicketID)
			kinds = append(kinds, a.Kind)
			targets = append(targets, a.Target)
			aRules = append(aRules, a.Rule)
			payloads = append(payloads, nilIfEmpty(a.Payload))
			keys = append(keys, nullable(a.Key))
			states = append(states, string(a.State))
			attempts = append(attempts, int32(a.Attempts))
			next = append(next, a.NextAttempt)
			lastErrors = append(lastErrors, store.Clean(a.LastError))
			created = append(created, a.Created)
			updated = append(updated, a.Updated)
			if worker != nil {
				s, u := worker.(string), claimUntil.(time.Time)
				workers, until = append(workers, &s), append(until, &u)
			} else {
				workers, until = append(workers, nil), append(until, nil)
			}
		}
	}
	got := map[string][]int64{} // ticket ID → its action IDs in order
	if len(aTickets) > 0 {
		rows, err := tx.Query(ctx, `INSERT INTO actions
			(ticket_id, kind, target, rule, payload, key, state, attempts, next_attempt, last_error, created, updated,
			 claimed_by, claim_until)
			SELECT ticket_id, kind, target, rule, payload, key, state, attempts, next_attempt, last_error, created, updated,
				claimed_by, claim_until
			FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::bytea[], $6::text[], $7::text[], $8::integer[],
				$9::timestamptz[], $10::text[], $11::timestamptz[], $12::timestamptz[], $13::text[], $14::timestamptz[])
				WITH ORDINALITY AS r(ticket_id, kind, target, rule, payload, key, state, attempts, next_attempt, last_error,
					created, updated, claimed_by, claim_until, n)
			ORDER BY n
			ON CONFLICT DO NOTHING
			RETURNING id, ticket_id`,
			aTickets, kinds, targets, aRules, payloads, keys, states, attempts, next, lastErrors, created, updated, workers, until)
		if err != nil {
			return fmt.Errorf("insert actions: %w", err)
		}
		for rows.Next() {
			var id int64
			var tid string
			if err := rows.Scan(&id, &tid); err != nil {
				rows.Close()
				return fmt.Errorf("insert actions: %w", err)
			}
			got[tid] = append(got[tid], id)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return fmt.Errorf("insert actions: %w", err)
		}
	}
	var undo []string
	for k, i := range idx {
		if !stored[k] {
			continue
		}
		w := &b.Works[i]
		aids := got[w.Ticket.ID]
		if len(aids) != len(w.Actions) {
			// A repeated action key: take the record out again.
			undo = append(undo, w.Ticket.ID)
			b.Errs[i] = fmt.Errorf("postgres: ingest %q: action key %q: %w", w.Ticket.ID, repeatedKey(w), store.ErrDuplicate)
			continue
		}
		// Identity values are drawn in the order rows are inserted
		// (ORDER BY n), so a ticket's IDs sorted are its actions' in order.
		slices.Sort(aids)
		for j := range w.Actions {
			w.Actions[j].ID = aids[j]
		}
	}
	if len(undo) > 0 {
		if _, err := tx.Exec(ctx, `DELETE FROM actions WHERE ticket_id = ANY($1)`, undo); err != nil {
			return fmt.Errorf("take out a record with a repeated action key: %w", err)
		}
		if _, err := tx.Exec(ctx, `DELETE FROM tickets WHERE id = ANY($1)`, undo); err != nil {
			return fmt.Errorf("take out a record with a repeated action key: %w", err)
		}
	}
	return nil
}

// repeatedKey returns the first action key rec's actions repeat.
func repeatedKey(rec *store.Record) string {
	seen := map[string]bool{}
	for _, a := range rec.Actions {
		if a.Key != "" && seen[a.Key] {
			return a.Key
		}
		seen[a.Key] = true
	}
	return ""
}

func nullable(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func nilIfEmpty(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	return b
}

// intArray renders codes as a PostgreSQL array literal ("{108,3200}").
func intArray(codes []int) string {
	var sb strings.Builder
	sb.WriteByte('{')
	for i, c := range codes {
		if i > 0 {
			sb.WriteByte(',')
		}
		sb.WriteString(strconv.Itoa(c))
	}
	sb.WriteByte('}')
	return sb.String()
}
