package main

import (
	"encoding/json"
	"fmt"
	"io"
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
	"github.com/triage-bot/triage/integrations/slack/slackfake"
)

func slackConfig(dataDir, mode, apiURL, listen string) string {
	return fmt.Sprintf(`data_dir: %s
http:
  listen: %q
slack:
  mode: %s
  bot_token: %s
  app_token_file: %s
  signing_secret: %s
  api_url: %s
  channels: [C0SUPPORT]
  triage_channels:
    default: C0TRIAGE
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
    - name: answer
      match:
        source: slack
        has_code: true
      actions:
        - kind: slack.reply
`, dataDir, listen, mode, slackfake.BotToken, filepath.Join(dataDir, "app-token"), slackfake.SigningSecret, apiURL)
}

func writeSlackConfig(t *testing.T, mode, apiURL, listen string) (cfgPath, logPath string) {
	t.Helper()
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	require.NoError(t, os.MkdirAll(data, 0o700))
	require.NoError(t, os.WriteFile(filepath.Join(data, "app-token"), []byte(slackfake.AppToken+"\n"), 0o600))
	cfgPath = filepath.Join(dir, "triage.yaml")
	require.NoError(t, os.WriteFile(cfgPath, []byte(slackConfig(data, mode, apiURL, listen)), 0o600))
	return cfgPath, filepath.Join(dir, "triage.log")
}

func slackMessage(fake *slackfake.Server, eventID, text string) (body []byte, ts string) {
	m := fake.AddMessage(slackfake.Message{Channel: "C0SUPPORT", User: "U0ANA", Text: text})
	return slackfake.EventCallback(eventID, map[string]any{"type": "message", "channel": "C0SUPPORT", "user": "U0ANA",
		"text": text, "ts": m.TS, "channel_type": "channel", "event_ts": m.TS}), m.TS
}

// TestSlackCrashMidBurst kills `triage run` with SIGKILL while it works
// through a burst of 500 Slack messages, restarts it, and checks that
// every message got exactly one thread reply.
func TestSlackCrashMidBurst(t *testing.T) {
	if testing.Short() {
		t.Skip("crash test starts subprocesses")
	}
	fake := slackfake.New()
	t.Cleanup(fake.Close)
	cfg, logf := writeSlackConfig(t, "socket", fake.APIURL(), "off")

	cmd := startCLI(t, logf, "run", "--config", cfg)
	waitFor(t, 30*time.Second, "the socket mode connection", func() bool { open, _ := fake.Connections(); return open == 1 })

	const n = 500
	var tss []string
	for i := range n {
		body, ts := slackMessage(fake, fmt.Sprintf("Ev%04d", i), fmt.Sprintf("message %d: ngrok says ERR_NGROK_%d", i, 3200+i%5))
		tss = append(tss, ts)
		fake.SendEvent(body)
	}
	waitFor(t, 60*time.Second, "the first replies", func() bool { return fake.Calls("chat.postMessage") >= 50 })
	require.NoError(t, cmd.Process.Signal(syscall.SIGKILL))
	_ = cmd.Wait()
	posted, pending := fake.Calls("chat.postMessage"), fake.Pending()
	t.Logf("killed after %d posts with %d envelopes unacknowledged", posted, pending)
	require.Less(t, posted, n, "the kill should come mid-burst")

	cmd2 := startCLI(t, logf, "run", "--config", cfg)
	waitFor(t, 120*time.Second, "a reply to every message", func() bool {
		for _, ts := range tss {
			if len(fake.BotReplies("C0SUPPORT", ts)) == 0 {
				return false
			}
		}
		return fake.Pending() == 0
	})
	// Give duplicates a chance to show: wait until the outbox has gone
	// quiet (no new posts across several polls), then count.
	last := -1
	waitFor(t, 30*time.Second, "the outbox to go quiet", func() bool {
		cur := fake.Calls("chat.postMessage")
		quiet := cur == last
		last = cur
		time.Sleep(300 * time.Millisecond)
		return quiet
	})
	t.Logf("after the restart: %d posts, %d thread searches (replies that may have been posted before the kill)", fake.Calls("chat.postMessage"), fake.Calls("conversations.replies"))
	require.NoError(t, cmd2.Process.Signal(syscall.SIGTERM))
	_ = cmd2.Wait()
	dup := 0
	for _, ts := range tss {
		if c := len(fake.BotReplies("C0SUPPORT", ts)); c != 1 {
			dup++
			t.Errorf("message %s has %d replies", ts, c)
			if dup > 5 {
				break
			}
		}
	}
	assert.Equal(t, n, len(fake.Messages("C0SUPPORT"))-n, "replies in all")
	if t.Failed() {
		b, _ := os.ReadFile(logf)
		t.Logf("log:\n%s", tail(string(b), 4000))
	}
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

// TestSlackEventsModeEndToEnd runs `triage run` in events mode: Slack's
// signed requests on POST /slack/events and /slack/commands.
func TestSlackEventsModeEndToEnd(t *testing.T) {
	fake := slackfake.New()
	t.Cleanup(fake.Close)
	port := freePort(t)
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	cfg, logf := writeSlackConfig(t, "events", fake.APIURL(), addr)
	cmd := startCLI(t, logf, "run", "--config", cfg)
	t.Cleanup(func() { _ = cmd.Process.Signal(syscall.SIGTERM); _ = cmd.Wait() })
	base := "http://" + addr
	waitFor(t, 30*time.Second, "the HTTP server", func() bool {
		resp, err := http.Get(base + "/healthz")
		if err == nil {
			resp.Body.Close()
		}
		return err == nil
	})
	post := func(path, ct string, body []byte, secret string) (int, string) {
		resp, err := http.DefaultClient.Do(slackfake.SignedRequest(base+path, secret, time.Now(), ct, body))
		require.NoError(t, err)
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	body, ts := slackMessage(fake, "EvE1", "hello, ERR_NGROK_108 again")
	code, _ := post("/slack/events", "application/json", body, "wrong")
	assert.Equal(t, http.StatusUnauthorized, code)
	code, _ = post("/slack/events", "application/json", body, slackfake.SigningSecret)
	require.Equal(t, http.StatusOK, code)
	code, _ = post("/slack/events", "application/json", body, slackfake.SigningSecret)
	require.Equal(t, http.StatusOK, code)
	waitFor(t, 30*time.Second, "the reply", func() bool { return len(fake.BotReplies("C0SUPPORT", ts)) == 1 })
	code, out := post("/slack/commands", "application/x-www-form-urlencoded", []byte("command=%2Fngrok-error&text=ERR_NGROK_3200&user_id=U0ANA&channel_id=C0SUPPORT"), slackfake.SigningSecret)
	require.Equal(t, http.StatusOK, code)
	assert.True(t, strings.Contains(out, "ERR_NGROK_3200") && strings.Contains(out, "ephemeral"), out)
	assert.Len(t, fake.BotReplies("C0SUPPORT", ts), 1)
}

func TestSlackConfig(t *testing.T) {
	base := "http:\n  listen: \"off\"\n"
	tests := []struct {
		name  string
		yaml  string
		wants []string
	}{
		{"missing tokens and channels", "slack: {}\n", []string{"slack.bot_token: required", "slack.app_token: socket mode needs", "slack.channels: list the channel IDs"}},
		{"wrong token kinds", "slack:\n  bot_token: xapp-1\n  app_token: xoxb-1\n  channels: [C0SUPPORT]\n", []string{"start with xoxb-", "start with xapp-"}},
		{"events mode needs secret and server", "slack:\n  mode: events\n  bot_token: xoxb-1\n  channels: [C0SUPPORT]\n", []string{"slack.signing_secret: events mode needs", "http.listen is off"}},
		{"bad mode", "slack:\n  mode: rtm\n  bot_token: xoxb-1\n  channels: [C0SUPPORT]\n", []string{`slack.mode: "rtm" is neither socket nor events`}},
		{"channel names", "slack:\n  bot_token: xoxb-1\n  app_token: xapp-1\n  channels: ['#support']\n  triage_channels: {billing: C0X1, agent-auth: '#agents'}\n  emoji: {default: ':eyes:'}\n",
			[]string{`slack.channels[0]: "#support" is not a channel ID`, `slack.triage_channels: "billing" is not a category`, `slack.triage_channels.agent-auth: "#agents" is not a channel ID`, `slack.emoji.default: ":eyes:" is not an emoji name`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := config.Parse("t.yaml", []byte(base+tt.yaml), func(string) string { return "" })
			require.Error(t, err)
			for _, w := range tt.wants {
				assert.Contains(t, err.Error(), w)
			}
		})
	}
	t.Run("defaults, secret files and redaction", func(t *testing.T) {
		dir := t.TempDir()
		secret := filepath.Join(dir, "secret")
		require.NoError(t, os.WriteFile(secret, []byte("s3cr3t-signing\n"), 0o600))
		y := base + "slack:\n  bot_token: ${BOT}\n  app_token: xapp-1-A1-secretapp\n  signing_secret_file: " + secret + "\n  channels: [C0SUPPORT]\n"
		cfg, err := config.Parse("t.yaml", []byte(y), func(k string) string { return map[string]string{"BOT": "xoxb-1-secretbot"}[k] })
		require.NoError(t, err)
		assert.Equal(t, config.SlackSocket, cfg.Slack.Mode)
		assert.Equal(t, "s3cr3t-signing", cfg.Slack.SigningSecret)
		assert.Equal(t, "/ngrok-error", cfg.Slack.Command)
		assert.Equal(t, int64(config.DefaultSlackMaxFileBytes), cfg.Slack.MaxFileBytes)
		out := cfg.Redacted()
		for _, s := range []string{"xoxb-1-secretbot", "xapp-1-A1-secretapp", "s3cr3t-signing"} {
			assert.NotContains(t, out, s)
		}
		assert.Equal(t, "xoxb-1-secretbot", cfg.Slack.BotToken, "redaction leaves the config alone")
	})
}

// TestSlackConfigCheck checks what `config check` says of a Slack setup:
// Slack counts as a source, and slack.post or slack.react that pick by
// category without a channel or emoji to pick fail the check (and run)
// instead of the first delivery.
func TestSlackConfigCheck(t *testing.T) {
	slack := func(extra, actions string) string {
		return fmt.Sprintf(`data_dir: %s
http: {listen: "off"}
slack:
  bot_token: xoxb-1
  app_token: xapp-1
  channels: [C0SUPPORT]
%sroutes:
  rules:
    - name: answer
      match: {source: slack}
      actions: %s
`, t.TempDir(), extra, actions)
	}
	tests := []struct {
		name, yaml string
		wants      []string // in stderr; none means OK
	}{
		{"reply only", slack("", "[{kind: slack.reply}]"), nil},
		{"post auto without channels", slack("", "[{kind: slack.post, target: auto}]"),
			[]string{`rule "answer": the slack.post target "auto" picks by category, but slack.triage_channels is empty`}},
		{"react auto without emoji", slack("  triage_channels: {default: C0TRIAGE}\n", "[{kind: slack.react, target: auto}, {kind: slack.post, target: auto}]"),
			[]string{`the slack.react target "auto" picks by category, but slack.emoji is empty`}},
		{"category not mapped", slack("  emoji: {default: eyes}\n", "[{kind: slack.react, target: agent-auth}]"),
			[]string{`the slack.react target "agent-auth" is a category that slack.emoji does not map`}},
		{"all mapped", slack("  triage_channels: {default: C0TRIAGE}\n  emoji: {default: eyes}\n", "[{kind: slack.react, target: auto}, {kind: slack.post, target: auto}, {kind: slack.post, target: C0OTHER}]"), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "triage.yaml")
			require.NoError(t, os.WriteFile(path, []byte(tt.yaml), 0o600))
			stdout, stderr, code := triage(t, "", "config", "check", "--config", path)
			if len(tt.wants) == 0 {
				require.Equal(t, 0, code, stderr)
				assert.Contains(t, stdout, "1 source(s)", "the Slack workspace is a source")
				return
			}
			assert.Equal(t, 1, code)
			for _, w := range tt.wants {
				assert.Contains(t, stderr, w)
			}
			_, stderr, code = triage(t, "", "run", "--once", "--config", path)
			assert.Equal(t, 1, code, "run refuses it too")
			assert.Contains(t, stderr, tt.wants[0])
		})
	}
}

func TestSlackConfigCheckConnect(t *testing.T) {
	fake := slackfake.New()
	t.Cleanup(fake.Close)
	fake.AddChannel("C0SUPPORT", "support", true)
	cfg, _ := writeSlackConfig(t, "socket", fake.APIURL(), "off")
	stdout, stderr, code := triage(t, "", "config", "check", "--connect", "--config", cfg)
	assert.Equal(t, 1, code, "the bot is not in the triage channel")
	assert.Contains(t, stdout, "slack: signed in as triage (UBOT) in Fake")
	assert.Contains(t, stdout, "slack: channel C0SUPPORT (#support, read): the bot is a member")
	assert.Contains(t, stderr, "slack: channel C0TRIAGE (triage channel for default): not found")
	assert.Equal(t, 1, fake.Calls("auth.test"))

	fake.AddChannel("C0TRIAGE", "triage", true)
	stdout, stderr, code = triage(t, "", "config", "check", "--connect", "--config", cfg)
	require.Equal(t, 0, code, stderr)
	assert.Contains(t, stdout, "slack: channel C0TRIAGE (#triage, triage channel for default): the bot is a member")
}

// TestSlackSocketReadiness checks that /readyz lists the Socket Mode
// connection as a source of `triage run`.
func TestSlackSocketReadiness(t *testing.T) {
	if testing.Short() {
		t.Skip("starts triage run as a subprocess")
	}
	fake := slackfake.New()
	t.Cleanup(fake.Close)
	addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	cfg, logf := writeSlackConfig(t, "socket", fake.APIURL(), addr)
	cmd := startCLI(t, logf, "run", "--config", cfg)
	t.Cleanup(func() { _ = cmd.Process.Signal(syscall.SIGTERM); _ = cmd.Wait() })
	type health struct {
		Name  string `json:"name"`
		Stale bool   `json:"stale"`
	}
	var rd struct {
		Ready   bool     `json:"ready"`
		Sources []health `json:"sources"`
	}
	waitFor(t, 30*time.Second, "/readyz with the socket up", func() bool {
		resp, err := http.Get("http://" + addr + "/readyz")
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		if json.NewDecoder(resp.Body).Decode(&rd) != nil {
			return false
		}
		open, _ := fake.Connections()
		return open == 1 && rd.Ready && len(rd.Sources) > 0
	})
	assert.Equal(t, []health{{Name: "slack socket mode", Stale: false}}, rd.Sources)
	if t.Failed() {
		b, _ := os.ReadFile(logf)
		t.Logf("log:\n%s", tail(string(b), 3000))
	}
}
