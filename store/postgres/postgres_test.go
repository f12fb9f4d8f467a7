package postgres

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/triage-bot/triage/store"
	"github.com/triage-bot/triage/store/postgres/pgtest"
	"github.com/triage-bot/triage/store/storetest"
	"github.com/triage-bot/triage/ticket"
)

func openDSN(t *testing.T, dsn string) *Store {
	t.Helper()
	s, err := Open(context.Background(), dsn)
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func TestConformance(t *testing.T) {
	pgtest.DSN(t)
	storetest.Run(t, func(t *testing.T) store.Store {
		return openDSN(t, pgtest.Schema(t))
	})
}

func TestConformanceShared(t *testing.T) {
	pgtest.DSN(t)
	storetest.RunShared(t, func(t *testing.T, n int) []store.Store {
		dsn := pgtest.Schema(t)
		var out []store.Store
		for range n {
			out = append(out, openDSN(t, dsn))
		}
		return out
	})
}

func versions(t *testing.T, s *Store) []int {
	t.Helper()
	rows, err := s.pool.Query(context.Background(), `SELECT version FROM schema_migrations ORDER BY version`)
	require.NoError(t, err)
	defer rows.Close()
	var out []int
	for rows.Next() {
		var v int
		require.NoError(t, rows.Scan(&v))
		out = append(out, v)
	}
	require.NoError(t, rows.Err())
	return out
}

func TestMigrations(t *testing.T) {
	pgtest.DSN(t)
	ctx := context.Background()
	all := make([]int, len(migrations))
	for i := range all {
		all[i] = i + 1
	}
	require.GreaterOrEqual(t, len(migrations), 2, "the upgrade test needs an old version")

	t.Run("open twice", func(t *testing.T) {
		dsn := pgtest.Schema(t)
		s := openDSN(t, dsn)
		require.NoError(t, s.SetCursor(ctx, "imap:x", "7"))
		require.NoError(t, s.Close())
		s = openDSN(t, dsn)
		assert.Equal(t, all, versions(t, s))
		v, err := s.Cursor(ctx, "imap:x")
		require.NoError(t, err)
		assert.Equal(t, "7", v)
	})

	t.Run("upgrade from version 1", func(t *testing.T) {
		dsn := pgtest.Schema(t)
		old, err := open(ctx, dsn, migrations[:1])
		require.NoError(t, err)
		assert.Equal(t, []int{1}, versions(t, old))
		rec := &store.Record{
			Ticket:   ticket.Ticket{ID: "t1", Source: "email", Parts: []ticket.Part{{Kind: ticket.KindBody, Text: "ERR_NGROK_108"}}},
			Codes:    []int{108},
			Received: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC),
			Actions:  []ticket.Action{{Kind: ticket.KindWebhook, Key: "k1"}},
		}
		require.NoError(t, old.Ingest(ctx, rec))
		require.NoError(t, old.Close())

		s := openDSN(t, dsn)
		assert.Equal(t, all, versions(t, s))
		got, err := s.Ticket(ctx, "t1")
		require.NoError(t, err, "data survives the upgrade")
		assert.Equal(t, rec.Ticket, got.Ticket)
		require.NoError(t, s.SetCursor(ctx, "x", "1"), "version 2 tables exist")
	})

	t.Run("upgrade from version 3: held-back replies become suppressed", func(t *testing.T) {
		dsn := pgtest.Schema(t)
		old, err := open(ctx, dsn, migrations[:3])
		require.NoError(t, err)
		rec := &store.Record{
			Ticket:   ticket.Ticket{ID: "t1", Source: "email"},
			Received: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC),
			Actions: []ticket.Action{{Kind: ticket.KindEmailReply, Key: "r1"}, {Kind: ticket.KindEmailReply, Key: "r2"},
				{Kind: ticket.KindWebhook, Key: "w1"}},
		}
		require.NoError(t, old.Ingest(ctx, rec))
		_, err = old.pool.Exec(ctx, `UPDATE actions SET state = 'failed', last_error = CASE key
			WHEN 'r1' THEN 'suppressed: the sender is a robot' ELSE 'suppressed: not really' END`)
		require.NoError(t, err)
		_, err = old.pool.Exec(ctx, `UPDATE actions SET last_error = '550 no such user' WHERE key = 'r2'`)
		require.NoError(t, err)
		require.NoError(t, old.Close())

		s := openDSN(t, dsn)
		assert.Equal(t, all, versions(t, s))
		got, err := s.Ticket(ctx, "t1")
		require.NoError(t, err)
		require.Len(t, got.Actions, 3)
		assert.Equal(t, ticket.StateSuppressed, got.Actions[0].State, "a held-back reply")
		assert.Equal(t, ticket.StateFailed, got.Actions[1].State, "a reply that failed")
		assert.Equal(t, ticket.StateFailed, got.Actions[2].State, "not a reply")
	})

	t.Run("newer database refused", func(t *testing.T) {
		dsn := pgtest.Schema(t)
		s := openDSN(t, dsn)
		_, err := s.pool.Exec(ctx, `INSERT INTO schema_migrations (version, applied) VALUES ($1, now())`, len(migrations)+1)
		require.NoError(t, err)
		_, err = Open(ctx, dsn)
		assert.ErrorContains(t, err, "newer")
	})

	t.Run("failed migration changes nothing", func(t *testing.T) {
		dsn := pgtest.Schema(t)
		bad := append(append([]string(nil), migrations...), `CREATE TABLE extra (x integer); SELECT nonsense FROM nowhere;`)
		_, err := open(ctx, dsn, bad)
		require.Error(t, err)
		s := openDSN(t, dsn)
		assert.Equal(t, all, versions(t, s))
		var n int
		require.NoError(t, s.pool.QueryRow(ctx, `SELECT count(*) FROM pg_tables WHERE schemaname = current_schema() AND tablename = 'extra'`).Scan(&n))
		assert.Zero(t, n)
	})

	t.Run("replicas migrate at once", func(t *testing.T) {
		dsn := pgtest.Schema(t)
		var wg sync.WaitGroup
		errs := make([]error, 6)
		for i := range errs {
			wg.Go(func() {
				s, err := Open(ctx, dsn)
				if err == nil {
					err = s.Close()
				}
				errs[i] = err
			})
		}
		wg.Wait()
		for i, err := range errs {
			assert.NoError(t, err, "replica %d", i)
		}
		s := openDSN(t, dsn)
		assert.Equal(t, all, versions(t, s))
	})
}

func TestOpenBadDSN(t *testing.T) {
	_, err := Open(context.Background(), "postgres://user:secret@127.0.0.1:1/x?sslmode=disable&connect_timeout=1&pool_max_conns=nope")
	require.Error(t, err)
	assert.NotContains(t, err.Error(), "secret", "the DSN's password is not echoed")
}

// TestUnreadableText stores text PostgreSQL's text columns refuse (NUL
// bytes) and reads it back intact from the JSON columns.
func TestUnreadableText(t *testing.T) {
	s := openDSN(t, pgtest.Schema(t))
	ctx := context.Background()
	rec := &store.Record{
		Ticket: ticket.Ticket{ID: "t1", Source: "email", From: "a\x00b@example.com", Subject: "nul\x00here",
			Parts: []ticket.Part{{Kind: ticket.KindAttachment, Name: "x.bin", Text: "ERR_NGROK_108\x00\x01"}}},
		Received: time.Now(),
	}
	require.NoError(t, s.Ingest(ctx, rec))
	got, err := s.Ticket(ctx, "t1")
	require.NoError(t, err)
	assert.Equal(t, rec.Ticket, got.Ticket)
	list, err := s.Tickets(ctx, store.TicketQuery{Text: "err_ngrok_108"})
	require.NoError(t, err)
	assert.Len(t, list, 1)
}

func ExampleOpen() {
	ctx := context.Background()
	s, err := Open(ctx, "postgres://triage@db.internal:5432/triage?sslmode=verify-full")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer func() { _ = s.Close() }()
}

// TestBatchedIngestFindsDuplicates checks that the batched write path
// itself (not the record-by-record path it falls back to) refuses each
// kind of duplicate for its record alone and sets the action IDs of the
// records it stores in their order.
func TestBatchedIngestFindsDuplicates(t *testing.T) {
	s := openDSN(t, pgtest.Schema(t))
	ctx := context.Background()
	rec := func(id, event string, keys ...string) *store.Record {
		r := &store.Record{EventID: event, Ticket: ticket.Ticket{ID: id, Source: "maildir", Channel: "inbox", From: "a@example.com"}, Codes: []int{108, 3200}}
		for _, k := range keys {
			r.Actions = append(r.Actions, ticket.Action{Kind: "jsonl", Target: "t", Rule: "r", Key: k, Payload: []byte(`{}`)})
		}
		return r
	}
	require.NoError(t, s.Ingest(ctx, rec("stored", "ev-stored", "k1")))

	tests := []struct {
		rec *store.Record
		dup bool
	}{
		{rec("new-1", "ev-1", "k1", "k2", ""), false},
		{rec("stored", "ev-other", "k1"), true},    // the ID is stored
		{rec("new-2", "ev-stored", "k1"), true},    // the event ID is stored
		{rec("new-3", "", "k1", "k2", "k1"), true}, // a repeated key
		{rec("new-1", "ev-4", "k9"), true},         // earlier in the batch
		{rec("new-5", "", "k1", "", ""), false},
	}
	recs := make([]*store.Record, len(tests))
	for i, tt := range tests {
		recs[i] = tt.rec
	}
	errs, ok := s.ingestBatched(ctx, store.PrepareBatch("postgres", recs, time.Now()))
	require.True(t, ok, "the batched path wrote the batch itself")
	require.Len(t, errs, len(tests))
	for i, tt := range tests {
		if tt.dup {
			assert.ErrorIs(t, errs[i], store.ErrDuplicate, "record %d", i)
			continue
		}
		require.NoError(t, errs[i], "record %d", i)
		got, err := s.Ticket(ctx, tt.rec.Ticket.ID)
		require.NoError(t, err)
		require.Len(t, got.Actions, len(tt.rec.Actions))
		for j, a := range got.Actions {
			assert.Equal(t, a.ID, tt.rec.Actions[j].ID, "record %d action %d: the ID written back is the stored one", i, j)
			assert.Equal(t, tt.rec.Actions[j].Key, a.Key)
		}
		assert.Equal(t, []int{108, 3200}, got.Codes)
	}
	_, err := s.Ticket(ctx, "new-3")
	assert.ErrorIs(t, err, store.ErrNotFound, "a record with a repeated key leaves nothing")
	got, err := s.Ticket(ctx, "stored")
	require.NoError(t, err)
	assert.Equal(t, "ev-stored", got.EventID, "the stored ticket is untouched")
}
