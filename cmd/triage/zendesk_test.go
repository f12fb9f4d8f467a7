package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
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

	"github.com/triage-bot/triage/integrations/zendesk/zendeskfake"
)

func zendeskConfig(dataDir, baseURL, listen, groups string) string {
	return fmt.Sprintf(`data_dir: %s
http:
  listen: %q
zendesk:
  subdomain: acme
  base_url: %s
  email: %s
  api_token_file: %s
  webhook_secret: %s
  groups:
%s
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
        source: zendesk
      actions:
        - kind: zendesk.note
        - kind: zendesk.tag
        - kind: zendesk.assign
`, dataDir, listen, baseURL, zendeskfake.Email, filepath.Join(dataDir, "zd-token"), zendeskfake.WebhookSecret, groups)
}

const zendeskGroups = "    agent-auth: Agent Team\n    default: \"11\""

func writeZendeskConfig(t *testing.T, baseURL, listen, groups string) (cfgPath, logPath string) {
	t.Helper()
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	require.NoError(t, os.MkdirAll(data, 0o700))
	require.NoError(t, os.WriteFile(filepath.Join(data, "zd-token"), []byte(zendeskfake.APIToken+"\n"), 0o600))
	cfgPath = filepath.Join(dir, "triage.yaml")
	require.NoError(t, os.WriteFile(cfgPath, []byte(zendeskConfig(data, baseURL, listen, groups)), 0o600))
	return cfgPath, filepath.Join(dir, "triage.log")
}

func startZendeskRun(t *testing.T, fake *zendeskfake.Server) (hook, cfg, logf string, cmd func() *exec.Cmd) {
	t.Helper()
	addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	cfg, logf = writeZendeskConfig(t, fake.URL(), addr, zendeskGroups)
	start := func() *exec.Cmd {
		c := startCLI(t, logf, "run", "--config", cfg)
		waitFor(t, 30*time.Second, "the HTTP server", func() bool {
			resp, err := http.Get("http://" + addr + "/healthz")
			if err == nil {
				resp.Body.Close()
			}
			return err == nil
		})
		return c
	}
	return "http://" + addr + "/hooks/zendesk", cfg, logf, start
}

// quiet waits until the fake has seen no request across a few polls.
func quiet(t *testing.T, fake *zendeskfake.Server) {
	t.Helper()
	last := -1
	waitFor(t, 30*time.Second, "Zendesk to go quiet", func() bool {
		cur := len(fake.Requests())
		q := cur == last
		last = cur
		time.Sleep(300 * time.Millisecond)
		return q
	})
}

// TestZendeskEndToEnd: a signed trigger call in → the ticket stored →
// an internal note, tags and a group out; a forged call → 401 and
// nothing; a redelivery → nothing new; 429 → the outbox waits and
// carries on.
func TestZendeskEndToEnd(t *testing.T) {
	fake := zendeskfake.New()
	t.Cleanup(fake.Close)
	hook, _, logf, start := startZendeskRun(t, fake)
	cmd := start()
	t.Cleanup(func() { _ = cmd.Process.Signal(syscall.SIGTERM); _ = cmd.Wait() })
	ctx := context.Background()

	tid, _ := fake.AddTicket("ana@example.com", "tunnel refused", "Hi,\nngrok says ERR_NGROK_108 when I start a second agent.\n\nOn Monday, Bob wrote:\n> we had ERR_NGROK_3200 last week\n")
	code, err := zendeskfake.Webhook{Body: zendeskfake.TriggerBody(tid), Secret: "forged"}.Deliver(ctx, hook)
	require.NoError(t, err)
	assert.Equal(t, http.StatusUnauthorized, code)
	code, err = zendeskfake.Webhook{Body: zendeskfake.TriggerBody(tid), Time: time.Now().Add(-time.Hour)}.Deliver(ctx, hook)
	require.NoError(t, err)
	assert.Equal(t, http.StatusUnauthorized, code, "a replayed old call")
	assert.Empty(t, fake.Requests(), "refused calls reach nothing")

	code, err = zendeskfake.Webhook{Body: zendeskfake.TriggerBody(tid)}.Deliver(ctx, hook)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, code)
	waitFor(t, 30*time.Second, "note, tags and group", func() bool {
		tk, _ := fake.Ticket(tid)
		return len(fake.Notes(tid)) == 1 && len(tk.Tags) > 0 && tk.GroupID != nil
	})
	tk, _ := fake.Ticket(tid)
	assert.Equal(t, []string{"ngrok-err-108", "triage-agent-auth"}, tk.Tags, "no tag for a code only in quoted history")
	assert.Equal(t, int64(10), *tk.GroupID, "agent-auth → Agent Team")
	note := fake.Notes(tid)[0].Body
	for _, want := range []string{"triage: agent-auth", "ERR_NGROK_108 (agent-auth) — written", "Meaning: ", "Docs: https://ngrok.com/docs/errors/err_ngrok_108/",
		"ERR_NGROK_3200", "written only in quoted history", "triage-action:"} {
		assert.Contains(t, note, want)
	}

	// The same comment again, by the trigger and by an event subscription.
	cid := tk.Comments[0].ID
	for _, body := range [][]byte{zendeskfake.TriggerBody(tid), fake.CommentAddedEvent(tid, cid)} {
		code, err = zendeskfake.Webhook{Body: body}.Deliver(ctx, hook)
		require.NoError(t, err)
		assert.Equal(t, http.StatusOK, code)
	}
	quiet(t, fake)
	assert.Len(t, fake.Notes(tid), 1, "a redelivery adds no second note")

	// The dashboard links the ticket to its Zendesk page.
	dash := strings.TrimSuffix(hook, "/hooks/zendesk")
	page := fmt.Sprintf("%s/agent/tickets/%d", fake.URL(), tid)
	resp, err := http.Get(dash + "/tickets/" + url.PathEscape(fmt.Sprintf("zendesk:acme/%d/%d", tid, cid)))
	require.NoError(t, err)
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Contains(t, string(body), `<a id="ticket-link" class="helpdesk" href="`+page+`"`)
	assert.Contains(t, string(body), "open in Zendesk")

	// Rate limited: the next API calls answer 429 with Retry-After: 1.
	tid2, cid2 := fake.AddTicket("bo@example.com", "502s", "my tunnel gives ERR_NGROK_3200")
	fake.RateLimit(3, time.Second)
	began := time.Now()
	code, err = zendeskfake.Webhook{Body: fake.CommentAddedEvent(tid2, cid2)}.Deliver(ctx, hook)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, code)
	waitFor(t, 30*time.Second, "the note after the rate limit", func() bool { return len(fake.Notes(tid2)) == 1 })
	assert.GreaterOrEqual(t, time.Since(began), time.Second, "the outbox waited for Retry-After")
	if t.Failed() {
		b, _ := os.ReadFile(logf)
		t.Logf("log:\n%s", tail(string(b), 4000))
	}
}

// TestZendeskCrashMidBurst kills `triage run` with SIGKILL while 500
// comments arrive, restarts it, lets Zendesk deliver again every call
// that was not answered 200, and checks that every ticket got exactly one
// note.
func TestZendeskCrashMidBurst(t *testing.T) {
	if testing.Short() {
		t.Skip("crash test starts subprocesses")
	}
	fake := zendeskfake.New()
	t.Cleanup(fake.Close)
	hook, _, logf, start := startZendeskRun(t, fake)
	cmd := start()

	const n = 500
	type call struct {
		tid  int64
		body []byte
	}
	calls := make([]call, n)
	for i := range n {
		tid, cid := fake.AddTicket(fmt.Sprintf("c%d@example.com", i), fmt.Sprintf("ticket %d", i), fmt.Sprintf("message %d: ngrok says ERR_NGROK_%d", i, 3200+i%5))
		calls[i] = call{tid, fake.CommentAddedEvent(tid, cid)}
	}
	acked := make([]bool, n)
	deliverAll := func() {
		var wg sync.WaitGroup
		next := make(chan int)
		for range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range next {
					code, err := zendeskfake.Webhook{Body: calls[i].body}.Deliver(context.Background(), hook)
					if err == nil && code == http.StatusOK {
						acked[i] = true
					}
				}
			}()
		}
		for i := range n {
			if !acked[i] {
				next <- i
			}
		}
		close(next)
		wg.Wait()
	}
	done := make(chan struct{})
	go func() { deliverAll(); close(done) }()
	waitFor(t, 60*time.Second, "the first notes", func() bool { return fake.Count(http.MethodPut, "/api/v2/tickets/") >= 100 })
	require.NoError(t, cmd.Process.Signal(syscall.SIGKILL))
	_ = cmd.Wait()
	<-done
	unacked := 0
	for _, a := range acked {
		if !a {
			unacked++
		}
	}
	t.Logf("killed after %d PUTs; %d of %d calls unanswered", fake.Count(http.MethodPut, "/api/v2/tickets/"), unacked, n)

	cmd2 := start()
	t.Cleanup(func() { _ = cmd2.Process.Signal(syscall.SIGTERM); _ = cmd2.Wait() })
	deliverAll() // Zendesk retries what was not answered 200
	waitFor(t, 180*time.Second, "a note on every ticket", func() bool {
		for _, c := range calls {
			if len(fake.Notes(c.tid)) == 0 {
				return false
			}
		}
		return true
	})
	quiet(t, fake)
	bad := 0
	for i, c := range calls {
		assert.True(t, acked[i], "call %d answered 200 in the end", i)
		if got := len(fake.Notes(c.tid)); got != 1 {
			bad++
			t.Errorf("ticket %d has %d notes", c.tid, got)
			if bad > 5 {
				break
			}
		}
	}
	if t.Failed() {
		b, _ := os.ReadFile(logf)
		t.Logf("log:\n%s", tail(string(b), 4000))
	}
}

func TestConfigCheckConnectZendesk(t *testing.T) {
	fake := zendeskfake.New()
	t.Cleanup(fake.Close)
	cfgPath, _ := writeZendeskConfig(t, fake.URL(), "127.0.0.1:0", zendeskGroups)
	var out bytes.Buffer
	errs := checkZendesk(context.Background(), mustLoad(t, cfgPath), &out)
	assert.Empty(t, errs)
	assert.Contains(t, out.String(), "zendesk: "+fake.URL()+" reachable, signed in as Triage Bot <bot@example.com>, agent")

	cfgPath, _ = writeZendeskConfig(t, fake.URL(), "127.0.0.1:0", "    agent-auth: Agents\n    default: \"99\"")
	errs = checkZendesk(context.Background(), mustLoad(t, cfgPath), &out)
	require.Len(t, errs, 2)
	assert.Contains(t, errs[0].Error(), `zendesk.groups.agent-auth: no group named "Agents"`)
	assert.Contains(t, errs[1].Error(), "zendesk.groups.default: no group with ID 99")

	require.NoError(t, os.WriteFile(filepath.Join(filepath.Dir(cfgPath), "data", "zd-token"), []byte("wrong"), 0o600))
	errs = checkZendesk(context.Background(), mustLoad(t, cfgPath), &out)
	require.Len(t, errs, 1)
	assert.True(t, strings.Contains(errs[0].Error(), "HTTP 401"), errs[0])
}
