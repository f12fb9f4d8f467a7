package main

import (
	"fmt"
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

	"github.com/triage-bot/triage/integrations/helpscout"
	"github.com/triage-bot/triage/integrations/helpscout/helpscoutfake"
)

func helpScoutYAML(dataDir, apiURL, listen string) string {
	return fmt.Sprintf(`data_dir: %s
http:
  listen: %q
helpscout:
  app_id: %s
  app_secret_file: %s
  webhook_secret: %s
  api_url: %s
  assignees:
    agent-auth: %d
    default: %d
  inboxes:
    billing: %d
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
        source: helpscout
        has_code: true
      actions:
        - kind: helpscout.note
          target: default
        - kind: helpscout.tag
          target: default
        - kind: helpscout.assign
          target: "{{.Primary}}"
`, dataDir, listen, helpscoutfake.AppID, filepath.Join(dataDir, "app-secret"), helpscoutfake.WebhookSecret, apiURL,
		helpscoutfake.TeamAgents, helpscoutfake.UserAna, helpscoutfake.MailboxBilling)
}

func writeHelpScoutConfig(t *testing.T, apiURL, listen string) (cfgPath, logPath string) {
	t.Helper()
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	require.NoError(t, os.MkdirAll(data, 0o700))
	require.NoError(t, os.WriteFile(filepath.Join(data, "app-secret"), []byte(helpscoutfake.AppSecret+"\n"), 0o600))
	cfgPath = filepath.Join(dir, "triage.yaml")
	require.NoError(t, os.WriteFile(cfgPath, []byte(helpScoutYAML(data, apiURL, listen)), 0o600))
	return cfgPath, filepath.Join(dir, "triage.log")
}

// startHelpScoutRun starts `triage run` and waits for its HTTP server.
func startHelpScoutRun(t *testing.T, cfg, logf, addr string) func() {
	t.Helper()
	cmd := startCLI(t, logf, "run", "--config", cfg)
	waitFor(t, 30*time.Second, "the HTTP server", func() bool {
		resp, err := http.Get("http://" + addr + "/healthz")
		if err == nil {
			resp.Body.Close()
		}
		return err == nil
	})
	return func() { _ = cmd.Process.Signal(syscall.SIGKILL); _ = cmd.Wait() }
}

func deliverHelpScout(url, secret, event string, body []byte) (int, error) {
	resp, err := http.DefaultClient.Do(helpscoutfake.WebhookRequest(url, secret, event, body))
	if err != nil {
		return 0, err
	}
	resp.Body.Close()
	return resp.StatusCode, nil
}

// quietHelpScout waits until count stops changing across several polls.
func quietHelpScout(t *testing.T, what string, count func() int) {
	t.Helper()
	last := -1
	waitFor(t, 30*time.Second, what, func() bool {
		cur := count()
		q := cur == last
		last = cur
		time.Sleep(300 * time.Millisecond)
		return q
	})
}

// TestHelpScoutEndToEnd runs `triage run` against the fake Help Scout:
// a forged webhook is refused and stores nothing; a signed one becomes a
// note, tags and an assignment; its redelivery changes nothing; a rate
// limit is waited out; a code only named by the customer's words is
// noted as a guess.
func TestHelpScoutEndToEnd(t *testing.T) {
	fake := helpscoutfake.New()
	t.Cleanup(fake.Close)
	addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	cfg, logf := writeHelpScoutConfig(t, fake.APIURL(), addr)
	stop := startHelpScoutRun(t, cfg, logf, addr)
	t.Cleanup(stop)
	hook := "http://" + addr + "/hooks/helpscout"

	forged := fake.AddConversation(helpscoutfake.MailboxSupport, "agent down", "eve@example.com", "<p>ERR_NGROK_108</p>")
	code, err := deliverHelpScout(hook, "not-the-secret", helpscout.EventCreated, fake.Payload(forged.ID, true))
	require.NoError(t, err)
	assert.Equal(t, http.StatusUnauthorized, code)

	c := fake.AddConversation(helpscoutfake.MailboxSupport, "agent offline",
		"ana@example.com", "<p>Our agent stopped with <b>ERR_NGROK_108</b> this morning.</p><blockquote>earlier: ERR_NGROK_3200</blockquote>")
	body := fake.Payload(c.ID, true)
	code, err = deliverHelpScout(hook, helpscoutfake.WebhookSecret, helpscout.EventCreated, body)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, code)
	waitFor(t, 30*time.Second, "the note, tags and assignment", func() bool {
		got, _ := fake.Conversation(c.ID)
		return len(fake.Notes(c.ID)) == 1 && len(got.Tags) > 0 && got.Assignee != 0
	})
	note := fake.Notes(c.ID)[0].Body
	assert.Contains(t, note, "ERR_NGROK_108 (agent-auth)")
	assert.Contains(t, note, "written by the customer")
	assert.Contains(t, note, `<a href="https://ngrok.com/docs/errors/err_ngrok_108/">`)
	assert.Contains(t, note, "ERR_NGROK_3200 (upstream-gateway), only in quoted history")
	assert.Contains(t, note, "triage-action:")
	got, _ := fake.Conversation(c.ID)
	assert.Equal(t, []string{"ngrok-err-108", "triage-agent-auth"}, got.Tags)
	assert.Equal(t, helpscoutfake.TeamAgents, got.Assignee)

	// Help Scout delivers the same webhook again: nothing new.
	code, err = deliverHelpScout(hook, helpscoutfake.WebhookSecret, helpscout.EventCreated, body)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, code)
	quietHelpScout(t, "the outbox to go quiet", func() int { return fake.Calls("POST /v2/conversations/{id}/notes") })
	assert.Len(t, fake.Notes(c.ID), 1)
	assert.Equal(t, 1, fake.TagWrites(c.ID))
	assert.Equal(t, 1, fake.Assignments(c.ID))
	assert.Empty(t, fake.Notes(forged.ID), "the forged delivery stored nothing")

	// A customer reply, delivered without threads while Help Scout is
	// rate limiting: the thread is fetched, and the writes wait.
	reply := fake.AddCustomerReply(c.ID, "<p>Now the agent log says: your account is limited to 1 simultaneous ngrok agent session.</p>")
	fake.RateLimitOn("POST /v2/conversations/{id}/notes", 2, 1)
	start := time.Now()
	code, err = deliverHelpScout(hook, helpscoutfake.WebhookSecret, helpscout.EventCustomerReply, fake.Payload(c.ID, false))
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, code)
	assert.Equal(t, 1, fake.Calls("GET /v2/conversations/{id}/threads"), "the payload had no threads: fetched")
	waitFor(t, 30*time.Second, "the second note", func() bool { return len(fake.Notes(c.ID)) == 2 })
	assert.GreaterOrEqual(t, time.Since(start), time.Second, "the rate limit was waited out")
	t.Logf("reply %d noted after %s", reply.ID, time.Since(start))
	second := fake.Notes(c.ID)[1].Body
	assert.Contains(t, second, "looks like ERR_NGROK_108")
	assert.Contains(t, second, "inferred from the words")
	if t.Failed() {
		b, _ := os.ReadFile(logf)
		t.Logf("log:\n%s", tail(string(b), 4000))
	}
}

// TestHelpScoutCrashMidBurst kills `triage run` with SIGKILL while it
// works through 500 webhook deliveries, restarts it, lets Help Scout
// deliver what was not acknowledged again (and everything else once
// more), and checks that every conversation got exactly one note.
func TestHelpScoutCrashMidBurst(t *testing.T) {
	fake := helpscoutfake.New()
	t.Cleanup(fake.Close)
	addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	cfg, logf := writeHelpScoutConfig(t, fake.APIURL(), addr)
	stop := startHelpScoutRun(t, cfg, logf, addr)
	hook := "http://" + addr + "/hooks/helpscout"

	const n = 500
	ids := make([]int, n)
	bodies := make([][]byte, n)
	for i := range n {
		c := fake.AddConversation(helpscoutfake.MailboxSupport, fmt.Sprintf("ticket %d", i), fmt.Sprintf("c%d@example.com", i),
			fmt.Sprintf("<p>message %d: ngrok says ERR_NGROK_%d</p>", i, 3200+i%5))
		ids[i], bodies[i] = c.ID, fake.Payload(c.ID, true)
	}
	acked := make([]bool, n)
	var mu sync.Mutex
	deliverAll := func(only func(i int) bool) {
		var wg sync.WaitGroup
		next := make(chan int)
		for range 8 {
			wg.Go(func() {
				for i := range next {
					code, err := deliverHelpScout(hook, helpscoutfake.WebhookSecret, helpscout.EventCreated, bodies[i])
					if err == nil && code == http.StatusOK {
						mu.Lock()
						acked[i] = true
						mu.Unlock()
					}
				}
			})
		}
		for i := range n {
			if only(i) {
				next <- i
			}
		}
		close(next)
		wg.Wait()
	}
	go func() {
		waitFor(t, 60*time.Second, "the first notes", func() bool { return fake.Calls("POST /v2/conversations/{id}/notes") >= 50 })
		stop()
	}()
	deliverAll(func(int) bool { return true })
	waitFor(t, 60*time.Second, "the kill", func() bool {
		resp, err := http.Get("http://" + addr + "/healthz")
		if err == nil {
			resp.Body.Close()
		}
		return err != nil
	})
	posted := fake.Calls("POST /v2/conversations/{id}/notes")
	mu.Lock()
	nacked := 0
	for _, a := range acked {
		if !a {
			nacked++
		}
	}
	mu.Unlock()
	t.Logf("killed after %d notes, %d deliveries not acknowledged", posted, nacked)
	require.Less(t, posted, n, "the kill should come mid-burst")

	stop2 := startHelpScoutRun(t, cfg, logf, addr)
	t.Cleanup(stop2)
	deliverAll(func(i int) bool { mu.Lock(); defer mu.Unlock(); return !acked[i] })
	deliverAll(func(int) bool { return true }) // a redelivery of everything changes nothing
	waitFor(t, 120*time.Second, "a note on every conversation", func() bool {
		for _, id := range ids {
			if len(fake.Notes(id)) == 0 {
				return false
			}
		}
		return true
	})
	quietHelpScout(t, "the outbox to go quiet", func() int { return fake.Calls("POST /v2/conversations/{id}/notes") })
	t.Logf("after the restart: %d note posts, %d thread searches", fake.Calls("POST /v2/conversations/{id}/notes"), fake.Calls("GET /v2/conversations/{id}/threads"))
	dup := 0
	for _, id := range ids {
		if c := len(fake.Notes(id)); c != 1 {
			dup++
			t.Errorf("conversation %d has %d notes", id, c)
			if dup > 5 {
				break
			}
		}
	}
	if t.Failed() {
		b, _ := os.ReadFile(logf)
		t.Logf("log:\n%s", tail(string(b), 4000))
	}
}

// TestHelpScoutConfigCheckConnect runs `triage config check --connect`
// against the fake: credentials and names found, then a missing inbox
// named.
func TestHelpScoutConfigCheckConnect(t *testing.T) {
	fake := helpscoutfake.New()
	t.Cleanup(fake.Close)
	cfg, _ := writeHelpScoutConfig(t, fake.APIURL(), "127.0.0.1:0")
	out, errOut, code := triage(t, "", "config", "check", "--connect", "--config", cfg)
	require.Equal(t, 0, code, "stdout: %s\nstderr: %s", out, errOut)
	assert.Contains(t, out, "helpscout: credentials OK as Triage Bot <bot@example.com>")

	data, err := os.ReadFile(cfg)
	require.NoError(t, err)
	broken := strings.Replace(string(data), fmt.Sprintf("billing: %d", helpscoutfake.MailboxBilling), "billing: 4040", 1)
	require.NoError(t, os.WriteFile(cfg, []byte(broken), 0o600))
	out, errOut, code = triage(t, "", "config", "check", "--connect", "--config", cfg)
	assert.NotEqual(t, 0, code)
	assert.Contains(t, out+errOut, "inbox billing: mailbox 4040 does not exist")
}
