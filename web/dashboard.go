package web

import (
	"cmp"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"embed"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/triage-bot/triage/annotate"
	"github.com/triage-bot/triage/catalog"
	"github.com/triage-bot/triage/redact"
	"github.com/triage-bot/triage/store"
	"github.com/triage-bot/triage/ticket"
)

//go:embed templates/*.html static/*
var dashboardFiles embed.FS

// DashboardStore is what the dashboard reads and the one thing it changes
// (Requeue, the retry button).
type DashboardStore interface {
	Ticket(ctx context.Context, id string) (*store.Record, error)
	Tickets(ctx context.Context, q store.TicketQuery) ([]store.Record, error)
	Actions(ctx context.Context, q store.ActionQuery) ([]ticket.Action, error)
	CountActions(ctx context.Context) (map[ticket.ActionState]int, error)
	Requeue(ctx context.Context, id int64) error
}

// DashboardConfig configures the dashboard.
type DashboardConfig struct {
	// RequireAuth makes every page ask for Token or basic auth (set when
	// the server listens on a non-loopback address).
	RequireAuth bool
	// Tokens are accepted as "Authorization: Bearer" or through the login
	// page; empty ones are ignored.
	Tokens []string
	// Username and Password enable basic auth.
	Username, Password string
	// Days is how many days the chart shows. Default 7.
	Days int
	// MaxTickets bounds the tickets read for the chart and top codes.
	// Default 5000.
	MaxTickets int
	// CSRFKey makes the CSRF token and signs login sessions; replicas
	// behind one Service must share it (wiring derives it from the
	// dashboard's secrets, so changing them ends every session). Empty
	// means a random key for this process.
	CSRFKey []byte
	// SessionTTL is how long a login through the login page lasts.
	// Default 12h.
	SessionTTL time.Duration
	// LoginLimit is how many POST /login attempts one client address may
	// make per minute; more are answered 429. Default 10.
	LoginLimit int
	// Now defaults to time.Now.
	Now func() time.Time
	// TicketLink, when set, names the page where an agent works a ticket
	// (its helpdesk conversation) for the ticket page and the ticket
	// list: a short label ("Zendesk") and an absolute http(s) URL. An
	// empty or non-http(s) URL shows no link. It is called once per
	// ticket shown, on the request's goroutine, and must not block.
	TicketLink func(t ticket.Ticket) (label, url string)
}

// Dashboard serves the support lead's pages: a chart of tickets by
// category, top codes, recent tickets, search, a ticket page, and failed
// actions with a retry button. Customer text is only ever rendered through
// html/template, which escapes it, and only after redact.String.
type Dashboard struct {
	cfg   DashboardConfig
	store DashboardStore
	log   *slog.Logger
	pages map[string]*template.Template
	csrf  string
	// sessionKey signs session cookies.
	sessionKey []byte
	logins     *loginLimiter
}

// Cookie names.
const (
	csrfCookie    = "triage_csrf"
	sessionCookie = "triage_session"
)

// Check reports a configuration NewDashboard refuses: RequireAuth with
// no non-empty token and no username and password. It does no I/O, so
// `config check` runs it too.
func (cfg DashboardConfig) Check() error {
	if cfg.RequireAuth && !slices.ContainsFunc(cfg.Tokens, func(s string) bool { return s != "" }) && (cfg.Username == "" || cfg.Password == "") {
		return errors.New("dashboard: a token or a username and password are required on a non-loopback address")
	}
	return nil
}

// NewDashboard parses the embedded templates and makes the per-process
// CSRF token.
func NewDashboard(cfg DashboardConfig, st DashboardStore, log *slog.Logger) (*Dashboard, error) {
	if cfg.Days <= 0 {
		cfg.Days = 7
	}
	if cfg.MaxTickets <= 0 {
		cfg.MaxTickets = 5000
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.SessionTTL <= 0 {
		cfg.SessionTTL = 12 * time.Hour
	}
	if cfg.LoginLimit <= 0 {
		cfg.LoginLimit = 10
	}
	cfg.Tokens = slices.DeleteFunc(slices.Clone(cfg.Tokens), func(s string) bool { return s == "" })
	if err := cfg.Check(); err != nil {
		return nil, err
	}
	d := &Dashboard{cfg: cfg, store: st, log: log, pages: map[string]*template.Template{},
		logins: &loginLimiter{per: cfg.LoginLimit, window: time.Minute, now: cfg.Now, seen: map[string]*attempts{}}}
	key := cfg.CSRFKey
	if len(key) == 0 {
		key = make([]byte, 32)
		if _, err := rand.Read(key); err != nil {
			return nil, fmt.Errorf("dashboard: csrf token: %w", err)
		}
	}
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte("triage-dashboard-csrf"))
	d.csrf = hex.EncodeToString(mac.Sum(nil))
	mac = hmac.New(sha256.New, key)
	mac.Write([]byte("triage-dashboard-session"))
	d.sessionKey = mac.Sum(nil)
	funcs := template.FuncMap{
		"ts":       func(t time.Time) string { return fmtTime(t) },
		"codeName": func(n int) string { return "ERR_NGROK_" + strconv.Itoa(n) },
		"docsURL":  catalog.DocsURL,
		"pathEsc":  url.PathEscape,
		"join":     strings.Join,
	}
	for _, page := range []string{"overview", "ticket", "login"} {
		t, err := template.New("layout.html").Funcs(funcs).ParseFS(dashboardFiles, "templates/layout.html", "templates/"+page+".html")
		if err != nil {
			return nil, fmt.Errorf("dashboard: template %s: %w", page, err)
		}
		d.pages[page] = t
	}
	return d, nil
}

func fmtTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format("2006-01-02 15:04")
}

// Routes returns the dashboard's handlers by pattern, for web.Server.Routes.
func (d *Dashboard) Routes() map[string]http.Handler {
	static, _ := fs.Sub(dashboardFiles, "static")
	return map[string]http.Handler{
		"GET /{$}":                    d.auth(http.HandlerFunc(d.overview)),
		"GET /tickets/{id...}":        d.auth(http.HandlerFunc(d.ticketPage)),
		"POST /actions/{id}/retry":    d.auth(http.HandlerFunc(d.retry)),
		"GET /static/":                http.StripPrefix("/static/", http.FileServerFS(static)),
		"GET /login":                  http.HandlerFunc(d.loginPage),
		"POST /login":                 http.HandlerFunc(d.login),
		"GET /dashboard/api/overview": d.auth(http.HandlerFunc(d.overviewJSON)),
	}
}

// newSession returns a login cookie's value: 16 random bytes, the expiry
// in Unix seconds and an HMAC of both under the session key. It holds
// nothing of the token; it stops working when it expires or when the
// dashboard's secrets (and so the key) change.
func (d *Dashboard) newSession() (string, error) {
	nonce := make([]byte, 16)
	if _, err := rand.Read(nonce); err != nil {
		return "", fmt.Errorf("dashboard: session: %w", err)
	}
	body := hex.EncodeToString(nonce) + "." + strconv.FormatInt(d.cfg.Now().Add(d.cfg.SessionTTL).Unix(), 10)
	return body + "." + d.sessionMAC(body), nil
}

func (d *Dashboard) sessionMAC(body string) string {
	mac := hmac.New(sha256.New, d.sessionKey)
	mac.Write([]byte(body))
	return hex.EncodeToString(mac.Sum(nil))
}

// validSession reports whether v is a session this dashboard made that
// has not expired.
func (d *Dashboard) validSession(v string) bool {
	i := strings.LastIndexByte(v, '.')
	if i < 0 || !eq(v[i+1:], d.sessionMAC(v[:i])) {
		return false
	}
	_, exp, ok := strings.Cut(v[:i], ".")
	if !ok {
		return false
	}
	n, err := strconv.ParseInt(exp, 10, 64)
	return err == nil && d.cfg.Now().Before(time.Unix(n, 0))
}

func eq(a, b string) bool { return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1 }

// authorized reports whether r carries the token, the session cookie or
// basic-auth credentials.
func (d *Dashboard) authorized(r *http.Request) bool {
	if !d.cfg.RequireAuth {
		return true
	}
	bearer, hasBearer := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if session, err := r.Cookie(sessionCookie); err == nil && len(d.cfg.Tokens) > 0 && d.validSession(session.Value) {
		return true
	}
	for _, tok := range d.cfg.Tokens {
		if hasBearer && eq(bearer, tok) {
			return true
		}
	}
	if d.cfg.Username != "" && d.cfg.Password != "" {
		if u, p, ok := r.BasicAuth(); ok && eq(u, d.cfg.Username) && eq(p, d.cfg.Password) {
			return true
		}
	}
	return false
}

func (d *Dashboard) auth(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if d.authorized(r) {
			h.ServeHTTP(w, r)
			return
		}
		if d.cfg.Username != "" && d.cfg.Password != "" {
			w.Header().Set("WWW-Authenticate", `Basic realm="triage dashboard", charset="UTF-8"`)
		}
		if len(d.cfg.Tokens) > 0 && r.Method == http.MethodGet {
			http.Redirect(w, r, "/login", http.StatusSeeOther)
			return
		}
		http.Error(w, "login required", http.StatusUnauthorized)
	})
}

func (d *Dashboard) loginPage(w http.ResponseWriter, r *http.Request) {
	d.render(w, r, "login", map[string]any{"Failed": r.URL.Query().Has("failed")})
}

func (d *Dashboard) login(w http.ResponseWriter, r *http.Request) {
	if ok, wait := d.logins.allow(clientAddr(r)); !ok {
		w.Header().Set("Retry-After", strconv.Itoa(int(wait.Seconds()+1)))
		http.Error(w, "too many login attempts from your address; wait a minute", http.StatusTooManyRequests)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 4096)
	if !d.checkCSRF(r) {
		http.Error(w, "the form expired; reload the page", http.StatusForbidden)
		return
	}
	got := r.PostFormValue("token")
	if !slices.ContainsFunc(d.cfg.Tokens, func(tok string) bool { return eq(got, tok) }) {
		http.Redirect(w, r, "/login?failed=1", http.StatusSeeOther)
		return
	}
	session, err := d.newSession()
	if err != nil {
		d.fail(w, err)
		return
	}
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: session, Path: "/", HttpOnly: true,
		MaxAge: int(d.cfg.SessionTTL.Seconds()), SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil})
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

// render executes a page with the layout, setting the CSRF cookie.
func (d *Dashboard) render(w http.ResponseWriter, r *http.Request, page string, data map[string]any) {
	data["CSRF"] = d.csrf
	if _, ok := data["Search"]; !ok {
		data["Search"] = ""
	}
	http.SetCookie(w, &http.Cookie{Name: csrfCookie, Value: d.csrf, Path: "/", HttpOnly: true,
		SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil})
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; style-src 'self'; frame-ancestors 'none'; form-action 'self'")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Referrer-Policy", "same-origin")
	if err := d.pages[page].Execute(w, data); err != nil && d.log != nil {
		d.log.Warn("dashboard: render", "page", page, "err", err)
	}
}

// checkCSRF accepts a POST whose hidden field and SameSite cookie both
// carry this process's token, and whose Origin, when sent, is this host.
func (d *Dashboard) checkCSRF(r *http.Request) bool {
	if o := r.Header.Get("Origin"); o != "" {
		u, err := url.Parse(o)
		if err != nil || u.Host != r.Host {
			return false
		}
	}
	c, err := r.Cookie(csrfCookie)
	if err != nil {
		return false
	}
	return eq(r.PostFormValue("csrf"), d.csrf) && eq(c.Value, d.csrf)
}

func (d *Dashboard) fail(w http.ResponseWriter, err error) {
	if d.log != nil {
		d.log.Warn("dashboard: store", "err", err)
	}
	http.Error(w, "the store did not answer: "+err.Error(), http.StatusInternalServerError)
}

// CategoryCount is one category's count.
type CategoryCount struct {
	Category string `json:"category"`
	Count    int    `json:"count"`
}

// CodeCount is one code's count.
type CodeCount struct {
	Code     int    `json:"code"`
	Name     string `json:"name"`
	Category string `json:"category"`
	Count    int    `json:"count"`
}

// Bar is one stacked bar of the chart: one day.
type Bar struct {
	Day      string       `json:"day"`
	Total    int          `json:"total"`
	Segments []BarSegment `json:"segments"`
	X        int          `json:"-"`
}

// BarSegment is one category's part of a bar, laid out for SVG.
type BarSegment struct {
	Category string `json:"category"`
	Count    int    `json:"count"`
	Y        int    `json:"-"`
	H        int    `json:"-"`
	Class    string `json:"-"`
}

// Overview is the numbers on the front page.
type Overview struct {
	// Since is the start of the chart; Capped is true when more tickets
	// than MaxTickets arrived since then (numbers cover the newest).
	Since      time.Time       `json:"since"`
	Capped     bool            `json:"capped"`
	Total      int             `json:"total"`
	Bars       []Bar           `json:"bars"`
	Categories []CategoryCount `json:"categories"`
	TopToday   []CodeCount     `json:"top_today"`
	TopWeek    []CodeCount     `json:"top_week"`
}

// chartHeight is the SVG bar area height in pixels.
const chartHeight = 160

// overviewData aggregates the last Days days of tickets (alert tickets
// left out) in Go, reading at most MaxTickets.
func (d *Dashboard) overviewData(ctx context.Context) (Overview, error) {
	now := d.cfg.Now().UTC()
	today := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, time.UTC)
	since := today.AddDate(0, 0, -(d.cfg.Days - 1))
	week := today.AddDate(0, 0, -6)
	recs, capped, err := d.recentTickets(ctx, since)
	if err != nil {
		return Overview{}, err
	}
	ov := Overview{Since: since, Capped: capped}
	perDay := make([]map[string]int, d.cfg.Days)
	for i := range perDay {
		perDay[i] = map[string]int{}
	}
	cats := map[string]int{}
	today1, week1 := map[int]*CodeCount{}, map[int]*CodeCount{}
	var ann annotate.Annotation
	for _, rec := range recs {
		if strings.HasPrefix(rec.Ticket.ID, "alert:") {
			continue
		}
		ov.Total++
		cat := cmp.Or(rec.Category, "none")
		day := int(rec.Received.UTC().Sub(since) / (24 * time.Hour))
		if day >= 0 && day < d.cfg.Days {
			perDay[day][cat]++
		}
		cats[cat]++
		codeCat := map[int]string{}
		ann = annotate.Annotation{}
		if json.Unmarshal(rec.Annotation, &ann) == nil {
			for _, c := range ann.Codes {
				codeCat[c.Code] = string(c.Category)
			}
		}
		for _, c := range rec.Codes {
			for _, m := range []struct {
				from time.Time
				into map[int]*CodeCount
			}{{today, today1}, {week, week1}} {
				if rec.Received.Before(m.from) {
					continue
				}
				cc := m.into[c]
				if cc == nil {
					cc = &CodeCount{Code: c, Name: "ERR_NGROK_" + strconv.Itoa(c), Category: codeCat[c]}
					m.into[c] = cc
				}
				cc.Count++
			}
		}
	}
	order := append(categoryOrder(), "none")
	for _, c := range order {
		if cats[c] > 0 {
			ov.Categories = append(ov.Categories, CategoryCount{Category: c, Count: cats[c]})
		}
	}
	maxTotal := 1
	for _, m := range perDay {
		t := 0
		for _, n := range m {
			t += n
		}
		maxTotal = max(maxTotal, t)
	}
	for i, m := range perDay {
		b := Bar{Day: since.AddDate(0, 0, i).Format("2006-01-02"), X: 40 + i*60}
		y := chartHeight
		for ci, c := range order {
			if m[c] == 0 {
				continue
			}
			h := max(1, m[c]*chartHeight/maxTotal)
			y -= h
			b.Segments = append(b.Segments, BarSegment{Category: c, Count: m[c], Y: y, H: h, Class: fmt.Sprintf("c%d", ci)})
			b.Total += m[c]
		}
		ov.Bars = append(ov.Bars, b)
	}
	ov.TopToday, ov.TopWeek = topCodes(today1, 10), topCodes(week1, 10)
	return ov, nil
}

// overviewPage is how many tickets one store query reads for the overview;
// each page's text is dropped before the next, so memory stays bounded by
// a page of full tickets plus MaxTickets small records.
const overviewPage = 500

// recentTickets reads up to MaxTickets tickets received since since,
// newest first, without their text; capped reports that there were more.
func (d *Dashboard) recentTickets(ctx context.Context, since time.Time) ([]store.Record, bool, error) {
	var out []store.Record
	q := store.TicketQuery{Since: since}
	for len(out) < d.cfg.MaxTickets {
		q.Limit = min(overviewPage, d.cfg.MaxTickets-len(out))
		recs, err := d.store.Tickets(ctx, q)
		if err != nil {
			return nil, false, err
		}
		for i := range recs {
			recs[i].Ticket.Parts, recs[i].Ticket.Headers = nil, nil
		}
		out = append(out, recs...)
		if len(recs) < q.Limit {
			return out, false, nil
		}
		q.Before = recs[len(recs)-1].Ticket.ID
	}
	return out, true, nil
}

func categoryOrder() []string {
	var out []string
	for _, c := range catalog.Categories() {
		out = append(out, string(c))
	}
	return out
}

func topCodes(m map[int]*CodeCount, n int) []CodeCount {
	out := make([]CodeCount, 0, len(m))
	for _, c := range m {
		out = append(out, *c)
	}
	slices.SortFunc(out, func(a, b CodeCount) int {
		return cmp.Or(b.Count-a.Count, a.Code-b.Code)
	})
	if len(out) > n {
		out = out[:n]
	}
	return out
}

// Row is one ticket in a list.
type Row struct {
	ID       string
	Received time.Time
	From     string
	Subject  string
	Category string
	Codes    []int
	Rules    []string
	Alert    bool
	// Link is the ticket's helpdesk page; zero when there is none.
	Link Link
}

// Link is a ticket's page outside triage (its helpdesk conversation).
type Link struct {
	Label string
	URL   string
}

func (d *Dashboard) rows(recs []store.Record) []Row {
	out := make([]Row, 0, len(recs))
	for _, r := range recs {
		out = append(out, Row{ID: r.Ticket.ID, Received: r.Received, From: redact.String(r.Ticket.From), Subject: redact.String(r.Ticket.Subject),
			Category: r.Category, Codes: r.Codes, Rules: r.Rules, Alert: strings.HasPrefix(r.Ticket.ID, "alert:"), Link: d.link(r.Ticket)})
	}
	return out
}

// link asks TicketLink for t's helpdesk page and keeps it only when it
// is an absolute http(s) URL, so a hook's mistake never becomes a
// javascript: link (html/template would neuter one anyway).
func (d *Dashboard) link(t ticket.Ticket) Link {
	if d.cfg.TicketLink == nil {
		return Link{}
	}
	label, raw := d.cfg.TicketLink(t)
	u, err := url.Parse(raw)
	if raw == "" || err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return Link{}
	}
	return Link{Label: cmp.Or(label, u.Host), URL: u.String()}
}

// searchQuery turns the search box into a store query: a code (3004,
// ERR_NGROK_3004) searches by code, anything else searches sender,
// subject and text.
func searchQuery(q url.Values) (store.TicketQuery, string) {
	tq := store.TicketQuery{Limit: 100, Category: q.Get("category")}
	s := strings.TrimSpace(q.Get("q"))
	if s == "" {
		return tq, ""
	}
	if n, err := parseCode(s); err == nil && n > 0 {
		tq.Code = n
	} else {
		tq.Text = s
	}
	return tq, s
}

func (d *Dashboard) overview(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	ov, err := d.overviewData(ctx)
	if err != nil {
		d.fail(w, err)
		return
	}
	tq, search := searchQuery(r.URL.Query())
	if search == "" && tq.Category == "" {
		tq.Limit = 50
	}
	recs, err := d.store.Tickets(ctx, tq)
	if err != nil {
		d.fail(w, err)
		return
	}
	failed, err := d.store.Actions(ctx, store.ActionQuery{State: ticket.StateFailed, Limit: 50})
	if err != nil {
		d.fail(w, err)
		return
	}
	failed = redactActions(failed)
	suppressed, err := d.store.Actions(ctx, store.ActionQuery{State: ticket.StateSuppressed, Limit: 20})
	if err != nil {
		d.fail(w, err)
		return
	}
	suppressed = redactActions(suppressed)
	counts, err := d.store.CountActions(ctx)
	if err != nil {
		d.fail(w, err)
		return
	}
	d.render(w, r, "overview", map[string]any{
		"Overview": ov, "Rows": d.rows(recs), "Search": search, "Category": tq.Category,
		"Searching": search != "" || tq.Category != "", "Failed": failed, "Counts": counts,
		"Pending": counts[ticket.StatePending] + counts[ticket.StateRunning], "FailedCount": counts[ticket.StateFailed],
		"Suppressed": suppressed, "SuppressedCount": counts[ticket.StateSuppressed],
		"ChartHeight": chartHeight, "ChartWidth": 40 + 60*len(ov.Bars), "Legend": legend(ov),
	})
}

// LegendItem names a category's colour class in the chart.
type LegendItem struct {
	Category string
	Class    string
	Count    int
}

func legend(ov Overview) []LegendItem {
	order := append(categoryOrder(), "none")
	var out []LegendItem
	for _, c := range ov.Categories {
		out = append(out, LegendItem{Category: c.Category, Class: fmt.Sprintf("c%d", slices.Index(order, c.Category)), Count: c.Count})
	}
	return out
}

func (d *Dashboard) overviewJSON(w http.ResponseWriter, r *http.Request) {
	ov, err := d.overviewData(r.Context())
	if err != nil {
		d.fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, ov)
}

// Segment is a piece of a part's text: plain, or a code to highlight.
type Segment struct {
	Text string
	Code string
}

// PartView is one text part with codes marked.
type PartView struct {
	Kind      string
	Name      string
	Truncated bool
	Segments  []Segment
}

// ActionView is an action with its rendered text.
type ActionView struct {
	ticket.Action
	Text string
}

// highlight splits each part's text at the code matches; the template
// escapes every segment, so marking never lets customer HTML through.
func highlight(t *ticket.Ticket) []PartView {
	byPart := map[int][]ticket.Match{}
	for _, m := range annotate.Find(t, nil, annotate.Options{NoInfer: true}) {
		byPart[m.Part] = append(byPart[m.Part], m)
	}
	var out []PartView
	for i, p := range t.Parts {
		pv := PartView{Kind: string(p.Kind), Name: p.Name, Truncated: p.Truncated}
		ms := byPart[i]
		slices.SortFunc(ms, func(a, b ticket.Match) int { return cmp.Compare(a.Offset, b.Offset) })
		pos := 0
		for _, m := range ms {
			start, end := int(m.Offset), int(m.Offset)+len(m.Text)
			if start < pos || end > len(p.Text) || p.Text[start:end] != m.Text {
				continue
			}
			if start > pos {
				pv.Segments = append(pv.Segments, Segment{Text: p.Text[pos:start]})
			}
			pv.Segments = append(pv.Segments, Segment{Text: m.Text, Code: m.Canonical})
			pos = end
		}
		if pos < len(p.Text) {
			pv.Segments = append(pv.Segments, Segment{Text: p.Text[pos:]})
		}
		out = append(out, pv)
	}
	return out
}

func (d *Dashboard) ticketPage(w http.ResponseWriter, r *http.Request) {
	rec, err := d.store.Ticket(r.Context(), r.PathValue("id"))
	if errors.Is(err, store.ErrNotFound) {
		http.Error(w, "no ticket with that ID", http.StatusNotFound)
		return
	}
	if err != nil {
		d.fail(w, err)
		return
	}
	link := d.link(rec.Ticket)
	rec = redactRecord(rec)
	var ann annotate.Annotation
	_ = json.Unmarshal(rec.Annotation, &ann)
	var acts []ActionView
	for _, a := range rec.Actions {
		var p struct {
			Text string `json:"text"`
		}
		_ = json.Unmarshal(a.Payload, &p)
		acts = append(acts, ActionView{Action: a, Text: p.Text})
	}
	d.render(w, r, "ticket", map[string]any{
		"Rec": rec, "T": rec.Ticket, "Parts": highlight(&rec.Ticket), "Codes": ann.Codes, "AgentAPI": ann.AgentAPI, "Actions": acts,
		"Link": link, "Back": "/tickets/" + url.PathEscape(rec.Ticket.ID),
	})
}

// retry requeues a failed action (POST, CSRF-checked) and goes back.
func (d *Dashboard) retry(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 4096)
	if !d.checkCSRF(r) {
		http.Error(w, "the form expired or came from another site; reload the page and try again", http.StatusForbidden)
		return
	}
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil {
		http.Error(w, "bad action ID", http.StatusBadRequest)
		return
	}
	err = d.store.Requeue(r.Context(), id)
	if errors.Is(err, store.ErrNotFound) {
		http.Error(w, "no failed action with that ID (retried already?)", http.StatusNotFound)
		return
	}
	if err != nil {
		d.fail(w, err)
		return
	}
	if d.log != nil {
		d.log.Info("dashboard: action requeued", "action_id", id)
	}
	back := r.PostFormValue("back")
	if !strings.HasPrefix(back, "/") || strings.HasPrefix(back, "//") || strings.Contains(back, "\\") {
		back = "/"
	}
	http.Redirect(w, r, back, http.StatusSeeOther)
}
