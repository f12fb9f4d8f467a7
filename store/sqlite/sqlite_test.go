package sqlite

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/triage-bot/triage/store"
	"github.com/triage-bot/triage/store/storetest"
	"github.com/triage-bot/triage/ticket"
)

func openTemp(t *testing.T, path string) *Store {
	t.Helper()
	s, err := Open(context.Background(), path)
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		return openTemp(t, filepath.Join(t.TempDir(), "triage.db"))
	})
}

func TestConformanceShared(t *testing.T) {
	storetest.RunShared(t, func(t *testing.T, n int) []store.Store {
		path := filepath.Join(t.TempDir(), "triage.db")
		var out []store.Store
		for range n {
			out = append(out, openTemp(t, path))
		}
		return out
	})
}

func TestOpenCreatesDirectory(t *testing.T) {
	path := filepath.Join(t.TempDir(), "a", "b", "triage.db")
	s := openTemp(t, path)
	require.NoError(t, s.SetCursor(context.Background(), "x", "1"))
	assert.FileExists(t, path)

	var mode string
	require.NoError(t, s.write.QueryRow(`PRAGMA journal_mode`).Scan(&mode))
	assert.Equal(t, "wal", mode)
	var fk int
	require.NoError(t, s.write.QueryRow(`PRAGMA foreign_keys`).Scan(&fk))
	assert.Equal(t, 1, fk)
	require.NoError(t, s.read.QueryRow(`PRAGMA foreign_keys`).Scan(&fk))
	assert.Equal(t, 1, fk)
	var busy int
	require.NoError(t, s.write.QueryRow(`PRAGMA busy_timeout`).Scan(&busy))
	assert.Equal(t, int(BusyTimeout.Milliseconds()), busy)
}

func TestOpenErrors(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name string
		path string
	}{
		{"empty path", ""},
		{"query in path", filepath.Join(dir, "x.db?mode=ro")},
		{"directory", dir},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := Open(context.Background(), tt.path)
			if err == nil {
				_ = s.Close()
			}
			assert.Error(t, err)
		})
	}
}

func versions(t *testing.T, db *sql.DB) []int {
	t.Helper()
	rows, err := db.Query(`SELECT version FROM schema_migrations ORDER BY version`)
	require.NoError(t, err)
	defer func() { _ = rows.Close() }()
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
	ctx := context.Background()
	all := make([]int, len(migrations))
	for i := range all {
		all[i] = i + 1
	}
	require.GreaterOrEqual(t, len(migrations), 2, "the upgrade test needs an old version")

	t.Run("open twice", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "triage.db")
		s := openTemp(t, path)
		require.NoError(t, s.SetCursor(ctx, "imap:x", "7"))
		require.NoError(t, s.Close())
		s = openTemp(t, path)
		assert.Equal(t, all, versions(t, s.write), "each migration recorded once")
		v, err := s.Cursor(ctx, "imap:x")
		require.NoError(t, err)
		assert.Equal(t, "7", v)
	})

	t.Run("upgrade from version 1", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "triage.db")
		old, err := open(ctx, path, migrations[:1])
		require.NoError(t, err)
		assert.Equal(t, []int{1}, versions(t, old.write))
		_, err = old.Cursor(ctx, "x")
		require.Error(t, err, "version 1 has no cursors table")
		rec := &store.Record{
			Ticket:   ticket.Ticket{ID: "t1", Source: "email", Parts: []ticket.Part{{Kind: ticket.KindBody, Text: "ERR_NGROK_108"}}},
			Codes:    []int{108},
			Received: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC),
			Actions:  []ticket.Action{{Kind: ticket.KindWebhook, Key: "k1"}},
		}
		require.NoError(t, old.Ingest(ctx, rec))
		require.NoError(t, old.Close())

		s := openTemp(t, path)
		assert.Equal(t, all, versions(t, s.write))
		got, err := s.Ticket(ctx, "t1")
		require.NoError(t, err, "data survives the upgrade")
		assert.Equal(t, rec.Ticket, got.Ticket)
		require.Len(t, got.Actions, 1)
		require.NoError(t, s.SetCursor(ctx, "x", "1"), "version 2 tables exist")
	})

	t.Run("upgrade from version 3: held-back replies become suppressed", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "triage.db")
		old, err := open(ctx, path, migrations[:3])
		require.NoError(t, err)
		rec := &store.Record{
			Ticket:   ticket.Ticket{ID: "t1", Source: "email"},
			Received: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC),
			Actions: []ticket.Action{{Kind: ticket.KindEmailReply, Key: "r1"}, {Kind: ticket.KindEmailReply, Key: "r2"},
				{Kind: ticket.KindWebhook, Key: "w1"}},
		}
		require.NoError(t, old.Ingest(ctx, rec))
		_, err = old.write.Exec(`UPDATE actions SET state = 'failed', last_error = CASE key
			WHEN 'r2' THEN '550 no such user' ELSE 'suppressed: the sender is a robot' END`)
		require.NoError(t, err)
		_, err = old.write.Exec(`UPDATE sqlite_sequence SET seq = 100 WHERE name = 'actions'`)
		require.NoError(t, err)
		require.NoError(t, old.Close())

		s := openTemp(t, path)
		assert.Equal(t, all, versions(t, s.write))
		got, err := s.Ticket(ctx, "t1")
		require.NoError(t, err)
		require.Len(t, got.Actions, 3)
		assert.Equal(t, ticket.StateSuppressed, got.Actions[0].State, "a held-back reply")
		assert.Equal(t, ticket.StateFailed, got.Actions[1].State, "a reply that failed")
		assert.Equal(t, ticket.StateFailed, got.Actions[2].State, "not a reply")
		next := &store.Record{Ticket: ticket.Ticket{ID: "t2", Source: "email"}, Received: rec.Received,
			Actions: []ticket.Action{{Kind: ticket.KindWebhook, Key: "k1"}}}
		require.NoError(t, s.Ingest(ctx, next))
		assert.Equal(t, int64(101), next.Actions[0].ID, "the sequence survives the rebuild")
	})

	t.Run("upgrade from version 2 rebuilds actions", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "triage.db")
		old, err := open(ctx, path, migrations[:2])
		require.NoError(t, err)
		rec := &store.Record{
			Ticket:   ticket.Ticket{ID: "t1", Source: "email"},
			Received: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC),
			Actions: []ticket.Action{
				{Kind: ticket.KindWebhook, Target: "https://desk.example/hook", Key: "k1", Payload: []byte(`{"a":1}`)},
				{Kind: ticket.KindJSONL, Target: "log.jsonl", Key: "k2", State: ticket.StateShadow},
			},
		}
		require.NoError(t, old.Ingest(ctx, rec))
		// IDs are never reused, even those of rows gone before the upgrade.
		_, err = old.write.Exec(`UPDATE sqlite_sequence SET seq = 100 WHERE name = 'actions'`)
		require.NoError(t, err)
		require.NoError(t, old.Close())

		s := openTemp(t, path)
		assert.Equal(t, all, versions(t, s.write))
		got, err := s.Ticket(ctx, "t1")
		require.NoError(t, err)
		require.Len(t, got.Actions, 2)
		for i, a := range got.Actions {
			want := rec.Actions[i]
			assert.Equal(t, want.ID, a.ID)
			assert.Equal(t, want.Key, a.Key)
			assert.Equal(t, want.State, a.State)
			assert.Equal(t, want.Payload, a.Payload)
			assert.Equal(t, want.Created, a.Created)
		}

		next := &store.Record{Ticket: ticket.Ticket{ID: "t2", Source: "email"}, Received: rec.Received,
			Actions: []ticket.Action{{Kind: ticket.KindWebhook, Key: "k1"}}}
		require.NoError(t, s.Ingest(ctx, next), "another ticket may use the same key")
		assert.Equal(t, int64(101), next.Actions[0].ID, "the sequence survives the rebuild")
		twice := &store.Record{Ticket: ticket.Ticket{ID: "t3", Source: "email"}, Received: rec.Received,
			Actions: []ticket.Action{{Kind: ticket.KindWebhook, Key: "k"}, {Kind: ticket.KindJSONL, Key: "k"}}}
		assert.ErrorIs(t, s.Ingest(ctx, twice), store.ErrDuplicate)

		var indexes []string
		rows, err := s.write.Query(`SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'actions' ORDER BY name`)
		require.NoError(t, err)
		defer rows.Close()
		for rows.Next() {
			var n string
			require.NoError(t, rows.Scan(&n))
			indexes = append(indexes, n)
		}
		require.NoError(t, rows.Err())
		assert.Equal(t, []string{"actions_claim", "actions_due", "actions_ticket_key"}, indexes)
	})

	t.Run("newer database refused", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "triage.db")
		s := openTemp(t, path)
		_, err := s.write.Exec(`INSERT INTO schema_migrations (version, applied) VALUES (?, 0)`, len(migrations)+1)
		require.NoError(t, err)
		require.NoError(t, s.Close())
		_, err = Open(ctx, path)
		assert.ErrorContains(t, err, "newer")
	})

	t.Run("failed migration changes nothing", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "triage.db")
		bad := append(append([]string(nil), migrations...), `CREATE TABLE extra (x INTEGER); SELECT nonsense FROM nowhere;`)
		_, err := open(ctx, path, bad)
		require.Error(t, err)
		s := openTemp(t, path)
		assert.Equal(t, all, versions(t, s.write))
		var n int
		require.NoError(t, s.write.QueryRow(`SELECT count(*) FROM sqlite_master WHERE name = 'extra'`).Scan(&n))
		assert.Zero(t, n, "the failed migration's statements rolled back")
	})

	t.Run("concurrent first open", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "triage.db")
		errs := make(chan error, 4)
		for range 4 {
			go func() {
				s, err := Open(ctx, path)
				if err == nil {
					err = s.Close()
				}
				errs <- err
			}()
		}
		for range 4 {
			assert.NoError(t, <-errs)
		}
		s := openTemp(t, path)
		assert.Equal(t, all, versions(t, s.write))
	})
}

// TestTwoHandlesClaimAndIngest has two handles on one file ingest and
// claim at the same time, as two processes would.
func TestTwoHandlesClaimAndIngest(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "triage.db")
	a, b := openTemp(t, path), openTemp(t, path)
	done := make(chan error, 2)
	for i, s := range []*Store{a, b} {
		go func() {
			for j := range 50 {
				id := fmt.Sprintf("h%d-t%d", i, j)
				rec := &store.Record{
					Ticket:  ticket.Ticket{ID: id, Source: "email"},
					Actions: []ticket.Action{{Kind: ticket.KindWebhook, Key: id}},
				}
				if err := s.Ingest(ctx, rec); err != nil {
					done <- err
					return
				}
			}
			done <- nil
		}()
	}
	claimed := map[int64]int{}
	deadline := time.Now().Add(30 * time.Second)
	for len(claimed) < 100 && time.Now().Before(deadline) {
		for _, s := range []*Store{a, b} {
			got, err := s.Claim(ctx, "w", time.Now(), time.Hour, 3, 0)
			require.NoError(t, err)
			for _, act := range got {
				claimed[act.ID]++
			}
		}
	}
	require.NoError(t, <-done)
	require.NoError(t, <-done)
	assert.Len(t, claimed, 100)
	for id, n := range claimed {
		assert.Equal(t, 1, n, "action %d", id)
	}
}

// helperDBEnv names the database a helper process claims from.
const helperDBEnv = "TRIAGE_SQLITE_CLAIM_HELPER_DB"

// TestClaimHelperProcess is not a test: TestTwoProcessesClaim runs the
// test binary again with helperDBEnv set, and this claims from that
// database until nothing is due, printing each claimed action's ID.
func TestClaimHelperProcess(t *testing.T) {
	path := os.Getenv(helperDBEnv)
	if path == "" {
		t.Skip("helper process for TestTwoProcessesClaim")
	}
	ctx := context.Background()
	s, err := Open(ctx, path)
	require.NoError(t, err)
	defer func() { _ = s.Close() }()
	worker := fmt.Sprintf("pid-%d", os.Getpid())
	for {
		got, err := s.Claim(ctx, worker, time.Now(), time.Hour, 5, 0)
		require.NoError(t, err)
		if len(got) == 0 {
			return
		}
		for _, a := range got {
			fmt.Printf("claimed %d\n", a.ID)
		}
	}
}

// TestTwoProcessesClaim has this process and two child processes claim
// from one file at once: every action is claimed exactly once.
func TestTwoProcessesClaim(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "triage.db")
	s := openTemp(t, path)
	const n = 600
	for i := range n / 10 {
		id := fmt.Sprintf("t%d", i)
		rec := &store.Record{Ticket: ticket.Ticket{ID: id, Source: "email"}, Received: time.Now().Add(-time.Minute)}
		for j := range 10 {
			rec.Actions = append(rec.Actions, ticket.Action{Kind: ticket.KindWebhook, Key: fmt.Sprintf("%s-%d", id, j)})
		}
		require.NoError(t, s.Ingest(ctx, rec))
	}

	var (
		outs [2]bytes.Buffer
		cmds [2]*exec.Cmd
	)
	for i := range cmds {
		cmds[i] = exec.CommandContext(ctx, os.Args[0], "-test.run=^TestClaimHelperProcess$", "-test.count=1")
		cmds[i].Env = append(os.Environ(), helperDBEnv+"="+path)
		cmds[i].Stdout = &outs[i]
		cmds[i].Stderr = &outs[i]
		require.NoError(t, cmds[i].Start())
	}
	claimed := map[int64]int{}
	for {
		got, err := s.Claim(ctx, "parent", time.Now(), time.Hour, 5, 0)
		require.NoError(t, err)
		if len(got) == 0 {
			break
		}
		for _, a := range got {
			claimed[a.ID]++
		}
	}
	for i, cmd := range cmds {
		require.NoError(t, cmd.Wait(), "helper %d:\n%s", i, outs[i].String())
		var mine int
		for line := range strings.Lines(outs[i].String()) {
			var id int64
			if _, err := fmt.Sscanf(line, "claimed %d", &id); err == nil {
				claimed[id]++
				mine++
			}
		}
		t.Logf("helper %d claimed %d actions", i, mine)
	}
	assert.Len(t, claimed, n, "every action claimed")
	for id, c := range claimed {
		assert.Equal(t, 1, c, "action %d claimed %d times", id, c)
	}
}

// TestCheckpointerKeepsTheLogShort writes several times the checkpoint
// threshold in small transactions: the background checkpointer, not the
// writer's far larger fallback, keeps the write-ahead log near the
// threshold, and everything stays readable.
func TestCheckpointerKeepsTheLogShort(t *testing.T) {
	path := filepath.Join(t.TempDir(), "t.db")
	s := openTemp(t, path)
	ctx := context.Background()
	body := strings.Repeat("a log line that a customer pasted into the mail\n", 400) // ~19 KiB
	largest := int64(0)
	const n = 2000 // ~40 MiB of tickets
	for i := range n {
		rec := &store.Record{Ticket: ticket.Ticket{ID: fmt.Sprintf("t%d", i), Source: "api",
			Parts: []ticket.Part{{Kind: ticket.KindBody, Text: body}}}}
		require.NoError(t, s.Ingest(ctx, rec))
		if i%100 == 0 {
			time.Sleep(2 * checkpointPoll) // let it notice, as a live writer's pauses would
		}
		if st, err := os.Stat(path + "-wal"); err == nil {
			largest = max(largest, st.Size())
		}
	}
	assert.Less(t, largest, int64(fallbackCheckpointPages*4096/2), "the log was checkpointed long before the writer's fallback")
	got, err := s.Ticket(ctx, fmt.Sprintf("t%d", n-1))
	require.NoError(t, err)
	assert.Equal(t, body, got.Ticket.Parts[0].Text)
}
