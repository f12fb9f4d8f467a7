package main

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/triage-bot/triage/integrations/freshdesk/freshdeskfake"
	"github.com/triage-bot/triage/integrations/front/frontfake"
	"github.com/triage-bot/triage/integrations/helpscout"
	"github.com/triage-bot/triage/integrations/helpscout/helpscoutfake"
	"github.com/triage-bot/triage/integrations/slack/slackfake"
	"github.com/triage-bot/triage/integrations/zendesk/zendeskfake"
)

// pathNames are the paths newPath knows, in the table's order.
var pathNames = []string{"zendesk trigger", "zendesk event", "freshdesk", "front", "help scout", "slack events"}

// newPath returns the path of that name, or nil.
func newPath(name string) path {
	switch name {
	case "zendesk trigger":
		return &zendeskPath{trigger: true}
	case "zendesk event":
		return &zendeskPath{}
	case "freshdesk":
		return &freshdeskPath{}
	case "front":
		return &frontPath{}
	case "help scout":
		return &helpScoutPath{}
	case "slack events":
		return &slackPath{}
	}
	return nil
}

// outboxAndLog is the part of every config past the vendor's section:
// the outbox at its defaults, warnings only.
const outboxAndLog = `log:
  level: warn
  format: json
`

// zendeskPath: a Zendesk webhook → an internal note on the ticket.
type zendeskPath struct {
	trigger bool // the trigger's {"ticket_id"} body, else a comment_added event
	fake    *zendeskfake.Server
	tickets []int64
	bodies  [][]byte
	pending map[int64]bool
}

func (z *zendeskPath) name() string {
	if z.trigger {
		return "zendesk trigger → internal note"
	}
	return "zendesk event → internal note"
}

func (z *zendeskPath) start(n int) {
	z.fake = zendeskfake.New()
	z.pending = map[int64]bool{}
	for i := range n {
		// A few customers write many tickets, as in a real account.
		tid, cid := z.fake.AddTicket(fmt.Sprintf("customer%d@example.com", i%50), fmt.Sprintf("agent stops (%d)", i), text(i))
		z.tickets = append(z.tickets, tid)
		z.pending[tid] = true
		if z.trigger {
			z.bodies = append(z.bodies, zendeskfake.TriggerBody(tid))
		} else {
			z.bodies = append(z.bodies, z.fake.CommentAddedEvent(tid, cid))
		}
	}
}

func (z *zendeskPath) config(dataDir, listen string) string {
	return fmt.Sprintf(`data_dir: %s
http:
  listen: %q
zendesk:
  subdomain: acme
  base_url: %s
  email: %s
  api_token: %s
  webhook_secret: %s
routes:
  rules:
    - name: note
      match:
        source: zendesk
        has_code: true
      actions:
        - kind: zendesk.note
`, dataDir, listen, z.fake.URL(), zendeskfake.Email, zendeskfake.APIToken, zendeskfake.WebhookSecret) + outboxAndLog
}

func (z *zendeskPath) hook() string { return "/hooks/zendesk" }

func (z *zendeskPath) request(ctx context.Context, url string, i int) (*http.Request, error) {
	return zendeskfake.Webhook{Body: z.bodies[i]}.Request(ctx, url)
}

func (z *zendeskPath) written(final bool) (done, extra int) {
	return countWritten(z.tickets, z.pending, func(id int64) int { return len(z.fake.Notes(id)) }, final)
}

// countWritten is written for a path whose stand-in counts what was
// written per ticket: while pending, the tickets with something (each
// dropped from pending once seen); at the end, every ticket with
// something and every write beyond one.
func countWritten[K comparable](ids []K, pending map[K]bool, count func(K) int, final bool) (done, extra int) {
	if final {
		for _, id := range ids {
			if k := count(id); k > 0 {
				done++
				extra += k - 1
			}
		}
		return done, extra
	}
	for id := range pending {
		if count(id) > 0 {
			delete(pending, id)
		}
	}
	return len(ids) - len(pending), 0
}

func (z *zendeskPath) close() { z.fake.Close() }

// freshdeskPath: an automation rule's webhook → a private note. The
// body names the ticket only; triage reads the ticket through the API
// before it answers.
type freshdeskPath struct {
	fake    *freshdeskfake.Server
	tickets []int64
	pending map[int64]bool
}

func (f *freshdeskPath) name() string { return "freshdesk automation → private note" }

func (f *freshdeskPath) start(n int) {
	f.fake = freshdeskfake.New()
	f.pending = map[int64]bool{}
	for i := range n {
		id := int64(10001 + i)
		f.fake.AddTicket(id, fmt.Sprintf("agent stops (%d)", i), "<div>"+text(i)+"</div>")
		f.tickets = append(f.tickets, id)
		f.pending[id] = true
	}
}

func (f *freshdeskPath) config(dataDir, listen string) string {
	return fmt.Sprintf(`data_dir: %s
http:
  listen: %q
freshdesk:
  domain: %s
  api_key: %s
  webhook_secret: %s
  api_url: %s
routes:
  rules:
    - name: note
      match:
        source: freshdesk
        has_code: true
      actions:
        - kind: freshdesk.note
`, dataDir, listen, freshdeskfake.Domain, freshdeskfake.APIKey, freshdeskfake.WebhookSecret, f.fake.APIURL()) + outboxAndLog
}

func (f *freshdeskPath) hook() string { return "/hooks/freshdesk" }

func (f *freshdeskPath) request(ctx context.Context, url string, i int) (*http.Request, error) {
	body := freshdeskfake.WebhookBody(f.tickets[i])
	return freshdeskfake.WebhookRequest(url, freshdeskfake.WebhookSecret, body).WithContext(ctx), nil
}

func (f *freshdeskPath) written(final bool) (done, extra int) {
	return countWritten(f.tickets, f.pending, func(id int64) int { return len(f.fake.Notes(id)) }, final)
}

func (f *freshdeskPath) close() { f.fake.Close() }

// slackPath: an Events API message event → a reply in its thread.
type slackPath struct {
	fake    *slackfake.Server
	tss     []string
	bodies  [][]byte
	pending map[string]bool
}

// slackChannel is the support channel triage reads.
const slackChannel = "C0SUPPORT"

func (s *slackPath) name() string { return "slack events → thread reply" }

func (s *slackPath) start(n int) {
	s.fake = slackfake.New()
	s.pending = map[string]bool{}
	for i := range n {
		t := text(i)
		m := s.fake.AddMessage(slackfake.Message{Channel: slackChannel, User: fmt.Sprintf("U0C%03d", i%50), Text: t})
		s.tss = append(s.tss, m.TS)
		s.pending[m.TS] = true
		s.bodies = append(s.bodies, slackfake.EventCallback(fmt.Sprintf("Ev%08d", i), map[string]any{"type": "message",
			"channel": slackChannel, "user": m.User, "text": t, "ts": m.TS, "channel_type": "channel", "event_ts": m.TS}))
	}
}

func (s *slackPath) config(dataDir, listen string) string {
	return fmt.Sprintf(`data_dir: %s
http:
  listen: %q
slack:
  mode: events
  bot_token: %s
  signing_secret: %s
  api_url: %s
  channels: [%s]
routes:
  rules:
    - name: answer
      match:
        source: slack
        has_code: true
      actions:
        - kind: slack.reply
`, dataDir, listen, slackfake.BotToken, slackfake.SigningSecret, s.fake.APIURL(), slackChannel) + outboxAndLog
}

func (s *slackPath) hook() string { return "/slack/events" }

func (s *slackPath) request(ctx context.Context, url string, i int) (*http.Request, error) {
	return slackfake.SignedRequest(url, slackfake.SigningSecret, time.Now(), "application/json", s.bodies[i]).WithContext(ctx), nil
}

// written reads the channel once per call: the bot's replies by thread.
func (s *slackPath) written(final bool) (done, extra int) {
	replies := map[string]int{}
	for _, m := range s.fake.Messages(slackChannel) {
		if m.BotID == slackfake.BotID && m.ThreadTS != "" && m.ThreadTS != m.TS {
			replies[m.ThreadTS]++
		}
	}
	if final {
		for _, ts := range s.tss {
			if k := replies[ts]; k > 0 {
				done++
				extra += k - 1
			}
		}
		return done, extra
	}
	for ts := range s.pending {
		if replies[ts] > 0 {
			delete(s.pending, ts)
		}
	}
	return len(s.tss) - len(s.pending), 0
}

func (s *slackPath) close() { s.fake.Close() }

// cleanups runs what the Front stand-in asks to be run when it closes.
type cleanups []func()

func (c *cleanups) Cleanup(f func()) { *c = append(*c, f) }

// frontPath: a Front rule's webhook → a comment on the conversation.
// The event carries a preview; triage reads the message through the API
// before it answers.
type frontPath struct {
	fake    *frontfake.Server
	done    cleanups
	convs   []string
	bodies  [][]byte
	pending map[string]bool
}

func (f *frontPath) name() string { return "front rule → comment" }

func (f *frontPath) start(n int) {
	f.fake = frontfake.New(&f.done)
	f.pending = map[string]bool{}
	for i := range n {
		cnv, msg := f.fake.Inbound("", fmt.Sprintf("customer%d@example.com", i%50), fmt.Sprintf("agent stops (%d)", i), "<p>"+text(i)+"</p>")
		f.convs = append(f.convs, cnv)
		f.pending[cnv] = true
		f.bodies = append(f.bodies, f.fake.Event(fmt.Sprintf("evt_%d", i), cnv, msg, true, time.Now()))
	}
}

func (f *frontPath) config(dataDir, listen string) string {
	return fmt.Sprintf(`data_dir: %s
http:
  listen: %q
front:
  api_url: %s
  api_token: %s
  webhook_secret: %s
routes:
  rules:
    - name: note
      match:
        source: front
        has_code: true
      actions:
        - kind: front.note
`, dataDir, listen, f.fake.URL, frontfake.Token, frontfake.APISecret) + outboxAndLog
}

func (f *frontPath) hook() string { return "/hooks/front" }

func (f *frontPath) request(ctx context.Context, url string, i int) (*http.Request, error) {
	return frontfake.RuleRequest(url, frontfake.APISecret, f.bodies[i]).WithContext(ctx), nil
}

func (f *frontPath) written(final bool) (done, extra int) {
	if n := f.fake.CommentCount(); !final && n < len(f.convs) {
		return n, 0 // cheap while most are missing
	}
	return countWritten(f.convs, f.pending, func(cnv string) int { return len(f.fake.Conversation(cnv).Comments) }, final)
}

func (f *frontPath) close() {
	for _, c := range f.done {
		c()
	}
}

// helpScoutPath: a Help Scout webhook (conversation created, threads
// included) → a note on the conversation.
type helpScoutPath struct {
	fake    *helpscoutfake.Server
	convs   []int
	bodies  [][]byte
	pending map[int]bool
}

func (h *helpScoutPath) name() string { return "help scout webhook → note" }

func (h *helpScoutPath) start(n int) {
	h.fake = helpscoutfake.New()
	h.pending = map[int]bool{}
	for i := range n {
		c := h.fake.AddConversation(helpscoutfake.MailboxSupport, fmt.Sprintf("agent stops (%d)", i),
			fmt.Sprintf("customer%d@example.com", i%50), "<p>"+text(i)+"</p>")
		h.convs = append(h.convs, c.ID)
		h.pending[c.ID] = true
		h.bodies = append(h.bodies, h.fake.Payload(c.ID, true))
	}
}

func (h *helpScoutPath) config(dataDir, listen string) string {
	return fmt.Sprintf(`data_dir: %s
http:
  listen: %q
helpscout:
  app_id: %s
  app_secret: %s
  webhook_secret: %s
  api_url: %s
routes:
  rules:
    - name: note
      match:
        source: helpscout
        has_code: true
      actions:
        - kind: helpscout.note
          target: default
`, dataDir, listen, helpscoutfake.AppID, helpscoutfake.AppSecret, helpscoutfake.WebhookSecret, h.fake.APIURL()) + outboxAndLog
}

func (h *helpScoutPath) hook() string { return "/hooks/helpscout" }

func (h *helpScoutPath) request(ctx context.Context, url string, i int) (*http.Request, error) {
	return helpscoutfake.WebhookRequest(url, helpscoutfake.WebhookSecret, helpscout.EventCreated, h.bodies[i]).WithContext(ctx), nil
}

func (h *helpScoutPath) written(final bool) (done, extra int) {
	return countWritten(h.convs, h.pending, func(id int) int { return len(h.fake.Notes(id)) }, final)
}

func (h *helpScoutPath) close() { h.fake.Close() }
