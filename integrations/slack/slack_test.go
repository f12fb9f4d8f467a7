package slack_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"

	"github.com/triage-bot/triage/catalog"
	"github.com/triage-bot/triage/integrations/slack"
	"github.com/triage-bot/triage/integrations/slack/slackfake"
	"github.com/triage-bot/triage/normalize"
	"github.com/triage-bot/triage/outbox"
	"github.com/triage-bot/triage/pipeline"
	"github.com/triage-bot/triage/route"
	"github.com/triage-bot/triage/store"
	"github.com/triage-bot/triage/store/postgres"
	"github.com/triage-bot/triage/store/postgres/pgtest"
	"github.com/triage-bot/triage/store/sqlite"
	"github.com/triage-bot/triage/ticket"
)

var (
	_ outbox.Sink = (*slack.ReplySink)(nil)
	_ outbox.Sink = (*slack.PostSink)(nil)
	_ outbox.Sink = (*slack.ReactSink)(nil)
)

const rulesYAML = `
rules:
  - name: answer in slack
    match:
      source: slack
      has_code: true
    actions:
      - kind: slack.reply
      - kind: slack.react
        target: auto
      - kind: slack.post
        target: auto
`

type harness struct {
	fake *slackfake.Server
	st   store.Store
	bot  *slack.Bot
	ob   *outbox.Outbox
}

func newHarness(t *testing.T, mut func(*slack.Config)) *harness {
	t.Helper()
	fake := slackfake.New()
	t.Cleanup(fake.Close)
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "t.db"))
	require.NoError(t, err)
	t.Cleanup(func() { st.Close() })
	return newReplica(t, fake, st, "w", mut)
}

// newReplica is a harness on fake and st whose outbox worker is named
// worker: several of them on one shared store are replicas of one
// deployment.
func newReplica(t *testing.T, fake *slackfake.Server, st store.Store, worker string, mut func(*slack.Config)) *harness {
	t.Helper()
	cat, err := catalog.Default()
	require.NoError(t, err)
	var node yaml.Node
	require.NoError(t, yaml.Unmarshal([]byte(rulesYAML), &node))
	rules, err := route.Compile("test", node.Content[0], route.Options{})
	require.NoError(t, err)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if testing.Verbose() {
		log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	p := &pipeline.Pipeline{Catalog: cat, Rules: rules, Store: st, Log: log}
	cfg := slack.Config{BotToken: slackfake.BotToken, AppToken: slackfake.AppToken, SigningSecret: slackfake.SigningSecret,
		Channels: []string{"C0SUPPORT"}, TriageChannels: map[string]string{"default": "C0TRIAGE"},
		Emoji: map[string]string{"default": "eyes", "agent-auth": "key"}, APIURL: fake.APIURL(), MaxFileBytes: 1 << 10}
	if mut != nil {
		mut(&cfg)
	}
	bot := slack.New(cfg, p, st, cat, log)
	ob := outbox.New(outbox.Config{Worker: worker, Workers: 2, Backoff: 50 * time.Millisecond, Poll: 20 * time.Millisecond, MaxAttempts: 5},
		st, map[string]outbox.Sink{ticket.KindSlackReply: bot.ReplySink(), ticket.KindSlackPost: bot.PostSink(), ticket.KindSlackReact: bot.ReactSink()}, log, nil)
	return &harness{fake: fake, st: st, bot: bot, ob: ob}
}

// run starts the outbox (and the socket when socket is true) until the
// test ends.
func (h *harness) run(t *testing.T, socket bool) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{}, 2)
	go func() { _ = h.ob.Run(ctx); done <- struct{}{} }()
	n := 1
	if socket {
		n++
		go func() { _ = h.bot.RunSocket(ctx); done <- struct{}{} }()
	}
	t.Cleanup(func() {
		cancel()
		for range n {
			<-done
		}
	})
}

// say adds a customer message to the fake and returns its event body.
func (h *harness) say(eventID, text, threadTS string) (body []byte, ts string) {
	m := h.fake.AddMessage(slackfake.Message{Channel: "C0SUPPORT", User: "U0ANA", Text: text, ThreadTS: threadTS})
	ev := map[string]any{"type": "message", "channel": "C0SUPPORT", "user": "U0ANA", "text": text, "ts": m.TS, "channel_type": "channel", "event_ts": m.TS}
	if threadTS != "" {
		ev["thread_ts"] = threadTS
	}
	return slackfake.EventCallback(eventID, ev), m.TS
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (h *harness) settled(t *testing.T) {
	t.Helper()
	waitFor(t, "the outbox to settle", h.settledNow)
}

// settledNow reports whether no action is pending or running.
func (h *harness) settledNow() bool {
	c, err := h.st.CountActions(context.Background())
	return err == nil && c[ticket.StatePending] == 0 && c[ticket.StateRunning] == 0
}

func fixture(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	require.NoError(t, err)
	return b
}

func TestFixtures(t *testing.T) {
	tests := []struct {
		name    string
		file    string
		answer  bool // configure answer_bots
		id      string
		codes   []int
		quoted  string
		absent  []string // text that must not be stored
		attach  string
		nothing bool
		body    string // text the body part contains
		problem string // text one of the ticket's problems contains
	}{
		{name: "plain mrkdwn", file: "message_plain.json", id: "slack:T0FAKE/C0SUPPORT/1700000001.000100", codes: []int{108, 3200, 727}, quoted: "> last week it was ERR_NGROK_727"},
		{name: "rich text", file: "message_rich_text.json", id: "slack:T0FAKE/C0SUPPORT/1700000002.000200", codes: []int{8012, 3200, 108}, quoted: "> earlier: ERR_NGROK_108"},
		{name: "thread reply", file: "thread_reply.json", id: "slack:T0FAKE/C0SUPPORT/1700000003.000300", codes: []int{3200}},
		{name: "real edit", file: "message_changed.json", id: "slack:T0FAKE/C0SUPPORT/1700000001.000100#edit-", codes: []int{121}},
		{name: "unfurl-only edit", file: "message_changed_unfurl.json", nothing: true},
		{name: "deleted", file: "message_deleted.json", nothing: true},
		{name: "bot message ignored", file: "bot_message.json", nothing: true},
		{name: "bot message answered when configured", file: "bot_message.json", answer: true, id: "slack:T0FAKE/C0SUPPORT/1700000007.000700", codes: []int{3200}},
		{name: "own message ignored even with answer_bots", file: "own_message.json", answer: true, nothing: true},
		{name: "channel not configured", file: "other_channel.json", nothing: true},
		{name: "file share", file: "file_share.json", id: "slack:T0FAKE/C0SUPPORT/1700000009.000900", codes: []int{4018}, attach: "ngrok.log"},
		{name: "app mention", file: "app_mention.json", id: "slack:T0FAKE/C0SUPPORT/1700000011.001100#mention", codes: nil},
		{name: "thread broadcast", file: "thread_broadcast.json", id: "slack:T0FAKE/C0SUPPORT/1700000012.001200", codes: []int{8012}},
		{name: "rich text lists", file: "message_rich_list.json", id: "slack:T0FAKE/C0SUPPORT/1700000015.001500", codes: []int{107, 4018, 108},
			quoted: "> before: ERR_NGROK_108", body: "3. restart the agent\n4. new authtoken, still ERR_NGROK_107\n  - @U0BOB said :shrug:"},
		{name: "bot attachments, not the unfurl", file: "bot_attachments.json", answer: true, id: "slack:T0FAKE/C0SUPPORT/1700000013.001300",
			codes: []int{3200, 8012, 727}, body: "Last error: ERR_NGROK_8012"},
		{name: "bot section blocks", file: "bot_sections.json", answer: true, id: "slack:T0FAKE/C0SUPPORT/1700000014.001400",
			codes: []int{3200, 121}, body: "Deploy failed\n*edge* ERR_NGROK_3200 (https://ngrok.com/docs/errors/err_ngrok_3200/)"},
		{name: "list indent 1e11", file: "hostile_indent_huge.json", id: "slack:T0FAKE/C0SUPPORT/1700000101.000100", codes: []int{3200},
			body: "steps:\n                - agent start\n                - ERR_NGROK_3200", problem: "indent of 100000000000 is out of range (0 to 8); 8 was used"},
		{name: "list indent -1", file: "hostile_indent_negative.json", id: "slack:T0FAKE/C0SUPPORT/1700000102.000200", codes: []int{108},
			body: "1. ERR_NGROK_108", problem: "indent of -1 is out of range (0 to 8); 0 was used"},
		{name: "fields of the wrong kind", file: "hostile_wrong_types.json", id: "slack:T0FAKE/C0SUPPORT/1700000103.000300", codes: []int{727},
			body: "still read: ERR_NGROK_727", problem: `the event's field "files.name" holds a value of the wrong kind (array)`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, func(c *slack.Config) { c.AnswerBots = tt.answer })
			h.fake.AddFile("F0LOG", []byte("t=1 lvl=eror msg=\"session failed\" err=\"ERR_NGROK_4018\"\n"))
			body := []byte(strings.ReplaceAll(string(fixture(t, tt.file)), "FILEURL", h.fake.FileURL("F0LOG")))
			require.NoError(t, h.bot.HandleEvent(context.Background(), body))
			recs, err := h.st.Tickets(context.Background(), store.TicketQuery{})
			require.NoError(t, err)
			if tt.nothing {
				assert.Empty(t, recs)
				return
			}
			require.Len(t, recs, 1)
			rec := recs[0]
			assert.True(t, strings.HasPrefix(rec.Ticket.ID, tt.id), rec.Ticket.ID)
			assert.Equal(t, "slack", rec.Ticket.Source)
			assert.Equal(t, "C0SUPPORT", rec.Ticket.Channel)
			if tt.codes != nil {
				assert.ElementsMatch(t, tt.codes, rec.Codes)
			}
			var quoted, attach string
			for _, p := range rec.Ticket.Parts {
				switch p.Kind {
				case ticket.KindQuoted:
					quoted += p.Text
				case ticket.KindAttachment:
					attach = p.Name
				}
			}
			assert.Equal(t, tt.quoted, quoted)
			assert.Equal(t, tt.attach, attach)
			if tt.body != "" {
				require.NotEmpty(t, rec.Ticket.Parts)
				assert.Contains(t, rec.Ticket.Parts[0].Text, tt.body)
			}
			if tt.problem != "" {
				assert.True(t, slices.ContainsFunc(rec.Ticket.Problems, func(p string) bool { return strings.Contains(p, tt.problem) }),
					"no problem says %q: %q", tt.problem, rec.Ticket.Problems)
			} else {
				assert.Empty(t, rec.Ticket.Problems)
			}
			// Redelivery of the same event changes nothing.
			require.NoError(t, h.bot.HandleEvent(context.Background(), body))
			again, err := h.st.Tickets(context.Background(), store.TicketQuery{})
			require.NoError(t, err)
			assert.Len(t, again, 1)
		})
	}
}

func TestThreadReplyEditAndRedelivery(t *testing.T) {
	h := newHarness(t, nil)
	h.run(t, true)
	waitFor(t, "socket connection", func() bool { open, _ := h.fake.Connections(); return open == 1 })

	body, ts := h.say("EvA", "tunnel: ERR_NGROK_3200 and authtoken 2abcDEFghiJKLmnoPQRstuVWXyz0_1a2B3c4D5e6F7g8H9i", "")
	env := h.fake.SendEvent(body)
	waitFor(t, "ack", func() bool { _, ok := h.fake.Acked(env); return ok })
	h.settled(t)
	replies := h.fake.BotReplies("C0SUPPORT", ts)
	require.Len(t, replies, 1, "exactly one thread reply")
	assert.Contains(t, string(replies[0].Blocks), "ERR_NGROK_3200")
	assert.Contains(t, string(replies[0].Blocks), "https://ngrok.com/docs/errors/err_ngrok_3200/")
	triage := h.fake.Messages("C0TRIAGE")
	require.Len(t, triage, 1)
	assert.Contains(t, triage[0].Text, "view message")
	assert.NotContains(t, string(triage[0].Blocks), "2abcDEFghiJKLmnoPQRstuVWXyz0", "secrets are redacted")
	assert.Equal(t, []string{"eyes"}, h.fake.Messages("C0SUPPORT")[0].Reactions)

	// The same event again (a lost ack): nothing new.
	env2 := h.fake.Redeliver(body)
	waitFor(t, "ack of redelivery", func() bool { _, ok := h.fake.Acked(env2); return ok })
	h.settled(t)
	assert.Len(t, h.fake.BotReplies("C0SUPPORT", ts), 1)
	assert.Equal(t, 1, h.fake.Calls("chat.postMessage")-1, "one reply and one triage post")

	// A real edit updates the reply; an unfurl-only edit changes nothing.
	edit := func(id, text, prev string) []byte {
		return slackfake.EventCallback(id, map[string]any{"type": "message", "subtype": "message_changed", "channel": "C0SUPPORT", "hidden": true,
			"message":          map[string]any{"type": "message", "user": "U0ANA", "text": text, "ts": ts},
			"previous_message": map[string]any{"type": "message", "user": "U0ANA", "text": prev, "ts": ts}})
	}
	e1 := h.fake.SendEvent(edit("EvB", "sorry, it is ERR_NGROK_108", "tunnel: ERR_NGROK_3200"))
	waitFor(t, "ack of edit", func() bool { _, ok := h.fake.Acked(e1); return ok })
	h.settled(t)
	replies = h.fake.BotReplies("C0SUPPORT", ts)
	require.Len(t, replies, 1, "an edit updates, it does not post again")
	assert.Equal(t, 1, replies[0].Updates)
	assert.Contains(t, string(replies[0].Blocks), "ERR_NGROK_108")
	triage = h.fake.Messages("C0TRIAGE")
	require.Len(t, triage, 1, "an edit updates the triage post, it does not post again")
	assert.Equal(t, 1, triage[0].Updates)
	assert.Contains(t, string(triage[0].Blocks), "ERR_NGROK_108")
	assert.Equal(t, []string{"eyes", "key"}, h.fake.Messages("C0SUPPORT")[0].Reactions, "the new category's emoji is added once")
	e2 := h.fake.SendEvent(edit("EvC", "sorry, it is ERR_NGROK_108", "sorry, it is ERR_NGROK_108"))
	waitFor(t, "ack of unfurl", func() bool { _, ok := h.fake.Acked(e2); return ok })
	h.settled(t)
	assert.Equal(t, 1, h.fake.BotReplies("C0SUPPORT", ts)[0].Updates)

	// A bot's message gets nothing.
	before := h.fake.Calls("chat.postMessage")
	e3 := h.fake.SendEvent(fixture(t, "bot_message.json"))
	waitFor(t, "ack of bot message", func() bool { _, ok := h.fake.Acked(e3); return ok })
	h.settled(t)
	assert.Equal(t, before, h.fake.Calls("chat.postMessage"))

	// Thread replies are answered in the parent's thread.
	body, child := h.say("EvD", "now ERR_NGROK_8012", ts)
	e4 := h.fake.SendEvent(body)
	waitFor(t, "ack of thread reply", func() bool { _, ok := h.fake.Acked(e4); return ok })
	h.settled(t)
	var inThread int
	for _, m := range h.fake.BotReplies("C0SUPPORT", ts) {
		if strings.Contains(string(m.Metadata), child) {
			inThread++
		}
	}
	assert.Equal(t, 1, inThread)
}

func TestSocketReconnectsWithoutLoss(t *testing.T) {
	h := newHarness(t, nil)
	h.run(t, true)
	waitFor(t, "socket connection", func() bool { open, _ := h.fake.Connections(); return open == 1 })
	var tss []string
	for i := range 10 {
		body, ts := h.say(fmt.Sprintf("Ev%d", i), fmt.Sprintf("msg %d ERR_NGROK_108", i), "")
		tss = append(tss, ts)
		h.fake.SendEvent(body)
		switch i {
		case 3:
			h.fake.DropConnections()
		case 6:
			h.fake.Disconnect()
		}
	}
	waitFor(t, "every envelope acked", func() bool { return h.fake.Pending() == 0 })
	_, ever := h.fake.Connections()
	assert.GreaterOrEqual(t, ever, 2)
	h.settled(t)
	for _, ts := range tss {
		assert.Len(t, h.fake.BotReplies("C0SUPPORT", ts), 1, ts)
	}
}

func TestRateLimitIsWaitedOut(t *testing.T) {
	h := newHarness(t, nil)
	h.fake.RateLimit("chat.postMessage", 1, 1)
	h.run(t, false)
	body, ts := h.say("EvR", "ERR_NGROK_3200", "")
	require.NoError(t, h.bot.HandleEvent(context.Background(), body))
	waitFor(t, "the reply after the rate limit", func() bool { return len(h.fake.BotReplies("C0SUPPORT", ts)) == 1 })
	h.settled(t)
	assert.Len(t, h.fake.BotReplies("C0SUPPORT", ts), 1)
	failed, err := h.st.Actions(context.Background(), store.ActionQuery{State: ticket.StateFailed})
	require.NoError(t, err)
	assert.Empty(t, failed)
}

func TestPermanentErrorsPark(t *testing.T) {
	tests := []string{"not_in_channel", "channel_not_found", "invalid_auth", "account_inactive"}
	for _, code := range tests {
		t.Run(code, func(t *testing.T) {
			h := newHarness(t, func(c *slack.Config) { c.Emoji = map[string]string{"default": "eyes"} })
			h.fake.Fail("reactions.add", code, 1)
			h.run(t, false)
			body, _ := h.say("EvP", "ERR_NGROK_3200", "")
			require.NoError(t, h.bot.HandleEvent(context.Background(), body))
			h.settled(t)
			failed, err := h.st.Actions(context.Background(), store.ActionQuery{State: ticket.StateFailed})
			require.NoError(t, err)
			require.Len(t, failed, 1)
			assert.Equal(t, ticket.KindSlackReact, failed[0].Kind)
			assert.Equal(t, 1, failed[0].Attempts, "parked at once, no hot loop")
			assert.Contains(t, failed[0].LastError, code)
		})
	}
}

func TestCrashBetweenPostAndRecordDoesNotDoublePost(t *testing.T) {
	h := newHarness(t, nil)
	body, ts := h.say("EvX", "ERR_NGROK_3200", "")
	require.NoError(t, h.bot.HandleEvent(context.Background(), body))
	acts, err := h.st.Actions(context.Background(), store.ActionQuery{})
	require.NoError(t, err)
	var reply ticket.Action
	for _, a := range acts {
		if a.Kind == ticket.KindSlackReply {
			reply = a
		}
	}
	require.NotEmpty(t, reply.Key)
	sink := h.bot.ReplySink()
	require.NoError(t, sink.Send(context.Background(), reply))
	assert.Equal(t, 0, h.fake.Calls("conversations.replies"), "a first post reads nothing")
	require.NoError(t, sink.Send(context.Background(), reply), "a repeat after the outcome was lost")
	// A crash after posting but before the reply was recorded.
	require.NoError(t, h.st.SetCursor(context.Background(), "slack-reply:C0SUPPORT/"+ts, "sending"))
	require.NoError(t, sink.Send(context.Background(), reply), "a repeat after a crash")
	assert.Equal(t, 1, h.fake.Calls("conversations.replies"), "the thread was searched for the key")
	assert.Len(t, h.fake.BotReplies("C0SUPPORT", ts), 1)
	assert.Equal(t, 1, h.fake.Calls("chat.postMessage"))
}

func TestEventsAPI(t *testing.T) {
	h := newHarness(t, nil)
	mux := http.NewServeMux()
	mux.Handle("POST /slack/events", h.bot.EventsHandler())
	mux.Handle("POST /slack/commands", h.bot.CommandsHandler())
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	do := func(req *http.Request) (int, string) {
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	body, _ := h.say("EvH", "ERR_NGROK_108", "")
	now := time.Now()

	t.Run("url_verification", func(t *testing.T) {
		b := []byte(`{"token":"x","challenge":"3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P","type":"url_verification"}`)
		code, out := do(slackfake.SignedRequest(srv.URL+"/slack/events", slackfake.SigningSecret, now, "application/json", b))
		assert.Equal(t, 200, code)
		assert.Equal(t, "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P", out)
	})
	for _, tt := range []struct {
		name   string
		secret string
		at     time.Time
	}{
		{"bad signature", "wrong-secret", now},
		{"stale timestamp", slackfake.SigningSecret, now.Add(-6 * time.Minute)},
		{"future timestamp", slackfake.SigningSecret, now.Add(6 * time.Minute)},
	} {
		t.Run(tt.name, func(t *testing.T) {
			code, _ := do(slackfake.SignedRequest(srv.URL+"/slack/events", tt.secret, tt.at, "application/json", body))
			assert.Equal(t, http.StatusUnauthorized, code)
		})
	}
	t.Run("event stored once despite retries", func(t *testing.T) {
		code, _ := do(slackfake.SignedRequest(srv.URL+"/slack/events", slackfake.SigningSecret, now, "application/json", body))
		require.Equal(t, 200, code)
		retry := slackfake.SignedRequest(srv.URL+"/slack/events", slackfake.SigningSecret, now, "application/json", body)
		retry.Header.Set("X-Slack-Retry-Num", "1")
		retry.Header.Set("X-Slack-Retry-Reason", "http_timeout")
		code, _ = do(retry)
		require.Equal(t, 200, code)
		recs, err := h.st.Tickets(context.Background(), store.TicketQuery{})
		require.NoError(t, err)
		assert.Len(t, recs, 1)
	})
	t.Run("slash command", func(t *testing.T) {
		form := "token=x&team_id=T0FAKE&channel_id=C0SUPPORT&user_id=U0ANA&command=%2Fngrok-error&text=err_ngrok_3200&response_url=x&trigger_id=y"
		code, out := do(slackfake.SignedRequest(srv.URL+"/slack/commands", slackfake.SigningSecret, now, "application/x-www-form-urlencoded", []byte(form)))
		require.Equal(t, 200, code)
		var resp slack.CommandResponse
		require.NoError(t, json.Unmarshal([]byte(out), &map[string]any{}))
		assert.Contains(t, out, `"response_type":"ephemeral"`)
		assert.Contains(t, out, "ERR_NGROK_3200")
		_ = resp
	})
	t.Run("slash command unsigned", func(t *testing.T) {
		req, _ := http.NewRequest(http.MethodPost, srv.URL+"/slack/commands", strings.NewReader("text=108"))
		code, _ := do(req)
		assert.Equal(t, http.StatusUnauthorized, code)
	})
}

func TestCommandForms(t *testing.T) {
	h := newHarness(t, nil)
	for _, in := range []string{"108", "ERR_NGROK_108", "err_ngrok_108", "https://ngrok.com/docs/errors/err_ngrok_108/", "`ERR_NGROK_108`"} {
		t.Run(in, func(t *testing.T) {
			r := h.bot.Command(in)
			assert.Equal(t, "ephemeral", r.ResponseType)
			b, _ := json.Marshal(r.Blocks)
			assert.Contains(t, string(b), "ERR_NGROK_108")
		})
	}
	t.Run("no code", func(t *testing.T) {
		assert.Contains(t, h.bot.Command("help").Text, "Give me an ngrok error code")
	})
}

func TestSocketSlashCommandAndMention(t *testing.T) {
	h := newHarness(t, nil)
	h.run(t, true)
	waitFor(t, "socket connection", func() bool { open, _ := h.fake.Connections(); return open == 1 })
	env := h.fake.SendCommand("/ngrok-error", "3200", "C0SUPPORT", "U0ANA")
	var payload json.RawMessage
	waitFor(t, "command ack", func() bool { var ok bool; payload, ok = h.fake.Acked(env); return ok })
	assert.Contains(t, string(payload), "ephemeral")
	assert.Contains(t, string(payload), "ERR_NGROK_3200")

	m := h.fake.AddMessage(slackfake.Message{Channel: "C0SUPPORT", User: "U0ANA", Text: "<@UBOT> what is 3200?"})
	mention := slackfake.EventCallback("EvM", map[string]any{"type": "app_mention", "channel": "C0SUPPORT", "user": "U0ANA", "text": m.Text, "ts": m.TS})
	asMessage := slackfake.EventCallback("EvM2", map[string]any{"type": "message", "channel": "C0SUPPORT", "user": "U0ANA", "text": m.Text, "ts": m.TS})
	h.fake.SendEvent(mention)
	h.fake.SendEvent(asMessage)
	waitFor(t, "mention answered", func() bool { return len(h.fake.BotReplies("C0SUPPORT", m.TS)) == 1 })
	h.settled(t)
	replies := h.fake.BotReplies("C0SUPPORT", m.TS)
	require.Len(t, replies, 1)
	assert.Contains(t, string(replies[0].Blocks), "ERR_NGROK_3200")
}

func TestFileShareBounds(t *testing.T) {
	tests := []struct {
		name      string
		url       func(*slackfake.Server) string
		wantLen   int
		truncated bool
		fetched   bool
	}{
		{"cut at the cap", func(f *slackfake.Server) string { return f.FileURL("F0BIG") }, 1024, true, true},
		{"token never sent to another host", func(*slackfake.Server) string { return "https://files.evil.example/F0BIG" }, 0, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, nil)
			h.fake.AddFile("F0BIG", []byte("ERR_NGROK_4018 "+strings.Repeat("x", 5000)))
			body := slackfake.EventCallback("EvF", map[string]any{"type": "message", "subtype": "file_share", "channel": "C0SUPPORT", "user": "U0ANA",
				"text": "log", "ts": "1700000099.000100",
				"files": []map[string]any{{"id": "F0BIG", "name": "big.log", "mimetype": "text/plain", "filetype": "text", "url_private_download": tt.url(h.fake)}}})
			require.NoError(t, h.bot.HandleEvent(context.Background(), body))
			rec, err := h.st.Ticket(context.Background(), "slack:T0FAKE/C0SUPPORT/1700000099.000100")
			require.NoError(t, err)
			var att *ticket.Part
			for i, p := range rec.Ticket.Parts {
				if p.Kind == ticket.KindAttachment {
					att = &rec.Ticket.Parts[i]
				}
			}
			if !tt.fetched {
				assert.Nil(t, att)
				assert.Equal(t, 0, h.fake.Calls("files.download"))
				return
			}
			require.NotNil(t, att)
			assert.Len(t, att.Text, tt.wantLen)
			assert.Equal(t, tt.truncated, att.Truncated)
			assert.Contains(t, rec.Codes, 4018)
		})
	}
}

func TestReplyBlocks(t *testing.T) {
	h := newHarness(t, nil)
	h.run(t, false)
	body, ts := h.say("EvK", "ERR_NGROK_3200, then ERR_NGROK_99999 &gt; and quoted", "")
	require.NoError(t, h.bot.HandleEvent(context.Background(), body))
	h.settled(t)
	replies := h.fake.BotReplies("C0SUPPORT", ts)
	require.Len(t, replies, 1)
	var blocks []struct {
		Type string `json:"type"`
		Text struct {
			Text string `json:"text"`
		} `json:"text"`
		Accessory struct {
			Type string `json:"type"`
			URL  string `json:"url"`
			Text struct {
				Text string `json:"text"`
			} `json:"text"`
		} `json:"accessory"`
		Elements []struct {
			Text string `json:"text"`
		} `json:"elements"`
	}
	require.NoError(t, json.Unmarshal(replies[0].Blocks, &blocks))
	require.Len(t, blocks, 2, "one section per known code and a context line for unknown ones")
	assert.Equal(t, "section", blocks[0].Type)
	assert.Contains(t, blocks[0].Text.Text, "ERR_NGROK_3200")
	assert.Contains(t, blocks[0].Text.Text, "upstream-gateway")
	assert.Equal(t, "button", blocks[0].Accessory.Type)
	assert.Equal(t, "Docs", blocks[0].Accessory.Text.Text)
	assert.Equal(t, "https://ngrok.com/docs/errors/err_ngrok_3200/", blocks[0].Accessory.URL)
	assert.Equal(t, "context", blocks[1].Type)
	require.Len(t, blocks[1].Elements, 1)
	assert.Contains(t, blocks[1].Elements[0].Text, "ERR_NGROK_99999")

	var meta struct {
		EventType    string `json:"event_type"`
		EventPayload struct {
			Key     string `json:"key"`
			Message string `json:"message"`
		} `json:"event_payload"`
	}
	require.NoError(t, json.Unmarshal(replies[0].Metadata, &meta))
	assert.Equal(t, "triage_action", meta.EventType)
	assert.Equal(t, "C0SUPPORT/"+ts, meta.EventPayload.Message)
	acts, err := h.st.Actions(context.Background(), store.ActionQuery{})
	require.NoError(t, err)
	var keys []string
	for _, a := range acts {
		keys = append(keys, a.Key)
	}
	assert.Contains(t, keys, meta.EventPayload.Key, "the reply carries its action key")
}

func TestEditWithoutPreviousMessage(t *testing.T) {
	h := newHarness(t, nil)
	body, ts := h.say("EvW", "ERR_NGROK_108", "")
	require.NoError(t, h.bot.HandleEvent(context.Background(), body))
	edit := func(id, text string) []byte {
		return slackfake.EventCallback(id, map[string]any{"type": "message", "subtype": "message_changed", "channel": "C0SUPPORT",
			"message": map[string]any{"type": "message", "user": "U0ANA", "text": text, "ts": ts}})
	}
	require.NoError(t, h.bot.HandleEvent(context.Background(), edit("EvW1", "ERR_NGROK_108")))
	recs, err := h.st.Tickets(context.Background(), store.TicketQuery{})
	require.NoError(t, err)
	assert.Len(t, recs, 1, "same text: nothing new")
	require.NoError(t, h.bot.HandleEvent(context.Background(), edit("EvW2", "ERR_NGROK_121")))
	require.NoError(t, h.bot.HandleEvent(context.Background(), edit("EvW3", "ERR_NGROK_121")))
	recs, err = h.st.Tickets(context.Background(), store.TicketQuery{})
	require.NoError(t, err)
	assert.Len(t, recs, 2, "one new ticket per real edit")
}

func TestPostAndReactAreIdempotent(t *testing.T) {
	h := newHarness(t, nil)
	body, ts := h.say("EvI", "ERR_NGROK_108 with authtoken 2abcDEFghiJKLmnoPQRstuVWXyz0_1a2B3c4D5e6F7g8H9i", "")
	require.NoError(t, h.bot.HandleEvent(context.Background(), body))
	acts, err := h.st.Actions(context.Background(), store.ActionQuery{})
	require.NoError(t, err)
	byKind := map[string]ticket.Action{}
	for _, a := range acts {
		byKind[a.Kind] = a
	}
	for range 2 {
		require.NoError(t, h.bot.PostSink().Send(context.Background(), byKind[ticket.KindSlackPost]))
		require.NoError(t, h.bot.ReactSink().Send(context.Background(), byKind[ticket.KindSlackReact]))
	}
	posts := h.fake.Messages("C0TRIAGE")
	require.Len(t, posts, 1, "the remembered post stops a second one")
	assert.Contains(t, posts[0].Text, "<#C0SUPPORT>")
	assert.Contains(t, posts[0].Text, "https://fake.slack.com/archives/C0SUPPORT/p")
	assert.Contains(t, string(posts[0].Blocks), "agent-auth")
	assert.NotContains(t, string(posts[0].Blocks), "2abcDEFghiJKLmnoPQRstuVWXyz0")
	assert.Contains(t, string(posts[0].Blocks), "[REDACTED]")
	assert.Equal(t, []string{"key"}, h.fake.Messages("C0SUPPORT")[0].Reactions, "agent-auth's emoji, once")
	assert.Equal(t, 1, h.fake.Calls("reactions.add"), "a reaction made is remembered")

	// Without the records (a crash after the post), the key in the
	// channel's history still stops a second post.
	require.NoError(t, h.st.SetCursor(context.Background(), "slack-post:C0TRIAGE:C0SUPPORT/"+ts, ""))
	require.NoError(t, h.bot.PostSink().Send(context.Background(), byKind[ticket.KindSlackPost]))
	assert.Len(t, h.fake.Messages("C0TRIAGE"), 1)
}

// hostileFixtures are payloads that crashed the process (indent 1e11:
// out of memory), panicked (indent -1: 500, never stored) or were
// dropped (fields of the wrong kind), each with what its ticket must say.
var hostileFixtures = []struct {
	file, id, problem string
}{
	{"hostile_indent_huge.json", "slack:T0FAKE/C0SUPPORT/1700000101.000100", "indent of 100000000000 is out of range"},
	{"hostile_indent_negative.json", "slack:T0FAKE/C0SUPPORT/1700000102.000200", "indent of -1 is out of range"},
	{"hostile_wrong_types.json", "slack:T0FAKE/C0SUPPORT/1700000103.000300", "holds a value of the wrong kind"},
}

// storedWithProblem checks that the ticket id is stored with a problem
// containing problem.
func storedWithProblem(t *testing.T, st store.Store, id, problem string) {
	t.Helper()
	rec, err := st.Ticket(context.Background(), id)
	require.NoError(t, err, "the message is stored")
	assert.True(t, slices.ContainsFunc(rec.Ticket.Problems, func(p string) bool { return strings.Contains(p, problem) }),
		"no problem says %q: %q", problem, rec.Ticket.Problems)
	var text int
	for _, p := range rec.Ticket.Parts {
		text += len(p.Text)
	}
	assert.Positive(t, text)
	assert.Less(t, text, 1<<10, "the text stays the size of the message")
}

func TestHostilePayloadsAreStoredAndAcknowledged(t *testing.T) {
	for _, tt := range hostileFixtures {
		t.Run(tt.file+" over the Events API", func(t *testing.T) {
			h := newHarness(t, nil)
			srv := httptest.NewServer(h.bot.EventsHandler())
			t.Cleanup(srv.Close)
			resp, err := http.DefaultClient.Do(slackfake.SignedRequest(srv.URL, slackfake.SigningSecret, time.Now(), "application/json", fixture(t, tt.file)))
			require.NoError(t, err)
			resp.Body.Close()
			assert.Equal(t, http.StatusOK, resp.StatusCode)
			storedWithProblem(t, h.st, tt.id, tt.problem)
		})
		t.Run(tt.file+" over Socket Mode", func(t *testing.T) {
			h := newHarness(t, nil)
			h.run(t, true)
			waitFor(t, "socket connection", func() bool { open, _ := h.fake.Connections(); return open == 1 })
			env := h.fake.SendEvent(fixture(t, tt.file))
			waitFor(t, "ack", func() bool { _, ok := h.fake.Acked(env); return ok })
			storedWithProblem(t, h.st, tt.id, tt.problem)
		})
	}
}

func TestNormalizerPanicStillStores(t *testing.T) {
	var panics int
	h := newHarness(t, func(c *slack.Config) { c.Panicked = func() { panics++ } })
	slack.SetReader(h.bot, func(normalize.SlackInput, normalize.Limits) *ticket.Ticket { panic("a bug") })
	body, ts := h.say("EvBug", "tunnel: ERR_NGROK_3200", "")
	require.NoError(t, h.bot.HandleEvent(context.Background(), body), "acknowledged")
	rec, err := h.st.Ticket(context.Background(), "slack:T0FAKE/C0SUPPORT/"+ts)
	require.NoError(t, err, "stored")
	require.Len(t, rec.Ticket.Parts, 1)
	assert.Equal(t, "tunnel: ERR_NGROK_3200", rec.Ticket.Parts[0].Text, "the text as it came")
	assert.Equal(t, []int{3200}, rec.Codes)
	require.Len(t, rec.Ticket.Problems, 1)
	assert.Contains(t, rec.Ticket.Problems[0], "could not be read")
	assert.Equal(t, 1, panics, "counted")
}

// TestReplyBlocksSayHowSure checks the blocks of a reply and of a triage
// post for a message with an inferred code, an agent API number and a
// code only in quoted history (the message is invented).
func TestReplyBlocksSayHowSure(t *testing.T) {
	h := newHarness(t, nil)
	h.run(t, false)
	text := "&gt; last week it was ERR_NGROK_8012\nNow the agent tells us Tunnel shop-demo.ngrok.io not found, and pyngrok shows " +
		`{"error_code":104,"status_code":503,"msg":"not ready"}`
	body, ts := h.say("EvS", text, "")
	require.NoError(t, h.bot.HandleEvent(context.Background(), body))
	h.settled(t)
	replies := h.fake.BotReplies("C0SUPPORT", ts)
	require.Len(t, replies, 1)
	var blocks []struct {
		Type string `json:"type"`
		Text struct {
			Text string `json:"text"`
		} `json:"text"`
	}
	require.NoError(t, json.Unmarshal(replies[0].Blocks, &blocks))
	require.Len(t, blocks, 3, "the inferred code, the agent API number, the quoted code")
	assert.Contains(t, blocks[0].Text.Text, "*Looks like ERR_NGROK_3200* — ")
	assert.Contains(t, blocks[0].Text.Text, "the words “Tunnel shop-demo.ngrok.io not found” name this error. If you saw an error code, please send it.")
	assert.Equal(t, "*Agent API error 104* — "+catalog.AgentAPI(104).Summary+"\n_A number of the ngrok agent's local API, not an ngrok error code._", blocks[1].Text.Text)
	assert.Contains(t, blocks[2].Text.Text, "*ERR_NGROK_8012* — ")
	assert.Contains(t, blocks[2].Text.Text, "_(only in quoted history: not taken as the error reported now)_")
	assert.NotContains(t, blocks[2].Text.Text, "What to try", "no advice for an error not reported now")
	assert.NotContains(t, string(replies[0].Blocks)+replies[0].Text, "ERR_NGROK_104")

	var posted []slackfake.Message
	waitFor(t, "the triage post", func() bool { posted = h.fake.Messages("C0TRIAGE"); return len(posted) == 1 })
	assert.Contains(t, string(posted[0].Blocks), "Codes: ERR_NGROK_3200 `upstream-gateway` (inferred), ERR_NGROK_8012 `upstream-gateway` (quoted)")
}

// TestReplyToManyCodesStaysWithinSlackLimits: a message naming 5,000
// codes gets one reply whose text and blocks stay within Slack's
// documented limits (text truncated past 40,000 characters, 50 blocks,
// 3,000 per section), naming the first codes and counting the rest.
func TestReplyToManyCodesStaysWithinSlackLimits(t *testing.T) {
	raw, err := os.ReadFile("../../route/testdata/fanout-5000-codes.eml")
	require.NoError(t, err)
	_, text, ok := strings.Cut(string(raw), "\r\n\r\n")
	require.True(t, ok)
	h := newHarness(t, nil)
	h.run(t, false)
	body, ts := h.say("EvMany", strings.ReplaceAll(text, "\r\n", "\n"), "")
	require.NoError(t, h.bot.HandleEvent(context.Background(), body))
	h.settled(t)
	replies := h.fake.BotReplies("C0SUPPORT", ts)
	require.Len(t, replies, 1)
	reply := replies[0]
	t.Logf("reply text: %d characters, blocks: %d bytes", len([]rune(reply.Text)), len(reply.Blocks))
	assert.LessOrEqual(t, len([]rune(reply.Text)), 40000, "Slack's ceiling")
	assert.LessOrEqual(t, len([]rune(reply.Text)), 4000, "Slack's recommended length")
	assert.Contains(t, reply.Text, "ERR_NGROK_100")
	assert.Contains(t, reply.Text, "more")
	var blocks []struct {
		Type string `json:"type"`
		Text struct {
			Text string `json:"text"`
		} `json:"text"`
		Elements []struct {
			Text string `json:"text"`
		} `json:"elements"`
	}
	require.NoError(t, json.Unmarshal(reply.Blocks, &blocks))
	assert.LessOrEqual(t, len(blocks), 50)
	chars := 0
	for _, b := range blocks {
		assert.LessOrEqual(t, len([]rune(b.Text.Text)), 3000)
		chars += len(b.Text.Text)
	}
	assert.LessOrEqual(t, chars, 12000)
	last := blocks[len(blocks)-1]
	require.Equal(t, "context", last.Type)
	require.Len(t, last.Elements, 1)
	assert.Regexp(t, `^…and \d+ more \(the ticket lists them all\)$`, last.Elements[0].Text)

	posts := h.fake.Messages("C0TRIAGE")
	require.Len(t, posts, 1)
	assert.LessOrEqual(t, len([]rune(posts[0].Text)), 3000)
	assert.LessOrEqual(t, len(posts[0].Blocks), 16000)
}

// TestMentionOfManyCodesIsBounded: an @mention naming thousands of codes
// stores a payload of bounded size and gets a reply within Slack's limits.
func TestMentionOfManyCodesIsBounded(t *testing.T) {
	var b strings.Builder
	b.WriteString("<@UBOT> what are")
	for n := 100; n < 3100; n++ {
		fmt.Fprintf(&b, " %d", n)
	}
	h := newHarness(t, nil)
	h.run(t, false)
	m := h.fake.AddMessage(slackfake.Message{Channel: "C0SUPPORT", User: "U0ANA", Text: b.String()})
	mention := slackfake.EventCallback("EvBig", map[string]any{"type": "app_mention", "channel": "C0SUPPORT", "user": "U0ANA", "text": m.Text, "ts": m.TS})
	require.NoError(t, h.bot.HandleEvent(context.Background(), mention))
	h.settled(t)
	acts, err := h.st.Actions(context.Background(), store.ActionQuery{})
	require.NoError(t, err)
	require.Len(t, acts, 1)
	assert.Less(t, len(acts[0].Payload), 64<<10, "payload: %d bytes", len(acts[0].Payload))
	replies := h.fake.BotReplies("C0SUPPORT", m.TS)
	require.Len(t, replies, 1)
	assert.LessOrEqual(t, len([]rune(replies[0].Text)), 4000)
	assert.Contains(t, string(replies[0].Blocks), "more (the ticket lists them all)")
}

// raceEdits sends runs messages through h's socket, each one's edit a
// millisecond behind it, so that the two tickets' actions are due at
// once; it waits for the outbox to settle and counts the messages that
// did not end with exactly one thread reply (showing the edit) and one
// triage-channel post.
func raceEdits(t *testing.T, h *harness, runs int) (badReplies, badPosts int) {
	t.Helper()
	waitFor(t, "socket connection", func() bool { open, _ := h.fake.Connections(); return open == 1 })
	var tss []string
	for i := range runs {
		body, ts := h.say(fmt.Sprintf("EvM%04d", i), fmt.Sprintf("run %d: tunnel says ERR_NGROK_3200", i), "")
		tss = append(tss, ts)
		h.fake.SendEvent(body)
		time.Sleep(time.Millisecond)
		h.fake.SendEvent(slackfake.EventCallback(fmt.Sprintf("EvE%04d", i), map[string]any{
			"type": "message", "subtype": "message_changed", "channel": "C0SUPPORT", "hidden": true,
			"message":          map[string]any{"type": "message", "user": "U0ANA", "text": fmt.Sprintf("run %d: sorry, it is ERR_NGROK_3004", i), "ts": ts},
			"previous_message": map[string]any{"type": "message", "user": "U0ANA", "text": fmt.Sprintf("run %d: tunnel says ERR_NGROK_3200", i), "ts": ts}}))
	}
	waitFor(t, "every envelope acked", func() bool { return h.fake.Pending() == 0 })
	start := time.Now()
	for !h.settledNow() && time.Since(start) < time.Minute { // slower than settled's deadline under -race
		time.Sleep(10 * time.Millisecond)
	}
	t.Logf("the outbox settled %s after the last ack", time.Since(start).Round(time.Millisecond))
	h.settled(t)
	posts := map[string]int{}
	for _, m := range h.fake.Messages("C0TRIAGE") {
		for _, ts := range tss {
			if strings.Contains(string(m.Metadata), "C0SUPPORT/"+ts) {
				posts[ts]++
			}
		}
	}
	for i, ts := range tss {
		if replies := h.fake.BotReplies("C0SUPPORT", ts); len(replies) != 1 {
			badReplies++
		} else {
			assert.Contains(t, string(replies[0].Blocks), "ERR_NGROK_3004", "run %d: the reply shows the edit", i)
		}
		if posts[ts] != 1 {
			badPosts++
		}
	}
	return badReplies, badPosts
}

// TestEditRacingItsMessage: the actions about a message and its edit,
// due at once on two workers of one process, leave one thread reply
// (showing the edit), one triage-channel post (updated, not posted
// again) and one reaction call per emoji.
func TestEditRacingItsMessage(t *testing.T) {
	runs := 300
	if testing.Short() {
		runs = 60
	}
	h := newHarness(t, nil)
	h.fake.SetLatency(5 * time.Millisecond)
	h.run(t, true)
	badReplies, badPosts := raceEdits(t, h, runs)
	t.Logf("%d runs: %d with other than one reply, %d with other than one triage post, %d reactions.add calls",
		runs, badReplies, badPosts, h.fake.Calls("reactions.add"))
	assert.Zero(t, badReplies, "messages with more or fewer than one reply")
	assert.Zero(t, badPosts, "messages with more or fewer than one triage post")
	assert.Equal(t, runs, h.fake.Calls("reactions.add"), "one reaction per message: the edit has the same category's emoji")
}

// TestEditRacingItsMessageAcrossReplicas is TestEditRacingItsMessage
// on two replicas sharing one PostgreSQL store: a message's actions and
// its edit's are claimed by workers of either replica, which share no
// memory, and each message still ends with one reply and one post.
func TestEditRacingItsMessageAcrossReplicas(t *testing.T) {
	runs := 200
	if testing.Short() {
		runs = 50
	}
	dsn := pgtest.Schema(t)
	fake := slackfake.New()
	t.Cleanup(fake.Close)
	fake.SetLatency(5 * time.Millisecond)
	var replicas []*harness
	for _, name := range []string{"replica-a", "replica-b"} {
		st, err := postgres.Open(context.Background(), dsn)
		require.NoError(t, err)
		t.Cleanup(func() { st.Close() })
		h := newReplica(t, fake, st, name, func(c *slack.Config) { c.SharedStore = true })
		h.run(t, name == "replica-a") // one socket; both outboxes
		replicas = append(replicas, h)
	}
	badReplies, badPosts := raceEdits(t, replicas[0], runs)
	t.Logf("%d runs on 2 replicas: %d with other than one reply, %d with other than one triage post", runs, badReplies, badPosts)
	assert.Zero(t, badReplies, "messages with more or fewer than one reply")
	assert.Zero(t, badPosts, "messages with more or fewer than one triage post")
}

func TestCheckSaysWhereTheBotIsMissing(t *testing.T) {
	h := newHarness(t, func(c *slack.Config) {
		c.Channels = []string{"C0SUPPORT", "C0GONE"}
		c.TriageChannels = map[string]string{"default": "C0TRIAGE", "agent-auth": "C0SUPPORT"}
	})
	h.fake.AddChannel("C0SUPPORT", "support", true)
	h.fake.AddChannel("C0TRIAGE", "triage", false)
	ok, err := h.bot.Check(context.Background())
	require.Error(t, err)
	assert.Equal(t, []string{
		"slack: signed in as triage (UBOT) in Fake",
		"slack: channel C0SUPPORT (#support, read): the bot is a member",
	}, ok)
	assert.Contains(t, err.Error(), "slack: channel C0GONE (read): not found: a wrong ID, or a private channel the bot was not invited to (/invite @triage there)")
	assert.Contains(t, err.Error(), "slack: channel C0TRIAGE (#triage, triage channel for default): the bot is not a member (/invite @triage in #triage)")
	assert.Equal(t, 1, h.fake.Calls("auth.test"))
	assert.Equal(t, 3, h.fake.Calls("conversations.info"), "each channel once")

	h.fake.Fail("auth.test", "invalid_auth", 1)
	_, err = h.bot.Check(context.Background())
	assert.ErrorContains(t, err, "the bot token is not valid")
}

func TestSocketHealth(t *testing.T) {
	h := newHarness(t, nil)
	var mu sync.Mutex
	now := time.Now()
	slack.SetNow(h.bot, func() time.Time { mu.Lock(); defer mu.Unlock(); return now })
	ok, _, _ := h.bot.SocketHealth()
	assert.False(t, ok, "not ready before the socket ever ran")
	// Connecting at start is given SocketDown, like a reconnect.
	h.run(t, true)
	waitFor(t, "the socket connected", func() bool { _, lastUp, _ := h.bot.SocketHealth(); return !lastUp.IsZero() })
	ok, lastUp, _ := h.bot.SocketHealth()
	assert.True(t, ok)
	assert.Equal(t, now, lastUp, "up now")

	// The connection drops, and Slack refuses to open another.
	h.fake.Fail("apps.connections.open", "internal_error", 1000)
	waitFor(t, "the drop noticed", func() bool {
		h.fake.DropConnections()
		_, _, lastErr := h.bot.SocketHealth()
		return lastErr != ""
	})
	ok, lastUp, _ = h.bot.SocketHealth()
	assert.True(t, ok, "a short drop is a reconnect, still ready")
	assert.Equal(t, now, lastUp, "lost just now")
	mu.Lock()
	now = now.Add(slack.SocketDown + time.Second)
	mu.Unlock()
	ok, _, lastErr := h.bot.SocketHealth()
	assert.False(t, ok, "down for longer than SocketDown")
	assert.NotEmpty(t, lastErr)
}
