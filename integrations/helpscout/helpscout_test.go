package helpscout_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/triage-bot/triage/integrations/helpscout"
	"github.com/triage-bot/triage/integrations/helpscout/helpscoutfake"
	"github.com/triage-bot/triage/internal/standin"
	"github.com/triage-bot/triage/outbox"
	"github.com/triage-bot/triage/route"
	"github.com/triage-bot/triage/ticket"
)

var (
	_ outbox.Sink = (*helpscout.NoteSink)(nil)
	_ outbox.Sink = (*helpscout.TagSink)(nil)
	_ outbox.Sink = (*helpscout.AssignSink)(nil)
)

type env struct {
	fake *helpscoutfake.Server
	hd   *helpscout.Helpdesk
	ing  *standin.Ingester
	st   *standin.Cursors
	srv  *httptest.Server
}

func newEnv(t *testing.T, mod func(*helpscout.Config)) *env {
	t.Helper()
	fake := helpscoutfake.New()
	t.Cleanup(fake.Close)
	cfg := helpscout.Config{AppID: helpscoutfake.AppID, AppSecret: helpscoutfake.AppSecret, WebhookSecret: helpscoutfake.WebhookSecret,
		APIURL: fake.APIURL(), MaxBodyBytes: 64 << 10,
		Assignees: map[string]int{"agent-auth": helpscoutfake.TeamAgents, "default": helpscoutfake.UserAna},
		Inboxes:   map[string]int{"billing": helpscoutfake.MailboxBilling}}
	if mod != nil {
		mod(&cfg)
	}
	e := &env{fake: fake, ing: &standin.Ingester{}, st: &standin.Cursors{}}
	e.hd = helpscout.New(cfg, e.ing, e.st, nil)
	e.srv = httptest.NewServer(e.hd.WebhookHandler())
	t.Cleanup(e.srv.Close)
	return e
}

func (e *env) deliver(t *testing.T, secret, event string, body []byte) int {
	t.Helper()
	resp, err := http.DefaultClient.Do(helpscoutfake.WebhookRequest(e.srv.URL, secret, event, body))
	require.NoError(t, err)
	resp.Body.Close()
	return resp.StatusCode
}

func TestVerify(t *testing.T) {
	body := []byte(`{"id":1}`)
	good := helpscoutfake.Sign("s3cret", body)
	for _, tc := range []struct {
		name, secret, sig string
		body              []byte
		want              bool
	}{
		{"good", "s3cret", good, body, true},
		{"other secret", "other", good, body, false},
		{"body changed", "s3cret", good, []byte(`{"id":2}`), false},
		{"missing", "s3cret", "", body, false},
		{"not base64", "s3cret", "%%%", body, false},
		{"no secret configured", "", helpscoutfake.Sign("", body), body, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, helpscout.Verify(tc.secret, tc.body, tc.sig))
		})
	}
}

func TestWebhook(t *testing.T) {
	const quotedReply = `<div>Still broken, now I get ERR_NGROK_8012 on every request.</div>` +
		`<blockquote>On Monday you wrote: try again, ERR_NGROK_108</blockquote>`
	for _, tc := range []struct {
		name        string
		event       string
		secret      string
		threads     bool // embed threads in the payload
		agentOnly   bool // the conversation has no customer thread
		body        []byte
		ingestErr   error
		wantStatus  int
		wantStored  int
		wantFetches int
	}{
		{name: "created with threads", event: helpscout.EventCreated, threads: true, wantStatus: 200, wantStored: 1},
		{name: "reply without threads fetches them", event: helpscout.EventCustomerReply, wantStatus: 200, wantStored: 1, wantFetches: 1},
		{name: "forged signature", event: helpscout.EventCreated, secret: "forged", threads: true, wantStatus: 401},
		{name: "too large", event: helpscout.EventCreated, body: []byte(`{"id":1,"x":"` + strings.Repeat("a", 70<<10) + `"}`), wantStatus: 413},
		{name: "other event ignored", event: "convo.agent.reply.created", threads: true, wantStatus: 200},
		{name: "not JSON acknowledged", event: helpscout.EventCreated, body: []byte(`<html>`), wantStatus: 200},
		{name: "store down", event: helpscout.EventCreated, threads: true, ingestErr: errors.New("disk full"), wantStatus: 503},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, nil)
			e.ing.Fail(tc.ingestErr)
			c := e.fake.AddConversation(helpscoutfake.MailboxSupport, "tunnel down", "ana@example.com", "<p>hi</p>")
			th := e.fake.AddCustomerReply(c.ID, quotedReply)
			body := tc.body
			if body == nil {
				body = e.fake.Payload(c.ID, tc.threads)
			}
			secret := helpscoutfake.WebhookSecret
			if tc.secret != "" {
				secret = tc.secret
			}
			assert.Equal(t, tc.wantStatus, e.deliver(t, secret, tc.event, body))
			assert.Len(t, e.ing.Got(), tc.wantStored)
			assert.Equal(t, tc.wantFetches, e.fake.Calls("GET /v2/conversations/{id}/threads"))
			if tc.wantStored == 0 {
				return
			}
			in := e.ing.Got()[0]
			assert.Equal(t, helpscout.TicketID(helpscoutfake.MailboxSupport, c.ID, th.ID), in.ID)
			assert.Equal(t, "helpscout", in.Source)
			assert.Equal(t, strconv.Itoa(helpscoutfake.MailboxSupport), in.Channel)
			assert.Equal(t, "ana@example.com", in.Ticket.From)
			var body2, quoted string
			for _, p := range in.Ticket.Parts {
				switch p.Kind {
				case ticket.KindBody:
					body2 = p.Text
				case ticket.KindQuoted:
					quoted = p.Text
				}
			}
			assert.Contains(t, body2, "ERR_NGROK_8012")
			assert.NotContains(t, body2, "ERR_NGROK_108", "quoted history is not new text")
			assert.Contains(t, quoted, "ERR_NGROK_108")

			// The same delivery again stores nothing new and is acknowledged.
			assert.Equal(t, 200, e.deliver(t, helpscoutfake.WebhookSecret, tc.event, body))
			assert.Len(t, e.ing.Got(), 1)
		})
	}
}

func TestWebhookAgentOnlyConversation(t *testing.T) {
	e := newEnv(t, nil)
	body := []byte(`{"id":4242,"mailboxId":1001,"subject":"outbound","_embedded":{"threads":[{"id":1,"type":"message","body":"<p>hello from us</p>","createdBy":{"id":501,"type":"user"}}]}}`)
	// The fake has no conversation 4242: the fetch fails, so the delivery is retried.
	assert.Equal(t, 503, e.deliver(t, helpscoutfake.WebhookSecret, helpscout.EventCreated, body))
	c := e.fake.AddConversation(helpscoutfake.MailboxSupport, "x", "ana@example.com", "<p>hi</p>")
	var doc map[string]any
	require.NoError(t, json.Unmarshal(e.fake.Payload(c.ID, true), &doc))
	doc["_embedded"] = map[string]any{"threads": []any{map[string]any{"id": 1, "type": "message", "body": "<p>ours</p>"}}}
	body, err := json.Marshal(doc)
	require.NoError(t, err)
	assert.Equal(t, 200, e.deliver(t, helpscoutfake.WebhookSecret, helpscout.EventCreated, body), "agent text in the payload: the customer thread is fetched")
	assert.Len(t, e.ing.Got(), 1)
}

func payload(t *testing.T, codes ...route.CodeView) []byte {
	t.Helper()
	p := route.Payload{Text: "triage found:\n- ERR_NGROK_108", Ticket: route.TicketView{PrimaryCategory: "agent-auth", Codes: codes,
		AgentAPI: []route.AgentAPIView{{Number: 103, Name: "agent-api:103", Summary: "The agent could not start the tunnel.", Known: true}}}}
	b, err := json.Marshal(p)
	require.NoError(t, err)
	return b
}

var code108 = route.CodeView{Code: 108, Name: "ERR_NGROK_108", Summary: "Too many agent sessions.", Category: "agent-auth",
	DocsURL: "https://ngrok.com/docs/errors/err_ngrok_108", Hint: "Stop the other agent.", Known: true, Form: "canonical", Confidence: 1}

func TestRenderNote(t *testing.T) {
	for _, tc := range []struct {
		name, text string
		want       []string
		notWant    []string
	}{
		{"lines and links", "triage found:\n- ERR_NGROK_108: too many sessions\n  Docs: https://ngrok.com/docs/errors/err_ngrok_108/.",
			[]string{"triage found:<br>- ERR_NGROK_108", `<a href="https://ngrok.com/docs/errors/err_ngrok_108/">https://ngrok.com/docs/errors/err_ngrok_108/</a>.`}, nil},
		{"escaped", `<script>alert("x")</script> & more`, []string{"&lt;script&gt;", "&amp; more"}, []string{"<script>"}},
		{"redacted", "ngrok config add-authtoken 2abcdefghijklmnopqrstuvwx_1234567890abcdefghij",
			[]string{"[REDACTED]"}, []string{"2abcdefghijklmnopqrstuvwx_1234567890abcdefghij"}},
		{"empty", "", []string{"no ngrok error code found"}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			note := helpscout.RenderNote(route.Payload{Text: tc.text}, "k1")
			for _, w := range tc.want {
				assert.Contains(t, note, w)
			}
			for _, w := range tc.notWant {
				assert.NotContains(t, note, w)
			}
			assert.True(t, strings.HasSuffix(note, "<p><small>triage-action:k1</small></p>"))
		})
	}
}

func noteAction(conv int, key string, codes ...route.CodeView) func(t *testing.T) ticket.Action {
	return func(t *testing.T) ticket.Action {
		return ticket.Action{ID: 1, TicketID: helpscout.TicketID(helpscoutfake.MailboxSupport, conv, 1), Kind: ticket.KindHelpScoutNote,
			Target: "default", Key: key, Payload: payload(t, codes...)}
	}
}

func TestNoteSink(t *testing.T) {
	e := newEnv(t, nil)
	c := e.fake.AddConversation(helpscoutfake.MailboxSupport, "tunnel down", "ana@example.com", "<p>ERR_NGROK_108</p>")
	sink := e.hd.NoteSink()
	ctx := context.Background()

	require.NoError(t, sink.Send(ctx, noteAction(c.ID, "key-1", code108)(t)))
	notes := e.fake.Notes(c.ID)
	require.Len(t, notes, 1)
	assert.Contains(t, notes[0].Body, "ERR_NGROK_108")
	assert.Contains(t, notes[0].Body, "triage-action:key-1")
	assert.Equal(t, 0, e.fake.Calls("GET /v2/conversations/{id}/threads"), "a first note needs no search")

	// Sent again (the outbox lost the answer): nothing new, no search.
	require.NoError(t, sink.Send(ctx, noteAction(c.ID, "key-1", code108)(t)))
	assert.Len(t, e.fake.Notes(c.ID), 1)

	// A crash after the request: the state says "sending"; the note is
	// found among the threads (over several pages) and not written again.
	e.fake.PageSize = 1
	for range 3 {
		e.fake.AddCustomerReply(c.ID, "<p>more</p>")
	}
	require.NoError(t, e.st.SetCursor(ctx, "helpscout-note:key-1", "sending"))
	require.NoError(t, sink.Send(ctx, noteAction(c.ID, "key-1", code108)(t)))
	assert.Len(t, e.fake.Notes(c.ID), 1)
	assert.Greater(t, e.fake.Calls("GET /v2/conversations/{id}/threads"), 1, "every page was read")

	// A crash before the request: "sending" but no note: written once.
	require.NoError(t, e.st.SetCursor(ctx, "helpscout-note:key-2", "sending"))
	require.NoError(t, sink.Send(ctx, noteAction(c.ID, "key-2", code108)(t)))
	assert.Len(t, e.fake.Notes(c.ID), 2)
}

func TestSinkErrors(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name      string
		cfg       func(*helpscout.Config)
		setup     func(e *env)
		conv      int // 0: the conversation made for the test
		wantPerm  bool
		wantWait  time.Duration
		wantNotes int
	}{
		{name: "rate limited waits as asked", setup: func(e *env) { e.fake.RateLimit(1, 7) }, wantWait: 7 * time.Second},
		{name: "server error retried", setup: func(e *env) { e.fake.Fail("POST /v2/conversations/{id}/notes", 1) }},
		{name: "conversation gone", conv: 999999, wantPerm: true},
		{name: "bad credentials", cfg: func(c *helpscout.Config) { c.AppSecret = "wrong" }, wantPerm: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, tc.cfg)
			c := e.fake.AddConversation(helpscoutfake.MailboxSupport, "s", "ana@example.com", "<p>x</p>")
			conv := c.ID
			if tc.conv != 0 {
				conv = tc.conv
			}
			if tc.setup != nil {
				tc.setup(e)
			}
			err := e.hd.NoteSink().Send(ctx, noteAction(conv, "k", code108)(t))
			require.Error(t, err)
			assert.Equal(t, tc.wantPerm, outbox.IsPermanent(err), "permanent: %v", err)
			var ra interface{ RetryAfter() time.Duration }
			if tc.wantWait > 0 {
				require.ErrorAs(t, err, &ra)
				assert.Equal(t, tc.wantWait, ra.RetryAfter())
			}
			assert.NotContains(t, err.Error(), "fake-access-token", "no token in errors")
			assert.Empty(t, e.fake.Notes(c.ID))
			if !tc.wantPerm {
				require.NoError(t, e.hd.NoteSink().Send(ctx, noteAction(conv, "k", code108)(t)), "the retry succeeds")
				assert.Len(t, e.fake.Notes(c.ID), 1)
			}
		})
	}
}

func TestRevokedTokenIsRenewed(t *testing.T) {
	e := newEnv(t, nil)
	c := e.fake.AddConversation(helpscoutfake.MailboxSupport, "s", "ana@example.com", "<p>x</p>")
	ctx := context.Background()
	require.NoError(t, e.hd.NoteSink().Send(ctx, noteAction(c.ID, "k1", code108)(t)))
	e.fake.RevokeTokens()
	err := e.hd.NoteSink().Send(ctx, noteAction(c.ID, "k2", code108)(t))
	require.Error(t, err)
	assert.False(t, outbox.IsPermanent(err), "a refused token is retried with a new one")
	require.NoError(t, e.hd.NoteSink().Send(ctx, noteAction(c.ID, "k2", code108)(t)))
	assert.Equal(t, 2, e.fake.TokensIssued())
	assert.Len(t, e.fake.Notes(c.ID), 2)
}

func TestTags(t *testing.T) {
	inferred := code108
	inferred.Code, inferred.Inferred = 4018, true
	quoted := code108
	quoted.Code, quoted.QuotedOnly = 9009, true
	tv := route.TicketView{PrimaryCategory: "agent-auth", Codes: []route.CodeView{code108, inferred, quoted}}
	for _, tc := range []struct {
		target string
		want   []string
	}{
		{"default", []string{"ngrok-err-108", "ngrok-err-4018", "triage-agent-auth"}},
		{"", []string{"ngrok-err-108", "ngrok-err-4018", "triage-agent-auth"}},
		{"VIP default vip", []string{"vip", "ngrok-err-108", "ngrok-err-4018", "triage-agent-auth"}},
		{"needs-eng", []string{"needs-eng"}},
	} {
		t.Run(tc.target, func(t *testing.T) {
			assert.Equal(t, tc.want, helpscout.Tags(tc.target, tv))
		})
	}
}

func TestTagSink(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	c := e.fake.AddConversation(helpscoutfake.MailboxSupport, "s", "ana@example.com", "<p>x</p>")
	a := ticket.Action{TicketID: helpscout.TicketID(helpscoutfake.MailboxSupport, c.ID, 1), Kind: ticket.KindHelpScoutTag, Target: "vip default",
		Key: "t", Payload: payload(t, code108)}
	require.NoError(t, sink(e.hd.TagSink()).Send(ctx, a))
	got, _ := e.fake.Conversation(c.ID)
	assert.Equal(t, []string{"vip", "ngrok-err-108", "triage-agent-auth"}, got.Tags)
	require.NoError(t, e.hd.TagSink().Send(ctx, a))
	assert.Equal(t, 1, e.fake.TagWrites(c.ID), "tags already there are not written again")

	// An agent's own tags stay.
	e.fake.AddCustomerReply(c.ID, "<p>y</p>")
	a.Target, a.Key = "needs-eng", "t2"
	require.NoError(t, e.hd.TagSink().Send(ctx, a))
	got, _ = e.fake.Conversation(c.ID)
	assert.Equal(t, []string{"vip", "ngrok-err-108", "triage-agent-auth", "needs-eng"}, got.Tags)
}

func sink(s outbox.Sink) outbox.Sink { return s }

func TestAssignSink(t *testing.T) {
	for _, tc := range []struct {
		target       string
		wantAssignee int
		wantMailbox  int
		wantPerm     bool
	}{
		{target: "agent-auth", wantAssignee: helpscoutfake.TeamAgents},
		{target: "auto", wantAssignee: helpscoutfake.TeamAgents}, // the payload's primary category
		{target: "upstream-gateway", wantAssignee: helpscoutfake.UserAna},
		{target: strconv.Itoa(helpscoutfake.UserBot), wantAssignee: helpscoutfake.UserBot},
		{target: "inbox:billing", wantMailbox: helpscoutfake.MailboxBilling},
		{target: "inbox:nowhere", wantPerm: true},
		{target: "424242", wantPerm: true}, // Help Scout: no such user
	} {
		t.Run(tc.target, func(t *testing.T) {
			e := newEnv(t, nil)
			c := e.fake.AddConversation(helpscoutfake.MailboxSupport, "s", "ana@example.com", "<p>x</p>")
			a := ticket.Action{TicketID: helpscout.TicketID(helpscoutfake.MailboxSupport, c.ID, 1), Kind: ticket.KindHelpScoutAssign,
				Target: tc.target, Key: "a", Payload: payload(t, code108)}
			err := e.hd.AssignSink().Send(context.Background(), a)
			got, _ := e.fake.Conversation(c.ID)
			if tc.wantPerm {
				require.Error(t, err)
				assert.True(t, outbox.IsPermanent(err), "%v", err)
				assert.Zero(t, got.Assignee)
				return
			}
			require.NoError(t, err)
			if tc.wantAssignee != 0 {
				assert.Equal(t, tc.wantAssignee, got.Assignee)
			}
			if tc.wantMailbox != 0 {
				assert.Equal(t, tc.wantMailbox, got.MailboxID)
			}
		})
	}
}

func TestCheck(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  func(*helpscout.Config)
		want []string
	}{
		{name: "all there"},
		{name: "missing inbox and assignee", cfg: func(c *helpscout.Config) {
			c.Inboxes["sales"] = 9999
			c.Assignees["billing-team"] = 8888
			c.NoteUser = 7777
		}, want: []string{"inbox sales: mailbox 9999", "assignee billing-team: 8888 is neither a user nor a team", "note_user: 7777"}},
		{name: "bad credentials", cfg: func(c *helpscout.Config) { c.AppID = "nope" }, want: []string{"credentials:", "invalid_client"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, tc.cfg)
			e.fake.PageSize = 1 // every list spans pages
			who, problems := e.hd.Check(context.Background())
			joined := strings.Join(problems, "\n")
			if len(tc.want) == 0 {
				assert.Empty(t, problems)
				assert.Contains(t, who, "bot@example.com")
			}
			for _, w := range tc.want {
				assert.Contains(t, joined, w)
			}
		})
	}
}

func TestTicketURL(t *testing.T) {
	tests := []struct{ name, id, want string }{
		{"conversation", helpscout.TicketID(helpscoutfake.MailboxSupport, 2391938111, 7), "https://secure.helpscout.net/conversation/2391938111"},
		{"not help scout", "front:front/cnv_1/msg_2", ""},
		{"not a number", "helpscout:1/abc/2", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, helpscout.TicketURL(tt.id))
		})
	}
}
