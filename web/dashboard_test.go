package web

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/triage-bot/triage/annotate"
	"github.com/triage-bot/triage/catalog"
	"github.com/triage-bot/triage/store"
	"github.com/triage-bot/triage/store/sqlite"
	"github.com/triage-bot/triage/ticket"
)

// dashNow is the fixed clock of the dashboard tests.
var dashNow = time.Date(2026, 11, 27, 15, 0, 0, 0, time.UTC)

// seeded is what seedDashboard stored, counted independently of the
// dashboard so the tests can compare.
type seeded struct {
	st        *sqlite.Store
	total     int
	perDayCat map[string]map[string]int // "2006-01-02" → category → tickets
	perCat    map[string]int
	today     map[int]int
	week      map[int]int
	failed    []int64
	failedTix []string
	xssID     string
}

// seedCodes are the codes seeded, in turn.
var seedCodes = []int{3004, 108, 10000, 727, 8012, 3004, 3200, 108, 3004}

// seedDashboard stores n tickets spread over the last seven days, each
// with a jsonl action done, and parks failed webhook actions on every
// 37th ticket (through Claim and Fail, as the outbox would).
func seedDashboard(t *testing.T, n int) *seeded {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "dash.db"))
	require.NoError(t, err)
	t.Cleanup(func() { st.Close() })
	cat, err := catalog.Default()
	require.NoError(t, err)
	s := &seeded{st: st, perDayCat: map[string]map[string]int{}, perCat: map[string]int{}, today: map[int]int{}, week: map[int]int{}}
	startOfToday := time.Date(dashNow.Year(), dashNow.Month(), dashNow.Day(), 0, 0, 0, 0, time.UTC)
	span := dashNow.Sub(startOfToday.AddDate(0, 0, -6))
	for i := range n {
		received := dashNow.Add(-time.Duration(i) * span / time.Duration(n+1)).Add(-time.Minute)
		code := seedCodes[i%len(seedCodes)]
		body := fmt.Sprintf("Hello, my tunnel fails with ERR_NGROK_%d since this morning.", code)
		subject := fmt.Sprintf("Tunnel problem %d", i)
		from := fmt.Sprintf("customer%d@example.com", i%40)
		if i%50 == 7 {
			body = "no code here, just a question about pricing"
		}
		if i == 3 {
			subject = `<script>alert("x")</script> broken`
			body = `<img src=x onerror=alert(1)> ERR_NGROK_3004 & more`
			code = 3004
		}
		tk := &ticket.Ticket{ID: fmt.Sprintf("api:seed-%03d", i), Source: "api", Channel: "api", From: from, Subject: subject,
			Parts: []ticket.Part{{Kind: ticket.KindSubject, Text: subject}, {Kind: ticket.KindBody, Text: body}}}
		_, ann := annotate.Ticket(tk, cat)
		annJSON, err := json.Marshal(ann)
		require.NoError(t, err)
		rec := &store.Record{Ticket: *tk, Annotation: annJSON, Category: string(ann.Primary), Received: received, Rules: []string{"log", "file"},
			Actions: []ticket.Action{{TicketID: tk.ID, Kind: ticket.KindJSONL, Target: "log.jsonl", Rule: "log", Key: tk.ID + "/log", State: ticket.StateDone,
				Payload: []byte(`{"text":"logged"}`)}}}
		if i%37 == 5 {
			rec.Actions = append(rec.Actions, ticket.Action{TicketID: tk.ID, Kind: ticket.KindWebhook, Target: "helpdesk", Rule: "file", Key: tk.ID + "/wh"})
			s.failedTix = append(s.failedTix, tk.ID)
		}
		for _, c := range ann.Codes {
			rec.Codes = append(rec.Codes, c.Code)
		}
		require.NoError(t, st.Ingest(ctx, rec))
		if i == 3 {
			s.xssID = tk.ID
		}
		s.total++
		c := rec.Category
		if c == "" {
			c = "none"
		}
		day := received.Format("2006-01-02")
		if s.perDayCat[day] == nil {
			s.perDayCat[day] = map[string]int{}
		}
		s.perDayCat[day][c]++
		s.perCat[c]++
		for _, code := range rec.Codes {
			s.week[code]++
			if !received.Before(startOfToday) {
				s.today[code]++
			}
		}
	}
	claimed, err := st.Claim(ctx, "seeder", dashNow, time.Minute, 1000, 0)
	require.NoError(t, err)
	require.Len(t, claimed, len(s.failedTix))
	for _, a := range claimed {
		require.NoError(t, st.Fail(ctx, a.ID, "seeder", "helpdesk answered 503 Service Unavailable"))
		s.failed = append(s.failed, a.ID)
	}
	return s
}

func newDashboardServer(t *testing.T, st DashboardStore, cfg DashboardConfig) *httptest.Server {
	t.Helper()
	cfg.Now = func() time.Time { return dashNow }
	d, err := NewDashboard(cfg, st, slog.New(slog.NewTextHandler(io.Discard, nil)))
	require.NoError(t, err)
	s := &Server{Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Routes: d.Routes()}
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(srv.Close)
	return srv
}

func get(t *testing.T, c *http.Client, u string) (int, string) {
	t.Helper()
	resp, err := c.Get(u)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(b)
}

func jarClient(t *testing.T) *http.Client {
	t.Helper()
	jar, err := cookiejar.New(nil)
	require.NoError(t, err)
	return &http.Client{Jar: jar}
}

var (
	rectRE  = regexp.MustCompile(`data-category="([^"]+)" data-count="(\d+)"`)
	barRE   = regexp.MustCompile(`(?s)<g class="bar" data-day="([^"]+)" data-total="(\d+)"[^>]*>(.*?)</g>`)
	rowRE   = regexp.MustCompile(`(?s)<tr data-code="(\d+)">.*?<td class="n">(\d+)</td></tr>`)
	tableRE = func(id string) *regexp.Regexp { return regexp.MustCompile(`(?s)<table id="` + id + `".*?</table>`) }
)

// chartNumbers reads day → category → count off the SVG.
func chartNumbers(page string) map[string]map[string]int {
	out := map[string]map[string]int{}
	for _, m := range barRE.FindAllStringSubmatch(page, -1) {
		for _, r := range rectRE.FindAllStringSubmatch(m[3], -1) {
			if out[m[1]] == nil {
				out[m[1]] = map[string]int{}
			}
			n, _ := strconv.Atoi(r[2])
			out[m[1]][r[1]] = n
		}
	}
	return out
}

func topNumbers(page, id string) map[int]int {
	out := map[int]int{}
	for _, m := range rowRE.FindAllStringSubmatch(tableRE(id).FindString(page), -1) {
		c, _ := strconv.Atoi(m[1])
		n, _ := strconv.Atoi(m[2])
		out[c] = n
	}
	return out
}

func firstN(m map[int]int, n int) map[int]int {
	// The dashboard lists the ten most frequent codes; the seed uses fewer.
	if len(m) > n {
		panic("seed more than top-N codes")
	}
	return m
}

func TestDashboardOverviewNumbers(t *testing.T) {
	s := seedDashboard(t, 300)
	srv := newDashboardServer(t, s.st, DashboardConfig{})
	code, page := get(t, srv.Client(), srv.URL+"/")
	require.Equal(t, http.StatusOK, code)

	assert.Equal(t, s.perDayCat, chartNumbers(page), "chart segments")
	assert.Equal(t, firstN(s.today, 10), topNumbers(page, "top-today"))
	assert.Equal(t, firstN(s.week, 10), topNumbers(page, "top-week"))
	assert.Contains(t, page, fmt.Sprintf("%d ticket(s)", s.total))
	for c, n := range s.perCat {
		assert.Regexp(t, `(?s)<tr data-category="`+c+`">.*?<td class="n">`+strconv.Itoa(n)+`</td>`, page, c)
	}
	assert.Contains(t, page, fmt.Sprintf(`%d failed`, len(s.failed)))
	for _, id := range s.failed {
		assert.Contains(t, page, fmt.Sprintf(`id="retry-%d"`, id))
	}
	assert.Equal(t, 50, strings.Count(tableRE("tickets").FindString(page), "<tr data-ticket="), "recent tickets")

	var ov Overview
	_, body := get(t, srv.Client(), srv.URL+"/dashboard/api/overview")
	require.NoError(t, json.Unmarshal([]byte(body), &ov))
	assert.Equal(t, s.total, ov.Total)
}

func TestDashboardSearch(t *testing.T) {
	s := seedDashboard(t, 120)
	srv := newDashboardServer(t, s.st, DashboardConfig{})
	tests := []struct {
		name, q string
		want    func(r store.Record) bool
	}{
		{"by code", "ERR_NGROK_10000", func(r store.Record) bool { return contains(r.Codes, 10000) }},
		{"by number", "727", func(r store.Record) bool { return contains(r.Codes, 727) }},
		{"by sender", "customer7@example.com", func(r store.Record) bool { return r.Ticket.From == "customer7@example.com" }},
		{"by text", "pricing", func(r store.Record) bool { return strings.Contains(r.Ticket.Parts[1].Text, "pricing") }},
	}
	all, err := s.st.Tickets(context.Background(), store.TicketQuery{Limit: 1000})
	require.NoError(t, err)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			full, err := s.st.Tickets(context.Background(), store.TicketQuery{Limit: 1000})
			require.NoError(t, err)
			want := 0
			for _, r := range full {
				rec, err := s.st.Ticket(context.Background(), r.Ticket.ID)
				require.NoError(t, err)
				if tt.want(*rec) {
					want++
				}
			}
			require.NotZero(t, want)
			_, page := get(t, srv.Client(), srv.URL+"/?q="+url.QueryEscape(tt.q))
			assert.Equal(t, want, strings.Count(tableRE("tickets").FindString(page), "<tr data-ticket="))
		})
	}
	assert.Len(t, all, 120)
}

func contains(xs []int, x int) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}

func TestDashboardTicketPageEscapes(t *testing.T) {
	s := seedDashboard(t, 10)
	srv := newDashboardServer(t, s.st, DashboardConfig{})
	code, page := get(t, srv.Client(), srv.URL+"/tickets/"+url.PathEscape(s.xssID))
	require.Equal(t, http.StatusOK, code)
	assert.NotContains(t, page, "<script>alert")
	assert.NotContains(t, page, "<img src=x")
	assert.Contains(t, page, html.EscapeString(`<script>alert("x")</script> broken`))
	assert.Contains(t, page, `&lt;img src=x onerror=alert(1)&gt; <mark class="code" title="ERR_NGROK_3004">ERR_NGROK_3004</mark> &amp; more`)
	assert.Contains(t, page, `data-state="done"`)

	code, _ = get(t, srv.Client(), srv.URL+"/tickets/nope")
	assert.Equal(t, http.StatusNotFound, code)
}

func TestDashboardRetry(t *testing.T) {
	s := seedDashboard(t, 40)
	require.NotEmpty(t, s.failed)
	id := s.failed[0]
	srv := newDashboardServer(t, s.st, DashboardConfig{})
	c := jarClient(t)
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	post := func(form url.Values, origin string) int {
		req, err := http.NewRequest(http.MethodPost, fmt.Sprintf("%s/actions/%d/retry", srv.URL, id), strings.NewReader(form.Encode()))
		require.NoError(t, err)
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if origin != "" {
			req.Header.Set("Origin", origin)
		}
		resp, err := c.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		return resp.StatusCode
	}
	state := func() ticket.ActionState {
		acts, err := s.st.Actions(context.Background(), store.ActionQuery{TicketID: s.failedTix[0]})
		require.NoError(t, err)
		for _, a := range acts {
			if a.ID == id {
				return a.State
			}
		}
		t.Fatalf("action %d not found", id)
		return ""
	}

	assert.Equal(t, http.StatusForbidden, post(url.Values{"csrf": {"forged"}}, ""), "no cookie, wrong token")
	_, page := get(t, c, srv.URL+"/")
	tok := regexp.MustCompile(`name="csrf" value="([0-9a-f]+)"`).FindStringSubmatch(page)
	require.NotNil(t, tok)
	assert.Equal(t, http.StatusForbidden, post(url.Values{"csrf": {"forged"}}, ""), "cookie, wrong token")
	assert.Equal(t, http.StatusForbidden, post(url.Values{"csrf": {tok[1]}}, "https://evil.example"), "cross-site origin")
	assert.Equal(t, ticket.StateFailed, state())
	assert.Equal(t, http.StatusSeeOther, post(url.Values{"csrf": {tok[1]}, "back": {"//evil.example/"}}, srv.URL))
	assert.Equal(t, ticket.StatePending, state())
	assert.Equal(t, http.StatusNotFound, post(url.Values{"csrf": {tok[1]}}, ""), "no longer failed")
}

func TestDashboardAuth(t *testing.T) {
	s := seedDashboard(t, 5)
	tests := []struct {
		name  string
		cfg   DashboardConfig
		setup func(*http.Request)
		want  int
	}{
		{"loopback needs nothing", DashboardConfig{}, nil, http.StatusOK},
		{"no credentials", DashboardConfig{RequireAuth: true, Tokens: []string{"s3cret"}}, nil, http.StatusSeeOther},
		{"bearer token", DashboardConfig{RequireAuth: true, Tokens: []string{"s3cret"}}, func(r *http.Request) { r.Header.Set("Authorization", "Bearer s3cret") }, http.StatusOK},
		{"wrong token", DashboardConfig{RequireAuth: true, Tokens: []string{"s3cret"}}, func(r *http.Request) { r.Header.Set("Authorization", "Bearer nope") }, http.StatusSeeOther},
		{"basic auth", DashboardConfig{RequireAuth: true, Username: "lead", Password: "pw"}, func(r *http.Request) { r.SetBasicAuth("lead", "pw") }, http.StatusOK},
		{"basic auth wrong", DashboardConfig{RequireAuth: true, Username: "lead", Password: "pw"}, func(r *http.Request) { r.SetBasicAuth("lead", "no") }, http.StatusUnauthorized},
		{"a digest of the token is no session", DashboardConfig{RequireAuth: true, Tokens: []string{"s3cret"}}, func(r *http.Request) {
			h := sha256.Sum256([]byte("triage-dashboard\x00s3cret"))
			r.AddCookie(&http.Cookie{Name: sessionCookie, Value: hex.EncodeToString(h[:])})
		}, http.StatusSeeOther},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newDashboardServer(t, s.st, tt.cfg)
			req, err := http.NewRequest(http.MethodGet, srv.URL+"/", nil)
			require.NoError(t, err)
			if tt.setup != nil {
				tt.setup(req)
			}
			c := srv.Client()
			c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
			resp, err := c.Do(req)
			require.NoError(t, err)
			resp.Body.Close()
			assert.Equal(t, tt.want, resp.StatusCode)
		})
	}
	_, err := NewDashboard(DashboardConfig{RequireAuth: true}, s.st, nil)
	assert.Error(t, err, "a public dashboard without credentials is refused")
}

func TestDashboardLogin(t *testing.T) {
	s := seedDashboard(t, 5)
	srv := newDashboardServer(t, s.st, DashboardConfig{RequireAuth: true, Tokens: []string{"s3cret"}})
	c := jarClient(t)
	code, page := get(t, c, srv.URL+"/")
	require.Equal(t, http.StatusOK, code, "redirected to the login page")
	tok := regexp.MustCompile(`name="csrf" value="([0-9a-f]+)"`).FindStringSubmatch(page)
	require.NotNil(t, tok)
	resp, err := c.PostForm(srv.URL+"/login", url.Values{"csrf": {tok[1]}, "token": {"wrong"}})
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, "/login", resp.Request.URL.Path)
	resp, err = c.PostForm(srv.URL+"/login", url.Values{"csrf": {tok[1]}, "token": {"s3cret"}})
	require.NoError(t, err)
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	assert.Equal(t, "/", resp.Request.URL.Path)
	assert.Contains(t, string(b), `id="chart"`)
}

func TestDashboardOverviewIsBounded(t *testing.T) {
	s := seedDashboard(t, 300)
	tests := []struct {
		name   string
		max    int
		total  int
		capped bool
	}{
		{"cap below the tickets", 120, 120, true},
		{"more than a page", 1200, 300, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := NewDashboard(DashboardConfig{MaxTickets: tt.max, Now: func() time.Time { return dashNow }}, s.st, nil)
			require.NoError(t, err)
			ov, err := d.overviewData(context.Background())
			require.NoError(t, err)
			assert.Equal(t, tt.total, ov.Total)
			assert.Equal(t, tt.capped, ov.Capped)
		})
	}
}

// TestDashboardTicketPageMarksInferredAndAgentAPI checks that a code named
// only by its wording is shown as inferred, with the words, and the agent
// API's numbers apart from the codes.
func TestDashboardTicketPageMarksInferredAndAgentAPI(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "dash.db"))
	require.NoError(t, err)
	t.Cleanup(func() { st.Close() })
	cat, err := catalog.Default()
	require.NoError(t, err)
	body := "The second build agent says we are limited to 1 simultaneous ngrok agent session, and pyngrok prints " +
		`{"error_code":104,"status_code":503,"msg":"not ready"}`
	tk := &ticket.Ticket{ID: "api:inferred-1", Source: "api", Channel: "api", From: "ana@example.com", Subject: "two agents",
		Parts: []ticket.Part{{Kind: ticket.KindSubject, Text: "two agents"}, {Kind: ticket.KindBody, Text: body}}}
	_, ann := annotate.Ticket(tk, cat)
	require.Len(t, ann.Codes, 1)
	require.True(t, ann.Codes[0].Inferred)
	require.Len(t, ann.AgentAPI, 1)
	annJSON, err := json.Marshal(ann)
	require.NoError(t, err)
	require.NoError(t, st.Ingest(ctx, &store.Record{Ticket: *tk, Annotation: annJSON, Category: string(ann.Primary), Received: dashNow,
		Rules: []string{"default"}, Codes: []int{108}}))
	srv := newDashboardServer(t, st, DashboardConfig{})
	code, page := get(t, srv.Client(), srv.URL+"/tickets/"+url.PathEscape(tk.ID))
	require.Equal(t, http.StatusOK, code)
	assert.Contains(t, page, `<tr class="inferred"><td><a href="https://ngrok.com/docs/errors/err_ngrok_108/" rel="noreferrer">ERR_NGROK_108</a>`)
	assert.Contains(t, page, "(inferred: not written, named by the words “limited to 1 simultaneous ngrok agent session”)")
	assert.Contains(t, page, `<table id="agent-api"><tr><th>number</th><th>meaning</th></tr>`+"\n<tr><td>104</td><td>"+html.EscapeString(catalog.AgentAPI(104).Summary))
}

// TestDashboardSuppressedApart: a reply held back on purpose is shown in
// its own table with its reason, counted apart from failures, and never
// offered for a retry.
func TestDashboardSuppressedApart(t *testing.T) {
	s := seedDashboard(t, 40)
	ctx := context.Background()
	rec := &store.Record{Ticket: ticket.Ticket{ID: "api:robot", Source: "api", Channel: "api", From: "noreply@example.com", Subject: "auto"},
		Received: dashNow.Add(-time.Minute), Rules: []string{"reply"},
		Actions: []ticket.Action{{TicketID: "api:robot", Kind: ticket.KindEmailReply, Rule: "reply", Key: "api:robot/reply"}}}
	require.NoError(t, s.st.Ingest(ctx, rec))
	claimed, err := s.st.Claim(ctx, "w", dashNow, time.Minute, 10, 0)
	require.NoError(t, err)
	require.Len(t, claimed, 1)
	id := claimed[0].ID
	require.NoError(t, s.st.Suppress(ctx, id, "w", "suppressed: noreply@example.com is a no-reply address"))

	srv := newDashboardServer(t, s.st, DashboardConfig{})
	code, page := get(t, srv.Client(), srv.URL+"/")
	require.Equal(t, http.StatusOK, code)
	assert.Contains(t, page, fmt.Sprintf("%d failed", len(s.failed)), "not counted as failed")
	assert.Contains(t, page, "1 suppressed")
	held := tableRE("suppressed").FindString(page)
	assert.Contains(t, held, fmt.Sprintf(`data-action="%d"`, id))
	assert.Contains(t, held, "is a no-reply address")
	assert.NotContains(t, tableRE("failed").FindString(page), fmt.Sprintf(`data-action="%d"`, id))
	assert.NotContains(t, page, fmt.Sprintf(`id="retry-%d"`, id), "nothing to retry")
}

func TestDashboardTicketLink(t *testing.T) {
	s := seedDashboard(t, 10)
	target := "api:seed-002"
	tests := []struct {
		name  string
		link  func(ticket.Ticket) (string, string)
		want  string // the anchor expected on both pages; "" means none
		never string // what must not appear anywhere
		label string // the link text expected on the ticket page, when set
	}{
		{name: "no hook", link: nil},
		{
			name: "helpdesk page",
			link: func(tk ticket.Ticket) (string, string) {
				if tk.ID != target {
					return "", ""
				}
				return "Zendesk", "https://acme.zendesk.com/agent/tickets/42"
			},
			want: `href="https://acme.zendesk.com/agent/tickets/42"`,
		},
		{
			name: "label and URL are escaped",
			link: func(tk ticket.Ticket) (string, string) {
				if tk.ID != target {
					return "", ""
				}
				return `<b>Desk</b>`, `https://desk.example.com/t?a=1&b="x"`
			},
			want:  `href="https://desk.example.com/t?a=1&amp;b=%22x%22"`,
			never: "<b>Desk</b>",
			label: "open in &lt;b&gt;Desk&lt;/b&gt;",
		},
		{
			name:  "not http is dropped",
			link:  func(ticket.Ticket) (string, string) { return "Evil", "javascript:alert(1)" },
			never: "javascript:",
		},
		{
			name:  "relative is dropped",
			link:  func(ticket.Ticket) (string, string) { return "Rel", "/agent/tickets/1" },
			never: `class="helpdesk"`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newDashboardServer(t, s.st, DashboardConfig{TicketLink: tt.link})
			code, list := get(t, srv.Client(), srv.URL+"/")
			require.Equal(t, http.StatusOK, code)
			code, page := get(t, srv.Client(), srv.URL+"/tickets/"+url.PathEscape(target))
			require.Equal(t, http.StatusOK, code)
			row := regexp.MustCompile(`(?s)<tr data-ticket="` + regexp.QuoteMeta(target) + `".*?</tr>`).FindString(list)
			require.NotEmpty(t, row, "the ticket is listed")
			if tt.want == "" {
				assert.NotContains(t, page, `id="ticket-link"`)
				assert.NotContains(t, list, `class="helpdesk"`)
			} else {
				assert.Contains(t, page, `<a id="ticket-link" class="helpdesk" `+tt.want)
				assert.Contains(t, row, `<a class="helpdesk" `+tt.want)
				assert.Equal(t, 1, strings.Count(list, `class="helpdesk"`), "only the linked ticket has a link")
				assert.Contains(t, page, `rel="noopener noreferrer"`)
			}
			if tt.label != "" {
				assert.Contains(t, page, tt.label)
			}
			if tt.never != "" {
				assert.NotContains(t, page, tt.never)
				assert.NotContains(t, list, tt.never)
			}
		})
	}
}
