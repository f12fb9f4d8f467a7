package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/jackc/pgx/v5"

	"github.com/triage-bot/triage/internal/mailgen"
	"github.com/triage-bot/triage/store"
	"github.com/triage-bot/triage/store/postgres"
	"github.com/triage-bot/triage/store/postgres/pgtest"
	"github.com/triage-bot/triage/store/sqlite"
	"github.com/triage-bot/triage/ticket"
)

// TestMain lets the test binary stand in for the triage binary: with
// TRIAGE_TEST_CLI=1 it runs the CLI on its arguments, so crash tests can
// start, kill and restart real processes without a separate build.
func TestMain(m *testing.M) {
	if os.Getenv("TRIAGE_TEST_CLI") == "1" {
		main()
		return
	}
	os.Exit(m.Run())
}

// helpdesk is a webhook receiver that deduplicates on Idempotency-Key, as
// a helpdesk would, and counts raw deliveries too.
type helpdesk struct {
	mu      sync.Mutex
	byKey   map[string]int
	tickets map[string]bool
	raw     int
}

func newHelpdesk() *helpdesk {
	return &helpdesk{byKey: map[string]int{}, tickets: map[string]bool{}}
}

func (h *helpdesk) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	var p struct {
		Ticket struct {
			ID string `json:"id"`
		} `json:"ticket"`
	}
	_ = json.Unmarshal(body, &p)
	h.mu.Lock()
	h.raw++
	h.byKey[r.Header.Get("Idempotency-Key")]++
	h.tickets[p.Ticket.ID] = true
	h.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}

func (h *helpdesk) counts() (unique, raw, tickets int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.byKey), h.raw, len(h.tickets)
}

// startCLI starts the test binary as `triage args...`.
func startCLI(t *testing.T, logf string, args ...string) *exec.Cmd {
	t.Helper()
	exe, err := os.Executable()
	require.NoError(t, err)
	cmd := exec.Command(exe, args...)
	cmd.Env = append(os.Environ(), "TRIAGE_TEST_CLI=1")
	out, err := os.OpenFile(logf, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	require.NoError(t, err)
	t.Cleanup(func() { out.Close() })
	cmd.Stdout, cmd.Stderr = out, out
	require.NoError(t, cmd.Start())
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
	})
	return cmd
}

func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// crashWorkers is the outbox workers of a crash test's process.
const crashWorkers = 4

// maxRepeats is how many raw repeats kills may cause: a worker records
// each success before its next send, so a kill leaves at most one
// delivered action per worker unrecorded (its send in flight, or the
// record of its last success under way), and only those are sent again.
// A repeat caught unrecorded by the next kill counts among that kill's.
// Anything more is a repeat that no crash explains.
func maxRepeats(kills int) int { return kills * crashWorkers }

// crashConfig is a config for the crash tests, with the default outbox
// lease: how soon a dead process's work flows again is part of the test.
func crashConfig(dataDir, maildir, store, webhookURL string) string {
	return fmt.Sprintf(`data_dir: %s
store: %s
http:
  listen: "off"
sources:
  maildir:
    - name: support
      path: %s
      poll: 100ms
webhooks:
  - name: helpdesk
    url: %s
    secret: test-secret
outbox:
  workers: %d
  poll: 50ms
  backoff: 100ms
log:
  level: warn
  format: json
routes:
  default:
    actions:
      - kind: webhook
        target: helpdesk
`, dataDir, store, maildir, webhookURL, crashWorkers)
}

// claimedKeys returns the keys of the actions held under a claim.
func claimedKeys(t *testing.T, st store.Store) map[string]bool {
	t.Helper()
	running, err := st.Actions(context.Background(), store.ActionQuery{State: ticket.StateRunning, Limit: 100000})
	require.NoError(t, err)
	keys := map[string]bool{}
	for _, a := range running {
		keys[a.Key] = true
	}
	return keys
}

// delivered reports whether the helpdesk received every key in keys.
func (h *helpdesk) delivered(keys map[string]bool) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	for k := range keys {
		if h.byKey[k] == 0 {
			return false
		}
	}
	return true
}

func countFiles(t *testing.T, dir string) int {
	t.Helper()
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	n := 0
	for _, e := range entries {
		if !e.IsDir() {
			n++
		}
	}
	return n
}

// TestCrashMidDrainLosesNothing kills `triage run` with SIGKILL while it
// drains a 2,000-message Maildir into a webhook, restarts it, and checks
// that every message became exactly one ticket and one delivered webhook
// (the helpdesk deduplicates on Idempotency-Key; raw repeats are counted).
func TestCrashMidDrainLosesNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("crash test is not short")
	}
	const messages = 2000
	dir := t.TempDir()
	maildir := filepath.Join(dir, "inbox")
	_, err := mailgen.Maildir(maildir, messages)
	require.NoError(t, err)
	hd := newHelpdesk()
	srv := httptest.NewServer(hd)
	defer srv.Close()
	cfg := filepath.Join(dir, "triage.yaml")
	require.NoError(t, os.WriteFile(cfg, []byte(crashConfig(filepath.Join(dir, "data"), maildir, "{driver: sqlite}", srv.URL)), 0o644))
	logf := filepath.Join(dir, "triage.log")

	// First kill: while mail is still being taken in.
	first := startCLI(t, logf, "run", "--config", cfg)
	waitFor(t, 60*time.Second, "ingest under way", func() bool {
		return countFiles(t, filepath.Join(maildir, "cur")) >= messages/10
	})
	require.NoError(t, first.Process.Signal(syscall.SIGKILL))
	_ = first.Wait()
	leftInNew := countFiles(t, filepath.Join(maildir, "new"))
	t.Logf("first SIGKILL during ingest: %d messages still in new/", leftInNew)

	// Second kill: while webhooks are being delivered.
	second := startCLI(t, logf, "run", "--config", cfg)
	waitFor(t, 60*time.Second, "deliveries under way", func() bool { u, _, _ := hd.counts(); return u >= messages/2 })
	require.NoError(t, second.Process.Signal(syscall.SIGKILL))
	_ = second.Wait()
	uniqueAtKill, _, _ := hd.counts()
	t.Logf("second SIGKILL after %d of %d webhooks", uniqueAtKill, messages)
	require.Less(t, uniqueAtKill, messages, "the kill must land mid-drain")

	// What the killed process held flows again at once: the next process
	// releases every claim when it starts, and --once waits for them.
	dbPath := filepath.Join(dir, "data", "triage.db")
	held := func() map[string]bool {
		st, err := sqlite.Open(context.Background(), dbPath)
		require.NoError(t, err)
		defer st.Close()
		return claimedKeys(t, st)
	}()
	require.NotEmpty(t, held, "the kill must leave claimed actions behind")
	restarted := time.Now()
	third := startCLI(t, logf, "run", "--once", "--config", cfg)
	waitFor(t, 10*time.Second, "the killed process's claimed actions delivered", func() bool { return hd.delivered(held) })
	t.Logf("%d actions the killed process held were delivered %s after the restart", len(held), time.Since(restarted).Round(time.Millisecond))
	require.NoError(t, third.Wait(), "log: %s", readFile(logf))

	unique, raw, tickets := hd.counts()
	t.Logf("after restart: %d unique deliveries, %d raw deliveries (%d repeats after two kills; at most %d promised), %d tickets",
		unique, raw, raw-unique, maxRepeats(2), tickets)
	assert.Equal(t, messages, unique, "every message's webhook was delivered")
	assert.LessOrEqual(t, raw-unique, maxRepeats(2), "raw repeats after two kills: at most one per worker per kill")
	assert.Equal(t, messages, tickets, "every message became a ticket")
	// A claim has one holder at a time, so each process sends an action
	// at most once; a killed process may not have recorded its success.
	// Three processes ran (two killed): at most three deliveries of a
	// key, which is what happens when the first process's unrecorded
	// sends come due again just as the second is killed.
	hd.mu.Lock()
	for k, n := range hd.byKey {
		assert.LessOrEqual(t, n, 3, "key %s delivered %d times: more than once per process", k, n)
	}
	hd.mu.Unlock()
	assert.Zero(t, countFiles(t, filepath.Join(maildir, "new")), "no mail is left unhandled")
	assert.Equal(t, messages, countFiles(t, filepath.Join(maildir, "cur")), "no mail is lost or deleted")

	st, err := sqlite.Open(context.Background(), dbPath)
	require.NoError(t, err)
	defer st.Close()
	counts, err := st.CountActions(context.Background())
	require.NoError(t, err)
	assert.Equal(t, messages, counts["done"], "every action is done: %v", counts)
	writeReport(t, "crash-sqlite", fmt.Sprintf("SIGKILL during ingest (%d left in new/) and after %d/%d webhooks; raw repeats received: %d; unique deliveries: %d; tickets: %d",
		leftInNew, uniqueAtKill, messages, raw-unique, unique, tickets))
}

func readFile(p string) string {
	b, _ := os.ReadFile(p)
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return string(b)
}

// writeReport leaves a line for humans (and the issue note) when
// TRIAGE_TEST_REPORT names a file.
func writeReport(t *testing.T, name, line string) {
	path := os.Getenv("TRIAGE_TEST_REPORT")
	if path == "" {
		return
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		t.Logf("report: %v", err)
		return
	}
	defer f.Close()
	fmt.Fprintf(f, "%s: %s\n", name, line)
}

// TestCrashOneOfTwoReplicasOnPostgres runs two `triage run` replicas on one
// PostgreSQL store and one Maildir, kills one with SIGKILL mid-drain, and
// checks that the survivor finishes the work: every message one ticket,
// every webhook delivered (deduplicated by key; raw repeats counted).
func TestCrashOneOfTwoReplicasOnPostgres(t *testing.T) {
	if testing.Short() {
		t.Skip("crash test is not short")
	}
	dsn := pgtest.Schema(t)
	const messages = 2000
	dir := t.TempDir()
	maildir := filepath.Join(dir, "inbox")
	_, err := mailgen.Maildir(maildir, messages)
	require.NoError(t, err)
	hd := newHelpdesk()
	srv := httptest.NewServer(hd)
	defer srv.Close()
	cfg := filepath.Join(dir, "triage.yaml")
	storeYAML := fmt.Sprintf("{driver: postgres, dsn: %q}", dsn)
	require.NoError(t, os.WriteFile(cfg, []byte(crashConfig(filepath.Join(dir, "data"), maildir, storeYAML, srv.URL)), 0o644))
	logf := filepath.Join(dir, "triage.log")

	a := startCLI(t, logf, "run", "--config", cfg)
	b := startCLI(t, logf, "run", "--config", cfg)
	waitFor(t, 90*time.Second, "deliveries under way", func() bool { u, _, _ := hd.counts(); return u >= messages/4 })
	// Kill whichever replica holds the Maildir's lease, so the survivor
	// must take the source over when the lease expires.
	victim, survivor := a, b
	holder := leaseHolder(t, dsn)
	if holder == fmt.Sprint(b.Process.Pid) {
		victim, survivor = b, a
	}
	require.NoError(t, victim.Process.Signal(syscall.SIGKILL))
	_ = victim.Wait()
	killed := time.Now()
	uniqueAtKill, _, _ := hd.counts()
	t.Logf("killed replica pid %d (lease holder %q) after %d of %d webhooks", victim.Process.Pid, holder, uniqueAtKill, messages)
	// The dead replica's claims run out within the outbox lease (10s by
	// default): the survivor takes them over.
	// Under a loaded machine the victim may hold no claim at the instant
	// it dies (between batches); then there is no takeover to time, and
	// the rest of the test still checks that nothing is lost.
	if dead := victimClaims(t, dsn, victim.Process.Pid); len(dead) == 0 {
		t.Log("the kill left no claimed actions behind; takeover time not measured in this run")
	} else {
		waitFor(t, 15*time.Second, "the dead replica's claimed actions delivered", func() bool { return hd.delivered(dead) })
		t.Logf("%d actions the dead replica held were delivered %s after the kill", len(dead), time.Since(killed).Round(time.Millisecond))
	}

	waitFor(t, 120*time.Second, "the survivor to finish", func() bool {
		u, _, _ := hd.counts()
		return u == messages && countFiles(t, filepath.Join(maildir, "new")) == 0
	})
	require.NoError(t, survivor.Process.Signal(syscall.SIGTERM))
	require.NoError(t, survivor.Wait(), "the survivor exits cleanly on SIGTERM; log: %s", readFile(logf))

	unique, raw, tickets := hd.counts()
	t.Logf("%d unique deliveries, %d raw (%d repeats after one kill; at most %d promised), %d tickets", unique, raw, raw-unique, maxRepeats(1), tickets)
	assert.Equal(t, messages, unique)
	assert.LessOrEqual(t, raw-unique, maxRepeats(1), "raw repeats after one kill: at most one per worker of the dead replica")
	assert.Equal(t, messages, tickets)
	assert.Equal(t, messages, countFiles(t, filepath.Join(maildir, "cur")), "no mail is lost or deleted")
	st, err := postgres.Open(context.Background(), dsn)
	require.NoError(t, err)
	defer st.Close()
	recs, err := st.Tickets(context.Background(), store.TicketQuery{Limit: 5000})
	require.NoError(t, err)
	assert.Len(t, recs, messages, "one ticket per message")
	writeReport(t, "crash-postgres", fmt.Sprintf("two replicas, lease holder killed after %d/%d webhooks; raw repeats received: %d; unique deliveries: %d; tickets: %d",
		uniqueAtKill, messages, raw-unique, unique, tickets))
}

// victimClaims returns the keys of the actions claimed by the process
// with this pid (workers are named host-pid/n).
func victimClaims(t *testing.T, dsn string, pid int) map[string]bool {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	require.NoError(t, err)
	defer conn.Close(ctx)
	rows, err := conn.Query(ctx, `SELECT key FROM actions WHERE state = 'running' AND claimed_by LIKE $1`, fmt.Sprintf("%%-%d/%%", pid))
	require.NoError(t, err)
	keys, err := pgx.CollectRows(rows, pgx.RowTo[string])
	require.NoError(t, err)
	out := map[string]bool{}
	for _, k := range keys {
		out[k] = true
	}
	return out
}

// leaseHolder returns the pid part of the Maildir source lease's holder.
func leaseHolder(t *testing.T, dsn string) string {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	require.NoError(t, err)
	defer conn.Close(ctx)
	var holder string
	err = conn.QueryRow(ctx, `SELECT holder FROM leases WHERE name = 'source:maildir:support'`).Scan(&holder)
	require.NoError(t, err)
	if i := strings.LastIndex(holder, "-"); i >= 0 {
		return holder[i+1:]
	}
	return holder
}
