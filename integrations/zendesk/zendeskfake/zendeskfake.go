// Package zendeskfake is a stand-in for the Zendesk Support API v2 and
// its webhooks, for tests. It speaks the wire format of Zendesk's public
// API reference: JSON bodies wrapped in their resource name
// ({"ticket": …}), API token basic auth ("<email>/token:<token>") or
// OAuth bearer tokens, 401 {"error": "Couldn't authenticate you"},
// 404 RecordNotFound, 429 with Retry-After, cursor pagination for
// comments (page[size], page[after], meta.has_more, links.next) and offset
// pagination for groups (next_page), side-loaded users (include=users),
// and webhook calls signed as Zendesk signs them.
//
// It keeps tickets, comments, users and groups in memory and records
// every API request, so tests can assert what the integration sent. It
// is not a mock of triage's client: it knows nothing about it.
package zendeskfake

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Credentials the fake accepts.
const (
	Email         = "bot@example.com"
	APIToken      = "zd-api-token-for-tests"
	OAuthToken    = "zd-oauth-token-for-tests"
	WebhookSecret = "zd-webhook-signing-secret"
	// AgentID is the user the credentials act as (an agent).
	AgentID = 900
)

// Comment is a ticket comment as the API shows it.
type Comment struct {
	ID        int64     `json:"id"`
	Type      string    `json:"type"`
	AuthorID  int64     `json:"author_id"`
	Body      string    `json:"body"`
	HTMLBody  string    `json:"html_body"`
	PlainBody string    `json:"plain_body"`
	Public    bool      `json:"public"`
	AuditID   int64     `json:"audit_id"`
	CreatedAt time.Time `json:"created_at"`
}

// Ticket is a ticket as the API shows it (comments apart).
type Ticket struct {
	ID          int64     `json:"id"`
	URL         string    `json:"url"`
	Subject     string    `json:"subject"`
	Description string    `json:"description"`
	Status      string    `json:"status"`
	RequesterID int64     `json:"requester_id"`
	SubmitterID int64     `json:"submitter_id"`
	GroupID     *int64    `json:"group_id"`
	Tags        []string  `json:"tags"`
	CreatedAt   time.Time `json:"created_at"`
	UpdatedAt   time.Time `json:"updated_at"`
	Comments    []Comment `json:"-"`
}

// User is a user as the API shows it.
type User struct {
	ID    int64  `json:"id"`
	Name  string `json:"name"`
	Email string `json:"email"`
	Role  string `json:"role"`
}

// Group is an agent group.
type Group struct {
	ID   int64  `json:"id"`
	Name string `json:"name"`
}

// Request is one API request the fake received.
type Request struct {
	Method, Path, Query, Auth string
	Body                      []byte
}

// Server is the fake Zendesk account.
type Server struct {
	srv *httptest.Server

	mu       sync.Mutex
	tickets  map[int64]*Ticket
	users    map[int64]User
	groups   []Group
	nextID   int64
	requests []Request
	limited  int           // answer the next limited API requests 429
	retry    time.Duration // their Retry-After
	fail     int           // answer the next fail requests 500
}

// New starts a fake with an agent (AgentID) and the groups "Agent Team"
// (ID 10) and "Billing" (ID 11).
func New() *Server {
	s := &Server{tickets: map[int64]*Ticket{}, users: map[int64]User{}, nextID: 1000}
	s.users[AgentID] = User{ID: AgentID, Name: "Triage Bot", Email: Email, Role: "agent"}
	s.groups = []Group{{ID: 10, Name: "Agent Team"}, {ID: 11, Name: "Billing"}}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	return s
}

// URL is the account's base URL (as https://<subdomain>.zendesk.com).
func (s *Server) URL() string { return s.srv.URL }

// Close stops the server.
func (s *Server) Close() { s.srv.Close() }

// AddGroup adds an agent group and returns its ID.
func (s *Server) AddGroup(name string) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.nextID++
	s.groups = append(s.groups, Group{ID: s.nextID, Name: name})
	return s.nextID
}

// AddUser adds a user with role "end-user", "agent" or "admin".
func (s *Server) AddUser(name, email, role string) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.nextID++
	s.users[s.nextID] = User{ID: s.nextID, Name: name, Email: email, Role: role}
	return s.nextID
}

// AddTicket opens a ticket from an end user with a first public comment
// and returns the ticket's and the comment's IDs.
func (s *Server) AddTicket(requesterEmail, subject, body string) (ticketID, commentID int64) {
	uid := s.userByEmail(requesterEmail)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.nextID++
	now := time.Now().UTC().Truncate(time.Second)
	t := &Ticket{ID: s.nextID, Subject: subject, Description: body, Status: "new", RequesterID: uid, SubmitterID: uid,
		Tags: []string{}, CreatedAt: now, UpdatedAt: now}
	t.URL = fmt.Sprintf("%s/api/v2/tickets/%d.json", s.srv.URL, t.ID)
	s.tickets[t.ID] = t
	return t.ID, s.addComment(t, uid, body, true)
}

// AddComment adds a comment by the user (e-mail) to a ticket and returns
// its ID.
func (s *Server) AddComment(ticketID int64, authorEmail, body string, public bool) int64 {
	uid := s.userByEmail(authorEmail)
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.tickets[ticketID]
	if t == nil {
		panic(fmt.Sprintf("zendeskfake: no ticket %d", ticketID))
	}
	return s.addComment(t, uid, body, public)
}

func (s *Server) userByEmail(email string) int64 {
	s.mu.Lock()
	for _, u := range s.users {
		if strings.EqualFold(u.Email, email) {
			s.mu.Unlock()
			return u.ID
		}
	}
	s.mu.Unlock()
	return s.AddUser(strings.Split(email, "@")[0], email, "end-user")
}

func (s *Server) addComment(t *Ticket, author int64, body string, public bool) int64 {
	s.nextID++
	c := Comment{ID: s.nextID, Type: "Comment", AuthorID: author, Body: body, PlainBody: body,
		HTMLBody: "<div class=\"zd-comment\"><p>" + strings.ReplaceAll(htmlEscape(body), "\n", "<br>") + "</p></div>",
		Public:   public, AuditID: s.nextID + 1, CreatedAt: time.Now().UTC().Truncate(time.Second)}
	s.nextID++
	t.Comments = append(t.Comments, c)
	t.UpdatedAt = c.CreatedAt
	return c.ID
}

func htmlEscape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;").Replace(s)
}

// Ticket returns a copy of a ticket with its comments.
func (s *Server) Ticket(id int64) (Ticket, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.tickets[id]
	if !ok {
		return Ticket{}, false
	}
	cp := *t
	cp.Tags = slices.Clone(t.Tags)
	cp.Comments = slices.Clone(t.Comments)
	return cp, true
}

// Notes returns the private comments (internal notes) of a ticket.
func (s *Server) Notes(id int64) []Comment {
	t, _ := s.Ticket(id)
	var out []Comment
	for _, c := range t.Comments {
		if !c.Public {
			out = append(out, c)
		}
	}
	return out
}

// RateLimit makes the next n API requests answer 429 with Retry-After.
func (s *Server) RateLimit(n int, retryAfter time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.limited, s.retry = n, retryAfter
}

// FailNext makes the next n API requests answer 500.
func (s *Server) FailNext(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fail = n
}

// Requests returns the API requests received so far.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.requests)
}

// Count returns how many requests matched method and a path prefix.
func (s *Server) Count(method, pathPrefix string) int {
	n := 0
	for _, r := range s.Requests() {
		if r.Method == method && strings.HasPrefix(r.Path, pathPrefix) {
			n++
		}
	}
	return n
}

// Sign returns Zendesk's signature of body at ts: base64 of
// HMAC-SHA256(secret, ts + body).
func Sign(secret, ts string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(ts))
	m.Write(body)
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}

// Webhook is one webhook call as Zendesk makes it.
type Webhook struct {
	// Body is the JSON body.
	Body []byte
	// Secret signs it (WebhookSecret when empty).
	Secret string
	// Time is the signature timestamp (now when zero).
	Time time.Time
	// Invocation is the invocation ID header (a counter when empty).
	Invocation string
}

var invocations struct {
	sync.Mutex
	n int
}

// Request builds the signed POST to url.
func (w Webhook) Request(ctx context.Context, url string) (*http.Request, error) {
	secret, ts := w.Secret, w.Time
	if secret == "" {
		secret = WebhookSecret
	}
	if ts.IsZero() {
		ts = time.Now()
	}
	stamp := ts.UTC().Format(time.RFC3339)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(w.Body))
	if err != nil {
		return nil, err
	}
	inv := w.Invocation
	if inv == "" {
		invocations.Lock()
		invocations.n++
		inv = strconv.Itoa(8350205000 + invocations.n)
		invocations.Unlock()
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "Zendesk Webhook")
	req.Header.Set("X-Zendesk-Account-Id", "123456")
	req.Header.Set("X-Zendesk-Webhook-Id", "01F1KRFQ6BG29CNWFR60NK5FNY")
	req.Header.Set("X-Zendesk-Webhook-Invocation-Id", inv)
	req.Header.Set("X-Zendesk-Webhook-Signature-Timestamp", stamp)
	req.Header.Set("X-Zendesk-Webhook-Signature", Sign(secret, stamp, w.Body))
	return req, nil
}

// Deliver makes the call and returns the status code.
func (w Webhook) Deliver(ctx context.Context, url string) (int, error) {
	req, err := w.Request(ctx, url)
	if err != nil {
		return 0, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, nil
}

// TriggerBody is the body of a trigger's webhook as docs/helpdesks.md#zendesk
// sets it up: {"ticket_id": "<id>"}.
func TriggerBody(ticketID int64) []byte {
	return []byte(fmt.Sprintf(`{"ticket_id": "%d"}`, ticketID))
}

// CommentAddedEvent is the body of a zen:event-type:ticket.comment_added
// event for a comment of the fake (IDs as strings, as events send them).
func (s *Server) CommentAddedEvent(ticketID, commentID int64) []byte {
	t, _ := s.Ticket(ticketID)
	var c Comment
	for _, x := range t.Comments {
		if x.ID == commentID {
			c = x
		}
	}
	s.mu.Lock()
	u := s.users[c.AuthorID]
	s.mu.Unlock()
	ev := map[string]any{
		"account_id": 123456,
		"detail": map[string]any{"id": strconv.FormatInt(t.ID, 10), "subject": t.Subject, "status": strings.ToUpper(t.Status),
			"requester_id": strconv.FormatInt(t.RequesterID, 10), "created_at": t.CreatedAt, "updated_at": t.UpdatedAt, "tags": t.Tags},
		"event": map[string]any{"comment": map[string]any{"id": strconv.FormatInt(c.ID, 10), "body": c.Body, "is_public": c.Public,
			"author": map[string]any{"id": strconv.FormatInt(u.ID, 10), "is_staff": u.Role != "end-user", "name": u.Name}}},
		"id":                    fmt.Sprintf("evt-%d-%d", t.ID, c.ID),
		"subject":               fmt.Sprintf("zen:ticket:%d", t.ID),
		"time":                  c.CreatedAt,
		"type":                  "zen:event-type:ticket.comment_added",
		"zendesk_event_version": "2022-11-06",
	}
	b, _ := json.Marshal(ev)
	return b
}

// --- the API ---

var (
	reTicket   = regexp.MustCompile(`^/api/v2/tickets/(\d+)\.json$`)
	reComments = regexp.MustCompile(`^/api/v2/tickets/(\d+)/comments\.json$`)
	reTags     = regexp.MustCompile(`^/api/v2/tickets/(\d+)/tags\.json$`)
)

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(io.LimitReader(r.Body, 10<<20))
	s.mu.Lock()
	s.requests = append(s.requests, Request{Method: r.Method, Path: r.URL.Path, Query: r.URL.RawQuery, Auth: r.Header.Get("Authorization"), Body: body})
	limited, retry, fail := s.limited > 0, s.retry, s.fail > 0
	if limited {
		s.limited--
	} else if fail {
		s.fail--
	}
	s.mu.Unlock()
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	if !s.authorized(r) {
		writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "Couldn't authenticate you"})
		return
	}
	if limited {
		w.Header().Set("Retry-After", strconv.Itoa(int(retry.Seconds())))
		writeJSON(w, http.StatusTooManyRequests, map[string]string{"error": "APIRateLimitExceeded", "description": "Number of allowed API requests per minute exceeded"})
		return
	}
	if fail {
		writeJSON(w, http.StatusInternalServerError, map[string]string{"error": "InternalServerError"})
		return
	}
	p := r.URL.Path
	switch {
	case r.Method == http.MethodGet && p == "/api/v2/users/me.json":
		s.mu.Lock()
		u := s.users[AgentID]
		s.mu.Unlock()
		writeJSON(w, http.StatusOK, map[string]any{"user": u})
	case r.Method == http.MethodGet && p == "/api/v2/groups.json":
		s.listGroups(w, r)
	case reTicket.MatchString(p):
		s.ticketEndpoint(w, r, id(reTicket, p), body)
	case r.Method == http.MethodGet && reComments.MatchString(p):
		s.listComments(w, r, id(reComments, p))
	case reTags.MatchString(p):
		s.tagsEndpoint(w, r, id(reTags, p), body)
	default:
		writeJSON(w, http.StatusNotFound, map[string]any{"error": "InvalidEndpoint", "description": "Not found"})
	}
}

func id(re *regexp.Regexp, p string) int64 {
	n, _ := strconv.ParseInt(re.FindStringSubmatch(p)[1], 10, 64)
	return n
}

func (s *Server) authorized(r *http.Request) bool {
	h := r.Header.Get("Authorization")
	if tok, ok := strings.CutPrefix(h, "Bearer "); ok {
		return tok == OAuthToken
	}
	user, pass, ok := r.BasicAuth()
	return ok && user == Email+"/token" && pass == APIToken
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func notFound(w http.ResponseWriter) {
	writeJSON(w, http.StatusNotFound, map[string]string{"error": "RecordNotFound", "description": "Not found"})
}

func (s *Server) listGroups(w http.ResponseWriter, r *http.Request) {
	per, _ := strconv.Atoi(r.URL.Query().Get("per_page"))
	if per <= 0 || per > 100 {
		per = 100
	}
	page, _ := strconv.Atoi(r.URL.Query().Get("page"))
	if page < 1 {
		page = 1
	}
	s.mu.Lock()
	all := slices.Clone(s.groups)
	s.mu.Unlock()
	lo, hi := min((page-1)*per, len(all)), min(page*per, len(all))
	var next any
	if hi < len(all) {
		next = fmt.Sprintf("%s/api/v2/groups.json?page=%d&per_page=%d", s.srv.URL, page+1, per)
	}
	writeJSON(w, http.StatusOK, map[string]any{"groups": all[lo:hi], "next_page": next, "previous_page": nil, "count": len(all)})
}

func (s *Server) ticketEndpoint(w http.ResponseWriter, r *http.Request, tid int64, body []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.tickets[tid]
	if t == nil {
		notFound(w)
		return
	}
	switch r.Method {
	case http.MethodGet:
		writeJSON(w, http.StatusOK, map[string]any{"ticket": t})
	case http.MethodPut:
		var in struct {
			Ticket struct {
				Comment *struct {
					Body     string `json:"body"`
					HTMLBody string `json:"html_body"`
					Public   *bool  `json:"public"`
				} `json:"comment"`
				GroupID        *int64   `json:"group_id"`
				Tags           []string `json:"tags"`
				AdditionalTags []string `json:"additional_tags"`
			} `json:"ticket"`
		}
		if err := json.Unmarshal(body, &in); err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "Unprocessable Entity", "description": "Server could not parse JSON"})
			return
		}
		if g := in.Ticket.GroupID; g != nil && !slices.ContainsFunc(s.groups, func(x Group) bool { return x.ID == *g }) {
			writeJSON(w, http.StatusUnprocessableEntity, map[string]any{"error": "RecordInvalid", "description": "Record validation errors",
				"details": map[string]any{"group": []map[string]string{{"description": "Group: is invalid"}}}})
			return
		}
		if c := in.Ticket.Comment; c != nil {
			if c.Body == "" && c.HTMLBody == "" {
				writeJSON(w, http.StatusUnprocessableEntity, map[string]any{"error": "RecordInvalid", "description": "Record validation errors",
					"details": map[string]any{"base": []map[string]string{{"description": "Comment: cannot be blank"}}}})
				return
			}
			public := true // Zendesk's default
			if c.Public != nil {
				public = *c.Public
			}
			s.addComment(t, AgentID, c.Body, public)
		}
		if in.Ticket.GroupID != nil {
			g := *in.Ticket.GroupID
			t.GroupID = &g
		}
		if in.Ticket.Tags != nil {
			t.Tags = normTags(in.Ticket.Tags)
		}
		t.Tags = addTags(t.Tags, in.Ticket.AdditionalTags)
		if t.Status == "new" {
			t.Status = "open"
		}
		t.UpdatedAt = time.Now().UTC().Truncate(time.Second)
		writeJSON(w, http.StatusOK, map[string]any{"ticket": t, "audit": map[string]any{"id": s.nextID, "ticket_id": t.ID}})
	default:
		writeJSON(w, http.StatusMethodNotAllowed, map[string]string{"error": "MethodNotAllowed"})
	}
}

func normTags(tags []string) []string {
	return addTags([]string{}, tags)
}

func addTags(have, more []string) []string {
	for _, t := range more {
		t = strings.ToLower(strings.TrimSpace(t))
		if t != "" && !slices.Contains(have, t) {
			have = append(have, t)
		}
	}
	return have
}

// listComments serves cursor pagination: page[size] (default 100),
// page[after], sort_order asc|desc, include=users.
func (s *Server) listComments(w http.ResponseWriter, r *http.Request, tid int64) {
	q := r.URL.Query()
	s.mu.Lock()
	t := s.tickets[tid]
	if t == nil {
		s.mu.Unlock()
		notFound(w)
		return
	}
	cs := slices.Clone(t.Comments)
	users := s.users
	s.mu.Unlock()
	if q.Get("sort_order") == "desc" {
		slices.Reverse(cs)
	}
	size, _ := strconv.Atoi(q.Get("page[size]"))
	if size <= 0 || size > 100 {
		size = 100
	}
	start := 0
	if after := q.Get("page[after]"); after != "" {
		b, err := base64.RawURLEncoding.DecodeString(after)
		n, err2 := strconv.Atoi(string(b))
		if err != nil || err2 != nil {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "InvalidPaginationParameter", "description": "page[after] is not valid"})
			return
		}
		start = min(n, len(cs))
	}
	end := min(start+size, len(cs))
	page := cs[start:end]
	more := end < len(cs)
	cursor := func(n int) string { return base64.RawURLEncoding.EncodeToString([]byte(strconv.Itoa(n))) }
	out := map[string]any{
		"comments": page,
		"meta":     map[string]any{"has_more": more, "after_cursor": cursor(end), "before_cursor": cursor(start)},
		"links":    map[string]any{"next": nil, "prev": nil},
	}
	if more {
		q.Set("page[after]", cursor(end))
		out["links"] = map[string]any{"next": fmt.Sprintf("%s%s?%s", s.srv.URL, r.URL.Path, q.Encode()), "prev": nil}
	}
	if strings.Contains(q.Get("include"), "users") {
		s.mu.Lock()
		seen := map[int64]bool{}
		list := []User{}
		for _, c := range page {
			if u, ok := users[c.AuthorID]; ok && !seen[u.ID] {
				seen[u.ID] = true
				list = append(list, u)
			}
		}
		s.mu.Unlock()
		out["users"] = list
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) tagsEndpoint(w http.ResponseWriter, r *http.Request, tid int64, body []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.tickets[tid]
	if t == nil {
		notFound(w)
		return
	}
	var in struct {
		Tags []string `json:"tags"`
	}
	if r.Method != http.MethodGet {
		if err := json.Unmarshal(body, &in); err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "Unprocessable Entity", "description": "Server could not parse JSON"})
			return
		}
	}
	switch r.Method {
	case http.MethodGet:
	case http.MethodPut: // add
		t.Tags = addTags(t.Tags, in.Tags)
	case http.MethodPost: // set
		t.Tags = normTags(in.Tags)
	case http.MethodDelete:
		t.Tags = slices.DeleteFunc(t.Tags, func(x string) bool { return slices.Contains(in.Tags, x) })
	default:
		writeJSON(w, http.StatusMethodNotAllowed, map[string]string{"error": "MethodNotAllowed"})
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"tags": t.Tags})
}
