// Package postgres is the store for several replicas: PostgreSQL through
// pgx and pgxpool. It meets the store.Store contract for any number of
// goroutines and processes sharing one database.
//
// Claims use UPDATE … WHERE id IN (SELECT … FOR UPDATE SKIP LOCKED LIMIT
// n): concurrent claimers lock disjoint rows and never wait on each
// other. Leases and cursors are single-statement upserts.
//
// The schema is versioned: Open applies the missing migrations (see
// schema.go) in one transaction holding a transaction-scoped advisory
// lock, so replicas starting together migrate once. Tables live in the
// connection's current schema (the first of search_path), which lets
// tests and deployments keep several stores in one database.
package postgres

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/triage-bot/triage/store"
)

// Store is the PostgreSQL implementation of store.Store. It is safe for
// concurrent use, also by several replicas on one database.
type Store struct {
	pool      *pgxpool.Pool
	closeOnce sync.Once
}

var _ store.Store = (*Store)(nil)

// Open connects to the database named by dsn (a postgres:// URL or
// key=value string, as pgx accepts) and brings the schema up to date.
// Opening a current database changes nothing; several replicas may open
// at once. It fails when the database's schema is newer than this program
// knows.
func Open(ctx context.Context, dsn string) (*Store, error) {
	return open(ctx, dsn, migrations)
}

func open(ctx context.Context, dsn string, ms []string) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		// The error may quote the DSN and its password: do not wrap it.
		return nil, errors.New("postgres: open: cannot parse the DSN")
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: open: %w", err)
	}
	if err := migrate(ctx, pool, ms); err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres: open: %w", err)
	}
	return &Store{pool: pool}, nil
}

// migrate applies the missing migrations in one transaction under an
// advisory lock keyed by the current schema's name.
func migrate(ctx context.Context, pool *pgxpool.Pool, ms []string) error {
	tx, err := pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtext('triage.migrate.' || current_schema()))`); err != nil {
		return fmt.Errorf("migrate: lock: %w", err)
	}
	if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version integer PRIMARY KEY,
		applied timestamptz NOT NULL
	)`); err != nil {
		return fmt.Errorf("migrate: create schema_migrations: %w", err)
	}
	var version int
	if err := tx.QueryRow(ctx, `SELECT coalesce(max(version), 0) FROM schema_migrations`).Scan(&version); err != nil {
		return fmt.Errorf("migrate: read version: %w", err)
	}
	if version > len(ms) {
		return fmt.Errorf("migrate: database schema version %d is newer than this program's %d", version, len(ms))
	}
	for i := version; i < len(ms); i++ {
		if _, err := tx.Exec(ctx, ms[i]); err != nil {
			return fmt.Errorf("migrate: version %d: %w", i+1, err)
		}
		if _, err := tx.Exec(ctx, `INSERT INTO schema_migrations (version, applied) VALUES ($1, now())`, i+1); err != nil {
			return fmt.Errorf("migrate: record version %d: %w", i+1, err)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("migrate: commit: %w", err)
	}
	return nil
}

// Close closes the pool, waiting for connections in use to be returned.
// Calling it again does nothing.
func (s *Store) Close() error {
	s.closeOnce.Do(s.pool.Close)
	return nil
}

// isUnique reports whether err is a unique_violation.
func isUnique(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == "23505"
}

// Ingest writes the ticket, its annotation and its actions in one
// transaction; see store.Store. A ticket whose ID or non-empty EventID is
// stored, or two of its actions with the same non-empty Key, make it return
// store.ErrDuplicate with nothing written. Zero Received is set to now,
// and an action's zero NextAttempt to Received (due at once). rec is
// updated (action IDs, states, times) only when Ingest succeeds.
func (s *Store) Ingest(ctx context.Context, rec *store.Record) error {
	return s.IngestBatch(ctx, []*store.Record{rec})[0]
}

// IngestBatch stores several records in one transaction, each as if by
// Ingest: a duplicate affects only its record. The batch is written in a
// few statements for all its records (see insertBatch); should that fail
// for any other reason, it is written again record by record, each under
// its own savepoint, so that a failure too affects only its record. If
// the transaction cannot commit, every record not already refused gets
// that error. Records are written back only when stored.
func (s *Store) IngestBatch(ctx context.Context, recs []*store.Record) []error {
	b := store.PrepareBatch("postgres", recs, time.Now())
	if !b.Pending() {
		return b.Errs
	}
	if errs, ok := s.ingestBatched(ctx, b); ok {
		return errs
	}
	fail := func(err error) []error { return b.Fail(err) }
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return fail(fmt.Errorf("begin: %w", err))
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
	for i := range recs {
		if b.Errs[i] != nil {
			continue
		}
		sp, err := tx.Begin(ctx) // a savepoint
		if err != nil {
			return fail(err)
		}
		if b.Errs[i] = insert(ctx, sp, &b.Works[i], b.Rows[i]); b.Errs[i] != nil {
			if err := sp.Rollback(ctx); err != nil {
				return fail(err)
			}
			continue
		}
		if err := sp.Commit(ctx); err != nil {
			return fail(err)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return fail(fmt.Errorf("commit: %w", err))
	}
	return b.Done()
}

// ingestBatched writes b in one transaction with insertBatch and reports
// whether it did; when not, b is as it was and nothing is written.
func (s *Store) ingestBatched(ctx context.Context, b *store.Batch) ([]error, bool) {
	before := slices.Clone(b.Errs)
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return b.Fail(fmt.Errorf("begin: %w", err)), true
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
	err = insertBatch(ctx, tx, b)
	if err == nil {
		if err = tx.Commit(ctx); err != nil {
			copy(b.Errs, before)
			return b.Fail(fmt.Errorf("commit: %w", err)), true
		}
		return b.Done(), true
	}
	copy(b.Errs, before)
	if ctx.Err() != nil {
		return b.Fail(err), true
	}
	return nil, false // which record was at fault, the slow path finds out
}

// insert writes one prepared record's ticket and actions.
func insert(ctx context.Context, tx pgx.Tx, work *store.Record, r store.Row) error {
	t := &work.Ticket
	codes := work.Codes
	if codes == nil {
		codes = []int{}
	}
	tag, err := tx.Exec(ctx, `INSERT INTO tickets
		(id, event_id, source, channel, from_addr, subject, message_id, category, codes,
		 ticket, annotation, rules, received, search)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
		ON CONFLICT DO NOTHING`,
		t.ID, store.NullString(work.EventID), t.Source, t.Channel, store.Clean(t.From), store.Clean(t.Subject), store.NullString(t.MessageID),
		work.Category, codes, string(r.TicketJSON),
		store.NullString(string(r.Annotation)), string(r.RulesJSON), work.Received, r.Search)
	if err != nil {
		return fmt.Errorf("postgres: ingest %q: insert ticket: %w", t.ID, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("postgres: ingest %q (event %q): %w", t.ID, work.EventID, store.ErrDuplicate)
	}
	for i := range work.Actions {
		a := &work.Actions[i]
		worker, until := store.ClaimColumns(work, a)
		err := tx.QueryRow(ctx, `INSERT INTO actions
			(ticket_id, kind, target, rule, payload, key, state, attempts, next_attempt, last_error, created, updated,
			claimed_by, claim_until)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
			RETURNING id`,
			a.TicketID, a.Kind, a.Target, a.Rule, nullBytes(a.Payload), store.NullString(a.Key), string(a.State),
			a.Attempts, a.NextAttempt, store.Clean(a.LastError), a.Created, a.Updated, worker, until).Scan(&a.ID)
		if isUnique(err) {
			return fmt.Errorf("postgres: ingest %q: action key %q: %w", t.ID, a.Key, store.ErrDuplicate)
		}
		if err != nil {
			return fmt.Errorf("postgres: ingest %q: insert action %d: %w", t.ID, i, err)
		}
	}
	return nil
}

func nullBytes(b []byte) any {
	if len(b) == 0 {
		return nil
	}
	return b
}

const ticketColumns = `id, event_id, category, codes, ticket::text, annotation::text, rules::text, received`

func scanTicket(row pgx.Row) (store.Record, error) {
	var (
		rec                   store.Record
		id, ticketJSON, rules string
		eventID, annotation   *string
		codes                 []int
		received              time.Time
	)
	if err := row.Scan(&id, &eventID, &rec.Category, &codes, &ticketJSON, &annotation, &rules, &received); err != nil {
		return rec, err
	}
	if eventID != nil {
		rec.EventID = *eventID
	}
	if len(codes) > 0 {
		rec.Codes = codes
	}
	rec.Received = received.UTC()
	var ann []byte
	if annotation != nil {
		ann = []byte(*annotation)
	}
	if err := store.DecodeRow(&rec, []byte(ticketJSON), []byte(rules), ann); err != nil {
		return rec, fmt.Errorf("ticket %q: %w", id, err)
	}
	return rec, nil
}

// Ticket returns the ticket with its actions in the order they were
// planned, or store.ErrNotFound.
func (s *Store) Ticket(ctx context.Context, id string) (*store.Record, error) {
	tx, err := s.pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return nil, fmt.Errorf("postgres: ticket %q: begin: %w", id, err)
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
	rec, err := scanTicket(tx.QueryRow(ctx, `SELECT `+ticketColumns+` FROM tickets WHERE id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("postgres: ticket %q: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("postgres: ticket %q: %w", id, err)
	}
	rows, err := tx.Query(ctx, `SELECT `+actionColumns+` FROM actions WHERE ticket_id = $1 ORDER BY id`, id)
	if err != nil {
		return nil, fmt.Errorf("postgres: ticket %q: actions: %w", id, err)
	}
	if rec.Actions, err = scanActions(rows); err != nil {
		return nil, fmt.Errorf("postgres: ticket %q: actions: %w", id, err)
	}
	return &rec, nil
}

// Tickets lists tickets without their actions, newest first (by Received,
// then by ID descending). A Before naming no stored ticket returns
// store.ErrNotFound.
func (s *Store) Tickets(ctx context.Context, q store.TicketQuery) ([]store.Record, error) {
	var (
		where []string
		args  []any
	)
	arg := func(v any) string {
		args = append(args, v)
		return fmt.Sprintf("$%d", len(args))
	}
	if q.Before != "" {
		var received time.Time
		err := s.pool.QueryRow(ctx, `SELECT received FROM tickets WHERE id = $1`, q.Before).Scan(&received)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil, fmt.Errorf("postgres: tickets before %q: %w", q.Before, store.ErrNotFound)
		}
		if err != nil {
			return nil, fmt.Errorf("postgres: tickets before %q: %w", q.Before, err)
		}
		where = append(where, fmt.Sprintf(`(received, id) < (%s, %s)`, arg(received), arg(q.Before)))
	}
	if q.Code != 0 {
		where = append(where, fmt.Sprintf(`codes @> ARRAY[%s::integer]`, arg(q.Code)))
	}
	if q.Category != "" {
		where = append(where, `category = `+arg(q.Category))
	}
	if q.Text != "" {
		where = append(where, fmt.Sprintf(`strpos(search, %s) > 0`, arg(store.Clean(strings.ToLower(q.Text)))))
	}
	if !q.Since.IsZero() {
		where = append(where, `received >= `+arg(q.Since))
	}
	query := `SELECT ` + ticketColumns + ` FROM tickets`
	if len(where) > 0 {
		query += ` WHERE ` + strings.Join(where, ` AND `)
	}
	query += ` ORDER BY received DESC, id DESC LIMIT ` + arg(store.QueryLimit(q.Limit))

	rows, err := s.pool.Query(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("postgres: tickets: %w", err)
	}
	defer rows.Close()
	var out []store.Record
	for rows.Next() {
		rec, err := scanTicket(rows)
		if err != nil {
			return nil, fmt.Errorf("postgres: tickets: %w", err)
		}
		out = append(out, rec)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("postgres: tickets: %w", err)
	}
	return out, nil
}

// HasMessageID reports whether a ticket from channel with this Message-ID
// is stored. An empty messageID is never found.
func (s *Store) HasMessageID(ctx context.Context, channel, messageID string) (bool, error) {
	if messageID == "" {
		return false, nil
	}
	var found bool
	err := s.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM tickets WHERE channel = $1 AND message_id = $2)`,
		channel, messageID).Scan(&found)
	if err != nil {
		return false, fmt.Errorf("postgres: has message-id %q in %q: %w", messageID, channel, err)
	}
	return found, nil
}

// Cursor returns the source's saved position, "" when none.
func (s *Store) Cursor(ctx context.Context, source string) (string, error) {
	var v string
	err := s.pool.QueryRow(ctx, `SELECT value FROM cursors WHERE source = $1`, source).Scan(&v)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("postgres: cursor %q: %w", source, err)
	}
	return v, nil
}

// SetCursor saves the source's position, replacing any earlier one.
func (s *Store) SetCursor(ctx context.Context, source, value string) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO cursors (source, value, updated) VALUES ($1, $2, now())
		ON CONFLICT (source) DO UPDATE SET value = excluded.value, updated = excluded.updated`,
		source, value)
	if err != nil {
		return fmt.Errorf("postgres: set cursor %q: %w", source, err)
	}
	return nil
}

// AcquireLease takes the lease when it is free, expired (until ≤ now) or
// already held by holder, and then holds it until now+ttl. It returns
// false, changing nothing, while another holder's lease runs.
func (s *Store) AcquireLease(ctx context.Context, name, holder string, now time.Time, ttl time.Duration) (bool, error) {
	tag, err := s.pool.Exec(ctx, `INSERT INTO leases (name, holder, until) VALUES ($1, $2, $3)
		ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, until = excluded.until
		WHERE leases.holder = excluded.holder OR leases.until <= $4`,
		name, holder, store.DBTime(now.Add(ttl)), store.DBTime(now))
	if err != nil {
		return false, fmt.Errorf("postgres: acquire lease %q for %q: %w", name, holder, err)
	}
	return tag.RowsAffected() == 1, nil
}

// ReleaseLease gives up the lease if holder has it; otherwise it does
// nothing.
func (s *Store) ReleaseLease(ctx context.Context, name, holder string) error {
	if _, err := s.pool.Exec(ctx, `DELETE FROM leases WHERE name = $1 AND holder = $2`, name, holder); err != nil {
		return fmt.Errorf("postgres: release lease %q for %q: %w", name, holder, err)
	}
	return nil
}
