package web

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/triage-bot/triage/catalog"
	"github.com/triage-bot/triage/metrics"
	"github.com/triage-bot/triage/pipeline"
	"github.com/triage-bot/triage/route"
	"github.com/triage-bot/triage/store/sqlite"
)

const token = "test-token-123"

func newServer(t *testing.T) (*httptest.Server, *Server) {
	t.Helper()
	return newServerWith(t, `
routes:
  rules:
    - name: agent
      match: {category: [agent-auth]}
      actions: [{kind: jsonl, target: /tmp/unused.jsonl}]
`)
}

// newServerWith is newServer with the given routes.
func newServerWith(t *testing.T, routes string) (*httptest.Server, *Server) {
	t.Helper()
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "t.db"))
	require.NoError(t, err)
	t.Cleanup(func() { st.Close() })
	cat, err := catalog.Default()
	require.NoError(t, err)
	rules, err := route.Parse("rules.yaml", []byte(routes), route.Options{})
	require.NoError(t, err)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	m := metrics.New()
	p := &pipeline.Pipeline{Catalog: cat, Rules: rules, Store: st, Log: log, Metrics: m}
	s := &Server{Ingester: p, Tickets: st, Tokens: []string{token}, MaxBody: 64 << 10, Metrics: m, Log: log,
		Ping: func(ctx context.Context) error { _, err := st.CountActions(ctx); return err }}
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(srv.Close)
	return srv, s
}

func do(t *testing.T, method, url, tok, ctype, body string, hdr ...string) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	require.NoError(t, err)
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	var v map[string]any
	data, _ := io.ReadAll(resp.Body)
	_ = json.Unmarshal(data, &v)
	return resp.StatusCode, v
}

func TestAPIAuth(t *testing.T) {
	srv, _ := newServer(t)
	for _, tok := range []string{"", "wrong"} {
		code, body := do(t, "POST", srv.URL+"/v1/tickets", tok, "application/json", `{"text":"ERR_NGROK_108"}`)
		assert.Equal(t, http.StatusUnauthorized, code)
		assert.NotEmpty(t, body["error"])
		code, _ = do(t, "GET", srv.URL+"/v1/tickets", tok, "", "")
		assert.Equal(t, http.StatusUnauthorized, code)
	}
	s := &Server{Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	srv2 := httptest.NewServer(s.Handler())
	defer srv2.Close()
	code, body := do(t, "GET", srv2.URL+"/v1/tickets", "anything", "", "")
	assert.Equal(t, http.StatusUnauthorized, code)
	assert.Contains(t, body["error"], "the API is disabled")
}

func TestAPIPostAndGet(t *testing.T) {
	srv, _ := newServer(t)
	code, body := do(t, "POST", srv.URL+"/v1/tickets", token, "application/json",
		`{"text":"Hi, agent says ERR_NGROK_108 again. authtoken: 2abcDEFfakeTOKEN0000000000_1A2b3C4d5E6f7G8h9I0j","subject":"agent down","from":"ana@example.com"}`,
		"Idempotency-Key", "req-1")
	require.Equal(t, http.StatusCreated, code, body)
	assert.Equal(t, "api:req-1", body["id"])
	assert.Equal(t, "agent-auth", body["category"])
	assert.Equal(t, []any{108.0}, body["codes"])
	assert.Equal(t, []any{"agent"}, body["rules"])

	code, again := do(t, "POST", srv.URL+"/v1/tickets", token, "application/json", `{"text":"ERR_NGROK_108"}`, "Idempotency-Key", "req-1")
	assert.Equal(t, http.StatusOK, code, "a repeat with the same Idempotency-Key stores nothing new")
	assert.Equal(t, true, again["duplicate"])

	code, body = do(t, "POST", srv.URL+"/v1/tickets", token, "message/rfc822",
		"From: bo@example.com\r\nSubject: offline\r\nMessage-ID: <m1@example.com>\r\n\r\nvisitors see ERR_NGROK_3200\r\n")
	require.Equal(t, http.StatusCreated, code, body)
	assert.Equal(t, "upstream-gateway", body["category"])
	id := body["id"].(string)

	code, body = do(t, "GET", srv.URL+"/v1/tickets/"+id, token, "", "")
	require.Equal(t, http.StatusOK, code)
	tk := body["ticket"].(map[string]any)
	assert.Equal(t, "offline", tk["subject"])
	assert.Equal(t, "bo@example.com", tk["from"])

	code, body = do(t, "GET", srv.URL+"/v1/tickets?code=108", token, "", "")
	require.Equal(t, http.StatusOK, code)
	list := body["tickets"].([]any)
	require.Len(t, list, 1)
	assert.Equal(t, "api:req-1", list[0].(map[string]any)["id"])

	code, body = do(t, "GET", srv.URL+"/v1/tickets?limit=10", token, "", "")
	require.Equal(t, http.StatusOK, code)
	assert.Len(t, body["tickets"], 2)

	code, _ = do(t, "GET", srv.URL+"/v1/tickets/api:nope", token, "", "")
	assert.Equal(t, http.StatusNotFound, code)
}

// TestAPIStoresTicketWhenATemplateFails: a template that fails for this
// ticket parks its action; the ticket is stored (201) and the answer
// lists the problem.
func TestAPIStoresTicketWhenATemplateFails(t *testing.T) {
	srv, _ := newServerWith(t, `
routes:
  default:
    actions:
      - {kind: jsonl, target: /tmp/unused.jsonl}
      - {kind: webhook, target: helpdesk, template: "{{if .Ticket.Subject}}ok{{else}}{{(index .Codes 99).Name}}{{end}}"}
`)
	code, body := do(t, "POST", srv.URL+"/v1/tickets", token, "application/json", `{"text":"agent says ERR_NGROK_108"}`)
	require.Equal(t, http.StatusCreated, code, body)
	problems, ok := body["problems"].([]any)
	require.True(t, ok, "problems listed: %v", body)
	require.Len(t, problems, 1)
	assert.Contains(t, problems[0], `rule "default": action 2 (webhook): template`)
	assert.Contains(t, problems[0], "index out of range")
	actions := body["actions"].([]any)
	require.Len(t, actions, 2)
	assert.Equal(t, "pending", actions[0].(map[string]any)["state"], "the other action still runs")
	assert.Equal(t, "failed", actions[1].(map[string]any)["state"])
	assert.Contains(t, actions[1].(map[string]any)["last_error"], "index out of range")

	code, got := do(t, "GET", srv.URL+"/v1/tickets/"+body["id"].(string), token, "", "")
	require.Equal(t, http.StatusOK, code)
	assert.Equal(t, problems, got["problems"], "the stored ticket says so too")

	code, body = do(t, "POST", srv.URL+"/v1/tickets", token, "application/json", `{"text":"ERR_NGROK_108","subject":"agent down"}`)
	require.Equal(t, http.StatusCreated, code, body)
	assert.Nil(t, body["problems"], "a ticket whose templates render has none")
}

func TestAPIBadRequests(t *testing.T) {
	srv, _ := newServer(t)
	tests := []struct {
		name, ctype, body string
		hdr               []string
		want              int
		msg               string
	}{
		{"bad json", "application/json", `{"text": `, nil, 400, "bad JSON"},
		{"unknown field", "application/json", `{"txt": "x"}`, nil, 400, "unknown field"},
		{"no text", "application/json", `{"from": "a@b"}`, nil, 400, `"text"`},
		{"too large", "application/json", `{"text":"` + strings.Repeat("x", 70<<10) + `"}`, nil, 413, "larger than"},
		{"wrong type", "text/csv", "a,b", nil, 415, "Content-Type"},
		{"long key", "application/json", `{"text":"x"}`, []string{"Idempotency-Key", strings.Repeat("k", 201)}, 400, "Idempotency-Key"},
		{"bad mail", "message/rfc822", "", nil, 400, "unreadable ticket"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, body := do(t, "POST", srv.URL+"/v1/tickets", token, tt.ctype, tt.body, tt.hdr...)
			assert.Equal(t, tt.want, code, body)
			assert.Contains(t, body["error"], tt.msg)
		})
	}
	code, body := do(t, "GET", srv.URL+"/v1/tickets?limit=0", token, "", "")
	assert.Equal(t, 400, code, body)
	code, _ = do(t, "GET", srv.URL+"/v1/tickets?code=abc", token, "", "")
	assert.Equal(t, 400, code)
}

func TestHealthReadyMetrics(t *testing.T) {
	srv, s := newServer(t)
	resp, err := http.Get(srv.URL + "/healthz")
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, 200, resp.StatusCode)

	healthy := true
	s.Sources = func() []pipeline.Health {
		return []pipeline.Health{{Name: "maildir:support", LastSuccess: time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC), LastError: "permission denied", Stale: !healthy}}
	}
	code, body := do(t, "GET", srv.URL+"/readyz", "", "", "")
	assert.Equal(t, 200, code, body)
	healthy = false
	code, body = do(t, "GET", srv.URL+"/readyz", "", "", "")
	assert.Equal(t, 503, code)
	assert.Contains(t, body["problem"], "maildir:support has not completed a pass since 2026-11-27T09:00:00Z (last error: permission denied)")

	// A source blocked on its credentials is not ready at once, however
	// recent its last success, and says why.
	healthy = true
	s.Sources = func() []pipeline.Health {
		return []pipeline.Health{{Name: "imap:support/INBOX", LastSuccess: time.Now(), LastError: "imap support: authentication failed for bot (NO)",
			Blocked: "authentication failed for bot"}}
	}
	code, body = do(t, "GET", srv.URL+"/readyz", "", "", "")
	assert.Equal(t, 503, code)
	assert.Equal(t, "imap:support/INBOX: authentication failed for bot", body["problem"])

	s.Ping = func(ctx context.Context) error { return errors.New("database is locked") }
	s.Sources = nil
	code, body = do(t, "GET", srv.URL+"/readyz", "", "", "")
	assert.Equal(t, 503, code)
	assert.Contains(t, body["problem"], "database is locked")

	do(t, "POST", srv.URL+"/v1/tickets", token, "application/json", `{"text":"ERR_NGROK_108"}`)
	resp, err = http.Get(srv.URL + "/metrics")
	require.NoError(t, err)
	data, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	assert.Contains(t, string(data), `triage_tickets_total{category="agent-auth",source="api"} 1`)
	assert.Contains(t, string(data), `triage_panics_total{component="outbox"} 0`)
}
