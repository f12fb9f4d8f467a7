package main

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/triage-bot/triage/integrations/freshdesk/freshdeskfake"
	"github.com/triage-bot/triage/integrations/slack/slackfake"
	"github.com/triage-bot/triage/integrations/zendesk/zendeskfake"
)

// pathNames are the paths newPath knows, in the table's order.
var pathNames = []string{"zendesk trigger", "zendesk event", "freshdesk", "slack events"}

// newPath returns the path of that name, or nil.
func newPath(name string) path {
	switch name {
	case "zendesk trigger":
		return &zendeskPath{trigger: true}
	case "zendesk event":
		return &zendeskPath{}
	case "freshdesk":
		return &freshdeskPath{}
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
	if final {
		for _, tid := range z.tickets {
			if k := len(z.fake.Notes(tid)); k > 0 {
				done++
				extra += k - 1
			}
		}
		return done, extra
	}
	for tid := range z.pending {
		if len(z.fake.Notes(tid)) > 0 {
			delete(z.pending, tid)
		}
	}
	return len(z.tickets) - len(z.pending), 0
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
	if final {
		for _, id := range f.tickets {
			if k := len(f.fake.Notes(id)); k > 0 {
				done++
				extra += k - 1
			}
		}
		return done, extra
	}
	for id := range f.pending {
		if len(f.fake.Notes(id)) > 0 {
			delete(f.pending, id)
		}
	}
	return len(f.tickets) - len(f.pending), 0
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
