// Package helpscoutfake is an in-process Help Scout for tests that speaks
// the wire format of the Mailbox API 2.0 as its public reference documents
// it: the OAuth2 client-credentials token endpoint (form body, JSON token,
// 401 invalid_client), bearer tokens on every call, HAL+JSON documents
// (_embedded lists with a page object, 1-based page numbers), Create Note
// (201 with a Resource-ID header), Update Tags (PUT replaces the whole
// list, 204), Update Conversation (JSON Patch: replace /assignTo, move
// /mailboxId, 204), vnd.error bodies for 400 and 404, and rate limiting
// (429 with X-RateLimit-Retry-After, X-RateLimit-* headers on every
// answer). It also signs webhooks as Help Scout does: X-HelpScout-Event
// and X-HelpScout-Signature, base64(HMAC-SHA1(secret, body)).
//
// It counts every call, so tests can assert "exactly one note".
package helpscoutfake

import (
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Credentials of the fake account.
const (
	AppID     = "fake-app-id"
	AppSecret = "fake-app-secret"
	// WebhookSecret is the secret tests sign webhooks with.
	WebhookSecret = "fake-webhook-secret"
)

// IDs of the fake account's mailboxes, users and teams.
const (
	MailboxSupport = 1001
	MailboxBilling = 1002
	UserAna        = 501
	UserBot        = 500
	TeamAgents     = 601
)

// Thread is one thread of a conversation as the API returns it.
type Thread struct {
	ID        int       `json:"id"`
	Type      string    `json:"type"`
	Status    string    `json:"status"`
	State     string    `json:"state"`
	Body      string    `json:"body"`
	CreatedBy Person    `json:"createdBy"`
	CreatedAt time.Time `json:"createdAt"`
}

// Person is a thread's author or a conversation's customer.
type Person struct {
	ID    int    `json:"id"`
	Type  string `json:"type,omitempty"`
	First string `json:"first,omitempty"`
	Last  string `json:"last,omitempty"`
	Email string `json:"email,omitempty"`
}

// Tag is a conversation's tag as the API returns it.
type Tag struct {
	ID    int    `json:"id"`
	Color string `json:"color"`
	Tag   string `json:"tag"`
}

// Conversation is a conversation the fake holds.
type Conversation struct {
	ID        int
	Number    int
	MailboxID int
	Subject   string
	Customer  Person
	Tags      []string
	Assignee  int
	// Threads are newest first, as the API lists them.
	Threads []Thread
}

// Server is the fake Help Scout.
type Server struct {
	// URL is the base URL; the API is at URL+"/v2/".
	URL string
	// PageSize is how many items one page of a list holds. Default 50,
	// as Help Scout's.
	PageSize int
	srv      *httptest.Server

	mu        sync.Mutex
	convs     map[int]*Conversation
	calls     map[string]int
	tokens    map[string]bool
	limited   int
	retry     int
	failures  map[string]int
	limitedOn map[string][2]int // name → {calls left, retry after}
	nextID    int
	issued    int
	tagPuts   map[int]int
	assigns   map[int]int
	mailboxes map[int]string
	users     map[int]string
	teams     map[int]string
}

// New starts a fake with two mailboxes (support, billing), two users and
// one team.
func New() *Server {
	s := &Server{PageSize: 50, convs: map[int]*Conversation{}, calls: map[string]int{}, tokens: map[string]bool{},
		failures: map[string]int{}, limitedOn: map[string][2]int{}, nextID: 10000, tagPuts: map[int]int{}, assigns: map[int]int{},
		mailboxes: map[int]string{MailboxSupport: "Support", MailboxBilling: "Billing"},
		users:     map[int]string{UserAna: "Ana Agent", UserBot: "Triage Bot"},
		teams:     map[int]string{TeamAgents: "Agent team"}}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	s.URL = s.srv.URL
	return s
}

// APIURL is the API base URL to configure, ending in "/".
func (s *Server) APIURL() string { return s.URL + "/v2/" }

// Close stops the fake.
func (s *Server) Close() { s.srv.Close() }

// Calls counts requests by "METHOD /path-pattern", e.g.
// "POST /v2/conversations/{id}/notes", "POST /v2/oauth2/token".
func (s *Server) Calls(name string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls[name]
}

// TokensIssued counts access tokens handed out.
func (s *Server) TokensIssued() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.issued
}

// RevokeTokens forgets every token issued, so the next call with one is
// answered 401.
func (s *Server) RevokeTokens() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tokens = map[string]bool{}
}

// RateLimit answers the next n API calls (not the token endpoint) with
// 429 and X-RateLimit-Retry-After: retryAfter seconds.
func (s *Server) RateLimit(n, retryAfter int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.limited, s.retry = n, retryAfter
}

// RateLimitOn answers the next n calls named name (as in Calls) with 429
// and X-RateLimit-Retry-After: retryAfter seconds.
func (s *Server) RateLimitOn(name string, n, retryAfter int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.limitedOn[name] = [2]int{n, retryAfter}
}

// Fail answers the next n calls named name (as in Calls) with status
// 500, as a failing Help Scout would.
func (s *Server) Fail(name string, n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failures[name] = n
}

// AddConversation stores a conversation opened by customer email with
// one customer thread holding html, and returns it (IDs filled in).
func (s *Server) AddConversation(mailbox int, subject, email, html string) Conversation {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.nextID++
	c := &Conversation{ID: s.nextID, Number: s.nextID - 9000, MailboxID: mailbox, Subject: subject,
		Customer: Person{ID: 7000 + s.nextID, First: "Cus", Last: "Tomer", Email: email}}
	s.convs[c.ID] = c
	s.addThread(c, "customer", html, Person{ID: c.Customer.ID, Type: "customer", Email: email})
	return s.copyOf(c)
}

// AddCustomerReply adds a customer thread to conversation id and returns
// the thread.
func (s *Server) AddCustomerReply(id int, html string) Thread {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.convs[id]
	return s.addThread(c, "customer", html, Person{ID: c.Customer.ID, Type: "customer", Email: c.Customer.Email})
}

func (s *Server) addThread(c *Conversation, typ, body string, by Person) Thread {
	s.nextID++
	t := Thread{ID: s.nextID, Type: typ, Status: "active", State: "published", Body: body, CreatedBy: by,
		CreatedAt: time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC).Add(time.Duration(s.nextID) * time.Second)}
	c.Threads = append([]Thread{t}, c.Threads...)
	return t
}

// Conversation returns a copy of conversation id.
func (s *Server) Conversation(id int) (Conversation, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.convs[id]
	if !ok {
		return Conversation{}, false
	}
	return s.copyOf(c), true
}

func (s *Server) copyOf(c *Conversation) Conversation {
	cp := *c
	cp.Tags = slices.Clone(c.Tags)
	cp.Threads = slices.Clone(c.Threads)
	return cp
}

// Notes returns conversation id's note threads, oldest first.
func (s *Server) Notes(id int) []Thread {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Thread
	if c := s.convs[id]; c != nil {
		for _, t := range c.Threads {
			if t.Type == "note" {
				out = append([]Thread{t}, out...)
			}
		}
	}
	return out
}

// TagWrites counts PUT .../tags calls on conversation id.
func (s *Server) TagWrites(id int) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.tagPuts[id]
}

// Assignments counts assignment changes on conversation id.
func (s *Server) Assignments(id int) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.assigns[id]
}

// Sign returns the X-HelpScout-Signature of body: base64 of its
// HMAC-SHA1 under secret.
func Sign(secret string, body []byte) string {
	m := hmac.New(sha1.New, []byte(secret))
	m.Write(body)
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}

// WebhookRequest is a webhook delivery of event with body to target,
// signed with secret.
func WebhookRequest(target, secret, event string, body []byte) *http.Request {
	r, err := http.NewRequest(http.MethodPost, target, strings.NewReader(string(body)))
	if err != nil {
		panic(err)
	}
	r.Header.Set("Content-Type", "application/json")
	r.Header.Set("X-HelpScout-Event", event)
	r.Header.Set("X-HelpScout-Signature", Sign(secret, body))
	return r
}

// Payload is the v2 webhook body for conversation id: the conversation
// object, with its threads embedded when withThreads is set.
func (s *Server) Payload(id int, withThreads bool) []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.convs[id]
	if c == nil {
		panic(fmt.Sprintf("helpscoutfake: no conversation %d", id))
	}
	b, err := json.Marshal(s.convDoc(c, withThreads))
	if err != nil {
		panic(err)
	}
	return b
}

func (s *Server) convDoc(c *Conversation, withThreads bool) map[string]any {
	tags := []Tag{}
	for i, t := range c.Tags {
		tags = append(tags, Tag{ID: 300 + i, Color: "#929499", Tag: t})
	}
	doc := map[string]any{
		"id": c.ID, "number": c.Number, "threads": len(c.Threads), "type": "email", "folderId": 1, "status": "active",
		"state": "published", "subject": c.Subject, "mailboxId": c.MailboxID,
		"createdBy":       map[string]any{"id": c.Customer.ID, "type": "customer", "email": c.Customer.Email},
		"createdAt":       c.Threads[len(c.Threads)-1].CreatedAt,
		"source":          map[string]any{"type": "email", "via": "customer"},
		"tags":            tags,
		"primaryCustomer": map[string]any{"id": c.Customer.ID, "first": c.Customer.First, "last": c.Customer.Last, "email": c.Customer.Email},
		"customFields":    []any{},
		"_links":          map[string]any{"self": map[string]any{"href": s.APIURL() + "conversations/" + strconv.Itoa(c.ID)}},
	}
	if c.Assignee != 0 {
		doc["assignee"] = map[string]any{"id": c.Assignee, "type": "user"}
	}
	if withThreads {
		doc["_embedded"] = map[string]any{"threads": c.Threads}
	}
	return doc
}

// vndError writes Help Scout's error document.
func vndError(w http.ResponseWriter, status int, msg string, errs ...map[string]string) {
	w.Header().Set("Content-Type", "application/vnd.error+json")
	w.WriteHeader(status)
	doc := map[string]any{"logRef": "fake-log-ref", "message": msg}
	if len(errs) > 0 {
		doc["_embedded"] = map[string]any{"errors": errs}
	}
	_ = json.NewEncoder(w).Encode(doc)
}

func writeHAL(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/hal+json")
	_ = json.NewEncoder(w).Encode(v)
}

// page cuts items to the requested 1-based page in Help Scout's HAL form.
func page[T any](s *Server, r *http.Request, name string, items []T) map[string]any {
	n, _ := strconv.Atoi(r.URL.Query().Get("page"))
	if n < 1 {
		n = 1
	}
	size := s.PageSize
	total := (len(items) + size - 1) / size
	from, to := min((n-1)*size, len(items)), min(n*size, len(items))
	return map[string]any{
		"_embedded": map[string]any{name: items[from:to]},
		"page":      map[string]any{"size": size, "totalElements": len(items), "totalPages": total, "number": n},
	}
}

// route names a request as Calls counts it, with its numeric ID.
func route(method, path string) (name string, id int) {
	parts := strings.Split(strings.Trim(path, "/"), "/")
	for i, p := range parts {
		if n, err := strconv.Atoi(p); err == nil && i > 0 {
			id = n
			parts[i] = "{id}"
		}
	}
	return method + " /" + strings.Join(parts, "/"), id
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	name, id := route(r.Method, r.URL.Path)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls[name]++
	if name == "POST /v2/oauth2/token" {
		s.token(w, r)
		return
	}
	auth := r.Header.Get("Authorization")
	tok, ok := strings.CutPrefix(auth, "Bearer ")
	if !ok || !s.tokens[tok] {
		w.Header().Set("WWW-Authenticate", `Bearer realm="api"`)
		vndError(w, http.StatusUnauthorized, "Invalid or expired access token")
		return
	}
	w.Header().Set("X-RateLimit-Limit-Minute", "400")
	retry := -1
	if s.limited > 0 {
		s.limited--
		retry = s.retry
	} else if l := s.limitedOn[name]; l[0] > 0 {
		s.limitedOn[name] = [2]int{l[0] - 1, l[1]}
		retry = l[1]
	}
	if retry >= 0 {
		w.Header().Set("X-RateLimit-Remaining-Minute", "0")
		w.Header().Set("X-RateLimit-Retry-After", strconv.Itoa(retry))
		vndError(w, http.StatusTooManyRequests, "Rate limit exceeded")
		return
	}
	w.Header().Set("X-RateLimit-Remaining-Minute", "399")
	if s.failures[name] > 0 {
		s.failures[name]--
		vndError(w, http.StatusInternalServerError, "Internal error")
		return
	}
	switch name {
	case "GET /v2/users/me":
		writeHAL(w, map[string]any{"id": UserBot, "firstName": "Triage", "lastName": "Bot", "email": "bot@example.com", "role": "user", "type": "user"})
	case "GET /v2/users":
		s.list(w, r, "users", s.users, func(id int, n string) any {
			first, last, _ := strings.Cut(n, " ")
			return map[string]any{"id": id, "firstName": first, "lastName": last, "type": "user"}
		})
	case "GET /v2/teams":
		s.list(w, r, "teams", s.teams, func(id int, n string) any { return map[string]any{"id": id, "name": n} })
	case "GET /v2/mailboxes":
		s.list(w, r, "mailboxes", s.mailboxes, func(id int, n string) any {
			return map[string]any{"id": id, "name": n, "slug": strings.ToLower(n), "email": strings.ToLower(n) + "@example.com"}
		})
	case "GET /v2/conversations/{id}":
		c := s.convs[id]
		if c == nil {
			vndError(w, http.StatusNotFound, "Conversation not found")
			return
		}
		writeHAL(w, s.convDoc(c, r.URL.Query().Get("embed") == "threads"))
	case "GET /v2/conversations/{id}/threads":
		c := s.convs[id]
		if c == nil {
			vndError(w, http.StatusNotFound, "Conversation not found")
			return
		}
		writeHAL(w, page(s, r, "threads", c.Threads))
	case "POST /v2/conversations/{id}/notes":
		s.note(w, r, id)
	case "PUT /v2/conversations/{id}/tags":
		s.putTags(w, r, id)
	case "PATCH /v2/conversations/{id}":
		s.patch(w, r, id)
	default:
		vndError(w, http.StatusNotFound, "The specified resource was not found: '"+r.URL.Path+"'")
	}
}

func (s *Server) list(w http.ResponseWriter, r *http.Request, name string, m map[int]string, item func(int, string) any) {
	ids := make([]int, 0, len(m))
	for id := range m {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	items := make([]any, 0, len(ids))
	for _, id := range ids {
		items = append(items, item(id, m[id]))
	}
	writeHAL(w, page(s, r, name, items))
}

func (s *Server) token(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		http.Error(w, "bad form", http.StatusBadRequest)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	if r.PostForm.Get("grant_type") != "client_credentials" {
		w.WriteHeader(http.StatusBadRequest)
		_, _ = io.WriteString(w, `{"error":"unsupported_grant_type"}`)
		return
	}
	if r.PostForm.Get("client_id") != AppID || r.PostForm.Get("client_secret") != AppSecret {
		w.WriteHeader(http.StatusUnauthorized)
		_, _ = io.WriteString(w, `{"error":"invalid_client","error_description":"Bad client credentials"}`)
		return
	}
	s.issued++
	tok := fmt.Sprintf("fake-access-token-%d", s.issued)
	s.tokens[tok] = true
	_ = json.NewEncoder(w).Encode(map[string]any{"token_type": "bearer", "access_token": tok, "expires_in": 172800})
}

func decode(w http.ResponseWriter, r *http.Request, v any) bool {
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		vndError(w, http.StatusUnsupportedMediaType, "Content-Type must be application/json")
		return false
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 100<<10+1))
	if err != nil || len(body) > 100<<10 {
		vndError(w, http.StatusRequestEntityTooLarge, "Request too large")
		return false
	}
	if err := json.Unmarshal(body, v); err != nil {
		vndError(w, http.StatusBadRequest, "Bad request", map[string]string{"path": "", "message": "malformed JSON", "source": "BODY"})
		return false
	}
	return true
}

func (s *Server) note(w http.ResponseWriter, r *http.Request, id int) {
	c := s.convs[id]
	if c == nil {
		vndError(w, http.StatusNotFound, "Conversation not found")
		return
	}
	var req struct {
		Text string `json:"text"`
		User int    `json:"user"`
	}
	if !decode(w, r, &req) {
		return
	}
	if strings.TrimSpace(req.Text) == "" {
		vndError(w, http.StatusBadRequest, "Validation error", map[string]string{"path": "text", "message": "may not be empty", "source": "JSON"})
		return
	}
	user := req.User
	if user == 0 {
		user = UserBot
	}
	t := s.addThread(c, "note", req.Text, Person{ID: user, Type: "user"})
	w.Header().Set("Resource-ID", strconv.Itoa(t.ID))
	w.Header().Set("Location", s.APIURL()+"conversations/"+strconv.Itoa(id)+"/threads/"+strconv.Itoa(t.ID))
	w.WriteHeader(http.StatusCreated)
}

func (s *Server) putTags(w http.ResponseWriter, r *http.Request, id int) {
	c := s.convs[id]
	if c == nil {
		vndError(w, http.StatusNotFound, "Conversation not found")
		return
	}
	var req struct {
		Tags *[]string `json:"tags"`
	}
	if !decode(w, r, &req) {
		return
	}
	if req.Tags == nil {
		vndError(w, http.StatusBadRequest, "Validation error", map[string]string{"path": "tags", "message": "may not be null", "source": "JSON"})
		return
	}
	c.Tags = nil
	for _, t := range *req.Tags {
		t = strings.ToLower(strings.TrimSpace(t))
		if t != "" && !slices.Contains(c.Tags, t) {
			c.Tags = append(c.Tags, t)
		}
	}
	s.tagPuts[id]++
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) patch(w http.ResponseWriter, r *http.Request, id int) {
	c := s.convs[id]
	if c == nil {
		vndError(w, http.StatusNotFound, "Conversation not found")
		return
	}
	var req struct {
		Op    string          `json:"op"`
		Path  string          `json:"path"`
		Value json.RawMessage `json:"value"`
	}
	if !decode(w, r, &req) {
		return
	}
	var n int
	num := json.Unmarshal(req.Value, &n) == nil
	switch {
	case req.Op == "replace" && req.Path == "/assignTo" && num:
		_, user := s.users[n]
		_, team := s.teams[n]
		if !user && !team {
			vndError(w, http.StatusBadRequest, "Validation error", map[string]string{"path": "value", "message": "user not found", "source": "JSON"})
			return
		}
		c.Assignee = n
		s.assigns[id]++
	case req.Op == "remove" && req.Path == "/assignTo":
		c.Assignee = 0
		s.assigns[id]++
	case req.Op == "move" && req.Path == "/mailboxId" && num:
		if _, ok := s.mailboxes[n]; !ok {
			vndError(w, http.StatusBadRequest, "Validation error", map[string]string{"path": "value", "message": "mailbox not found", "source": "JSON"})
			return
		}
		c.MailboxID = n
	default:
		vndError(w, http.StatusBadRequest, "Validation error", map[string]string{"path": "op", "message": "unsupported operation " + req.Op + " " + req.Path, "source": "JSON"})
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
