package zendesk_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/triage-bot/triage/integrations/zendesk"
	"github.com/triage-bot/triage/integrations/zendesk/zendeskfake"
	"github.com/triage-bot/triage/internal/standin"
	"github.com/triage-bot/triage/outbox"
	"github.com/triage-bot/triage/route"
	"github.com/triage-bot/triage/ticket"
)

var (
	_ outbox.Sink = (*zendesk.NoteSink)(nil)
	_ outbox.Sink = (*zendesk.TagSink)(nil)
	_ outbox.Sink = (*zendesk.AssignSink)(nil)
)

func setup(t *testing.T, mod func(*zendesk.Config)) (*zendeskfake.Server, *zendesk.Account, *standin.Ingester, string) {
	t.Helper()
	fake := zendeskfake.New()
	t.Cleanup(fake.Close)
	cfg := zendesk.Config{BaseURL: fake.URL(), Account: "acme", Email: zendeskfake.Email, APIToken: zendeskfake.APIToken,
		WebhookSecret: zendeskfake.WebhookSecret, Groups: map[string]string{"agent-auth": "Agent Team", "default": "11"}}
	if mod != nil {
		mod(&cfg)
	}
	ing := &standin.Ingester{}
	acc := zendesk.New(cfg, ing, nil)
	srv := httptest.NewServer(acc.Handler())
	t.Cleanup(srv.Close)
	return fake, acc, ing, srv.URL
}

func deliver(t *testing.T, url string, w zendeskfake.Webhook) int {
	t.Helper()
	code, err := w.Deliver(context.Background(), url)
	require.NoError(t, err)
	return code
}

func TestWebhookSignature(t *testing.T) {
	tests := []struct {
		name   string
		hook   func(body []byte) zendeskfake.Webhook
		header func(*http.Request)
		want   int
		stored int
	}{
		{"signed", func(b []byte) zendeskfake.Webhook { return zendeskfake.Webhook{Body: b} }, nil, 200, 1},
		{"wrong secret", func(b []byte) zendeskfake.Webhook { return zendeskfake.Webhook{Body: b, Secret: "guess"} }, nil, 401, 0},
		{"stale", func(b []byte) zendeskfake.Webhook {
			return zendeskfake.Webhook{Body: b, Time: time.Now().Add(-10 * time.Minute)}
		}, nil, 401, 0},
		{"from the future", func(b []byte) zendeskfake.Webhook {
			return zendeskfake.Webhook{Body: b, Time: time.Now().Add(10 * time.Minute)}
		}, nil, 401, 0},
		{"body changed after signing", func(b []byte) zendeskfake.Webhook { return zendeskfake.Webhook{Body: b} },
			func(r *http.Request) {
				r.Header.Set(zendesk.HeaderSignature, zendeskfake.Sign(zendeskfake.WebhookSecret, r.Header.Get(zendesk.HeaderTimestamp), []byte(`{"ticket_id":"1"}`)))
			}, 401, 0},
		{"no signature", func(b []byte) zendeskfake.Webhook { return zendeskfake.Webhook{Body: b} },
			func(r *http.Request) { r.Header.Del(zendesk.HeaderSignature) }, 401, 0},
		{"no timestamp", func(b []byte) zendeskfake.Webhook { return zendeskfake.Webhook{Body: b} },
			func(r *http.Request) { r.Header.Del(zendesk.HeaderTimestamp) }, 401, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake, _, ing, url := setup(t, nil)
			tid, _ := fake.AddTicket("ana@example.com", "tunnel down", "ngrok says ERR_NGROK_108")
			req, err := tt.hook(zendeskfake.TriggerBody(tid)).Request(context.Background(), url)
			require.NoError(t, err)
			if tt.header != nil {
				tt.header(req)
			}
			resp, err := http.DefaultClient.Do(req)
			require.NoError(t, err)
			resp.Body.Close()
			assert.Equal(t, tt.want, resp.StatusCode)
			assert.Len(t, ing.Got(), tt.stored)
			if tt.want == 401 {
				assert.Zero(t, len(fake.Requests()), "a refused call must not reach the API")
			}
		})
	}
}

func TestWebhookBodyTooLarge(t *testing.T) {
	_, _, ing, url := setup(t, func(c *zendesk.Config) { c.MaxBodyBytes = 64 })
	body := []byte(`{"ticket_id": "1", "pad": "` + strings.Repeat("x", 100) + `"}`)
	assert.Equal(t, http.StatusRequestEntityTooLarge, deliver(t, url, zendeskfake.Webhook{Body: body}))
	assert.Empty(t, ing.Got())
}

func TestWebhookPayloads(t *testing.T) {
	tests := []struct {
		name string
		// body builds the call from a ticket whose first comment is by
		// the customer, followed by an agent's public reply and a note.
		body      func(f *zendeskfake.Server, tid, customer, agentReply, note int64) []byte
		want      int
		wantID    func(tid, customer int64) string
		wantCalls int // API requests the source made
	}{
		{"trigger: the customer's comment and the subject are fetched", func(f *zendeskfake.Server, tid, _, _, _ int64) []byte { return zendeskfake.TriggerBody(tid) },
			200, func(tid, c int64) string { return zendesk.TicketID("acme", tid, c) }, 2},
		{"comment_added by the customer: no API call", func(f *zendeskfake.Server, tid, c, _, _ int64) []byte { return f.CommentAddedEvent(tid, c) },
			200, func(tid, c int64) string { return zendesk.TicketID("acme", tid, c) }, 0},
		{"comment_added by an agent: ignored", func(f *zendeskfake.Server, tid, _, r, _ int64) []byte { return f.CommentAddedEvent(tid, r) },
			200, nil, 0},
		{"comment_added private note: ignored", func(f *zendeskfake.Server, tid, _, _, n int64) []byte { return f.CommentAddedEvent(tid, n) },
			200, nil, 0},
		{"ticket.created: fetched", func(f *zendeskfake.Server, tid, _, _, _ int64) []byte {
			return []byte(fmt.Sprintf(`{"type":"zen:event-type:ticket.created","id":"e1","detail":{"id":"%d","subject":"tunnel down"}}`, tid))
		}, 200, func(tid, c int64) string { return zendesk.TicketID("acme", tid, c) }, 1},
		{"other event: ignored", func(f *zendeskfake.Server, tid, _, _, _ int64) []byte {
			return []byte(fmt.Sprintf(`{"type":"zen:event-type:ticket.priority_changed","detail":{"id":"%d"}}`, tid))
		}, 200, nil, 0},
		{"no ticket_id: 400", func(*zendeskfake.Server, int64, int64, int64, int64) []byte { return []byte(`{"ticket":"x"}`) }, 400, nil, 0},
		{"not JSON: 400", func(*zendeskfake.Server, int64, int64, int64, int64) []byte { return []byte(`ticket 5`) }, 400, nil, 0},
		{"unknown ticket: 503 so Zendesk calls again", func(*zendeskfake.Server, int64, int64, int64, int64) []byte { return zendeskfake.TriggerBody(99999) }, 503, nil, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake, _, ing, url := setup(t, nil)
			fake.AddUser("Sam Agent", "sam@acme.test", "agent")
			tid, customer := fake.AddTicket("ana@example.com", "tunnel down",
				"Hello, my tunnel fails with ERR_NGROK_108.\n\nOn Mon, Bob wrote:\n> earlier we saw ERR_NGROK_3200\n")
			reply := fake.AddComment(tid, "sam@acme.test", "Which agent version? ERR_NGROK_999", true)
			note := fake.AddComment(tid, "sam@acme.test", "looks like a session limit", false)
			before := len(fake.Requests())
			code := deliver(t, url, zendeskfake.Webhook{Body: tt.body(fake, tid, customer, reply, note)})
			assert.Equal(t, tt.want, code)
			assert.Equal(t, tt.wantCalls, len(fake.Requests())-before, "API calls")
			got := ing.Got()
			if tt.wantID == nil {
				assert.Empty(t, got)
				return
			}
			require.Len(t, got, 1)
			in := got[0]
			assert.Equal(t, tt.wantID(tid, customer), in.ID)
			assert.Equal(t, "zendesk", in.Source)
			assert.Equal(t, "acme", in.Channel)
			assert.Equal(t, "tunnel down", in.Ticket.Subject)
			var body, quoted string
			for _, p := range in.Ticket.Parts {
				switch p.Kind {
				case ticket.KindBody:
					body += p.Text
				case ticket.KindQuoted:
					quoted += p.Text
				}
			}
			assert.Contains(t, body, "ERR_NGROK_108")
			assert.NotContains(t, body, "ERR_NGROK_3200", "quoted history is not new text")
			assert.Contains(t, quoted, "ERR_NGROK_3200")
			assert.NotContains(t, body+quoted, "ERR_NGROK_999", "the agent's reply is not the customer's text")

			// The same comment again (a redelivery, or the trigger and the
			// event both firing) is acknowledged and stores nothing new.
			assert.Equal(t, 200, deliver(t, url, zendeskfake.Webhook{Body: tt.body(fake, tid, customer, reply, note)}))
			assert.Len(t, ing.Got(), 1)
		})
	}
}

func TestWebhookStoreFailure(t *testing.T) {
	fake, _, ing, url := setup(t, nil)
	ing.Fail(fmt.Errorf("disk full"))
	tid, c := fake.AddTicket("ana@example.com", "s", "ERR_NGROK_108")
	req, err := zendeskfake.Webhook{Body: fake.CommentAddedEvent(tid, c)}.Request(context.Background(), url)
	require.NoError(t, err)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusServiceUnavailable, resp.StatusCode)
	assert.Equal(t, "10", resp.Header.Get("Retry-After"))
}

// action builds an action as route plans it, for ticket tid.
func action(t *testing.T, kind, target, key string, tid int64, tv route.TicketView, text string) ticket.Action {
	t.Helper()
	id := zendesk.TicketID("acme", tid, 1)
	tv.ID, tv.Source = id, "zendesk"
	p, err := json.Marshal(route.Payload{Ticket: tv, Rule: "r", Kind: kind, Target: target, Text: text})
	require.NoError(t, err)
	return ticket.Action{ID: 1, TicketID: id, Kind: kind, Target: target, Payload: p, Key: key}
}

var view108 = route.TicketView{PrimaryCategory: "agent-auth", Codes: []route.CodeView{
	{Code: 108, Name: "ERR_NGROK_108", Category: "agent-auth", Confidence: 1},
	{Code: 3200, Name: "ERR_NGROK_3200", Category: "upstream-gateway", QuotedOnly: true},
	{Code: 8012, Name: "ERR_NGROK_8012", Category: "upstream-gateway", Inferred: true, Confidence: 0.5},
}}

func TestNoteSink(t *testing.T) {
	fake, acc, _, _ := setup(t, nil)
	tid, _ := fake.AddTicket("ana@example.com", "s", "ERR_NGROK_108")
	a := action(t, ticket.KindZendeskNote, "", "key-1", tid, view108, "ERR_NGROK_108 — written\nmy config: authtoken: 2abcDEFghiJKLmnoPQRstu_1A2b3C4d5E6f7G8h9I0jK")
	ctx := context.Background()
	require.NoError(t, acc.NoteSink().Send(ctx, a))
	notes := fake.Notes(tid)
	require.Len(t, notes, 1)
	assert.False(t, notes[0].Public)
	assert.Contains(t, notes[0].Body, "ERR_NGROK_108 — written")
	assert.True(t, strings.HasSuffix(notes[0].Body, "\n\ntriage-action:key-1"), notes[0].Body)
	assert.NotContains(t, notes[0].Body, "2abcDEFghiJKLmnoPQRstu", "the note passes through redact")
	puts := 0
	for _, r := range fake.Requests() {
		if r.Method == http.MethodPut {
			puts++
			assert.Equal(t, fmt.Sprintf("/api/v2/tickets/%d.json", tid), r.Path)
			assert.JSONEq(t, `{"ticket":{"comment":{"body":`+mustJSON(t, notes[0].Body)+`,"public":false}}}`, string(r.Body))
			assert.True(t, strings.HasPrefix(r.Auth, "Basic "))
		}
	}
	assert.Equal(t, 1, puts)

	// A retry of the same action (a crash after the PUT) finds the note.
	require.NoError(t, acc.NoteSink().Send(ctx, a))
	assert.Len(t, fake.Notes(tid), 1)
	// Another action key writes its own note.
	require.NoError(t, acc.NoteSink().Send(ctx, action(t, ticket.KindZendeskNote, "", "key-2", tid, view108, "x")))
	assert.Len(t, fake.Notes(tid), 2)
}

func TestNoteSinkFindsMarkerOnLaterPage(t *testing.T) {
	fake, acc, _, _ := setup(t, nil)
	tid, _ := fake.AddTicket("ana@example.com", "s", "ERR_NGROK_108")
	a := action(t, ticket.KindZendeskNote, "", "key-old", tid, view108, "note")
	require.NoError(t, acc.NoteSink().Send(context.Background(), a))
	for i := range 150 {
		fake.AddComment(tid, "ana@example.com", fmt.Sprintf("reply %d", i), true)
	}
	require.NoError(t, acc.NoteSink().Send(context.Background(), a))
	assert.Len(t, fake.Notes(tid), 1)
	assert.Equal(t, 3, fake.Count(http.MethodGet, fmt.Sprintf("/api/v2/tickets/%d/comments.json", tid)), "one page the first time, two the second")
}

func mustJSON(t *testing.T, s string) string {
	t.Helper()
	b, err := json.Marshal(s)
	require.NoError(t, err)
	return string(b)
}

func TestSinkErrors(t *testing.T) {
	tests := []struct {
		name      string
		prepare   func(f *zendeskfake.Server)
		ticket    int64 // 0: the prepared ticket
		permanent bool
		retry     time.Duration
	}{
		{"429 waits for Retry-After", func(f *zendeskfake.Server) { f.RateLimit(1, 7*time.Second) }, 0, false, 7 * time.Second},
		{"500 is retried", func(f *zendeskfake.Server) { f.FailNext(1) }, 0, false, 0},
		{"404 parks the action", nil, 424242, true, 0},
	}
	for _, tt := range tests {
		for _, kind := range []string{ticket.KindZendeskNote, ticket.KindZendeskTag, ticket.KindZendeskAssign} {
			t.Run(tt.name+"/"+kind, func(t *testing.T) {
				fake, acc, _, _ := setup(t, nil)
				tid, _ := fake.AddTicket("ana@example.com", "s", "x")
				if tt.ticket != 0 {
					tid = tt.ticket
				}
				if tt.prepare != nil {
					tt.prepare(fake)
				}
				sinks := map[string]outbox.Sink{ticket.KindZendeskNote: acc.NoteSink(), ticket.KindZendeskTag: acc.TagSink(), ticket.KindZendeskAssign: acc.AssignSink()}
				err := sinks[kind].Send(context.Background(), action(t, kind, "", "k", tid, view108, "note"))
				require.Error(t, err)
				assert.Equal(t, tt.permanent, outbox.IsPermanent(err), "permanent: %v", err)
				var ra interface{ RetryAfter() time.Duration }
				if tt.retry > 0 {
					require.ErrorAs(t, err, &ra)
					assert.Equal(t, tt.retry, ra.RetryAfter())
				}
				assert.NotContains(t, err.Error(), zendeskfake.APIToken)
			})
		}
	}
}

func TestTags(t *testing.T) {
	tests := []struct {
		name, target string
		want         []string
	}{
		{"default: written and inferred codes, and the category", "", []string{"ngrok-err-108", "ngrok-err-8012", "triage-agent-auth"}},
		{"auto is the default", "auto", []string{"ngrok-err-108", "ngrok-err-8012", "triage-agent-auth"}},
		{"rendered target, made valid tags", "Triage-Agent  ngrok err!108 triage-agent", []string{"triage-agent", "ngrok", "err_108"}},
		{"nothing", "  ", []string{"ngrok-err-108", "ngrok-err-8012", "triage-agent-auth"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, zendesk.Tags(tt.target, view108))
		})
	}
	assert.Empty(t, zendesk.Tags("", route.TicketView{}))
}

func TestTagSink(t *testing.T) {
	fake, acc, _, _ := setup(t, nil)
	tid, _ := fake.AddTicket("ana@example.com", "s", "x")
	a := action(t, ticket.KindZendeskTag, "", "k", tid, view108, "")
	require.NoError(t, acc.TagSink().Send(context.Background(), a))
	require.NoError(t, acc.TagSink().Send(context.Background(), a))
	tk, _ := fake.Ticket(tid)
	assert.Equal(t, []string{"ngrok-err-108", "ngrok-err-8012", "triage-agent-auth"}, tk.Tags)
	assert.Equal(t, 2, fake.Count(http.MethodPut, fmt.Sprintf("/api/v2/tickets/%d/tags.json", tid)))
}

func TestAssignSink(t *testing.T) {
	tests := []struct {
		name, target, primary string
		want                  int64
		permanent             bool
	}{
		{"category mapped to a group name", "", "agent-auth", 10, false},
		{"auto falls back to default", "auto", "limits-billing", 11, false},
		{"group name", "Billing", "", 11, false},
		{"group ID", "10", "", 10, false},
		{"unknown group", "Nobody", "", 0, true},
		{"unknown ID", "77", "", 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake, acc, _, _ := setup(t, nil)
			tid, _ := fake.AddTicket("ana@example.com", "s", "x")
			err := acc.AssignSink().Send(context.Background(), action(t, ticket.KindZendeskAssign, tt.target, "k", tid,
				route.TicketView{PrimaryCategory: tt.primary}, ""))
			tk, _ := fake.Ticket(tid)
			if tt.permanent {
				require.Error(t, err)
				assert.True(t, outbox.IsPermanent(err), err)
				assert.Nil(t, tk.GroupID)
				return
			}
			require.NoError(t, err)
			require.NotNil(t, tk.GroupID)
			assert.Equal(t, tt.want, *tk.GroupID)
		})
	}
}

func TestAssignNoGroupForCategory(t *testing.T) {
	fake, acc, _, _ := setup(t, func(c *zendesk.Config) { c.Groups = nil })
	tid, _ := fake.AddTicket("ana@example.com", "s", "x")
	err := acc.AssignSink().Send(context.Background(), action(t, ticket.KindZendeskAssign, "", "k", tid, route.TicketView{PrimaryCategory: "agent-auth"}, ""))
	require.Error(t, err)
	assert.True(t, outbox.IsPermanent(err))
	assert.Contains(t, err.Error(), "zendesk.groups.agent-auth")
}

func TestCheck(t *testing.T) {
	tests := []struct {
		name     string
		mod      func(*zendesk.Config)
		who      string
		problems []string
	}{
		{"all well", nil, "Triage Bot <bot@example.com>, agent", nil},
		{"oauth", func(c *zendesk.Config) { c.OAuthToken = zendeskfake.OAuthToken; c.APIToken = "" }, "Triage Bot <bot@example.com>, agent", nil},
		{"bad token", func(c *zendesk.Config) { c.APIToken = "nope" }, "", []string{"credentials: zendesk: GET /api/v2/users/me.json: HTTP 401 Couldn't authenticate you (check zendesk.email and zendesk.api_token, or zendesk.oauth_token)"}},
		{"missing groups", func(c *zendesk.Config) {
			c.Groups = map[string]string{"agent-auth": "Agents", "default": "12", "limits-billing": "billing"}
		},
			"Triage Bot <bot@example.com>, agent", []string{`zendesk.groups.agent-auth: no group named "Agents"`, "zendesk.groups.default: no group with ID 12"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, acc, _, _ := setup(t, tt.mod)
			who, problems := acc.Check(context.Background())
			assert.Equal(t, tt.who, who)
			assert.Equal(t, tt.problems, problems)
		})
	}
}

func TestTicketURL(t *testing.T) {
	assert.Equal(t, "https://acme.zendesk.com/agent/tickets/42", zendesk.TicketURL("https://acme.zendesk.com/", "zendesk:acme/42/7"))
	assert.Empty(t, zendesk.TicketURL("https://acme.zendesk.com", "slack:T/C/1"))
}
