package freshdesk_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/triage-bot/triage/integrations/freshdesk"
	"github.com/triage-bot/triage/integrations/freshdesk/freshdeskfake"
	"github.com/triage-bot/triage/internal/standin"
	"github.com/triage-bot/triage/outbox"
	"github.com/triage-bot/triage/route"
	"github.com/triage-bot/triage/ticket"
)

var (
	_ outbox.Sink = (*freshdesk.NoteSink)(nil)
	_ outbox.Sink = (*freshdesk.TagSink)(nil)
	_ outbox.Sink = (*freshdesk.AssignSink)(nil)
)

type harness struct {
	fake *freshdeskfake.Server
	ing  *standin.Ingester
	cur  *standin.Cursors
	desk *freshdesk.Desk
	hook *httptest.Server
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	fake := freshdeskfake.New()
	t.Cleanup(fake.Close)
	h := &harness{fake: fake, ing: &standin.Ingester{}, cur: &standin.Cursors{}}
	h.desk = freshdesk.New(freshdesk.Config{Domain: freshdeskfake.Domain, APIURL: fake.APIURL(), APIKey: freshdeskfake.APIKey,
		WebhookSecret: freshdeskfake.WebhookSecret, Groups: map[string]string{"agent-auth": "Agent Team", "default": "101"}},
		h.ing, h.cur, nil)
	h.hook = httptest.NewServer(h.desk.Handler())
	t.Cleanup(h.hook.Close)
	return h
}

func (h *harness) post(t *testing.T, req *http.Request) (int, http.Header) {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, resp.Header
}

func bodyOf(tk *ticket.Ticket, kind ticket.PartKind) string {
	var out []string
	for _, p := range tk.Parts {
		if p.Kind == kind {
			out = append(out, p.Text)
		}
	}
	return strings.Join(out, "\n")
}

func TestWebhookAuth(t *testing.T) {
	tests := []struct {
		name   string
		req    func(url string) *http.Request
		status int
	}{
		{"no secret", func(u string) *http.Request { return freshdeskfake.WebhookRequest(u, "", freshdeskfake.WebhookBody(1)) }, http.StatusUnauthorized},
		{"wrong secret", func(u string) *http.Request {
			return freshdeskfake.WebhookRequest(u, "not-the-secret", freshdeskfake.WebhookBody(1))
		}, http.StatusUnauthorized},
		{"secret as a prefix", func(u string) *http.Request {
			return freshdeskfake.WebhookRequest(u, freshdeskfake.WebhookSecret[:5], freshdeskfake.WebhookBody(1))
		}, http.StatusUnauthorized},
		{"wrong basic auth password", func(u string) *http.Request {
			r := freshdeskfake.WebhookRequest(u, "", freshdeskfake.WebhookBody(1))
			r.SetBasicAuth("freshdesk", "nope")
			return r
		}, http.StatusUnauthorized},
		{"header secret", func(u string) *http.Request {
			return freshdeskfake.WebhookRequest(u, freshdeskfake.WebhookSecret, freshdeskfake.WebhookBody(1))
		}, http.StatusOK},
		{"basic auth password", func(u string) *http.Request {
			r := freshdeskfake.WebhookRequest(u, "", freshdeskfake.WebhookBody(1))
			r.SetBasicAuth("freshdesk", freshdeskfake.WebhookSecret)
			return r
		}, http.StatusOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			h.fake.AddTicket(1, "tunnel down", "<p>ERR_NGROK_108</p>")
			status, _ := h.post(t, tt.req(h.hook.URL))
			assert.Equal(t, tt.status, status)
			if tt.status == http.StatusUnauthorized {
				assert.Empty(t, h.ing.Got(), "a refused call stores nothing")
				assert.Zero(t, h.fake.Calls(freshdeskfake.GetTicket), "a refused call costs no API call")
			} else {
				assert.Len(t, h.ing.Got(), 1)
			}
		})
	}
}

func TestWebhookReadsLatestCustomerMessage(t *testing.T) {
	tests := []struct {
		name                 string
		setup                func(f *freshdeskfake.Server) int64 // returns the expected message ID
		body                 []byte
		wantBody, wantQuoted string
		wantSubjectPart      bool
	}{
		{name: "new ticket: the description", body: freshdeskfake.WebhookBody(42),
			setup: func(f *freshdeskfake.Server) int64 {
				f.AddTicket(42, "tunnel down", "<div>My agent says <b>ERR_NGROK_</b>108 since today</div>")
				return 0
			}, wantBody: "My agent says ERR_NGROK_108 since today", wantSubjectPart: true},
		{name: "simple content", body: freshdeskfake.SimpleWebhookBody(42),
			setup: func(f *freshdeskfake.Server) int64 {
				f.AddTicket(42, "tunnel down", "<p>ERR_NGROK_3200</p>")
				return 0
			}, wantBody: "ERR_NGROK_3200", wantSubjectPart: true},
		{name: "customer reply with quoted history", body: freshdeskfake.WebhookBody(42),
			setup: func(f *freshdeskfake.Server) int64 {
				f.AddTicket(42, "tunnel down", "<p>ERR_NGROK_108</p>")
				f.AddReply(42, false, "<p>Please upgrade your agent.</p>")
				c := f.AddReply(42, true, `<div>Now it says ERR_NGROK_3200</div><div class="freshdesk_quote"><blockquote class="freshdesk_quote">On Mon, support wrote:<br>ERR_NGROK_108 is a session limit</blockquote></div>`)
				return c.ID
			}, wantBody: "Now it says ERR_NGROK_3200", wantQuoted: "> ERR_NGROK_108 is a session limit"},
		{name: "the latest reply is on the second page", body: freshdeskfake.WebhookBody(42),
			setup: func(f *freshdeskfake.Server) int64 {
				f.AddTicket(42, "tunnel down", "<p>ERR_NGROK_108</p>")
				var last freshdeskfake.Conversation
				for i := range 130 {
					last = f.AddReply(42, i%2 == 0, fmt.Sprintf("<p>message %d ERR_NGROK_3200</p>", i))
				}
				return last.ID - 1 // the last one is an agent's
			}, wantBody: "message 128 ERR_NGROK_3200"},
		{name: "agent's reply after the customer's is not the customer's", body: freshdeskfake.WebhookBody(42),
			setup: func(f *freshdeskfake.Server) int64 {
				f.AddTicket(42, "tunnel down", "<p>ERR_NGROK_108</p>")
				c := f.AddReply(42, true, "<p>still ERR_NGROK_108</p>")
				f.AddReply(42, false, "<p>Looking into it, see ERR_NGROK_999</p>")
				return c.ID
			}, wantBody: "still ERR_NGROK_108"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			msg := tt.setup(h.fake)
			status, _ := h.post(t, freshdeskfake.WebhookRequest(h.hook.URL, freshdeskfake.WebhookSecret, tt.body))
			require.Equal(t, http.StatusOK, status)
			require.Len(t, h.ing.Got(), 1)
			in := h.ing.Got()[0]
			assert.Equal(t, freshdesk.TicketID("acme", 42, msg), in.ID)
			assert.Equal(t, "freshdesk", in.Source)
			require.NotNil(t, in.Ticket)
			assert.Equal(t, "tunnel down", in.Ticket.Subject)
			assert.Contains(t, bodyOf(in.Ticket, ticket.KindBody), tt.wantBody)
			assert.NotContains(t, bodyOf(in.Ticket, ticket.KindBody), "session limit", "quoted history is not new text")
			if tt.wantQuoted != "" {
				assert.Contains(t, bodyOf(in.Ticket, ticket.KindQuoted), tt.wantQuoted)
			}
			assert.Equal(t, tt.wantSubjectPart, bodyOf(in.Ticket, ticket.KindSubject) != "")
		})
	}
}

func TestWebhookRedeliveryAndFailures(t *testing.T) {
	t.Run("redelivery stores nothing new", func(t *testing.T) {
		h := newHarness(t)
		h.fake.AddTicket(7, "s", "<p>ERR_NGROK_108</p>")
		for range 3 {
			status, _ := h.post(t, freshdeskfake.WebhookRequest(h.hook.URL, freshdeskfake.WebhookSecret, freshdeskfake.WebhookBody(7)))
			require.Equal(t, http.StatusOK, status)
		}
		assert.Len(t, h.ing.Got(), 1)
	})
	tests := []struct {
		name   string
		body   []byte
		setup  func(h *harness)
		status int
	}{
		{"not JSON", []byte("ticket=7"), nil, http.StatusBadRequest},
		{"no ticket ID", []byte(`{"ticket_id":"{{ticket.id}}"}`), nil, http.StatusBadRequest},
		{"ticket gone", freshdeskfake.WebhookBody(8), nil, http.StatusOK},
		{"API rate limited", freshdeskfake.WebhookBody(7), func(h *harness) { h.fake.RateLimit(1, 30) }, http.StatusServiceUnavailable},
		{"store fails", freshdeskfake.WebhookBody(7), func(h *harness) { h.ing.Fail(errors.New("disk full")) }, http.StatusInternalServerError},
		{"too large", []byte(`{"ticket_id":"7","pad":"` + strings.Repeat("x", 300<<10) + `"}`), nil, http.StatusRequestEntityTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			h.fake.AddTicket(7, "s", "<p>ERR_NGROK_108</p>")
			if tt.setup != nil {
				tt.setup(h)
			}
			status, hdr := h.post(t, freshdeskfake.WebhookRequest(h.hook.URL, freshdeskfake.WebhookSecret, tt.body))
			assert.Equal(t, tt.status, status)
			assert.Empty(t, h.ing.Got())
			if status == http.StatusServiceUnavailable {
				assert.Equal(t, "30", hdr.Get("Retry-After"))
			}
		})
	}
}

func payload(t *testing.T, p route.Payload) []byte {
	t.Helper()
	b, err := json.Marshal(p)
	require.NoError(t, err)
	return b
}

func samplePayload() route.Payload {
	return route.Payload{Rule: "r", Ticket: route.TicketView{ID: "freshdesk:acme/42/0", Source: "freshdesk", PrimaryCategory: "agent-auth",
		Codes: []route.CodeView{
			{Code: 108, Name: "ERR_NGROK_108", Summary: "Too many agent sessions.", Category: "agent-auth", DocsURL: "https://ngrok.com/docs/errors/err_ngrok_108",
				Hint: "Stop the other agent.", Known: true, Form: "canonical", Confidence: 1},
			{Code: 3200, Name: "ERR_NGROK_3200", Summary: "Endpoint offline.", Category: "upstream-gateway", Known: true,
				Form: "inferred", Confidence: 0.5, Inferred: true, Phrase: "tunnel not found"},
			{Code: 4018, Name: "ERR_NGROK_4018", Summary: "Auth failed.", Category: "agent-auth", Known: true, Form: "canonical", Confidence: 1, QuotedOnly: true},
		},
		AgentAPI: []route.AgentAPIView{{Number: 103, Name: "agent-api:103", Summary: "The agent could not start the tunnel.", Known: true}},
	}}
}

func action(t *testing.T, kind, target, key string, p route.Payload) ticket.Action {
	return ticket.Action{ID: 1, TicketID: "freshdesk:acme/42/0", Kind: kind, Target: target, Key: key, Payload: payload(t, p)}
}

func TestNoteSink(t *testing.T) {
	h := newHarness(t)
	h.fake.AddTicket(42, "tunnel down", "<p>ERR_NGROK_108</p>")
	sink := h.desk.NoteSink()
	a := action(t, "freshdesk.note", "", "key-1", samplePayload())
	require.NoError(t, sink.Send(context.Background(), a))
	require.NoError(t, sink.Send(context.Background(), a), "a repeat after success")
	notes := h.fake.Notes(42)
	require.Len(t, notes, 1)
	n := notes[0]
	assert.True(t, n.Private)
	for _, want := range []string{"ERR_NGROK_108", "written in the message", "Too many agent sessions.", "https://ngrok.com/docs/errors/err_ngrok_108",
		"First hint: Stop the other agent.", "looks like this code", "tunnel not found", "only in quoted history",
		"agent-api:103", "not ngrok error codes", "triage-action:key-1"} {
		assert.Contains(t, n.BodyText, want)
	}
	assert.Equal(t, 0, h.fake.Calls(freshdeskfake.ListConversations), "a first post reads no notes")

	// A crash between the post and recording it: the cursor says a post
	// may be under way, so the sink looks and finds it.
	require.NoError(t, h.cur.SetCursor(context.Background(), "freshdesk-note:key-1", "sending"))
	require.NoError(t, sink.Send(context.Background(), a))
	assert.Len(t, h.fake.Notes(42), 1)
	assert.Equal(t, 1, h.fake.Calls(freshdeskfake.ListConversations))

	// The same crash before the post: it looks, finds nothing, posts once.
	b := action(t, "freshdesk.note", "", "key-2", samplePayload())
	require.NoError(t, h.cur.SetCursor(context.Background(), "freshdesk-note:key-2", "sending"))
	require.NoError(t, sink.Send(context.Background(), b))
	assert.Len(t, h.fake.Notes(42), 2)
}

func TestSinkErrors(t *testing.T) {
	tests := []struct {
		name      string
		kind      string
		target    string
		ticketID  string
		setup     func(h *harness)
		permanent bool
		retry     time.Duration
	}{
		{name: "note rate limited", kind: "freshdesk.note", ticketID: "freshdesk:acme/42/0", setup: func(h *harness) { h.fake.RateLimit(1, 7) }, retry: 7 * time.Second},
		{name: "note on a deleted ticket", kind: "freshdesk.note", ticketID: "freshdesk:acme/99/0", permanent: true},
		{name: "note on a non-Freshdesk ticket", kind: "freshdesk.note", ticketID: "slack:T/C/1.2", permanent: true},
		{name: "tag rate limited", kind: "freshdesk.tag", ticketID: "freshdesk:acme/42/0", setup: func(h *harness) { h.fake.RateLimit(1, 3) }, retry: 3 * time.Second},
		{name: "tag too long", kind: "freshdesk.tag", target: strings.Repeat("t", 40), ticketID: "freshdesk:acme/42/0", permanent: true},
		{name: "assign to a group that does not exist", kind: "freshdesk.assign", target: "Nobody", ticketID: "freshdesk:acme/42/0", permanent: true},
		{name: "assign to an unknown group ID", kind: "freshdesk.assign", target: "777", ticketID: "freshdesk:acme/42/0", permanent: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			h.fake.AddTicket(42, "s", "<p>x</p>")
			if tt.setup != nil {
				tt.setup(h)
			}
			a := action(t, tt.kind, tt.target, "k", samplePayload())
			a.TicketID = tt.ticketID
			sinks := map[string]outbox.Sink{"freshdesk.note": h.desk.NoteSink(), "freshdesk.tag": h.desk.TagSink(), "freshdesk.assign": h.desk.AssignSink()}
			err := sinks[tt.kind].Send(context.Background(), a)
			require.Error(t, err)
			assert.Equal(t, tt.permanent, outbox.IsPermanent(err), "%v", err)
			var ra interface{ RetryAfter() time.Duration }
			if tt.retry > 0 {
				require.ErrorAs(t, err, &ra)
				assert.Equal(t, tt.retry, ra.RetryAfter())
			}
		})
	}
	t.Run("wrong API key", func(t *testing.T) {
		fake := freshdeskfake.New()
		t.Cleanup(fake.Close)
		fake.AddTicket(42, "s", "<p>x</p>")
		d := freshdesk.New(freshdesk.Config{Domain: "acme", APIURL: fake.APIURL(), APIKey: "bad-key-123"}, nil, nil, nil)
		err := d.NoteSink().Send(context.Background(), action(t, "freshdesk.note", "", "k", samplePayload()))
		require.Error(t, err)
		assert.True(t, outbox.IsPermanent(err))
		assert.Contains(t, err.Error(), "HTTP 401")
		assert.Contains(t, err.Error(), "check freshdesk.api_key")
		assert.NotContains(t, err.Error(), "bad-key-123", "the key is not in the error")
	})
}

func TestTagSink(t *testing.T) {
	tests := []struct {
		name     string
		existing []string
		target   string
		want     []string
		puts     int
	}{
		{"default tags", nil, "", []string{"ngrok-err-108", "ngrok-err-3200", "triage-agent-auth"}, 1},
		{"agents' tags are kept", []string{"vip"}, "", []string{"vip", "ngrok-err-108", "ngrok-err-3200", "triage-agent-auth"}, 1},
		{"already tagged: nothing written", []string{"NGROK-ERR-108", "ngrok-err-3200", "triage-agent-auth"}, "", []string{"NGROK-ERR-108", "ngrok-err-3200", "triage-agent-auth"}, 0},
		{"rendered target", nil, "triage agent-auth", []string{"triage", "agent-auth"}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			h.fake.AddTicket(42, "s", "<p>x</p>")
			if tt.existing != nil {
				require.NoError(t, h.desk.TagSink().Send(context.Background(), action(t, "freshdesk.tag", strings.Join(tt.existing, " "), "seed", samplePayload())))
			}
			before := h.fake.Calls(freshdeskfake.PutTicket)
			a := action(t, "freshdesk.tag", tt.target, "k", samplePayload())
			require.NoError(t, h.desk.TagSink().Send(context.Background(), a))
			require.NoError(t, h.desk.TagSink().Send(context.Background(), a), "a repeat")
			tk, ok := h.fake.Ticket(42)
			require.True(t, ok)
			assert.Equal(t, tt.want, tk.Tags)
			assert.Equal(t, tt.puts, h.fake.Calls(freshdeskfake.PutTicket)-before, "PUTs; the repeat writes nothing")
		})
	}
}

func TestAssignSink(t *testing.T) {
	tests := []struct {
		name    string
		target  string
		primary string
		group   int64
	}{
		{"auto by category name", "auto", "agent-auth", 102},
		{"auto falls back to default ID", "auto", "limits-billing", 101},
		{"category key", "agent-auth", "", 102},
		{"group name", "tier 1", "", 101},
		{"group ID", "102", "", 102},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			h.fake.AddTicket(42, "s", "<p>x</p>")
			p := samplePayload()
			p.Ticket.PrimaryCategory = tt.primary
			a := action(t, "freshdesk.assign", tt.target, "k", p)
			require.NoError(t, h.desk.AssignSink().Send(context.Background(), a))
			require.NoError(t, h.desk.AssignSink().Send(context.Background(), a))
			tk, _ := h.fake.Ticket(42)
			require.NotNil(t, tk.GroupID)
			assert.Equal(t, tt.group, *tk.GroupID)
			assert.Equal(t, 1, h.fake.Calls(freshdeskfake.PutTicket), "the repeat finds the group set")
		})
	}
}

func TestCheck(t *testing.T) {
	fake := freshdeskfake.New()
	t.Cleanup(fake.Close)
	tests := []struct {
		name   string
		key    string
		groups map[string]string
		want   []string
	}{
		{"all well", freshdeskfake.APIKey, map[string]string{"default": "Tier 1", "agent-auth": "102"}, nil},
		{"wrong key", "nope", nil, []string{"HTTP 401"}},
		{"missing groups", freshdeskfake.APIKey, map[string]string{"default": "Billing", "agent-auth": "999"},
			[]string{`groups.agent-auth: there is no group with ID 999`, `groups.default: there is no group named "Billing"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := freshdesk.New(freshdesk.Config{Domain: "acme", APIURL: fake.APIURL(), APIKey: tt.key, Groups: tt.groups}, nil, nil, nil)
			problems := d.Check(context.Background())
			require.Len(t, problems, len(tt.want), "%q", problems)
			for i, w := range tt.want {
				assert.Contains(t, problems[i], w)
			}
		})
	}
}

func TestNoteHTML(t *testing.T) {
	tests := []struct {
		name        string
		payload     func() route.Payload
		want, avoid []string
	}{
		{"text is redacted and escaped; the rule's text is not used", func() route.Payload {
			p := samplePayload()
			p.Text = "the rule's own text"
			p.Ticket.Codes[1].Phrase = "<script> tunnel not found --authtoken 2abcdefghijklmnopqrstuvwxyz_0123456789ABCDEFGH"
			return p
		}, []string{"&lt;script&gt;", "[REDACTED]"}, []string{"<script>", "2abcdefghijklmnopqrstuvwxyz_0123456789ABCDEFGH", "rule's own text"}},
		{"no codes", func() route.Payload { return route.Payload{} }, []string{"no ngrok error code found"}, []string{"<ul>"}},
		{"loose form", func() route.Payload {
			p := samplePayload()
			p.Ticket.Codes = []route.CodeView{{Code: 108, Name: "ERR_NGROK_108", Form: "bare-number", Confidence: 0.6, Known: true}}
			p.Ticket.MoreCodes = 2
			return p
		}, []string{"written loosely (bare-number), confidence 0.6", "and 2 more"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := freshdesk.NoteHTML(tt.payload(), "k1")
			assert.Contains(t, out, "triage-action:k1")
			for _, w := range tt.want {
				assert.Contains(t, out, w)
			}
			for _, a := range tt.avoid {
				assert.NotContains(t, out, a)
			}
		})
	}
}

func TestTicketURL(t *testing.T) {
	tests := []struct{ name, apiURL, id, want string }{
		{"default host", "", freshdesk.TicketID("acme", 42, 7), "https://acme.freshdesk.com/a/tickets/42"},
		{"api_url host", "http://127.0.0.1:8089/api/v2/", "freshdesk:acme/42/0", "http://127.0.0.1:8089/a/tickets/42"},
		{"other domain", "", "freshdesk:other/42/7", ""},
		{"not freshdesk", "", "zendesk:acme/42/7", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := freshdesk.New(freshdesk.Config{Domain: "acme", APIURL: tt.apiURL}, nil, nil, nil)
			assert.Equal(t, tt.want, d.TicketURL(tt.id))
		})
	}
}
