// Package sqlite is the embedded store: one SQLite file, CGO-free
// (modernc.org/sqlite), in WAL mode. It meets the store.Store contract for
// concurrent goroutines and for several processes sharing the file.
//
// Writes go through one connection per Store and run in BEGIN IMMEDIATE
// transactions, so a transaction holds SQLite's write lock from its first
// statement: two processes can never both read a due action and then both
// claim it. Other processes' writers wait up to the busy timeout. Reads use
// a separate pool of read-only connections, which WAL lets run beside the
// writer.
//
// The schema is versioned: Open applies the missing migrations (see
// schema.go) in one transaction and records them in schema_migrations.
package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/triage-bot/triage/store"
)

// BusyTimeout is how long a write waits for another process's write
// transaction to finish before failing with "database is locked".
const BusyTimeout = 10 * time.Second

// Store is the SQLite implementation of store.Store. It is safe for
// concurrent use, also by several processes opening the same file.
type Store struct {
	write     *sql.DB // one connection, BEGIN IMMEDIATE transactions
	read      *sql.DB // read-only connections
	closeOnce sync.Once
	closeErr  error
	ckpt      *checkpointer

	stmts map[string]*sql.Stmt // hot write statements, parsed once at Open
}

// begin starts a write transaction and returns it with the context its
// statements run in: ctx without its cancellation. The driver watches a
// cancellable context with a goroutine of its own for every statement,
// and a write transaction runs many short ones (five per ticket stored):
// that watching cost more than the statements did. Waiting for the write
// connection, and the transaction as a whole, still end with ctx
// (database/sql rolls the transaction back then).
func (s *Store) begin(ctx context.Context) (*sql.Tx, context.Context, error) {
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return nil, ctx, err
	}
	return tx, context.WithoutCancel(ctx), nil
}

// stmt binds the hot write statement for query (prepared on the write
// connection at Open) to tx; the hot paths (ingest, claim, complete)
// would otherwise spend much of their time parsing SQL. A query not
// prepared at Open is prepared within tx.
func (s *Store) stmt(ctx context.Context, tx *sql.Tx, query string) (*sql.Stmt, error) {
	if st, ok := s.stmts[query]; ok {
		return tx.StmtContext(ctx, st), nil
	}
	return tx.PrepareContext(ctx, query)
}

// prepareHot prepares the hot write statements; it must run while no
// transaction holds the single write connection.
func (s *Store) prepareHot(ctx context.Context) error {
	s.stmts = map[string]*sql.Stmt{}
	for _, q := range hotStatements() {
		st, err := s.write.PrepareContext(ctx, q)
		if err != nil {
			return fmt.Errorf("sqlite: prepare: %w", err)
		}
		s.stmts[q] = st
	}
	return nil
}

var _ store.Store = (*Store)(nil)

// Open opens the database at path, creating the file and its directory
// on first run, and brings its schema up to date. Opening an existing,
// current database changes nothing. It fails when the database's schema
// is newer than this program knows.
func Open(ctx context.Context, path string) (*Store, error) {
	return open(ctx, path, migrations)
}

// open is Open with the list of migrations to apply, so tests can create
// a database at an older version.
func open(ctx context.Context, path string, ms []string) (*Store, error) {
	if path == "" {
		return nil, errors.New("sqlite: open: empty path")
	}
	if strings.ContainsAny(path, "?#") {
		return nil, fmt.Errorf("sqlite: open %s: path must not contain '?' or '#'", path)
	}
	if dir := filepath.Dir(path); dir != "" {
		if err := os.MkdirAll(dir, 0o750); err != nil {
			return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
		}
	}
	busy := fmt.Sprintf("busy_timeout(%d)", BusyTimeout.Milliseconds())
	common := url.Values{}
	common.Add("_pragma", busy)
	common.Add("_pragma", "foreign_keys(1)")
	common.Add("_pragma", "synchronous(NORMAL)")

	wq := url.Values{}
	for k, v := range common {
		wq[k] = append([]string(nil), v...)
	}
	wq.Add("_pragma", "journal_mode(WAL)")
	// The writer keeps the hot B-tree pages (indexes, the outbox) in
	// memory: with the default 2 MiB cache, each insert re-read pages.
	wq.Add("_pragma", "cache_size(-32768)")
	// Savepoints (one per ticket in a batch) journal in memory, not in a
	// temporary file.
	wq.Add("_pragma", "temp_store(MEMORY)")
	// The checkpointer below keeps the log short from its own connection;
	// the writer checkpoints only if it falls far behind.
	wq.Add("_pragma", fmt.Sprintf("wal_autocheckpoint(%d)", fallbackCheckpointPages))
	wq.Set("_txlock", "immediate")
	write, err := sql.Open("sqlite", path+"?"+wq.Encode())
	if err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	write.SetMaxOpenConns(1)
	write.SetMaxIdleConns(1)
	write.SetConnMaxLifetime(0)
	write.SetConnMaxIdleTime(0)
	if err := pingWhileBusy(ctx, write); err != nil {
		_ = write.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	if err := migrate(ctx, write, ms); err != nil {
		_ = write.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}

	rq := url.Values{}
	for k, v := range common {
		rq[k] = append([]string(nil), v...)
	}
	rq.Add("_pragma", "query_only(1)")
	read, err := sql.Open("sqlite", path+"?"+rq.Encode())
	if err != nil {
		_ = write.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	n := max(4, runtime.GOMAXPROCS(0))
	read.SetMaxOpenConns(n)
	read.SetMaxIdleConns(n)
	st := &Store{write: write, read: read}
	if err := st.prepareHot(ctx); err != nil {
		read.Close()
		write.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	ckdb, err := sql.Open("sqlite", path+"?"+common.Encode())
	if err != nil {
		read.Close()
		write.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	st.ckpt = startCheckpointer(ckdb, path+"-wal")
	return st, nil
}

// migrate applies the migrations the database lacks, in one BEGIN
// IMMEDIATE transaction, so two processes opening a new file at once
// apply each migration once.
func migrate(ctx context.Context, db *sql.DB, ms []string) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version INTEGER PRIMARY KEY,
		applied INTEGER NOT NULL
	) STRICT`); err != nil {
		return fmt.Errorf("migrate: create schema_migrations: %w", err)
	}
	var version int
	if err := tx.QueryRowContext(ctx, `SELECT coalesce(max(version), 0) FROM schema_migrations`).Scan(&version); err != nil {
		return fmt.Errorf("migrate: read version: %w", err)
	}
	if version > len(ms) {
		return fmt.Errorf("migrate: database schema version %d is newer than this program's %d", version, len(ms))
	}
	for i := version; i < len(ms); i++ {
		if _, err := tx.ExecContext(ctx, ms[i]); err != nil {
			return fmt.Errorf("migrate: version %d: %w", i+1, err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, applied) VALUES (?, ?)`,
			i+1, micros(time.Now())); err != nil {
			return fmt.Errorf("migrate: record version %d: %w", i+1, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("migrate: commit: %w", err)
	}
	return nil
}

// Close closes the database. Calling it again does nothing and returns
// the first call's result.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		s.closeErr = errors.Join(s.ckpt.close(), s.read.Close(), s.write.Close())
		if s.closeErr != nil {
			s.closeErr = fmt.Errorf("sqlite: close: %w", s.closeErr)
		}
	})
	return s.closeErr
}

// pingWhileBusy connects, retrying while the database is busy for up to
// BusyTimeout. Switching a new database to WAL takes an exclusive lock,
// and SQLite reports a concurrent first open's switch as busy at once
// instead of waiting in the busy handler.
func pingWhileBusy(ctx context.Context, db *sql.DB) error {
	deadline := time.Now().Add(BusyTimeout)
	for {
		err := db.PingContext(ctx)
		var se *sqlite.Error
		if err == nil || !errors.As(err, &se) || se.Code()&0xff != sqlite3.SQLITE_BUSY || time.Now().After(deadline) {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// isUnique reports whether err is a violated UNIQUE or PRIMARY KEY
// constraint.
func isUnique(err error) bool {
	var se *sqlite.Error
	if !errors.As(err, &se) {
		return false
	}
	return se.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE || se.Code() == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY
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
// Ingest: a record whose ticket or event is stored already gets
// ErrDuplicate, one that fails gets its error, and neither affects the
// others (each record has its own savepoint). If the transaction cannot
// commit, every record not already refused gets that error. Records are
// written back only when stored. One commit for many tickets is what lets
// a busy source keep up.
func (s *Store) IngestBatch(ctx context.Context, recs []*store.Record) []error {
	b := store.PrepareBatch("sqlite", recs, time.Now())
	if !b.Pending() {
		return b.Errs
	}
	// First without a savepoint per record (two statements each, a fifth
	// of the writer's time): a record refused before it wrote anything
	// (a stored ticket) needs none. Only when one fails halfway (a key
	// repeated within a ticket) is the batch written again with them.
	refused := slices.Clone(b.Errs)
	if errs, ok := s.ingestBatch(ctx, b, false); ok {
		return errs
	}
	copy(b.Errs, refused)
	errs, _ := s.ingestBatch(ctx, b, true)
	return errs
}

// ingestBatch writes b's records in one transaction, each in a savepoint
// of its own when savepoints is set. Without them, it gives up (false)
// when a record fails after writing part of itself.
func (s *Store) ingestBatch(ctx context.Context, b *store.Batch, savepoints bool) ([]error, bool) {
	fail := func(err error) ([]error, bool) { return b.Fail(err), true }
	tx, ctx, err := s.begin(ctx)
	if err != nil {
		return fail(fmt.Errorf("begin: %w", err))
	}
	defer func() { _ = tx.Rollback() }()
	insTicket, err := s.stmt(ctx, tx, insertTicketSQL)
	if err != nil {
		return fail(err)
	}
	insAction, err := s.stmt(ctx, tx, insertActionSQL)
	if err != nil {
		return fail(err)
	}
	for i := range b.Works {
		if b.Errs[i] != nil {
			continue
		}
		if savepoints {
			if _, err := tx.ExecContext(ctx, "SAVEPOINT rec"); err != nil {
				return fail(err)
			}
		}
		var wrote bool
		wrote, b.Errs[i] = s.insert(ctx, insTicket, insAction, &b.Works[i], b.Rows[i])
		if !savepoints {
			if b.Errs[i] != nil && wrote {
				return nil, false
			}
			continue
		}
		if b.Errs[i] != nil {
			if _, err := tx.ExecContext(ctx, "ROLLBACK TO rec"); err != nil {
				return fail(err)
			}
		}
		if _, err := tx.ExecContext(ctx, "RELEASE rec"); err != nil {
			return fail(err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fail(fmt.Errorf("commit: %w", err))
	}
	return b.Done(), true
}

// insert writes one prepared record's ticket and actions. On failure,
// wrote tells whether it had written part of the record.
func (s *Store) insert(ctx context.Context, insTicket, insAction *sql.Stmt, work *store.Record, r store.Row) (wrote bool, err error) {
	t := &work.Ticket
	res, err := insTicket.ExecContext(ctx,
		t.ID, store.NullString(work.EventID), t.Source, t.Channel, t.From, t.Subject, store.NullString(t.MessageID),
		work.Category, encodeCodes(work.Codes), string(r.TicketJSON),
		store.NullString(string(r.Annotation)), string(r.RulesJSON), micros(work.Received), r.Search)
	if err != nil {
		return true, fmt.Errorf("sqlite: ingest %q: insert ticket: %w", t.ID, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return true, fmt.Errorf("sqlite: ingest %q: insert ticket: %w", t.ID, err)
	} else if n == 0 {
		return false, fmt.Errorf("sqlite: ingest %q (event %q): %w", t.ID, work.EventID, store.ErrDuplicate)
	}
	for i := range work.Actions {
		a := &work.Actions[i]
		worker, until := store.ClaimColumns(work, a)
		if u, ok := until.(time.Time); ok {
			until = micros(u)
		}
		// Exec and the connection's last rowid, not RETURNING: no result
		// set to build and scan per action.
		res, err := insAction.ExecContext(ctx,
			a.TicketID, a.Kind, a.Target, a.Rule, nullBytes(a.Payload), store.NullString(a.Key), string(a.State),
			a.Attempts, micros(a.NextAttempt), a.LastError, micros(a.Created), micros(a.Updated), worker, until)
		if err == nil {
			a.ID, err = res.LastInsertId()
		}
		if isUnique(err) {
			return true, fmt.Errorf("sqlite: ingest %q: action key %q: %w", t.ID, a.Key, store.ErrDuplicate)
		}
		if err != nil {
			return true, fmt.Errorf("sqlite: ingest %q: insert action %d: %w", t.ID, i, err)
		}
	}
	return false, nil
}

// hotStatements are prepared once at Open.
func hotStatements() []string {
	return []string{insertTicketSQL, insertActionSQL, claimSQL,
		finishSQL(completeSet), finishSQL(retrySet), finishSQL(failSet), finishSQL(releaseSet)}
}

const (
	insertTicketSQL = `INSERT INTO tickets
		(id, event_id, source, channel, from_addr, subject, message_id, category, codes,
		 ticket, annotation, rules, received, search)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT DO NOTHING`
	insertActionSQL = `INSERT INTO actions
			(ticket_id, kind, target, rule, payload, key, state, attempts, next_attempt, last_error, created, updated,
			claimed_by, claim_until)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`
)

func nullBytes(b []byte) any {
	if len(b) == 0 {
		return nil
	}
	return b
}

const ticketColumns = `id, event_id, category, codes, ticket, annotation, rules, received`

// scanner is *sql.Row or *sql.Rows.
type scanner interface{ Scan(dest ...any) error }

func scanTicket(sc scanner) (store.Record, error) {
	var (
		rec                          store.Record
		id, codes, ticketJSON, rules string
		eventID                      sql.NullString
		annotation                   []byte
		received                     int64
	)
	if err := sc.Scan(&id, &eventID, &rec.Category, &codes, &ticketJSON, &annotation, &rules, &received); err != nil {
		return rec, err
	}
	rec.EventID = eventID.String
	rec.Received = fromMicros(received)
	var err error
	if rec.Codes, err = decodeCodes(codes); err != nil {
		return rec, err
	}
	if err := store.DecodeRow(&rec, []byte(ticketJSON), []byte(rules), annotation); err != nil {
		return rec, fmt.Errorf("ticket %q: %w", id, err)
	}
	return rec, nil
}

// Ticket returns the ticket with its actions in the order they were
// planned, or store.ErrNotFound.
func (s *Store) Ticket(ctx context.Context, id string) (*store.Record, error) {
	tx, err := s.read.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, fmt.Errorf("sqlite: ticket %q: begin: %w", id, err)
	}
	defer func() { _ = tx.Rollback() }()
	rec, err := scanTicket(tx.QueryRowContext(ctx, `SELECT `+ticketColumns+` FROM tickets WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("sqlite: ticket %q: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: ticket %q: %w", id, err)
	}
	rows, err := tx.QueryContext(ctx, `SELECT `+actionColumns+` FROM actions WHERE ticket_id = ? ORDER BY id`, id)
	if err != nil {
		return nil, fmt.Errorf("sqlite: ticket %q: actions: %w", id, err)
	}
	if rec.Actions, err = scanActions(rows); err != nil {
		return nil, fmt.Errorf("sqlite: ticket %q: actions: %w", id, err)
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
	if q.Before != "" {
		var received int64
		err := s.read.QueryRowContext(ctx, `SELECT received FROM tickets WHERE id = ?`, q.Before).Scan(&received)
		if errors.Is(err, sql.ErrNoRows) {
			return nil, fmt.Errorf("sqlite: tickets before %q: %w", q.Before, store.ErrNotFound)
		}
		if err != nil {
			return nil, fmt.Errorf("sqlite: tickets before %q: %w", q.Before, err)
		}
		where = append(where, `(received, id) < (?, ?)`)
		args = append(args, received, q.Before)
	}
	if q.Code != 0 {
		where = append(where, `instr(codes, ?) > 0`)
		args = append(args, fmt.Sprintf(",%d,", q.Code))
	}
	if q.Category != "" {
		where = append(where, `category = ?`)
		args = append(args, q.Category)
	}
	if q.Text != "" {
		where = append(where, `instr(search, ?) > 0`)
		args = append(args, strings.ToLower(q.Text))
	}
	if !q.Since.IsZero() {
		where = append(where, `received >= ?`)
		args = append(args, micros(q.Since))
	}
	query := `SELECT ` + ticketColumns + ` FROM tickets`
	if len(where) > 0 {
		query += ` WHERE ` + strings.Join(where, ` AND `)
	}
	query += ` ORDER BY received DESC, id DESC LIMIT ?`
	args = append(args, store.QueryLimit(q.Limit))

	rows, err := s.read.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("sqlite: tickets: %w", err)
	}
	defer func() { _ = rows.Close() }()
	var out []store.Record
	for rows.Next() {
		rec, err := scanTicket(rows)
		if err != nil {
			return nil, fmt.Errorf("sqlite: tickets: %w", err)
		}
		out = append(out, rec)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: tickets: %w", err)
	}
	return out, nil
}

// HasMessageID reports whether a ticket from channel with this Message-ID
// is stored. An empty messageID is never found.
func (s *Store) HasMessageID(ctx context.Context, channel, messageID string) (bool, error) {
	if messageID == "" {
		return false, nil
	}
	var one int
	err := s.read.QueryRowContext(ctx, `SELECT 1 FROM tickets WHERE channel = ? AND message_id = ? LIMIT 1`,
		channel, messageID).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("sqlite: has message-id %q in %q: %w", messageID, channel, err)
	}
	return true, nil
}

// Cursor returns the source's saved position, "" when none.
func (s *Store) Cursor(ctx context.Context, source string) (string, error) {
	var v string
	err := s.read.QueryRowContext(ctx, `SELECT value FROM cursors WHERE source = ?`, source).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("sqlite: cursor %q: %w", source, err)
	}
	return v, nil
}

// SetCursor saves the source's position, replacing any earlier one.
func (s *Store) SetCursor(ctx context.Context, source, value string) error {
	_, err := s.write.ExecContext(ctx, `INSERT INTO cursors (source, value, updated) VALUES (?, ?, ?)
		ON CONFLICT (source) DO UPDATE SET value = excluded.value, updated = excluded.updated`,
		source, value, micros(time.Now()))
	if err != nil {
		return fmt.Errorf("sqlite: set cursor %q: %w", source, err)
	}
	return nil
}

// AcquireLease takes the lease when it is free, expired (until ≤ now) or
// already held by holder, and then holds it until now+ttl. It returns
// false, changing nothing, while another holder's lease runs.
func (s *Store) AcquireLease(ctx context.Context, name, holder string, now time.Time, ttl time.Duration) (bool, error) {
	res, err := s.write.ExecContext(ctx, `INSERT INTO leases (name, holder, until) VALUES (?, ?, ?)
		ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, until = excluded.until
		WHERE leases.holder = excluded.holder OR leases.until <= ?`,
		name, holder, micros(now.Add(ttl)), micros(now))
	if err != nil {
		return false, fmt.Errorf("sqlite: acquire lease %q for %q: %w", name, holder, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("sqlite: acquire lease %q for %q: %w", name, holder, err)
	}
	return n == 1, nil
}

// ReleaseLease gives up the lease if holder has it; otherwise it does
// nothing.
func (s *Store) ReleaseLease(ctx context.Context, name, holder string) error {
	if _, err := s.write.ExecContext(ctx, `DELETE FROM leases WHERE name = ? AND holder = ?`, name, holder); err != nil {
		return fmt.Errorf("sqlite: release lease %q for %q: %w", name, holder, err)
	}
	return nil
}
