package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-message/mail"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/triage-bot/triage/catalog"
	"github.com/triage-bot/triage/integrations/slack/slackfake"
)

// replyCase is one way an error reaches us, with what the customer must
// and must not read in the bot's reply. The messages are invented.
type replyCase struct {
	name string
	// slack is the message as Slack sends it (mrkdwn: a quote is "&gt; ").
	slack string
	// mail is the body of the mail.
	mail string
	// slackText and slackBlocks must be in the Slack reply's text and
	// its blocks' texts; mailText in the e-mail reply.
	slackText, slackBlocks, mailText []string
	// never may appear in any reply.
	never []string
	// folder and keyword are where routing puts the mail.
	folder, keyword string
}

var agentAPISummary = catalog.AgentAPI(103).Summary

func replyCases() []replyCase {
	return []replyCase{
		{
			name:        "written",
			slack:       "Since the upgrade our agent stops with ERR_NGROK_108 right after it starts",
			mail:        "Hi,\r\n\r\nsince the upgrade our agent stops with ERR_NGROK_108 right after it starts.\r\n\r\nAna\r\n",
			slackText:   []string{"ngrok error code in this message (agent-auth):\n• <https://ngrok.com/docs/errors/err_ngrok_108/|ERR_NGROK_108> — "},
			slackBlocks: []string{"*ERR_NGROK_108* — ", "_What to try:_ "},
			mailText:    []string{"Your message mentions this ngrok error:\n\nERR_NGROK_108: ", "Docs: https://ngrok.com/docs/errors/err_ngrok_108/"},
			never:       []string{"looks like", "Looks like", "quoted", "please send"},
			folder:      "agent-auth", keyword: "$ngrok-108",
		},
		{
			name:  "inferred only",
			slack: "Our CI runner now prints: Your account is limited to 1 simultaneous ngrok agent sessions. Any idea?",
			mail:  "Hello,\r\n\r\nour CI runner now prints: Your account is limited to 1 simultaneous ngrok agent sessions.\r\nAny idea?\r\n",
			slackText: []string{"No error code is written in this message, but it looks like <https://ngrok.com/docs/errors/err_ngrok_108/|ERR_NGROK_108> (",
				"going by the words “limited to 1 simultaneous ngrok agent sessions”. If you saw an error code, please send it."},
			slackBlocks: []string{"*Looks like ERR_NGROK_108* — ", "the words “limited to 1 simultaneous ngrok agent sessions” name this error. If you saw an error code, please send it."},
			mailText: []string{"Your message does not include an error code, but it reads like ERR_NGROK_108 (",
				`going by the words "limited to 1 simultaneous ngrok agent sessions". If you saw an error code, please send it to us so we can be sure.`},
			never:  []string{"ngrok error code in this message", "Your message mentions", "*ERR_NGROK_108*"},
			folder: "Unconfirmed", keyword: "$looks-like-108",
		},
		{
			name: "agent API number",
			slack: "pyngrok.exception.PyngrokNgrokHTTPError: ngrok client exception, API returned 502: " +
				`{"error_code":103,"status_code":502,"msg":"failed to start tunnel","details":{"err":"upstream refused the request"}}`,
			mail: "Starting a tunnel from the notebook fails:\r\n\r\npyngrok.exception.PyngrokNgrokHTTPError: ngrok client exception, API returned 502: " +
				`{"error_code":103,"status_code":502,"msg":"failed to start tunnel","details":{"err":"upstream refused the request"}}` + "\r\n",
			slackText:   []string{"The ngrok agent's local API answered with error 103, a number of its own and not an ngrok error code: " + agentAPISummary},
			slackBlocks: []string{"*Agent API error 103* — " + agentAPISummary, "not an ngrok error code"},
			mailText: []string{"The ngrok agent's local API answered with error 103. That number is the agent API's own, not one of ngrok's ERR_NGROK_ error codes: " +
				agentAPISummary},
			never:  []string{"ERR_NGROK_103", "Your message mentions", "ngrok error code in this message"},
			folder: "AgentAPI", keyword: "$agent-api-103",
		},
		{
			name:        "quoted only",
			slack:       "&gt; Last week: ERR_NGROK_3200 on shop-demo\nThanks, it works again since you restarted it!",
			mail:        "Thanks, it works again!\r\n\r\nOn Mon, Support wrote:\r\n> Is the agent still running? We see ERR_NGROK_3200 for shop-demo.\r\n",
			slackText:   []string{"Only in the quoted history, so not taken as the error reported now: <https://ngrok.com/docs/errors/err_ngrok_3200/|ERR_NGROK_3200>."},
			slackBlocks: []string{"*ERR_NGROK_3200* — ", "_(only in quoted history: not taken as the error reported now)_"},
			mailText: []string{"The earlier messages you quoted mention ERR_NGROK_3200; we have not taken it as the problem you are reporting now. " +
				"If you are seeing an error now, please send us its code or the full message."},
			never:  []string{"ngrok error code in this message", "Your message mentions", "looks like", "What to try"},
			folder: "QuotedOnly", keyword: "$quoted-only",
		},
	}
}

// blockTexts returns every "text" string in a message's blocks.
func blockTexts(t *testing.T, raw json.RawMessage) string {
	t.Helper()
	var v any
	require.NoError(t, json.Unmarshal(raw, &v))
	var out []string
	var walk func(any)
	walk = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			for k, e := range x {
				if s, ok := e.(string); ok && k == "text" {
					out = append(out, s)
				}
				walk(e)
			}
		case []any:
			for _, e := range x {
				walk(e)
			}
		}
	}
	walk(v)
	return strings.Join(out, "\n")
}

// TestSlackRepliesSayHowSure runs `triage run` in socket mode against the
// Slack fake: one thread per way an error reaches us, each answered with
// a reply that names as the customer's error only a code written in the
// new text.
func TestSlackRepliesSayHowSure(t *testing.T) {
	fake := slackfake.New()
	t.Cleanup(fake.Close)
	cfgPath, _ := writeSlackConfig(t, "socket", fake.APIURL(), "off")
	raw, err := os.ReadFile(cfgPath)
	require.NoError(t, err)
	head, _, ok := strings.Cut(string(raw), "routes:\n")
	require.True(t, ok)
	require.NoError(t, os.WriteFile(cfgPath, []byte(head+`routes:
  rules:
    - name: answer
      match: {source: slack, has_code: true}
      actions: [{kind: slack.reply}]
    - name: agent api
      match: {source: slack, agent_api: true}
      actions: [{kind: slack.reply}]
`), 0o600))

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	var out, errb bytes.Buffer
	go func() { done <- run(ctx, []string{"run", "--config", cfgPath}, strings.NewReader(""), &out, &errb) }()
	t.Cleanup(func() {
		cancel()
		assert.NoError(t, <-done, "stderr:\n%s", errb.String())
	})
	waitFor(t, 30*time.Second, "the socket mode connection", func() bool { open, _ := fake.Connections(); return open == 1 })

	cases := replyCases()
	tss := make([]string, len(cases))
	for i, c := range cases {
		body, ts := slackMessage(fake, fmt.Sprintf("EvR%d", i), c.slack)
		tss[i] = ts
		fake.SendEvent(body)
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			waitFor(t, 30*time.Second, "the reply", func() bool { return len(fake.BotReplies("C0SUPPORT", tss[i])) > 0 })
			replies := fake.BotReplies("C0SUPPORT", tss[i])
			require.Len(t, replies, 1)
			text, blocks := replies[0].Text, blockTexts(t, replies[0].Blocks)
			for _, s := range c.slackText {
				assert.Contains(t, text, s)
			}
			for _, s := range c.slackBlocks {
				assert.Contains(t, blocks, s)
			}
			for _, s := range c.never {
				assert.NotContains(t, text, s)
				assert.NotContains(t, blocks, s)
			}
			if t.Failed() || testing.Verbose() {
				t.Logf("text:\n%s\nblocks:\n%s", text, blocks)
			}
		})
	}
}

// TestEmailRepliesSayHowSure runs `triage run --once` against go-imap's
// in-memory server and an SMTP catcher: one mail per way an error reaches
// us, each routed on how sure we are (min_confidence, inferred,
// quoted_only, agent_api) and answered as the customer should read it.
func TestEmailRepliesSayHowSure(t *testing.T) {
	imapAddr := startMemIMAP(t)
	catcher, smtpAddr := startCatcher(t)
	admin := adminClient(t, imapAddr)
	cases := replyCases()
	for i, c := range cases {
		// As the receiving server marks authenticated mail: the reply
		// goes through sender authentication as in production.
		raw := fmt.Sprintf("Authentication-Results: mx.example.net; spf=pass smtp.mailfrom=example.com; dmarc=pass (p=none) header.from=example.com\r\n"+
			"From: Customer %d <customer%d@example.com>\r\nTo: support@example.com\r\nSubject: ngrok question %d\r\n"+
			"Message-ID: <reply-case-%d@example.com>\r\nDate: Mon, 02 Nov 2026 09:30:00 +0000\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n%s", i, i, i, i, c.mail)
		appendRaw(t, admin, "INBOX", []byte(raw))
	}
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "triage.yaml")
	cfg := strings.Replace(emailConfig(filepath.Join(dir, "data"), imapAddr, smtpAddr),
		"  require_sender_auth: false\n", "  auth_serv_id: mx.example.net\n", 1)
	head, _, ok := strings.Cut(cfg, "routes:\n")
	require.True(t, ok)
	require.NoError(t, os.WriteFile(cfgPath, []byte(head+`routes:
  rules:
    - name: agent api
      match: {agent_api: true, has_code: false}
      actions:
        - kind: imap.flag
          target: "{{range .AgentAPI}}$agent-api-{{.Number}} {{end}}"
        - {kind: imap.move, target: AgentAPI}
        - kind: email.reply
    - name: sure
      match: {min_confidence: 0.9, quoted_only: false}
      actions:
        - kind: imap.flag
          target: "{{range .Written}}$ngrok-{{.Code}} {{end}}"
        - {kind: imap.move, target: "{{.Primary}}"}
        - kind: email.reply
    - name: looks like
      match: {inferred: true}
      actions:
        - kind: imap.flag
          target: "{{range .LooksLike}}$looks-like-{{.Code}} {{end}}"
        - {kind: imap.move, target: Unconfirmed}
        - kind: email.reply
    - name: old news
      match: {quoted_only: true, exclude_forms: [inferred]}
      actions:
        - {kind: imap.flag, target: $quoted-only}
        - {kind: imap.move, target: QuotedOnly}
        - kind: email.reply
  default:
    actions:
      - {kind: imap.move, target: NoCode}
`), 0o600))
	t.Setenv("IMAP_TEST_PASSWORD", "secret")
	out, errOut, code := triage(t, "", "run", "--once", "--config", cfgPath)
	require.Equal(t, 0, code, "stdout:\n%s\nstderr:\n%s", out, errOut)

	boxes := mailboxContents(t, admin)
	replies := map[string]string{}
	for _, m := range catcher.all() {
		replies[strings.ToLower(m.to)] = plainPart(t, m.data)
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			flags, ok := boxes[c.folder][fmt.Sprintf("reply-case-%d@example.com", i)]
			require.True(t, ok, "the mail should be in %s: %v", c.folder, boxes)
			assert.Contains(t, flags, c.keyword)
			text, ok := replies[fmt.Sprintf("customer%d@example.com", i)]
			require.True(t, ok, "the customer got a reply")
			for _, s := range c.mailText {
				assert.Contains(t, text, s)
			}
			for _, s := range c.never {
				assert.NotContains(t, text, s)
			}
			if t.Failed() || testing.Verbose() {
				t.Logf("reply:\n%s", text)
			}
		})
	}
}

// plainPart returns the text/plain part of a message the bot sent.
func plainPart(t *testing.T, data []byte) string {
	t.Helper()
	r, err := mail.CreateReader(bytes.NewReader(data))
	require.NoError(t, err)
	for {
		p, err := r.NextPart()
		if err == io.EOF {
			break
		}
		require.NoError(t, err)
		if h, ok := p.Header.(*mail.InlineHeader); ok {
			if ct, _, _ := h.ContentType(); ct == "text/plain" {
				b, err := io.ReadAll(p.Body)
				require.NoError(t, err)
				return strings.ReplaceAll(string(b), "\r\n", "\n")
			}
		}
	}
	t.Fatal("no text/plain part")
	return ""
}

func TestRulesTestCodeLabels(t *testing.T) {
	cat, err := catalog.Default()
	require.NoError(t, err)
	e108, e3200 := cat.Lookup(108), cat.Lookup(3200)
	ann := fmt.Sprintf(`{"codes":[{"code":108,"name":%q,"inferred":true,"phrase":"limited to 1 simultaneous ngrok agent session"},`+
		`{"code":3200,"name":%q,"quoted_only":true}],"agent_api":[{"number":103,"name":"agent-api:103"}]}`, e108.Name(), e3200.Name())
	tests := []struct {
		name  string
		codes []int
		ann   string
		want  []string
	}{
		{"inferred, quoted and agent API", []int{108, 3200}, ann, []string{`ERR_NGROK_108 (inferred from "limited to 1 simultaneous ngrok agent session")`,
			"ERR_NGROK_3200 (quoted only)", "agent-api:103 (agent API, not an ngrok code)"}},
		{"annotation unreadable", []int{108}, "{", []string{"ERR_NGROK_108"}},
		{"nothing", nil, `{"codes":[]}`, []string{"none"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, codeLabels(tt.codes, []byte(tt.ann)))
		})
	}
}
