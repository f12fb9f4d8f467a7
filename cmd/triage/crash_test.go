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
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/triage-bot/triage/internal/mailgen"
	"github.com/triage-bot/triage/store/sqlite"
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
  workers: 4
  lease: 2s
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
`, dataDir, store, maildir, webhookURL)
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

	first := startCLI(t, logf, "run", "--config", cfg)
	waitFor(t, 60*time.Second, "the first webhooks", func() bool { u, _, _ := hd.counts(); return u >= messages/5 })
	require.NoError(t, first.Process.Signal(syscall.SIGKILL))
	_ = first.Wait()
	uniqueAtKill, _, _ := hd.counts()
	t.Logf("killed with SIGKILL after %d of %d webhooks", uniqueAtKill, messages)
	require.Less(t, uniqueAtKill, messages, "the kill must land mid-drain")

	// Claims of the killed process expire after the outbox lease (2s).
	time.Sleep(2500 * time.Millisecond)
	second := startCLI(t, logf, "run", "--once", "--config", cfg)
	require.NoError(t, second.Wait(), "log: %s", readFile(logf))

	unique, raw, tickets := hd.counts()
	t.Logf("after restart: %d unique deliveries, %d raw deliveries (%d repeats after the crash), %d tickets", unique, raw, raw-unique, tickets)
	assert.Equal(t, messages, unique, "every message's webhook was delivered")
	assert.Equal(t, messages, tickets, "every message became a ticket")
	hd.mu.Lock()
	for k, n := range hd.byKey {
		if n > 1 {
			assert.LessOrEqual(t, n, 2, "key %s delivered %d times", k, n)
		}
	}
	hd.mu.Unlock()
	assert.Zero(t, countFiles(t, filepath.Join(maildir, "new")), "no mail is left unhandled")
	assert.Equal(t, messages, countFiles(t, filepath.Join(maildir, "cur")), "no mail is lost or deleted")

	st, err := sqlite.Open(context.Background(), filepath.Join(dir, "data", "triage.db"))
	require.NoError(t, err)
	defer st.Close()
	counts, err := st.CountActions(context.Background())
	require.NoError(t, err)
	assert.Equal(t, messages, counts["done"], "every action is done: %v", counts)
	writeReport(t, "crash-sqlite", fmt.Sprintf("killed after %d/%d; repeats after restart: %d; delivered once each: %d", uniqueAtKill, messages, raw-unique, unique))
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
