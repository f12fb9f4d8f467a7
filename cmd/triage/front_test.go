package main

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/triage-bot/triage/config"
	"github.com/triage-bot/triage/integrations/front/frontfake"
)

func frontConfigYAML(dataDir, apiURL, listen string) string {
	return fmt.Sprintf(`data_dir: %s
http:
  listen: %q
front:
  api_url: %s
  api_token: %s
  webhook_secret_file: %s
  assignees:
    agent-auth: %s
    default: inb_billing
outbox:
  workers: 4
  lease: 2s
  poll: 50ms
  backoff: 100ms
log:
  level: warn
  format: json
routes:
  rules:
    - name: front
      match:
        source: front
        has_code: true
      actions:
        - kind: front.note
        - kind: front.tag
        - kind: front.assign
          target: "{{.Primary}}"
`, dataDir, listen, apiURL, frontfake.Token, filepath.Join(dataDir, "front-secret"), frontfake.Teammate)
}

// startFront starts `triage run` with a front section on a free port and
// returns the webhook URL.
func startFront(t *testing.T, fake *frontfake.Server) (cfgPath, hook, logf string) {
	t.Helper()
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	require.NoError(t, os.MkdirAll(data, 0o700))
	require.NoError(t, os.WriteFile(filepath.Join(data, "front-secret"), []byte(frontfake.APISecret+"\n"), 0o600))
	addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	cfgPath = filepath.Join(dir, "triage.yaml")
	require.NoError(t, os.WriteFile(cfgPath, []byte(frontConfigYAML(data, fake.URL, addr)), 0o600))
	logf = filepath.Join(dir, "triage.log")
	return cfgPath, "http://" + addr + "/hooks/front", logf
}

func waitHealthy(t *testing.T, hook string) {
	t.Helper()
	base := strings.TrimSuffix(hook, "/hooks/front")
	waitFor(t, 30*time.Second, "the HTTP server", func() bool {
		resp, err := http.Get(base + "/healthz")
		if err == nil {
			resp.Body.Close()
		}
		return err == nil
	})
}

func postHook(t *testing.T, req *http.Request) int {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	return resp.StatusCode
}

// TestFrontEndToEnd runs `triage run` with a front section: a forged
// webhook is refused and stores nothing; a signed one is stored and its
// note, tags and assignment reach Front; a redelivery adds nothing.
func TestFrontEndToEnd(t *testing.T) {
	fake := frontfake.New(t)
	cfg, hook, logf := startFront(t, fake)
	cmd := startCLI(t, logf, "run", "--config", cfg)
	t.Cleanup(func() { _ = cmd.Process.Signal(syscall.SIGTERM); _ = cmd.Wait() })
	waitHealthy(t, hook)

	cnv, msg := fake.Inbound("", "ana@example.com", "tunnel down", "<p>The agent fails with ERR_NGROK_108.</p>")
	body := fake.Event("evt_1", cnv, msg, true, time.Now())
	assert.Equal(t, http.StatusUnauthorized, postHook(t, frontfake.RuleRequest(hook, "forged", body)))
	time.Sleep(200 * time.Millisecond)
	assert.Zero(t, fake.CommentCount(), "a forged call stores nothing, so nothing is written")

	require.Equal(t, http.StatusOK, postHook(t, frontfake.RuleRequest(hook, frontfake.APISecret, body)))
	waitFor(t, 30*time.Second, "the note, tags and assignment", func() bool {
		c := fake.Conversation(cnv)
		return len(c.Comments) == 1 && c.Assignee == frontfake.Teammate && len(c.TagIDs) == 2
	})
	c := fake.Conversation(cnv)
	assert.Contains(t, c.Comments[0].Body, "ERR_NGROK_108 — written by the customer")
	assert.Equal(t, []string{"ngrok-err-108", "triage-agent-auth"}, fake.TagNames(cnv))

	require.Equal(t, http.StatusOK, postHook(t, frontfake.RuleRequest(hook, frontfake.APISecret, body)), "redelivery is acknowledged")
	time.Sleep(500 * time.Millisecond)
	assert.Len(t, fake.Conversation(cnv).Comments, 1, "and changes nothing")
	assert.Equal(t, 1, fake.Calls("POST /conversations/{id}/tags"))
}

// TestFrontCrashMidBurst delivers a burst of 500 webhooks, kills `triage
// run` with SIGKILL halfway through while it writes the notes, restarts
// it, delivers the rest and every earlier one again (as a sender that
// saw no answer would), and checks that every conversation got exactly
// one note.
func TestFrontCrashMidBurst(t *testing.T) {
	if testing.Short() {
		t.Skip("crash test starts subprocesses")
	}
	fake := frontfake.New(t)
	fake.SetLatency(10 * time.Millisecond)
	cfg, hook, logf := startFront(t, fake)
	cmd := startCLI(t, logf, "run", "--config", cfg)
	waitHealthy(t, hook)

	const n = 500
	var cnvs []string
	var events [][]byte
	for i := range n {
		cnv, msg := fake.Inbound("", fmt.Sprintf("user%d@example.com", i), "help", fmt.Sprintf("<p>message %d: ngrok says ERR_NGROK_%d</p>", i, 3200+i%5))
		cnvs = append(cnvs, cnv)
		events = append(events, fake.Event(fmt.Sprintf("evt_%d", i), cnv, msg, false, time.Now()))
	}
	for _, ev := range events[:n/2] {
		require.Equal(t, http.StatusOK, postHook(t, frontfake.RuleRequest(hook, frontfake.APISecret, ev)))
	}
	waitFor(t, 60*time.Second, "the first notes", func() bool { return fake.CommentCount() >= 20 })
	require.NoError(t, cmd.Process.Signal(syscall.SIGKILL))
	_ = cmd.Wait()
	t.Logf("killed after %d notes", fake.CommentCount())
	require.Less(t, fake.CommentCount(), n/2, "the kill should come mid-burst")

	cmd2 := startCLI(t, logf, "run", "--config", cfg)
	t.Cleanup(func() { _ = cmd2.Process.Signal(syscall.SIGTERM); _ = cmd2.Wait() })
	waitHealthy(t, hook)
	for _, ev := range events {
		require.Equal(t, http.StatusOK, postHook(t, frontfake.RuleRequest(hook, frontfake.APISecret, ev)))
	}
	waitFor(t, 120*time.Second, "a note on every conversation", func() bool {
		for _, c := range cnvs {
			if len(fake.Conversation(c).Comments) == 0 {
				return false
			}
		}
		return true
	})
	last := -1
	waitFor(t, 30*time.Second, "the outbox to go quiet", func() bool {
		cur := fake.Calls("POST /conversations/{id}/comments")
		quiet := cur == last
		last = cur
		time.Sleep(300 * time.Millisecond)
		return quiet
	})
	assert.Equal(t, n, fake.CommentCount(), "exactly one note each")
	for _, c := range cnvs {
		if got := len(fake.Conversation(c).Comments); got != 1 {
			t.Errorf("conversation %s has %d notes", c, got)
		}
	}
	if t.Failed() {
		b, _ := os.ReadFile(logf)
		t.Logf("log:\n%s", tail(string(b), 4000))
	}
}

func TestFrontConnectCheck(t *testing.T) {
	fake := frontfake.New(t)
	tests := []struct {
		name      string
		token     string
		assignees map[string]string
		wantOut   string
		wantErrs  []string
	}{
		{"all there", frontfake.Token, map[string]string{"agent-auth": frontfake.Teammate}, "front: token OK for Fake Co, 1 assignee(s) found", nil},
		{"missing inbox", frontfake.Token, map[string]string{"billing": "inb_gone"}, "", []string{"front (" + fake.URL + "): assignees.billing: inbox inb_gone does not exist"}},
		{"bad token", "nope", nil, "", []string{"cannot use the API token", "check front.api_token"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := &config.Config{Front: &config.Front{APIURL: fake.URL, APIToken: tt.token, Assignees: tt.assignees}}
			var out bytes.Buffer
			errs := checkFront(context.Background(), cfg, &out)
			assert.Contains(t, out.String(), tt.wantOut)
			all := fmt.Sprint(errs)
			for _, w := range tt.wantErrs {
				assert.Contains(t, all, w)
			}
			if tt.wantErrs == nil {
				assert.Empty(t, errs)
			}
		})
	}
	assert.Nil(t, checkFront(context.Background(), &config.Config{}, &bytes.Buffer{}), "no section, nothing checked")
}
