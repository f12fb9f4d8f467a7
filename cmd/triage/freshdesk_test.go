package main

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/triage-bot/triage/integrations/freshdesk/freshdeskfake"
)

func freshdeskConfigYAML(dataDir, apiURL, listen, apiKey string) string {
	return fmt.Sprintf(`data_dir: %s
http:
  listen: %q
freshdesk:
  domain: %s
  api_key: %s
  webhook_secret_file: %s
  api_url: %s
  groups:
    agent-auth: Agent Team
    default: "101"
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
    - name: helpdesk
      match:
        source: freshdesk
        has_code: true
      actions:
        - kind: freshdesk.note
        - kind: freshdesk.tag
        - kind: freshdesk.assign
          target: auto
`, dataDir, listen, freshdeskfake.Domain, apiKey, filepath.Join(dataDir, "webhook-secret"), apiURL)
}

func writeFreshdeskConfig(t *testing.T, apiURL, listen, apiKey string) (cfgPath, logPath string) {
	t.Helper()
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	require.NoError(t, os.MkdirAll(data, 0o700))
	require.NoError(t, os.WriteFile(filepath.Join(data, "webhook-secret"), []byte(freshdeskfake.WebhookSecret+"\n"), 0o600))
	cfgPath = filepath.Join(dir, "triage.yaml")
	require.NoError(t, os.WriteFile(cfgPath, []byte(freshdeskConfigYAML(data, apiURL, listen, apiKey)), 0o600))
	return cfgPath, filepath.Join(dir, "triage.log")
}

// startFreshdeskRun starts `triage run` and waits for its HTTP server.
func startFreshdeskRun(t *testing.T, cfg, logf, base string) func() {
	t.Helper()
	cmd := startCLI(t, logf, "run", "--config", cfg)
	waitFor(t, 30*time.Second, "the HTTP server", func() bool {
		resp, err := http.Get(base + "/healthz")
		if err == nil {
			resp.Body.Close()
		}
		return err == nil
	})
	return func() { _ = cmd.Process.Signal(syscall.SIGKILL); _ = cmd.Wait() }
}

func deliver(t *testing.T, base, secret string, body []byte) int {
	t.Helper()
	resp, err := http.DefaultClient.Do(freshdeskfake.WebhookRequest(base+"/hooks/freshdesk", secret, body))
	require.NoError(t, err)
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode
}

// TestFreshdeskEndToEnd runs `triage run` against the fake: a forged
// webhook stores nothing; a real one gets a private note, the default
// tags and the category's group; a redelivery and a customer reply
// without a code change nothing; a 429 is waited out.
func TestFreshdeskEndToEnd(t *testing.T) {
	fake := freshdeskfake.New()
	t.Cleanup(fake.Close)
	addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	base := "http://" + addr
	cfg, logf := writeFreshdeskConfig(t, fake.APIURL(), addr, freshdeskfake.APIKey)
	stop := startFreshdeskRun(t, cfg, logf, base)
	t.Cleanup(stop)

	fake.AddTicket(4711, "agent offline", "<p>My agent fails with <b>ERR_NGROK_108</b> since this morning.</p>")
	assert.Equal(t, http.StatusUnauthorized, deliver(t, base, "forged-secret", freshdeskfake.WebhookBody(4711)))
	assert.Equal(t, http.StatusUnauthorized, deliver(t, base, "", freshdeskfake.WebhookBody(4711)))
	assert.Zero(t, fake.Calls(freshdeskfake.GetTicket), "a forged call reads nothing")

	fake.RateLimit(1, 1) // reading the ticket meets a 429: not stored, retry
	assert.Equal(t, http.StatusServiceUnavailable, deliver(t, base, freshdeskfake.WebhookSecret, freshdeskfake.WebhookBody(4711)))
	fake.RateLimitRoute(freshdeskfake.AddNote, 1, 1) // the note waits a second
	start := time.Now()
	require.Equal(t, http.StatusOK, deliver(t, base, freshdeskfake.WebhookSecret, freshdeskfake.WebhookBody(4711)))
	waitFor(t, 30*time.Second, "the note, tags and group", func() bool {
		tk, _ := fake.Ticket(4711)
		return len(fake.Notes(4711)) == 1 && len(tk.Tags) == 2 && tk.GroupID != nil
	})
	assert.GreaterOrEqual(t, time.Since(start), time.Second, "the note waited out Retry-After")
	tk, _ := fake.Ticket(4711)
	assert.Equal(t, int64(102), *tk.GroupID, "agent-auth → Agent Team")
	assert.Equal(t, 2, fake.Calls(freshdeskfake.AddNote), "one 429, one note")
	// Redelivery, and the rule firing again on the bot's own update.
	require.Equal(t, http.StatusOK, deliver(t, base, freshdeskfake.WebhookSecret, freshdeskfake.WebhookBody(4711)))
	require.Equal(t, http.StatusOK, deliver(t, base, freshdeskfake.WebhookSecret, freshdeskfake.SimpleWebhookBody(4711)))

	// The customer replies; the quoted history's code is not new.
	fake.AddReply(4711, true, `<div>Now I also see ERR_NGROK_3200</div><blockquote class="freshdesk_quote">ERR_NGROK_108</blockquote>`)
	require.Equal(t, http.StatusOK, deliver(t, base, freshdeskfake.WebhookSecret, freshdeskfake.WebhookBody(4711)))
	waitFor(t, 30*time.Second, "the reply's note", func() bool { return len(fake.Notes(4711)) == 2 })
	time.Sleep(500 * time.Millisecond) // let any duplicate show up

	notes := fake.Notes(4711)
	require.Len(t, notes, 2)
	assert.True(t, notes[0].Private)
	assert.Contains(t, notes[0].BodyText, "ERR_NGROK_108 — written in the message")
	assert.Contains(t, notes[0].BodyText, "https://ngrok.com/docs/errors/err_ngrok_108")
	assert.Contains(t, notes[1].BodyText, "ERR_NGROK_3200 — written in the message")
	assert.Contains(t, notes[1].BodyText, "ERR_NGROK_108 — written in the message; only in quoted history")
	tk, _ = fake.Ticket(4711)
	assert.ElementsMatch(t, []string{"ngrok-err-108", "triage-agent-auth", "ngrok-err-3200", "triage-upstream-gateway"}, tk.Tags)
	require.NotNil(t, tk.GroupID)
	assert.Equal(t, int64(101), *tk.GroupID, "the reply's upstream-gateway has no group: the default")
	if t.Failed() {
		b, _ := os.ReadFile(logf)
		t.Logf("log:\n%s", tail(string(b), 4000))
	}
}

// TestFreshdeskCrashMidBurst kills `triage run` with SIGKILL while it
// writes the notes of 500 webhooks, restarts it, redelivers what was not
// acknowledged (as Freshdesk would), and checks that every ticket got
// exactly one note.
func TestFreshdeskCrashMidBurst(t *testing.T) {
	if testing.Short() {
		t.Skip("crash test starts subprocesses")
	}
	fake := freshdeskfake.New()
	t.Cleanup(fake.Close)
	addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	base := "http://" + addr
	cfg, logf := writeFreshdeskConfig(t, fake.APIURL(), addr, freshdeskfake.APIKey)
	const n = 500
	for i := range n {
		fake.AddTicket(int64(10000+i), fmt.Sprintf("ticket %d", i), fmt.Sprintf("<p>ngrok says ERR_NGROK_%d</p>", 3200+i%5))
	}
	stop := startFreshdeskRun(t, cfg, logf, base)

	var mu sync.Mutex
	acked := map[int]bool{}
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := w; i < n; i += 4 {
				resp, err := http.DefaultClient.Do(freshdeskfake.WebhookRequest(base+"/hooks/freshdesk", freshdeskfake.WebhookSecret, freshdeskfake.WebhookBody(int64(10000+i))))
				if err != nil {
					continue // the process is gone; redelivered below
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					mu.Lock()
					acked[i] = true
					mu.Unlock()
				}
			}
		})
	}
	waitFor(t, 60*time.Second, "the first notes", func() bool { return fake.Calls(freshdeskfake.AddNote) >= 50 })
	stop()
	wg.Wait()
	posted := fake.Calls(freshdeskfake.AddNote)
	t.Logf("killed after %d notes with %d of %d webhooks acknowledged", posted, len(acked), n)
	require.Less(t, posted, n, "the kill should come mid-burst")

	startFreshdeskRun(t, cfg, logf, base)
	for i := range n {
		if !acked[i] {
			require.Equal(t, http.StatusOK, deliver(t, base, freshdeskfake.WebhookSecret, freshdeskfake.WebhookBody(int64(10000+i))))
		}
	}
	waitFor(t, 120*time.Second, "a note on every ticket", func() bool {
		for i := range n {
			if len(fake.Notes(int64(10000+i))) == 0 {
				return false
			}
		}
		return true
	})
	last := -1
	waitFor(t, 30*time.Second, "the outbox to go quiet", func() bool {
		cur := fake.Calls(freshdeskfake.AddNote) + fake.Calls(freshdeskfake.PutTicket)
		quiet := cur == last
		last = cur
		time.Sleep(300 * time.Millisecond)
		return quiet
	})
	t.Logf("in all: %d note posts, %d conversation reads (one per stored webhook, plus the note searches after the kill)", fake.Calls(freshdeskfake.AddNote), fake.Calls(freshdeskfake.ListConversations))
	bad := 0
	for i := range n {
		if c := len(fake.Notes(int64(10000 + i))); c != 1 {
			bad++
			if bad <= 5 {
				t.Errorf("ticket %d has %d notes", 10000+i, c)
			}
		}
	}
	if t.Failed() {
		b, _ := os.ReadFile(logf)
		t.Logf("log:\n%s", tail(string(b), 4000))
	}
}

func TestFreshdeskConfigCheckConnect(t *testing.T) {
	fake := freshdeskfake.New()
	t.Cleanup(fake.Close)
	tests := []struct {
		name   string
		key    string
		code   int
		stdout string
		stderr string
	}{
		{"all well", freshdeskfake.APIKey, 0, "freshdesk: acme reachable, API key OK, all 2 configured group(s) exist", ""},
		{"wrong key", "not-the-key", 1, "", "freshdesk (acme): cannot use the API"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, _ := writeFreshdeskConfig(t, fake.APIURL(), "127.0.0.1:0", tt.key)
			stdout, stderr, code := triage(t, "", "config", "check", "--connect", "--config", cfg)
			assert.Equal(t, tt.code, code, stderr)
			assert.Contains(t, stdout, tt.stdout)
			assert.Contains(t, stderr, tt.stderr)
			assert.NotContains(t, stderr+stdout, "not-the-key", "the key is never printed")
		})
	}
	assert.True(t, strings.HasPrefix(fake.APIURL(), "http://127.0.0.1"))
}
