package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/triage-bot/triage/store"
	"github.com/triage-bot/triage/store/sqlite"
	"github.com/triage-bot/triage/ticket"
)

// TestCustomerTextCannotWriteFiles runs `triage run --once` with jsonl
// targets built from the sender and subject, on mail whose sender or
// subject tries to leave data_dir: plain ../, an RFC 2047 encoded ../, an
// absolute path, a symbolic link inside data_dir pointing out, and
// %2e%2e (which nothing decodes, so it stays a plain name). Nothing is
// written outside data_dir; each escape parks its action with the reason;
// config check warns about the targets.
func TestCustomerTextCannotWriteFiles(t *testing.T) {
	dir := t.TempDir()
	data, outside, inbox := filepath.Join(dir, "data"), filepath.Join(dir, "outside"), filepath.Join(dir, "inbox")
	for _, d := range []string{filepath.Join(data, "by-subject"), outside, filepath.Join(inbox, "new"), filepath.Join(inbox, "cur"), filepath.Join(inbox, "tmp")} {
		require.NoError(t, os.MkdirAll(d, 0o755))
	}
	require.NoError(t, os.Symlink(outside, filepath.Join(data, "by-subject", "link")))
	mails := []struct{ from, subject, body string }{
		{"Eve <../../outside/from@example.com>", "hello", "ERR_NGROK_108"},
		{"eve@example.com", "../../outside/plain", "ERR_NGROK_108"},
		{"eve@example.com", "=?utf-8?q?=2E=2E/=2E=2E/outside/encoded?=", "ERR_NGROK_108"},
		{"eve@example.com", "%2e%2e/%2e%2e/outside/percent", "ERR_NGROK_108"},
		{"eve@example.com", "link/through-link", "ERR_NGROK_108"},
		{"eve@example.com", filepath.Join(outside, "absolute"), "ERR_NGROK_108 absolute-case"},
	}
	for i, m := range mails {
		msg := fmt.Sprintf("From: %s\r\nTo: support@example.com\r\nSubject: %s\r\nMessage-ID: <p%d@example.com>\r\nDate: Fri, 27 Nov 2026 10:00:00 +0000\r\n\r\n%s\r\n", m.from, m.subject, i, m.body)
		require.NoError(t, os.WriteFile(filepath.Join(inbox, "new", fmt.Sprintf("17000000%02d.M1P1.test", i)), []byte(msg), 0o644))
	}
	cfg := filepath.Join(dir, "triage.yaml")
	require.NoError(t, os.WriteFile(cfg, []byte(fmt.Sprintf(`data_dir: %[1]s
http: {listen: "off"}
sources:
  maildir: [{name: support, path: %[2]s}]
log: {level: error}
routes:
  rules:
    - name: by sender
      continue: true
      actions: [{kind: jsonl, target: "%[1]s/by-sender/{{.Ticket.From}}.jsonl"}]
    - name: absolute
      continue: true
      match: {keyword: [absolute-case]}
      actions: [{kind: jsonl, target: "{{.Ticket.Subject}}"}]
    - name: by subject
      match: {keyword: [ERR_NGROK_108]}
      actions: [{kind: jsonl, target: "%[1]s/by-subject/{{.Ticket.Subject}}.jsonl"}]
`, data, inbox)), 0o644))

	_, stderr, code := triage(t, "", "config", "check", "--config", cfg)
	require.Equal(t, 0, code, stderr)
	assert.Contains(t, stderr, `warning: `+cfg+`:10: rule "by sender": the jsonl target`)
	assert.Contains(t, stderr, "built from .Ticket.From, which the customer writes")
	assert.Contains(t, stderr, "built from .Ticket.Subject")

	stdout, stderr, code := triage(t, "", "run", "--once", "--config", cfg)
	require.Equal(t, 1, code, "the refused writes are failures of this run: %s", stderr)
	assert.Contains(t, stderr, "5 action(s) attempted in this run are failing")
	assert.Contains(t, stdout, "took in 6 new ticket(s)")

	var escaped []string
	require.NoError(t, filepath.Walk(outside, func(p string, _ os.FileInfo, err error) error {
		if p != outside {
			escaped = append(escaped, p)
		}
		return err
	}))
	assert.Empty(t, escaped, "nothing is written outside data_dir")
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	assert.ElementsMatch(t, []string{"data", "outside", "inbox", "triage.yaml"}, names)
	assert.FileExists(t, filepath.Join(data, "by-subject", "%2e%2e", "%2e%2e", "outside", "percent.jsonl"), "%%2e%%2e is not decoded: a plain name inside data_dir")
	assert.FileExists(t, filepath.Join(data, "by-subject", "hello.jsonl"))

	st, err := sqlite.Open(context.Background(), filepath.Join(data, "triage.db"))
	require.NoError(t, err)
	defer st.Close()
	failed, err := st.Actions(context.Background(), store.ActionQuery{State: ticket.StateFailed, Limit: 100})
	require.NoError(t, err)
	var targets []string
	for _, a := range failed {
		assert.Contains(t, a.LastError, "outside the allowed directories", a.Target)
		assert.Equal(t, 1, a.Attempts, "parked at once: %s", a.Target)
		targets = append(targets, a.Target)
	}
	joined := strings.Join(targets, "\n")
	for _, want := range []string{"outside/from@example.com", "outside/plain", "outside/encoded", "link/through-link", filepath.Join(outside, "absolute")} {
		assert.Contains(t, joined, want, "parked")
	}
	assert.Len(t, failed, 5)
}

// TestRunDefaultsHonourDataDir runs the embedded defaults with the data
// directory from --data-dir and from $TRIAGE_DATA_DIR, as `triage help`
// lists them: the store, the ticket log and the sample inbox go there,
// and robot mail (the sample's out-of-office reply, newsletter and
// bounce) is filed apart, not into a category's folder.
func TestRunDefaultsHonourDataDir(t *testing.T) {
	robots := []string{"1795701007.M125P4375.support-mx", "1795705200.M126P4382.support-mx", "1795707603.M127P4389.support-mx"}
	tests := []struct {
		name string
		env  bool
	}{
		{"flag", false},
		{"environment", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := filepath.Join(t.TempDir(), "data")
			args := []string{"run", "--once", "--listen", "off"}
			if tt.env {
				t.Setenv("TRIAGE_DATA_DIR", data)
			} else {
				args = append(args, "--data-dir", data)
			}
			t.Chdir(t.TempDir()) // nothing may land in ./triage-data
			stdout, stderr, code := triage(t, "", args...)
			require.Equal(t, 0, code, stderr)
			assert.Contains(t, stdout, "took in 30 new ticket(s)")
			assert.FileExists(t, filepath.Join(data, "triage.db"))
			assert.FileExists(t, filepath.Join(data, "tickets.jsonl"))
			assert.DirExists(t, filepath.Join(data, "inbox", "cur"))
			assert.NoDirExists(t, "triage-data")
			var filed []string
			entries, err := os.ReadDir(filepath.Join(data, "inbox", ".robot-mail", "cur"))
			require.NoError(t, err)
			for _, e := range entries {
				name, _, _ := strings.Cut(e.Name(), ":")
				filed = append(filed, name)
			}
			assert.Equal(t, robots, filed)
		})
	}
}
