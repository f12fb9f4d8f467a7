// Package freshdeskfake is an in-process Freshdesk for tests that speaks
// the API v2 wire format the bot uses: Basic auth with the API key as
// user and "X" as password, JSON tickets, conversations and groups,
// page/per_page pagination with a Link header, Freshdesk's error
// documents ({"description":"Validation failed","errors":[…]} and
// {"code":"invalid_credentials",…}), PUT semantics that replace a
// ticket's tags, and 429 answers with Retry-After and X-RateLimit-*
// headers. It also builds the webhook an automation rule sends, with the
// shared secret in a custom header.
//
// It counts every call, so tests can assert "exactly one note".
package freshdeskfake

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Identities of the fake account.
const (
	Domain = "acme"
	APIKey = "fake-freshdesk-api-key"
	// AgentID is the agent the API key belongs to.
	AgentID = 9000
	// WebhookSecret is the secret tests put in the webhook's custom header.
	WebhookSecret = "fake-webhook-secret"
	// SecretHeader is the custom header the webhook carries the secret in.
	SecretHeader = "X-Triage-Webhook-Secret"
)

// Ticket is a ticket the fake holds.
type Ticket struct {
	ID              int64     `json:"id"`
	Subject         string    `json:"subject"`
	Description     string    `json:"description"`
	DescriptionText string    `json:"description_text"`
	RequesterID     int64     `json:"requester_id"`
	ResponderID     *int64    `json:"responder_id"`
	GroupID         *int64    `json:"group_id"`
	Status          int       `json:"status"`
	Priority        int       `json:"priority"`
	Source          int       `json:"source"`
	Tags            []string  `json:"tags"`
	CreatedAt       time.Time `json:"created_at"`
	UpdatedAt       time.Time `json:"updated_at"`
}

// Conversation is a reply or note the fake holds.
type Conversation struct {
	ID        int64     `json:"id"`
	Body      string    `json:"body"`
	BodyText  string    `json:"body_text"`
	Incoming  bool      `json:"incoming"`
	Private   bool      `json:"private"`
	UserID    int64     `json:"user_id"`
	FromEmail string    `json:"from_email,omitempty"`
	Source    int       `json:"source"`
	TicketID  int64     `json:"ticket_id"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// Group is an agent group.
type Group struct {
	ID          int64  `json:"id"`
	Name        string `json:"name"`
	Description string `json:"description"`
}

// Conversation sources (Freshdesk's numbering).
const (
	sourceReply = 0
	sourceNote  = 2
)

// Server is the fake Freshdesk.
type Server struct {
	// URL is the base URL; the API is at URL+"/api/v2/".
	URL string
	srv *httptest.Server

	mu      sync.Mutex
	tickets map[int64]*Ticket
	convs   map[int64][]*Conversation
	groups  []Group
	calls   map[string]int
	limited int               // calls still to answer 429
	retry   int               // their Retry-After, seconds
	onRoute map[string][2]int // route → {calls still to answer 429, Retry-After}
	nextID  int64
	now     time.Time
}

// New starts a fake with the groups "Tier 1" (ID 101) and "Agent Team"
// (ID 102); call Close when done.
func New() *Server {
	s := &Server{tickets: map[int64]*Ticket{}, convs: map[int64][]*Conversation{}, calls: map[string]int{},
		groups: []Group{{ID: 101, Name: "Tier 1"}, {ID: 102, Name: "Agent Team"}},
		nextID: 5000, now: time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/v2/tickets/{id}", s.getTicket)
	mux.HandleFunc("PUT /api/v2/tickets/{id}", s.putTicket)
	mux.HandleFunc("GET /api/v2/tickets/{id}/conversations", s.listConversations)
	mux.HandleFunc("POST /api/v2/tickets/{id}/notes", s.addNote)
	mux.HandleFunc("GET /api/v2/groups", s.listGroups)
	mux.HandleFunc("GET /api/v2/agents/me", s.me)
	s.srv = httptest.NewServer(s.guard(mux))
	s.URL = s.srv.URL
	return s
}

// APIURL is the base URL to configure (with the trailing /).
func (s *Server) APIURL() string { return s.URL + "/api/v2/" }

// Close stops the server.
func (s *Server) Close() { s.srv.Close() }

// Calls returns how often a route was called, by "METHOD pattern" as
// registered, e.g. "POST /api/v2/tickets/{id}/notes" (failed calls too).
func (s *Server) Calls(route string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls[route]
}

// Route names for Calls.
const (
	GetTicket         = "GET /api/v2/tickets/{id}"
	PutTicket         = "PUT /api/v2/tickets/{id}"
	ListConversations = "GET /api/v2/tickets/{id}/conversations"
	AddNote           = "POST /api/v2/tickets/{id}/notes"
	ListGroups        = "GET /api/v2/groups"
	Me                = "GET /api/v2/agents/me"
)

// RateLimit makes the next n API calls answer 429 with Retry-After.
func (s *Server) RateLimit(n, retryAfter int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.limited, s.retry = n, retryAfter
}

// RateLimitRoute makes the next n calls of one route (as named for
// Calls) answer 429 with Retry-After.
func (s *Server) RateLimitRoute(route string, n, retryAfter int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.onRoute == nil {
		s.onRoute = map[string][2]int{}
	}
	s.onRoute[route] = [2]int{n, retryAfter}
}

func (s *Server) stamp() time.Time {
	s.now = s.now.Add(time.Second)
	return s.now
}

// AddTicket stores a new ticket from a customer (requester 7000) with an
// HTML description and returns it.
func (s *Server) AddTicket(id int64, subject, descriptionHTML string) Ticket {
	s.mu.Lock()
	defer s.mu.Unlock()
	at := s.stamp()
	t := &Ticket{ID: id, Subject: subject, Description: descriptionHTML, DescriptionText: textOf(descriptionHTML),
		RequesterID: 7000, Status: 2, Priority: 1, Source: 1, Tags: []string{}, CreatedAt: at, UpdatedAt: at}
	s.tickets[id] = t
	return *t
}

// AddReply adds a public message to a ticket: from the customer when
// incoming, else an agent's reply. It returns the conversation.
func (s *Server) AddReply(ticketID int64, incoming bool, bodyHTML string) Conversation {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.nextID++
	at := s.stamp()
	c := &Conversation{ID: s.nextID, Body: bodyHTML, BodyText: textOf(bodyHTML), Incoming: incoming, UserID: AgentID,
		Source: sourceReply, TicketID: ticketID, CreatedAt: at, UpdatedAt: at}
	if incoming {
		c.UserID, c.FromEmail = 7000, "ana@example.com"
	}
	s.convs[ticketID] = append(s.convs[ticketID], c)
	if t := s.tickets[ticketID]; t != nil {
		t.UpdatedAt = at
	}
	return *c
}

// Ticket returns a copy of a ticket.
func (s *Server) Ticket(id int64) (Ticket, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.tickets[id]
	if !ok {
		return Ticket{}, false
	}
	cp := *t
	cp.Tags = slices.Clone(t.Tags)
	return cp, true
}

// Notes returns a ticket's private notes.
func (s *Server) Notes(ticketID int64) []Conversation {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Conversation
	for _, c := range s.convs[ticketID] {
		if c.Private {
			out = append(out, *c)
		}
	}
	return out
}

// textOf is a crude HTML to text for body_text fields.
func textOf(h string) string {
	var b strings.Builder
	in := false
	for _, r := range h {
		switch {
		case r == '<':
			in = true
		case r == '>':
			in = false
		case !in:
			b.WriteRune(r)
		}
	}
	return strings.TrimSpace(b.String())
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// guard counts calls, checks Basic auth and applies the rate limit.
func (s *Server) guard(next *http.ServeMux) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, pattern := next.Handler(r)
		s.mu.Lock()
		s.calls[pattern]++
		limited := s.limited > 0
		retry := s.retry
		if limited {
			s.limited--
		} else if rl := s.onRoute[pattern]; rl[0] > 0 {
			limited, retry = true, rl[1]
			s.onRoute[pattern] = [2]int{rl[0] - 1, rl[1]}
		}
		s.mu.Unlock()
		w.Header().Set("X-RateLimit-Total", "3000")
		if limited {
			w.Header().Set("Retry-After", strconv.Itoa(retry))
			w.Header().Set("X-RateLimit-Remaining", "0")
			writeJSON(w, http.StatusTooManyRequests, map[string]string{"message": "You have exceeded the limit of requests per hour"})
			return
		}
		w.Header().Set("X-RateLimit-Remaining", "2999")
		user, pass, ok := r.BasicAuth()
		if !ok || user != APIKey || pass != "X" {
			writeJSON(w, http.StatusUnauthorized, map[string]string{"code": "invalid_credentials", "message": "You have to be logged in to perform this action."})
			return
		}
		next.ServeHTTP(w, r)
	})
}

func (s *Server) ticketOf(w http.ResponseWriter, r *http.Request) *Ticket {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	t := s.tickets[id]
	if err != nil || t == nil {
		w.WriteHeader(http.StatusNotFound)
		return nil
	}
	return t
}

func (s *Server) getTicket(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if t := s.ticketOf(w, r); t != nil {
		writeJSON(w, http.StatusOK, t)
	}
}

type fieldError struct {
	Field   string `json:"field"`
	Message string `json:"message"`
	Code    string `json:"code"`
}

func validation(w http.ResponseWriter, errs ...fieldError) {
	writeJSON(w, http.StatusBadRequest, map[string]any{"description": "Validation failed", "errors": errs})
}

func (s *Server) putTicket(w http.ResponseWriter, r *http.Request) {
	var in map[string]json.RawMessage
	dec := json.NewDecoder(r.Body)
	if err := dec.Decode(&in); err != nil {
		validation(w, fieldError{Field: "", Message: "Request body has invalid json format", Code: "invalid_json"})
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.ticketOf(w, r)
	if t == nil {
		return
	}
	var errs []fieldError
	var tags []string
	var group *int64
	for k, v := range in {
		switch k {
		case "tags":
			if json.Unmarshal(v, &tags) != nil {
				errs = append(errs, fieldError{"tags", "It should be an Array", "datatype_mismatch"})
			}
			for _, tg := range tags {
				if len(tg) > 32 {
					errs = append(errs, fieldError{"tags", "It should only contain elements that have maximum of 32 characters", "invalid_value"})
				}
			}
		case "group_id":
			var g int64
			if json.Unmarshal(v, &g) != nil {
				errs = append(errs, fieldError{"group_id", "It should be a/an Positive Integer", "datatype_mismatch"})
				continue
			}
			if !slices.ContainsFunc(s.groups, func(x Group) bool { return x.ID == g }) {
				errs = append(errs, fieldError{"group_id", "There is no group matching the given group_id", "invalid_value"})
			}
			group = &g
		default:
			errs = append(errs, fieldError{k, "Unexpected/invalid field in request", "invalid_field"})
		}
	}
	if len(errs) > 0 {
		validation(w, errs...)
		return
	}
	if _, ok := in["tags"]; ok {
		t.Tags = tags // PUT replaces the whole list
	}
	if group != nil {
		t.GroupID = group
	}
	t.UpdatedAt = s.stamp()
	writeJSON(w, http.StatusOK, t)
}

// page reads page and per_page (default 30, at most 100) and sets the
// Link header when there is a next page.
func page(w http.ResponseWriter, r *http.Request, n int) (from, to int, ok bool) {
	p, per := 1, 30
	if v := r.URL.Query().Get("page"); v != "" {
		x, err := strconv.Atoi(v)
		if err != nil || x < 1 {
			validation(w, fieldError{"page", "It should be a Positive Integer", "invalid_value"})
			return 0, 0, false
		}
		p = x
	}
	if v := r.URL.Query().Get("per_page"); v != "" {
		x, err := strconv.Atoi(v)
		if err != nil || x < 1 || x > 100 {
			validation(w, fieldError{"per_page", "It should be a Positive Integer less than or equal to 100", "invalid_value"})
			return 0, 0, false
		}
		per = x
	}
	from, to = min((p-1)*per, n), min(p*per, n)
	if to < n {
		q := r.URL.Query()
		q.Set("page", strconv.Itoa(p+1))
		w.Header().Set("Link", fmt.Sprintf(`<%s?%s>; rel="next"`, "http://"+r.Host+r.URL.Path, q.Encode()))
	}
	return from, to, true
}

func (s *Server) listConversations(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.ticketOf(w, r)
	if t == nil {
		return
	}
	cs := s.convs[t.ID]
	from, to, ok := page(w, r, len(cs))
	if !ok {
		return
	}
	out := make([]Conversation, 0, to-from)
	for _, c := range cs[from:to] {
		out = append(out, *c)
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) addNote(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Body    *string `json:"body"`
		Private *bool   `json:"private"`
	}
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&in); err != nil {
		validation(w, fieldError{"", "Request body has invalid json format or an unexpected field", "invalid_json"})
		return
	}
	if in.Body == nil || strings.TrimSpace(*in.Body) == "" {
		validation(w, fieldError{"body", "It should not be blank as this is a mandatory field", "missing_field"})
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.ticketOf(w, r)
	if t == nil {
		return
	}
	private := true // Freshdesk's default for notes
	if in.Private != nil {
		private = *in.Private
	}
	s.nextID++
	at := s.stamp()
	c := &Conversation{ID: s.nextID, Body: *in.Body, BodyText: textOf(*in.Body), Private: private, UserID: AgentID,
		Source: sourceNote, TicketID: t.ID, CreatedAt: at, UpdatedAt: at}
	s.convs[t.ID] = append(s.convs[t.ID], c)
	t.UpdatedAt = at
	writeJSON(w, http.StatusCreated, c)
}

func (s *Server) listGroups(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	from, to, ok := page(w, r, len(s.groups))
	if !ok {
		return
	}
	writeJSON(w, http.StatusOK, s.groups[from:to])
}

func (s *Server) me(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{"id": AgentID, "available": true,
		"contact": map[string]any{"name": "Triage Bot", "email": "triage@example.com"}})
}

// WebhookBody is what an automation rule with the documented advanced
// content sends: {"ticket_id":"4711"} (placeholders render as text).
func WebhookBody(ticketID int64) []byte {
	return []byte(fmt.Sprintf(`{"ticket_id":"%d","triggered_event":"{ticket_action:created}"}`, ticketID))
}

// SimpleWebhookBody is what a rule with simple content sends.
func SimpleWebhookBody(ticketID int64) []byte {
	return []byte(fmt.Sprintf(`{"freshdesk_webhook":{"ticket_id":%d,"ticket_subject":"(subject)"}}`, ticketID))
}

// WebhookRequest builds the POST an automation rule sends to target,
// with secret in SecretHeader (none when secret is empty).
func WebhookRequest(target, secret string, body []byte) *http.Request {
	req, err := http.NewRequest(http.MethodPost, target, bytes.NewReader(body))
	if err != nil {
		panic(err) // a test's own bad URL
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "Freshdesk")
	if secret != "" {
		req.Header.Set(SecretHeader, secret)
	}
	return req
}
