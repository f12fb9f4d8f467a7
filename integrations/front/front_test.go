package front_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"

	"github.com/triage-bot/triage/catalog"
	"github.com/triage-bot/triage/integrations/front"
	"github.com/triage-bot/triage/integrations/front/frontfake"
	"github.com/triage-bot/triage/outbox"
	"github.com/triage-bot/triage/pipeline"
	"github.com/triage-bot/triage/route"
	"github.com/triage-bot/triage/store"
	"github.com/triage-bot/triage/store/sqlite"
	"github.com/triage-bot/triage/ticket"
)

var (
	_ outbox.Sink = (*front.NoteSink)(nil)
	_ outbox.Sink = (*front.TagSink)(nil)
	_ outbox.Sink = (*front.AssignSink)(nil)
)

const rulesYAML = `
rules:
  - name: front
    match:
      source: front
      has_code: true
    actions:
      - kind: front.note
      - kind: front.tag
      - kind: front.assign
        target: "{{.Primary}}"
`

// The customer's new text names 108; the quoted history names 3200.
const htmlBody = `<div>Hi, my tunnel stopped with ERR_NGROK_108 this morning.</div>` +
	`<div class="gmail_quote">On Monday support wrote:<blockquote>Earlier you saw ERR_NGROK_3200.</blockquote></div>`

type harness struct {
	fake *frontfake.Server
	st   *sqlite.Store
	fc   *front.Client
	ob   *outbox.Outbox
	srv  *httptest.Server
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	fake := frontfake.New(t)
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "t.db"))
	require.NoError(t, err)
	t.Cleanup(func() { st.Close() })
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
	fc := front.New(front.Config{APIURL: fake.URL, Token: frontfake.Token, WebhookSecret: frontfake.APISecret,
		Assignees: map[string]string{"agent-auth": frontfake.Teammate, "default": "inb_billing"}}, p, log)
	ob := outbox.New(outbox.Config{Worker: "w", Workers: 2, Backoff: 50 * time.Millisecond, Poll: 20 * time.Millisecond, MaxAttempts: 5},
		st, map[string]outbox.Sink{ticket.KindFrontNote: fc.NoteSink(), ticket.KindFrontTag: fc.TagSink(), ticket.KindFrontAssign: fc.AssignSink()}, log, nil)
	srv := httptest.NewServer(fc.Handler())
	t.Cleanup(srv.Close)
	return &harness{fake: fake, st: st, fc: fc, ob: ob, srv: srv}
}

func (h *harness) run(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = h.ob.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
}

func (h *harness) post(t *testing.T, req *http.Request) int {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode
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
	waitFor(t, "the outbox to settle", func() bool {
		c, err := h.st.CountActions(context.Background())
		return err == nil && c[ticket.StatePending] == 0 && c[ticket.StateRunning] == 0
	})
}

func (h *harness) ticket(t *testing.T, cnv, msg string) *store.Record {
	t.Helper()
	rec, err := h.st.Ticket(context.Background(), front.TicketID("front", cnv, msg))
	require.NoError(t, err)
	return rec
}

func (h *harness) stored(t *testing.T) int {
	t.Helper()
	c, err := h.st.CountActions(context.Background())
	require.NoError(t, err)
	n := 0
	for _, v := range c {
		n += v
	}
	return n
}

func TestSignatures(t *testing.T) {
	now := time.Now()
	tests := []struct {
		name string
		req  func(h *harness, body []byte) *http.Request
		want int
	}{
		{"rule webhook signed with the API secret", func(h *harness, b []byte) *http.Request {
			return frontfake.RuleRequest(h.srv.URL, frontfake.APISecret, b)
		}, http.StatusOK},
		{"rule webhook signed with another secret", func(h *harness, b []byte) *http.Request {
			return frontfake.RuleRequest(h.srv.URL, "not-the-secret", b)
		}, http.StatusUnauthorized},
		{"rule webhook without signature", func(h *harness, b []byte) *http.Request {
			r := frontfake.RuleRequest(h.srv.URL, frontfake.APISecret, b)
			r.Header.Del(front.HeaderSignature)
			return r
		}, http.StatusUnauthorized},
		{"rule webhook with a tampered body", func(h *harness, b []byte) *http.Request {
			r := frontfake.RuleRequest(h.srv.URL, frontfake.APISecret, b)
			r.Body = io.NopCloser(strings.NewReader(strings.Replace(string(b), "108", "109", 1)))
			r.ContentLength = int64(len(b))
			return r
		}, http.StatusUnauthorized},
		{"application webhook signed now", func(h *harness, b []byte) *http.Request {
			return frontfake.AppRequest(h.srv.URL, frontfake.APISecret, frontfake.AppEvent(b), now)
		}, http.StatusOK},
		{"application webhook ten minutes old", func(h *harness, b []byte) *http.Request {
			return frontfake.AppRequest(h.srv.URL, frontfake.APISecret, frontfake.AppEvent(b), now.Add(-10*time.Minute))
		}, http.StatusUnauthorized},
		{"application webhook signed as a rule webhook", func(h *harness, b []byte) *http.Request {
			r := frontfake.AppRequest(h.srv.URL, frontfake.APISecret, frontfake.AppEvent(b), now)
			r.Header.Set(front.HeaderSignature, frontfake.SignRule(frontfake.APISecret, frontfake.AppEvent(b)))
			return r
		}, http.StatusUnauthorized},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			cnv, msg := h.fake.Inbound("", "ana@example.com", "tunnel down", htmlBody)
			body := h.fake.Event("evt_1", cnv, msg, false, now)
			assert.Equal(t, tt.want, h.post(t, tt.req(h, body)))
			_, err := h.st.Ticket(context.Background(), front.TicketID("front", cnv, msg))
			if tt.want == http.StatusOK {
				assert.NoError(t, err, "stored")
			} else {
				assert.Error(t, err, "nothing stored")
				assert.Zero(t, h.stored(t), "no action planned")
			}
		})
	}
}

func TestStaleRuleWebhookRefused(t *testing.T) {
	h := newHarness(t)
	cnv, msg := h.fake.Inbound("", "ana@example.com", "tunnel down", htmlBody)
	body := h.fake.Event("evt_old", cnv, msg, false, time.Now().Add(-time.Hour))
	assert.Equal(t, http.StatusUnauthorized, h.post(t, frontfake.RuleRequest(h.srv.URL, frontfake.APISecret, body)))
	assert.Zero(t, h.stored(t))
}

func TestChallengeAnswered(t *testing.T) {
	h := newHarness(t)
	body := []byte(`{"type":"sync","authorization":{"id":"cmp_fake"}}`)
	req := frontfake.AppRequest(h.srv.URL, frontfake.APISecret, body, time.Now())
	req.Header.Set(front.HeaderChallenge, "c-123")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	var got map[string]string
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&got))
	assert.Equal(t, "c-123", got["challenge"])
}

func TestOversizedBodyRefused(t *testing.T) {
	h := newHarness(t)
	body := []byte(`{"x":"` + strings.Repeat("a", front.MaxRequestBytes) + `"}`)
	assert.Equal(t, http.StatusRequestEntityTooLarge, h.post(t, frontfake.RuleRequest(h.srv.URL, frontfake.APISecret, body)))
}

// TestEndToEnd: a webhook in → the ticket stored with the new text apart
// from the quoted history → one note, the tags and the assignment reach
// Front; a redelivery changes nothing.
func TestEndToEnd(t *testing.T) {
	for _, preview := range []bool{false, true} {
		name := "full event"
		if preview {
			name = "event preview: the body is fetched"
		}
		t.Run(name, func(t *testing.T) {
			h := newHarness(t)
			cnv, msg := h.fake.Inbound("", "ana@example.com", "tunnel down", htmlBody)
			body := h.fake.Event("evt_1", cnv, msg, preview, time.Now())
			require.Equal(t, http.StatusOK, h.post(t, frontfake.RuleRequest(h.srv.URL, frontfake.APISecret, body)))
			if preview {
				assert.Equal(t, 1, h.fake.Calls("GET /messages/{id}"), "the preview's body was fetched")
			} else {
				assert.Zero(t, h.fake.Calls("GET /messages/{id}"), "a full event needs no fetch")
			}

			rec := h.ticket(t, cnv, msg)
			assert.Equal(t, "front", rec.Ticket.Source)
			assert.Equal(t, "ana@example.com", rec.Ticket.From)
			assert.Equal(t, "tunnel down", rec.Ticket.Subject)
			assert.Equal(t, "Support", rec.Ticket.Channel)
			var kinds []ticket.PartKind
			for _, p := range rec.Ticket.Parts {
				kinds = append(kinds, p.Kind)
				if p.Kind == ticket.KindBody {
					assert.Contains(t, p.Text, "ERR_NGROK_108")
					assert.NotContains(t, p.Text, "ERR_NGROK_3200")
				}
			}
			assert.Equal(t, []ticket.PartKind{ticket.KindSubject, ticket.KindBody, ticket.KindQuoted}, kinds)

			h.run(t)
			h.settled(t)
			c := h.fake.Conversation(cnv)
			require.Len(t, c.Comments, 1)
			note := c.Comments[0].Body
			assert.Contains(t, note, "ERR_NGROK_108 — written by the customer")
			assert.Contains(t, note, "https://ngrok.com/docs/errors/err_ngrok_108/")
			assert.Contains(t, note, "ERR_NGROK_3200 — only in quoted history")
			assert.Contains(t, note, "\n\n"+front.MarkerPrefix)
			assert.Equal(t, []string{"ngrok-err-108", "triage-agent-auth"}, h.fake.TagNames(cnv), "quoted-only codes are not tagged")
			assert.Equal(t, frontfake.Teammate, c.Assignee)

			// Redelivery: the same event, then a fresh event about the same message.
			require.Equal(t, http.StatusOK, h.post(t, frontfake.RuleRequest(h.srv.URL, frontfake.APISecret, body)))
			again := h.fake.Event("evt_2", cnv, msg, preview, time.Now())
			require.Equal(t, http.StatusOK, h.post(t, frontfake.AppRequest(h.srv.URL, frontfake.APISecret, frontfake.AppEvent(again), time.Now())))
			h.settled(t)
			assert.Len(t, h.fake.Conversation(cnv).Comments, 1, "no second note")
			assert.Equal(t, 1, h.fake.Calls("POST /conversations/{id}/comments"))
			assert.Equal(t, 1, h.fake.Calls("POST /conversations/{id}/tags"))
			assert.Equal(t, 1, h.fake.Calls("PUT /conversations/{id}/assignee"))
		})
	}
}

func TestRateLimitIsWaitedOut(t *testing.T) {
	h := newHarness(t)
	h.fake.Fail("POST /conversations/{id}/comments", 1, http.StatusTooManyRequests, 1)
	cnv, msg := h.fake.Inbound("", "ana@example.com", "tunnel down", htmlBody)
	require.Equal(t, http.StatusOK, h.post(t, frontfake.RuleRequest(h.srv.URL, frontfake.APISecret, h.fake.Event("evt_1", cnv, msg, false, time.Now()))))
	start := time.Now()
	h.run(t)
	waitFor(t, "the note", func() bool { return len(h.fake.Conversation(cnv).Comments) == 1 })
	assert.GreaterOrEqual(t, time.Since(start), 900*time.Millisecond, "Retry-After: 1 was honoured")
	assert.Equal(t, 2, h.fake.Calls("POST /conversations/{id}/comments"))
	h.settled(t)
	assert.Len(t, h.fake.Conversation(cnv).Comments, 1)
}

// action builds an action for a sink called directly.
func action(t *testing.T, kind, cnv, msg, target, key string, codes ...route.CodeView) ticket.Action {
	t.Helper()
	p := route.Payload{Kind: kind, Target: target, Text: "triage: agent-auth\nERR_NGROK_108 — written by the customer",
		Ticket: route.TicketView{ID: front.TicketID("front", cnv, msg), Source: "front", PrimaryCategory: "agent-auth", Codes: codes}}
	b, err := json.Marshal(p)
	require.NoError(t, err)
	return ticket.Action{ID: 1, TicketID: p.Ticket.ID, Kind: kind, Target: target, Payload: b, Key: key}
}

func TestSinksAreIdempotent(t *testing.T) {
	ctx := context.Background()
	codes := []route.CodeView{{Code: 108, Name: "ERR_NGROK_108"}, {Code: 3200, Name: "ERR_NGROK_3200", QuotedOnly: true}, {Code: 4018, Inferred: true}}
	tests := []struct {
		name   string
		sink   func(*front.Client) outbox.Sink
		kind   string
		target string
		check  func(t *testing.T, f *frontfake.Server, cnv string)
	}{
		{"note", func(c *front.Client) outbox.Sink { return c.NoteSink() }, ticket.KindFrontNote, "", func(t *testing.T, f *frontfake.Server, cnv string) {
			c := f.Conversation(cnv)
			assert.Len(t, c.Comments, 4, "three others and ours")
			assert.Equal(t, 4, f.Calls("POST /conversations/{id}/comments"))
			assert.GreaterOrEqual(t, f.Calls("GET /conversations/{id}/comments"), 4, "every page was read on the second send")
		}},
		{"default tags", func(c *front.Client) outbox.Sink { return c.TagSink() }, ticket.KindFrontTag, "", func(t *testing.T, f *frontfake.Server, cnv string) {
			assert.Equal(t, []string{"ngrok-err-108", "ngrok-err-4018", "triage-agent-auth"}, f.TagNames(cnv))
			assert.Equal(t, 1, f.Calls("POST /conversations/{id}/tags"))
			assert.Equal(t, 3, f.Calls("POST /tags"), "each missing tag created once")
		}},
		{"named tags, one existing", func(c *front.Client) outbox.Sink { return c.TagSink() }, ticket.KindFrontTag, "VIP ngrok", func(t *testing.T, f *frontfake.Server, cnv string) {
			assert.Equal(t, []string{"ngrok", "vip"}, f.TagNames(cnv))
			assert.Equal(t, 1, f.Calls("POST /tags"))
		}},
		{"assign a teammate", func(c *front.Client) outbox.Sink { return c.AssignSink() }, ticket.KindFrontAssign, "agent-auth", func(t *testing.T, f *frontfake.Server, cnv string) {
			assert.Equal(t, frontfake.Teammate, f.Conversation(cnv).Assignee)
			assert.Equal(t, 1, f.Calls("PUT /conversations/{id}/assignee"))
		}},
		{"move to an inbox", func(c *front.Client) outbox.Sink { return c.AssignSink() }, ticket.KindFrontAssign, "limits-billing", func(t *testing.T, f *frontfake.Server, cnv string) {
			assert.Equal(t, []string{"inb_billing"}, f.Conversation(cnv).Inboxes)
			assert.Equal(t, 1, f.Calls("PATCH /conversations/{id}"))
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			cnv, msg := h.fake.Inbound("", "ana@example.com", "tunnel down", htmlBody)
			if tt.kind == ticket.KindFrontNote {
				for range 3 { // other comments first, so ours is on a later page
					require.NoError(t, h.fc.NoteSink().Send(ctx, action(t, tt.kind, cnv, msg, "", "other-"+strings.Repeat("x", len(h.fake.Conversation(cnv).Comments)))))
				}
			}
			a := action(t, tt.kind, cnv, msg, tt.target, "key-1", codes...)
			require.NoError(t, tt.sink(h.fc).Send(ctx, a))
			require.NoError(t, tt.sink(h.fc).Send(ctx, a), "the second send finds the first")
			tt.check(t, h.fake, cnv)
		})
	}
}

func TestPermanentAndRetryableErrors(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name      string
		prepare   func(f *frontfake.Server)
		cnv       string
		kind      string
		target    string
		permanent bool
		retryIn   time.Duration
	}{
		{"unknown conversation", nil, "cnv_gone", ticket.KindFrontNote, "", true, 0},
		{"assignee name not configured and no ID", nil, "", ticket.KindFrontAssign, "nobody", false, 0},
		{"unknown teammate", nil, "", ticket.KindFrontAssign, "tea_ghost", true, 0},
		{"server error", func(f *frontfake.Server) { f.Fail("POST /conversations/{id}/comments", 1, 503, 0) }, "", ticket.KindFrontNote, "", false, 0},
		{"request timeout", func(f *frontfake.Server) { f.Fail("POST /conversations/{id}/comments", 1, 408, 0) }, "", ticket.KindFrontNote, "", false, 0},
		{"rate limited", func(f *frontfake.Server) { f.Fail("GET /conversations/{id}", 1, 429, 7) }, "", ticket.KindFrontTag, "x", false, 7 * time.Second},
		{"bad token", func(f *frontfake.Server) { f.Fail("GET /conversations/{id}", 1, 401, 0) }, "", ticket.KindFrontTag, "x", true, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			cnv, msg := h.fake.Inbound("", "ana@example.com", "tunnel down", htmlBody)
			if tt.cnv != "" {
				cnv = tt.cnv
			}
			if tt.prepare != nil {
				tt.prepare(h.fake)
			}
			sinks := map[string]outbox.Sink{ticket.KindFrontNote: h.fc.NoteSink(), ticket.KindFrontTag: h.fc.TagSink(), ticket.KindFrontAssign: h.fc.AssignSink()}
			err := sinks[tt.kind].Send(ctx, action(t, tt.kind, cnv, msg, tt.target, "k"))
			if tt.name == "assignee name not configured and no ID" {
				// The "default" entry catches names that are not configured.
				require.NoError(t, err)
				assert.Equal(t, []string{"inb_billing"}, h.fake.Conversation(cnv).Inboxes)
				return
			}
			require.Error(t, err)
			assert.Equal(t, tt.permanent, outbox.IsPermanent(err), "permanent: %v", err)
			if tt.retryIn > 0 {
				var ra interface{ RetryAfter() time.Duration }
				require.ErrorAs(t, err, &ra)
				assert.Equal(t, tt.retryIn, ra.RetryAfter())
			}
			assert.NotContains(t, err.Error(), frontfake.Token, "no token in errors")
		})
	}
}

func TestCheck(t *testing.T) {
	tests := []struct {
		name      string
		token     string
		assignees map[string]string
		want      []string
	}{
		{"all there", frontfake.Token, map[string]string{"agent-auth": frontfake.Teammate, "default": frontfake.Inbox}, nil},
		{"missing inbox and teammate", frontfake.Token, map[string]string{"billing": "inb_nope", "auth": "tea_nope", "odd": "tim_team"},
			[]string{"assignees.auth: teammate tea_nope does not exist", "assignees.billing: inbox inb_nope does not exist", "assignees.odd: \"tim_team\" is neither"}},
		{"bad token", "wrong", nil, []string{"cannot use the API token", "HTTP 401", "check front.api_token"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := frontfake.New(t)
			c := front.New(front.Config{APIURL: f.URL, Token: tt.token, Assignees: tt.assignees}, nil, nil)
			name, problems := c.Check(context.Background())
			if tt.want == nil {
				assert.Empty(t, problems)
				assert.Equal(t, frontfake.CompanyName, name)
				return
			}
			all := strings.Join(problems, "\n")
			for _, w := range tt.want {
				assert.Contains(t, all, w)
			}
		})
	}
}

// TestNoteSaysHowSure: the note tells written, loose and inferred codes
// and the agent API's numbers apart, and redacts the customer's secrets.
func TestNoteSaysHowSure(t *testing.T) {
	tests := []struct {
		name  string
		body  string
		wants []string
	}{
		{"written", "<p>ERR_NGROK_108 again</p>", []string{"ERR_NGROK_108 — written by the customer", "Docs: https://ngrok.com/docs/errors/err_ngrok_108/"}},
		{"loose", "<p>I get ngrok error 108 since today</p>", []string{"ERR_NGROK_108 — written loosely (phrase)"}},
		{"inferred", "<p>Your account is limited to 1 simultaneous ngrok agent session.</p>", []string{"ERR_NGROK_108 — looks like it, going by the words", "ask for the code"}},
		{"agent API", `<pre>ERR_NGROK_108 and {"error_code":103,"status_code":502,"msg":"x"}</pre>`, []string{"agent-api:103 — a number of the ngrok agent's local API, not an ngrok error code"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			cnv, msg := h.fake.Inbound("", "ana@example.com", "help", tt.body)
			require.Equal(t, http.StatusOK, h.post(t, frontfake.RuleRequest(h.srv.URL, frontfake.APISecret, h.fake.Event("evt_1", cnv, msg, false, time.Now()))))
			h.run(t)
			waitFor(t, "the note", func() bool { return len(h.fake.Conversation(cnv).Comments) == 1 })
			note := h.fake.Conversation(cnv).Comments[0].Body
			for _, w := range tt.wants {
				assert.Contains(t, note, w)
			}
		})
	}
}

// TestEventWithoutMessage: an event that names no message has the
// conversation's latest inbound message fetched.
func TestEventWithoutMessage(t *testing.T) {
	h := newHarness(t)
	cnv, _ := h.fake.Inbound("", "ana@example.com", "help", "<p>first: ERR_NGROK_3200</p>")
	_, latest := h.fake.Inbound(cnv, "ana@example.com", "help", "<p>now: ERR_NGROK_108</p>")
	var ev map[string]any
	require.NoError(t, json.Unmarshal(h.fake.Event("evt_1", cnv, latest, false, time.Now()), &ev))
	delete(ev, "target")
	body, err := json.Marshal(ev)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, h.post(t, frontfake.RuleRequest(h.srv.URL, frontfake.APISecret, body)))
	rec := h.ticket(t, cnv, latest)
	assert.Contains(t, rec.Ticket.Parts[1].Text, "ERR_NGROK_108")
	assert.Equal(t, 1, h.fake.Calls("GET /conversations/{id}/messages"))
}

func TestTicketURL(t *testing.T) {
	tests := []struct{ name, id, want string }{
		{"conversation", front.TicketID("front", "cnv_55c8c149", "msg_1"), "https://app.frontapp.com/open/cnv_55c8c149"},
		{"other account", "front:acme/cnv_1/msg_2", "https://app.frontapp.com/open/cnv_1"},
		{"not front", "zendesk:acme/42/7", ""},
		{"no message", "front:front/cnv_1", ""},
		{"escaped", "front:front/cnv_1?x=<y>/msg_2", "https://app.frontapp.com/open/cnv_1%3Fx=%3Cy%3E"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, front.TicketURL(tt.id))
		})
	}
}
