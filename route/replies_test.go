package route

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/triage-bot/triage/annotate"
	"github.com/triage-bot/triage/catalog"
	"github.com/triage-bot/triage/ticket"
)

// Invented messages, one per way a code reaches us.
const (
	writtenBody  = "Since this morning our agent quits with ERR_NGROK_108 right after start."
	inferredBody = "Starting a second agent on the build box prints: your account is limited to 1 simultaneous ngrok agent session. What now?"
	agentAPIBody = "pyngrok gives us {\"error_code\":103,\"status_code\":502,\"msg\":\"failed to start tunnel\",\"details\":{\"err\":\"bad gateway\"}} every time."
	quotedBody   = "Thanks, that fixed it, all good now."
	quotedOld    = "> On Monday you wrote:\n> our tunnel shows ERR_NGROK_3200 again"
)

// annotated runs a ticket through annotate with the default catalog.
func annotated(t *testing.T, tk *ticket.Ticket) annotate.Annotation {
	t.Helper()
	cat, err := catalog.Default()
	require.NoError(t, err)
	_, a := annotate.Ticket(tk, cat)
	return a
}

// TestReplyTexts checks that the default texts customers read name only
// codes written in the new text as the customer's error.
func TestReplyTexts(t *testing.T) {
	r := mustParse(t, `routes:
  default:
    actions:
      - {kind: slack.reply}
      - {kind: slack.post, target: "#triage"}
      - {kind: email.reply}
      - {kind: email.forward, target: team@example.com}
      - {kind: webhook, target: helpdesk}
`)
	tests := []struct {
		name       string
		tk         *ticket.Ticket
		slack      []string // in the slack.reply text
		mail       []string // in the email.reply text
		notInReply []string // in neither reply
		team       []string // in the forward and the webhook's plain list
	}{
		{
			name:       "written",
			tk:         emailTicket("ana@example.com", "agent quits", writtenBody, ""),
			slack:      []string{"ngrok error code in this message (agent-auth):\n• <https://ngrok.com/docs/errors/err_ngrok_108/|ERR_NGROK_108> — "},
			mail:       []string{"Your message mentions this ngrok error:\n\nERR_NGROK_108: ", "Docs: https://ngrok.com/docs/errors/err_ngrok_108/"},
			notInReply: []string{"looks like", "please send", "quoted"},
			team:       []string{"ERR_NGROK_108"},
		},
		{
			name: "inferred only",
			tk:   emailTicket("ana@example.com", "second agent", inferredBody, ""),
			slack: []string{"No error code is written in this message, but it looks like <https://ngrok.com/docs/errors/err_ngrok_108/|ERR_NGROK_108> (",
				"going by the words “limited to 1 simultaneous ngrok agent session”. If you saw an error code, please send it."},
			mail: []string{"Your message does not include an error code, but it reads like ERR_NGROK_108 (",
				`going by the words "limited to 1 simultaneous ngrok agent session". If you saw an error code, please send it to us so we can be sure.`},
			notInReply: []string{"ngrok error code in this message", "Your message mentions", ".)"},
			team:       []string{"ERR_NGROK_108 (inferred)", `[inferred from the words "limited to 1 simultaneous ngrok agent session"]`},
		},
		{
			name: "agent API number",
			tk:   emailTicket("ana@example.com", "pyngrok fails", agentAPIBody, ""),
			slack: []string{"The ngrok agent's local API answered with error 103, a number of its own and not an ngrok error code: " +
				catalog.AgentAPI(103).Summary},
			mail: []string{"The ngrok agent's local API answered with error 103. That number is the agent API's own, not one of ngrok's ERR_NGROK_ error codes: " +
				catalog.AgentAPI(103).Summary},
			notInReply: []string{"ERR_NGROK_103", "No ngrok error code found", "Your message mentions"},
			team:       []string{"agent-api:103 (agent API, not an ngrok code)", "Agent API error 103 (not an ngrok code)"},
		},
		{
			name: "agent API number with the cause written in details.err",
			tk: emailTicket("ana@example.com", "pyngrok fails", `{"error_code":103,"status_code":502,"msg":"failed to start tunnel",`+
				`"details":{"err":"authentication failed: too many agents\r\n\r\nERR_NGROK_108\r\n"}}`, ""),
			slack: []string{"ngrok error code in this message (agent-auth):\n• <https://ngrok.com/docs/errors/err_ngrok_108/|ERR_NGROK_108> — ",
				"The ngrok agent's local API answered with error 103, a number of its own"},
			mail:       []string{"Your message mentions this ngrok error:\n\nERR_NGROK_108: ", "The ngrok agent's local API answered with error 103."},
			notInReply: []string{"ERR_NGROK_103", "looks like"},
			team:       []string{"- ERR_NGROK_108: ", "agent-api:103 (agent API, not an ngrok code)"},
		},
		{
			name:       "quoted only",
			tk:         emailTicket("ana@example.com", "Re: tunnel", quotedBody, quotedOld),
			slack:      []string{"Only in the quoted history, so not taken as the error reported now: <https://ngrok.com/docs/errors/err_ngrok_3200/|ERR_NGROK_3200>."},
			mail:       []string{"The earlier messages you quoted mention ERR_NGROK_3200; we have not taken it as the problem you are reporting now. If you are seeing an error now, please send us its code or the full message."},
			notInReply: []string{"ngrok error code in this message", "Your message mentions", "looks like"},
			team:       []string{"ERR_NGROK_3200 (quoted only)", "[only in quoted history]"},
		},
		{
			name: "written and inferred for another code",
			tk:   emailTicket("ana@example.com", "two things", writtenBody+"\nAnd the shop says Tunnel shop-demo.ngrok.io not found.", ""),
			slack: []string{"ngrok error code in this message (agent-auth):\n• <https://ngrok.com/docs/errors/err_ngrok_108/|ERR_NGROK_108>",
				"It also looks like <https://ngrok.com/docs/errors/err_ngrok_3200/|ERR_NGROK_3200> ("},
			mail:       []string{"Your message mentions this ngrok error:\n\nERR_NGROK_108: ", "Part of your message also reads like ERR_NGROK_3200 ("},
			notInReply: []string{"these ngrok errors", "codes in this message"},
			team:       []string{"ERR_NGROK_108", "ERR_NGROK_3200 (inferred)"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := r.Decide(Input{Ticket: tt.tk, Annotation: annotated(t, tt.tk)})
			require.NoError(t, err)
			require.Len(t, d.Actions, 5)
			slackReply, slackPost, mail := payload(t, d.Actions[0]).Text, payload(t, d.Actions[1]).Text, payload(t, d.Actions[2]).Text
			forward, plain := payload(t, d.Actions[3]).Text, payload(t, d.Actions[4]).Text
			for _, s := range tt.slack {
				assert.Contains(t, slackReply, s)
				assert.Contains(t, slackPost, s, "slack.post says the same")
			}
			for _, s := range tt.mail {
				assert.Contains(t, mail, s)
			}
			for _, s := range tt.notInReply {
				assert.NotContains(t, slackReply, s)
				assert.NotContains(t, mail, s)
			}
			for _, s := range tt.team {
				assert.Contains(t, forward+plain, s)
			}
			if t.Failed() || testing.Verbose() {
				t.Logf("slack.reply:\n%s\nemail.reply:\n%s\nforward:\n%s\nplain:\n%s", slackReply, mail, forward, plain)
			}
		})
	}
}
