package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/triage-bot/triage/internal/mailgen"
)

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// TestRunServesAndStopsCleanly starts `triage run`, checks the HTTP API,
// health, readiness and metrics, then sends SIGTERM and expects exit 0.
func TestRunServesAndStopsCleanly(t *testing.T) {
	dir := t.TempDir()
	maildir := filepath.Join(dir, "inbox")
	_, err := mailgen.Maildir(maildir, 30)
	require.NoError(t, err)
	port := freePort(t)
	cfg := filepath.Join(dir, "triage.yaml")
	require.NoError(t, os.WriteFile(cfg, []byte(fmt.Sprintf(`data_dir: %s
http: {listen: "127.0.0.1:%d", api_tokens: ["${TEST_TOKEN}"]}
sources:
  maildir: [{name: support, path: %s, poll: 100ms, stale_after: 1m}]
log: {level: info, format: json}
routes:
  rules:
    - name: log
      actions: [{kind: jsonl, target: %s}]
`, filepath.Join(dir, "data"), port, maildir, filepath.Join(dir, "data", "tickets.jsonl"))), 0o644))
	logf := filepath.Join(dir, "run.log")
	t.Setenv("TEST_TOKEN", "tok-xyz")
	cmd := startCLI(t, logf, "run", "--config", cfg)
	base := fmt.Sprintf("http://127.0.0.1:%d", port)

	waitFor(t, 30*time.Second, "the server", func() bool {
		resp, err := http.Get(base + "/healthz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == 200
	})
	waitFor(t, 30*time.Second, "the maildir to drain", func() bool {
		entries, _ := os.ReadDir(filepath.Join(maildir, "new"))
		return len(entries) == 0
	})
	resp, err := http.Get(base + "/readyz")
	require.NoError(t, err)
	var ready struct {
		Ready   bool `json:"ready"`
		Sources []struct {
			Name string `json:"name"`
		} `json:"sources"`
	}
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&ready))
	resp.Body.Close()
	assert.True(t, ready.Ready)
	require.Len(t, ready.Sources, 1)
	assert.Equal(t, "maildir:support", ready.Sources[0].Name)

	req, _ := http.NewRequest("POST", base+"/v1/tickets", strings.NewReader(`{"text":"ERR_NGROK_108 since noon","from":"x@example.com"}`))
	req.Header.Set("Authorization", "Bearer tok-xyz")
	req.Header.Set("Content-Type", "application/json")
	resp, err = http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusCreated, resp.StatusCode)

	resp, err = http.Get(base + "/metrics")
	require.NoError(t, err)
	metrics, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	assert.Contains(t, string(metrics), `triage_tickets_total{category="agent-auth",source="api"} 1`)
	assert.Contains(t, string(metrics), `triage_source_up{source="maildir:support"} 1`)

	require.NoError(t, cmd.Process.Signal(syscall.SIGTERM))
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		assert.NoError(t, err, "exit status 0 after SIGTERM; log: %s", readFile(logf))
	case <-time.After(30 * time.Second):
		t.Fatalf("triage run did not stop within 30s of SIGTERM; log: %s", readFile(logf))
	}
	log := readFile(logf)
	assert.NotContains(t, log, "tok-xyz", "secrets never reach the log")
	assert.Contains(t, log, `"msg":"triage stopped"`)
}

func TestRulesTestAndConfigCheck(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "triage.yaml")
	require.NoError(t, os.WriteFile(cfg, []byte(`
webhooks:
  - {name: helpdesk, url: "https://helpdesk.example.com/hook"}
routes:
  rules:
    - name: new agent routing
      shadow: true
      match: {category: [agent-auth]}
      actions: [{kind: webhook, target: helpdesk}]
    - name: agent team
      match: {code: ["100-199", 4018]}
      actions: [{kind: jsonl, target: `+filepath.Join(dir, "agent.jsonl")+`}]
  default:
    actions: [{kind: jsonl, target: `+filepath.Join(dir, "rest.jsonl")+`}]
`), 0o644))
	stdout, stderr, code := triage(t, "", "rules", "test", "--config", cfg, "../../examples/inbox")
	require.Equal(t, 0, code, stderr)
	assert.Contains(t, stdout, "rules:    shadow:new agent routing → agent team")
	assert.Contains(t, stdout, "shadow    webhook → helpdesk")
	assert.Contains(t, stdout, "would run jsonl → "+filepath.Join(dir, "agent.jsonl"))
	assert.Contains(t, stdout, "rules:    default")
	_, err := os.Stat(filepath.Join(dir, "agent.jsonl"))
	assert.True(t, os.IsNotExist(err), "a dry run acts on nothing")

	stdout, _, code = triage(t, "", "rules", "test", "--json", "--config", cfg, "../../examples/inbox")
	require.Equal(t, 0, code)
	first := strings.SplitN(stdout, "\n", 2)[0]
	var v struct {
		Rules   []string `json:"rules"`
		Actions []struct {
			Kind   string `json:"kind"`
			Shadow bool   `json:"shadow"`
		} `json:"actions"`
	}
	require.NoError(t, json.Unmarshal([]byte(first), &v))
	assert.NotEmpty(t, v.Rules)

	stdout, stderr, code = triage(t, "", "config", "check", "--config", cfg)
	require.Equal(t, 0, code, stderr)
	assert.Contains(t, stdout, "OK — 2 rule(s), 0 source(s), 1 webhook(s)")
	stdout, _, code = triage(t, "", "config", "check")
	require.Equal(t, 0, code)
	assert.Contains(t, stdout, "embedded defaults: OK")

	bad := filepath.Join(dir, "bad.yaml")
	require.NoError(t, os.WriteFile(bad, []byte("routes:\n  rules:\n    - name: x\n      match: {category: [nope]}\n      actions: [{kind: webhook, target: h}]\n"), 0o644))
	_, stderr, code = triage(t, "", "config", "check", "--config", bad)
	assert.Equal(t, 1, code)
	assert.Contains(t, stderr, "bad.yaml:4")
	assert.Contains(t, stderr, `rule "x"`)

	stdout, _, code = triage(t, "", "config", "show", "--config", cfg)
	require.Equal(t, 0, code)
	assert.Contains(t, stdout, "helpdesk.example.com")
}
