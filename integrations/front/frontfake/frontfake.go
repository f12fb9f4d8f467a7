// Package frontfake is an in-process Front for tests that speaks the
// Core API's wire format: Bearer token auth, JSON resources with _links,
// list endpoints with {"_pagination":{"next":…},"_results":[…]} and
// page_token/limit, {"_error":{"status","title","message"}} errors,
// 201/204 answers as Front gives them, and HTTP 429 with Retry-After. It
// also builds signed webhook requests the way Front sends them: rule
// webhooks (HMAC-SHA1 of the body, base64) and application webhooks
// (HMAC-SHA256 of "<timestamp ms>:<body>", base64), full events or
// previews without the message body.
//
// It counts every call, so tests can assert "exactly one comment".
package frontfake

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Identities of the fake company.
const (
	CompanyID   = "cmp_fake"
	CompanyName = "Fake Co"
	Token       = "front-fake-api-token"
	// APISecret signs rule webhooks; AppSecret application webhooks.
	APISecret = "front-fake-api-secret"
	AppSecret = "front-fake-app-secret"
	// Inbox is the inbox new conversations arrive in.
	Inbox = "inb_support"
	// Teammate is a teammate that exists.
	Teammate = "tea_ana"
)

// Message is a message of a conversation.
type Message struct {
	ID        string
	Inbound   bool
	From      string
	Subject   string
	Body      string // HTML for e-mail
	Text      string
	CreatedAt float64
}

// Comment is an internal comment.
type Comment struct {
	ID       string
	AuthorID string
	Body     string
}

// Conversation is a conversation the fake holds.
type Conversation struct {
	ID       string
	Subject  string
	Assignee string
	Inboxes  []string
	TagIDs   []string
	Messages []*Message
	Comments []*Comment
}

type failure struct {
	status     int
	retryAfter int
}

// Server is the fake Front.
type Server struct {
	// URL is the Core API base URL.
	URL string
	// PageSize is the page length of list endpoints when the caller asks
	// for none; default 2, so pagination is exercised.
	PageSize int
	srv      *httptest.Server

	mu        sync.Mutex
	convs     map[string]*Conversation
	messages  map[string]*Message
	tags      map[string]string // ID → name
	teammates map[string]string // ID → email
	inboxes   map[string]string // ID → name
	next      int
	calls     map[string]int
	failures  map[string][]failure
	latency   time.Duration
}

// New starts a fake Front; it stops when the test ends.
func New(t interface{ Cleanup(func()) }) *Server {
	s := &Server{PageSize: 2, convs: map[string]*Conversation{}, messages: map[string]*Message{},
		tags:      map[string]string{"tag_vip": "vip"},
		teammates: map[string]string{Teammate: "ana@fake.example"},
		inboxes:   map[string]string{Inbox: "Support", "inb_billing": "Billing"},
		calls:     map[string]int{}, failures: map[string][]failure{}}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	s.URL = s.srv.URL
	t.Cleanup(s.srv.Close)
	return s
}

func (s *Server) id(prefix string) string {
	s.next++
	return fmt.Sprintf("%s_%d", prefix, s.next)
}

// Inbound adds a customer's message to a conversation (created when id is
// empty or unknown) and returns the conversation and message IDs. body is
// HTML.
func (s *Server) Inbound(cnvID, from, subject, body string) (string, string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.convs[cnvID]
	if c == nil {
		if cnvID == "" {
			cnvID = s.id("cnv")
		}
		c = &Conversation{ID: cnvID, Subject: subject, Inboxes: []string{Inbox}}
		s.convs[cnvID] = c
	}
	m := &Message{ID: s.id("msg"), Inbound: true, From: from, Subject: subject, Body: body, Text: stripTags(body),
		CreatedAt: float64(time.Now().UnixMilli()) / 1000}
	c.Messages = append(c.Messages, m)
	s.messages[m.ID] = m
	return cnvID, m.ID
}

// stripTags is a crude text version of an HTML body, as Front's "text".
func stripTags(h string) string {
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
	return b.String()
}

// Conversation returns a copy of a conversation.
func (s *Server) Conversation(id string) Conversation {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.convs[id]
	if c == nil {
		return Conversation{}
	}
	cp := *c
	cp.Comments = nil
	for _, cm := range c.Comments {
		x := *cm
		cp.Comments = append(cp.Comments, &x)
	}
	cp.TagIDs = append([]string(nil), c.TagIDs...)
	cp.Inboxes = append([]string(nil), c.Inboxes...)
	return cp
}

// TagNames returns the names of a conversation's tags, sorted.
func (s *Server) TagNames(cnvID string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var names []string
	if c := s.convs[cnvID]; c != nil {
		for _, id := range c.TagIDs {
			names = append(names, s.tags[id])
		}
	}
	sort.Strings(names)
	return names
}

// CommentCount counts the comments on every conversation.
func (s *Server) CommentCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, c := range s.convs {
		n += len(c.Comments)
	}
	return n
}

// Calls returns how many times "METHOD /pattern" was called, e.g.
// "POST /conversations/{id}/comments".
func (s *Server) Calls(route string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls[route]
}

// Fail makes the next n calls of route answer status; a 429 carries
// Retry-After: retryAfter seconds.
func (s *Server) Fail(route string, n, status, retryAfter int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for range n {
		s.failures[route] = append(s.failures[route], failure{status, retryAfter})
	}
}

// SetLatency makes every write (POST, PUT, PATCH) take d before it is
// answered, as a real Front across the Internet does.
func (s *Server) SetLatency(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.latency = d
}

// routes maps a request to its pattern and path parameters.
func routeOf(method, path string) (string, []string) {
	seg := strings.Split(strings.Trim(path, "/"), "/")
	switch {
	case len(seg) == 1 && seg[0] == "me":
		return method + " /me", nil
	case len(seg) == 1 && seg[0] == "tags":
		return method + " /tags", nil
	case len(seg) == 2 && seg[0] == "messages":
		return method + " /messages/{id}", seg[1:]
	case len(seg) == 2 && seg[0] == "teammates":
		return method + " /teammates/{id}", seg[1:]
	case len(seg) == 2 && seg[0] == "inboxes":
		return method + " /inboxes/{id}", seg[1:]
	case len(seg) == 2 && seg[0] == "conversations":
		return method + " /conversations/{id}", seg[1:]
	case len(seg) == 3 && seg[0] == "conversations":
		return method + " /conversations/{id}/" + seg[2], seg[1:2]
	}
	return method + " " + path, nil
}

func writeError(w http.ResponseWriter, status int, title, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"_error": map[string]any{"status": status, "title": title, "message": msg}})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	route, params := routeOf(r.Method, r.URL.Path)
	s.mu.Lock()
	d := s.latency
	s.mu.Unlock()
	if d > 0 && r.Method != http.MethodGet {
		time.Sleep(d)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls[route]++
	if r.Header.Get("Authorization") != "Bearer "+Token {
		writeError(w, http.StatusUnauthorized, "Unauthorized", "Invalid or missing API token")
		return
	}
	if f := s.failures[route]; len(f) > 0 {
		s.failures[route] = f[1:]
		if f[0].status == http.StatusTooManyRequests {
			w.Header().Set("Retry-After", strconv.Itoa(f[0].retryAfter))
			writeError(w, f[0].status, "Too Many Requests", "Rate limit exceeded. Please retry in "+strconv.Itoa(f[0].retryAfter)+" seconds.")
			return
		}
		writeError(w, f[0].status, http.StatusText(f[0].status), "injected failure")
		return
	}
	var in map[string]any
	if r.Body != nil {
		data, _ := io.ReadAll(r.Body)
		if len(bytes.TrimSpace(data)) > 0 {
			if r.Header.Get("Content-Type") != "application/json" || json.Unmarshal(data, &in) != nil {
				writeError(w, http.StatusBadRequest, "Bad request", "Body must be JSON")
				return
			}
		}
	}
	var c *Conversation
	if strings.Contains(route, "/conversations/{id}") {
		if c = s.convs[params[0]]; c == nil {
			writeError(w, http.StatusNotFound, "Not found", "Unknown conversation "+params[0])
			return
		}
	}
	str := func(k string) string { v, _ := in[k].(string); return v }
	switch route {
	case "GET /me":
		writeJSON(w, 200, map[string]any{"_links": map[string]string{"self": s.URL + "/me"}, "id": CompanyID, "name": CompanyName})
	case "GET /tags":
		ids := make([]string, 0, len(s.tags))
		for id := range s.tags {
			ids = append(ids, id)
		}
		sort.Strings(ids)
		items := make([]any, len(ids))
		for i, id := range ids {
			items[i] = s.tagJSON(id)
		}
		s.writePage(w, r, items)
	case "POST /tags":
		name := str("name")
		if name == "" {
			writeError(w, http.StatusBadRequest, "Bad request", "name is required")
			return
		}
		for _, n := range s.tags {
			if strings.EqualFold(n, name) {
				writeError(w, http.StatusConflict, "Conflict", "A tag with this name already exists")
				return
			}
		}
		id := s.id("tag")
		s.tags[id] = name
		writeJSON(w, http.StatusCreated, s.tagJSON(id))
	case "GET /messages/{id}":
		m := s.messages[params[0]]
		if m == nil {
			writeError(w, http.StatusNotFound, "Not found", "Unknown message")
			return
		}
		writeJSON(w, 200, s.messageJSON(m))
	case "GET /teammates/{id}":
		if email, ok := s.teammates[params[0]]; ok {
			writeJSON(w, 200, map[string]any{"id": params[0], "email": email})
			return
		}
		writeError(w, http.StatusNotFound, "Not found", "Unknown teammate")
	case "GET /inboxes/{id}":
		if name, ok := s.inboxes[params[0]]; ok {
			writeJSON(w, 200, map[string]any{"id": params[0], "name": name})
			return
		}
		writeError(w, http.StatusNotFound, "Not found", "Unknown inbox")
	case "GET /conversations/{id}":
		writeJSON(w, 200, s.conversationJSON(c))
	case "PATCH /conversations/{id}":
		if id := str("inbox_id"); id != "" {
			if _, ok := s.inboxes[id]; !ok {
				writeError(w, http.StatusNotFound, "Not found", "Unknown inbox")
				return
			}
			c.Inboxes = []string{id}
		}
		w.WriteHeader(http.StatusNoContent)
	case "PUT /conversations/{id}/assignee":
		id := str("assignee_id")
		if e, ok := strings.CutPrefix(id, "alt:email:"); ok {
			for tid, email := range s.teammates {
				if email == e {
					id = tid
				}
			}
		}
		if _, ok := s.teammates[id]; !ok && id != "" {
			writeError(w, http.StatusNotFound, "Not found", "Unknown teammate")
			return
		}
		c.Assignee = id
		w.WriteHeader(http.StatusNoContent)
	case "POST /conversations/{id}/tags":
		raw, _ := in["tag_ids"].([]any)
		if len(raw) == 0 {
			writeError(w, http.StatusBadRequest, "Bad request", "tag_ids is required")
			return
		}
		for _, v := range raw {
			id, _ := v.(string)
			if _, ok := s.tags[id]; !ok {
				writeError(w, http.StatusNotFound, "Not found", "Unknown tag "+id)
				return
			}
			if !contains(c.TagIDs, id) {
				c.TagIDs = append(c.TagIDs, id)
			}
		}
		w.WriteHeader(http.StatusNoContent)
	case "GET /conversations/{id}/messages":
		items := make([]any, 0, len(c.Messages))
		for i := len(c.Messages) - 1; i >= 0; i-- { // newest first
			items = append(items, s.messageJSON(c.Messages[i]))
		}
		s.writePage(w, r, items)
	case "GET /conversations/{id}/inboxes":
		items := make([]any, 0, len(c.Inboxes))
		for _, id := range c.Inboxes {
			items = append(items, map[string]any{"id": id, "name": s.inboxes[id]})
		}
		s.writePage(w, r, items)
	case "GET /conversations/{id}/comments":
		items := make([]any, 0, len(c.Comments))
		for _, cm := range c.Comments {
			items = append(items, map[string]any{"_links": map[string]string{"self": s.URL + "/comments/" + cm.ID},
				"id": cm.ID, "body": cm.Body, "posted_at": float64(time.Now().Unix()),
				"author": map[string]any{"id": cm.AuthorID}})
		}
		s.writePage(w, r, items)
	case "POST /conversations/{id}/comments":
		body := str("body")
		if body == "" {
			writeError(w, http.StatusBadRequest, "Bad request", "body is required")
			return
		}
		author := str("author_id")
		if author != "" {
			if _, ok := s.teammates[author]; !ok {
				writeError(w, http.StatusNotFound, "Not found", "Unknown author")
				return
			}
		}
		cm := &Comment{ID: s.id("com"), AuthorID: author, Body: body}
		c.Comments = append(c.Comments, cm)
		writeJSON(w, http.StatusCreated, map[string]any{"id": cm.ID, "body": cm.Body})
	default:
		writeError(w, http.StatusNotFound, "Not found", "No route "+route)
	}
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// writePage answers one page of items: ?limit (default PageSize) and an
// opaque page_token, with _pagination.next an absolute URL.
func (s *Server) writePage(w http.ResponseWriter, r *http.Request, items []any) {
	limit := s.PageSize
	if l, err := strconv.Atoi(r.URL.Query().Get("limit")); err == nil && l > 0 {
		limit = l
	}
	start, _ := strconv.Atoi(strings.TrimPrefix(r.URL.Query().Get("page_token"), "pt"))
	start = min(max(start, 0), len(items))
	end := min(start+limit, len(items))
	var next any
	if end < len(items) {
		q := r.URL.Query()
		q.Set("page_token", "pt"+strconv.Itoa(end))
		next = s.URL + r.URL.Path + "?" + q.Encode()
	}
	writeJSON(w, 200, map[string]any{
		"_pagination": map[string]any{"next": next},
		"_links":      map[string]any{"self": s.URL + r.URL.RequestURI()},
		"_results":    items[start:end],
	})
}

func (s *Server) tagJSON(id string) map[string]any {
	return map[string]any{"_links": map[string]string{"self": s.URL + "/tags/" + id}, "id": id, "name": s.tags[id],
		"highlight": nil, "is_private": false}
}

func (s *Server) messageJSON(m *Message) map[string]any {
	role := "from"
	return map[string]any{
		"_links": map[string]string{"self": s.URL + "/messages/" + m.ID}, "id": m.ID, "type": "email",
		"is_inbound": m.Inbound, "created_at": m.CreatedAt, "subject": m.Subject, "blurb": truncate(m.Text, 60),
		"body": m.Body, "text": m.Text, "author": nil,
		"recipients":  []map[string]any{{"handle": m.From, "role": role}, {"handle": "support@fake.example", "role": "to"}},
		"attachments": []any{}, "metadata": map[string]any{},
	}
}

func truncate(s string, n int) string {
	r := []rune(s)
	if len(r) > n {
		return string(r[:n])
	}
	return s
}

func (s *Server) conversationJSON(c *Conversation) map[string]any {
	tags := make([]any, 0, len(c.TagIDs))
	for _, id := range c.TagIDs {
		tags = append(tags, s.tagJSON(id))
	}
	var assignee any
	if c.Assignee != "" {
		assignee = map[string]any{"id": c.Assignee, "email": s.teammates[c.Assignee]}
	}
	return map[string]any{"_links": map[string]string{"self": s.URL + "/conversations/" + c.ID}, "id": c.ID,
		"subject": c.Subject, "status": "unassigned", "assignee": assignee, "tags": tags}
}

// Event returns the JSON of an "inbound" event about a message, as a rule
// webhook sends it: the full event, or with preview the event preview
// whose message carries no body (the receiver must fetch it).
func (s *Server) Event(eventID, cnvID, msgID string, preview bool, emitted time.Time) []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.convs[cnvID]
	m := s.messages[msgID]
	var target any
	if m != nil {
		if preview {
			target = map[string]any{"_links": map[string]string{"self": s.URL + "/messages/" + m.ID}, "id": m.ID,
				"type": "email", "is_inbound": true, "created_at": m.CreatedAt, "blurb": truncate(m.Text, 60)}
		} else {
			target = s.messageJSON(m)
		}
	}
	var cnv any = map[string]any{"id": cnvID}
	if c != nil {
		cnv = s.conversationJSON(c)
	}
	ev := map[string]any{
		"_links": map[string]string{"self": s.URL + "/events/" + eventID}, "id": eventID, "type": "inbound",
		"emitted_at": float64(emitted.UnixMilli()) / 1000,
		"source": map[string]any{"_meta": map[string]string{"type": "inboxes"},
			"data": []any{map[string]any{"id": Inbox, "name": s.inboxes[Inbox]}}},
		"target":       map[string]any{"_meta": map[string]string{"type": "message"}, "data": target},
		"conversation": cnv,
	}
	b, _ := json.Marshal(ev)
	return b
}

// AppEvent wraps an event as an application webhook sends it.
func AppEvent(event []byte) []byte {
	b, _ := json.Marshal(map[string]any{"type": "inbound_received", "authorization": map[string]string{"id": CompanyID},
		"payload": json.RawMessage(event)})
	return b
}

// SignRule returns the X-Front-Signature of a rule webhook body.
func SignRule(secret string, body []byte) string {
	mac := hmac.New(sha1.New, []byte(secret))
	mac.Write(body)
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// SignApp returns the X-Front-Signature of an application webhook body
// sent at ts (milliseconds, as in X-Front-Request-Timestamp).
func SignApp(secret, ts string, body []byte) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(ts + ":"))
	mac.Write(body)
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// RuleRequest builds a signed rule webhook request to url.
func RuleRequest(url, secret string, body []byte) *http.Request {
	req, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Front-Signature", SignRule(secret, body))
	return req
}

// AppRequest builds a signed application webhook request to url, sent at
// the given time.
func AppRequest(url, secret string, body []byte, at time.Time) *http.Request {
	ts := strconv.FormatInt(at.UnixMilli(), 10)
	req, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Front-Request-Timestamp", ts)
	req.Header.Set("X-Front-Signature", SignApp(secret, ts, body))
	return req
}
