package zendesk

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/triage-bot/triage/internal/jsonhttp"
	"github.com/triage-bot/triage/outbox"
)

// APIError is a Zendesk API answer other than 2xx.
type APIError struct {
	// Method and Path name the call ("PUT /api/v2/tickets/7.json").
	Method, Path string
	// Status is the HTTP status.
	Status int
	// Code and Description are Zendesk's "error" and "description"
	// fields, when the body had them.
	Code, Description string
	// RetryAfter is the Retry-After header, for 429 and 503.
	RetryAfter time.Duration
}

// Error implements error; it never carries credentials.
func (e *APIError) Error() string {
	msg := fmt.Sprintf("zendesk: %s %s: HTTP %d", e.Method, e.Path, e.Status)
	if e.Code != "" {
		msg += " " + e.Code
	}
	if e.Description != "" {
		msg += ": " + e.Description
	}
	if hint := statusHint(e.Status); hint != "" {
		msg += " (" + hint + ")"
	}
	return msg
}

func statusHint(status int) string {
	switch status {
	case http.StatusUnauthorized:
		return "check zendesk.email and zendesk.api_token, or zendesk.oauth_token"
	case http.StatusForbidden:
		return "the token's user must be an agent allowed to edit this ticket; OAuth tokens need the tickets:write and read scopes"
	case http.StatusNotFound:
		return "the ticket or group does not exist, or the token cannot see it"
	case http.StatusUnprocessableEntity:
		return "Zendesk refused the change (a closed ticket, or the 5000-comment limit)"
	}
	return ""
}

// classify turns a call's error into an outbox error: 429 (and 503 with
// Retry-After) waits as asked; other 4xx except 408 park the action;
// anything else, network errors included, is retried.
func classify(err error) error {
	var ae *APIError
	if !errors.As(err, &ae) {
		return err
	}
	return outbox.ForHTTP(err, ae.Status, ae.RetryAfter)
}

// client calls the Zendesk Support API v2.
type client struct {
	base   string // "https://acme.zendesk.com", no trailing slash
	auth   string // the Authorization header value
	http   *http.Client
	userAg string
}

func newClient(cfg Config, hc *http.Client) *client {
	c := &client{base: strings.TrimRight(cfg.BaseURL, "/"), http: hc, userAg: "triage (zendesk integration)"}
	if cfg.OAuthToken != "" {
		c.auth = "Bearer " + cfg.OAuthToken
	} else {
		// API token auth: "{email}/token:{api_token}", basic.
		c.auth = "Basic " + basic(cfg.Email+"/token", cfg.APIToken)
	}
	return c
}

func basic(user, pass string) string {
	r := &http.Request{Header: http.Header{}}
	r.SetBasicAuth(user, pass)
	return strings.TrimPrefix(r.Header.Get("Authorization"), "Basic ")
}

// do sends one request; in (if not nil) is sent as JSON and a 2xx
// answer is decoded into out (if not nil).
func (c *client) do(ctx context.Context, method, path string, in, out any) error {
	_, err := jsonhttp.Do(ctx, c.http, jsonhttp.Request{Vendor: "zendesk", Method: method, URL: c.base + path, Body: in,
		Header: http.Header{"Authorization": {c.auth}, "User-Agent": {c.userAg}}}, out)
	var se *jsonhttp.StatusError
	if !errors.As(err, &se) {
		return err
	}
	ae := &APIError{Method: method, Path: jsonhttp.Path(path), Status: se.Status}
	ae.RetryAfter = outbox.ParseRetryAfter(se.Header.Get("Retry-After"), time.Now())
	var e struct {
		Error       json.RawMessage `json:"error"`
		Description string          `json:"description"`
	}
	if json.Unmarshal(se.Body, &e) == nil {
		// "error" is a string, or an object {title, message}.
		var s string
		var o struct{ Title, Message string }
		if json.Unmarshal(e.Error, &s) == nil {
			ae.Code = s
		} else if json.Unmarshal(e.Error, &o) == nil {
			ae.Code, ae.Description = o.Title, o.Message
		}
		if e.Description != "" {
			ae.Description = e.Description
		}
	}
	return ae
}

// User is a Zendesk user, as much as the bot needs.
type User struct {
	ID    int64  `json:"id"`
	Name  string `json:"name"`
	Email string `json:"email"`
	// Role is "end-user", "agent" or "admin".
	Role string `json:"role"`
}

// Comment is a ticket comment.
type Comment struct {
	ID        int64     `json:"id"`
	Type      string    `json:"type"`
	AuthorID  int64     `json:"author_id"`
	Body      string    `json:"body"`
	HTMLBody  string    `json:"html_body"`
	PlainBody string    `json:"plain_body"`
	Public    bool      `json:"public"`
	CreatedAt time.Time `json:"created_at"`
}

// Ticket is a Zendesk ticket, as much as the bot needs.
type Ticket struct {
	ID          int64    `json:"id"`
	Subject     string   `json:"subject"`
	RequesterID int64    `json:"requester_id"`
	GroupID     *int64   `json:"group_id"`
	Tags        []string `json:"tags"`
	Status      string   `json:"status"`
}

// Group is an agent group.
type Group struct {
	ID   int64  `json:"id"`
	Name string `json:"name"`
}

// me returns the token's user (GET /api/v2/users/me.json). An
// anonymous answer (id 0) means the credentials were not accepted.
func (c *client) me(ctx context.Context) (User, error) {
	var r struct {
		User User `json:"user"`
	}
	if err := c.do(ctx, http.MethodGet, "/api/v2/users/me.json", nil, &r); err != nil {
		return User{}, err
	}
	if r.User.ID == 0 {
		return User{}, fmt.Errorf("zendesk: the credentials were not accepted (users/me answered the anonymous user); check zendesk.email and zendesk.api_token")
	}
	return r.User, nil
}

// ticket returns one ticket.
func (c *client) ticket(ctx context.Context, id int64) (Ticket, error) {
	var r struct {
		Ticket Ticket `json:"ticket"`
	}
	err := c.do(ctx, http.MethodGet, fmt.Sprintf("/api/v2/tickets/%d.json", id), nil, &r)
	return r.Ticket, err
}

// commentPage is one page of GET /api/v2/tickets/{id}/comments.json
// with cursor pagination and the authors side-loaded.
type commentPage struct {
	Comments []Comment `json:"comments"`
	Users    []User    `json:"users"`
	Meta     struct {
		HasMore     bool   `json:"has_more"`
		AfterCursor string `json:"after_cursor"`
	} `json:"meta"`
}

// comments calls fn with each page of a ticket's comments, newest
// first when desc, until fn returns false or the pages run out (at
// most maxPages).
func (c *client) comments(ctx context.Context, id int64, desc bool, maxPages int, fn func(commentPage) bool) error {
	order := "asc"
	if desc {
		order = "desc"
	}
	after := ""
	for range maxPages {
		q := url.Values{"sort_order": {order}, "include": {"users"}, "page[size]": {"100"}}
		if after != "" {
			q.Set("page[after]", after)
		}
		var p commentPage
		if err := c.do(ctx, http.MethodGet, fmt.Sprintf("/api/v2/tickets/%d/comments.json?%s", id, q.Encode()), nil, &p); err != nil {
			return err
		}
		if !fn(p) || !p.Meta.HasMore || p.Meta.AfterCursor == "" {
			return nil
		}
		after = p.Meta.AfterCursor
	}
	return nil
}

// addNote adds a private comment (an internal note) to a ticket.
func (c *client) addNote(ctx context.Context, id int64, body string) error {
	in := map[string]any{"ticket": map[string]any{"comment": map[string]any{"body": body, "public": false}}}
	return c.do(ctx, http.MethodPut, fmt.Sprintf("/api/v2/tickets/%d.json", id), in, nil)
}

// addTags adds tags to a ticket, keeping its others (PUT …/tags.json);
// adding a tag the ticket has changes nothing.
func (c *client) addTags(ctx context.Context, id int64, tags []string) ([]string, error) {
	var r struct {
		Tags []string `json:"tags"`
	}
	err := c.do(ctx, http.MethodPut, fmt.Sprintf("/api/v2/tickets/%d/tags.json", id), map[string]any{"tags": tags}, &r)
	return r.Tags, err
}

// setGroup assigns a ticket to a group.
func (c *client) setGroup(ctx context.Context, id, group int64) error {
	in := map[string]any{"ticket": map[string]any{"group_id": group}}
	return c.do(ctx, http.MethodPut, fmt.Sprintf("/api/v2/tickets/%d.json", id), in, nil)
}

// groups lists the account's groups (offset pagination, next_page).
func (c *client) groups(ctx context.Context) ([]Group, error) {
	var all []Group
	path := "/api/v2/groups.json?per_page=100"
	for range 50 {
		var r struct {
			Groups   []Group `json:"groups"`
			NextPage *string `json:"next_page"`
		}
		if err := c.do(ctx, http.MethodGet, path, nil, &r); err != nil {
			return nil, err
		}
		all = append(all, r.Groups...)
		if r.NextPage == nil || *r.NextPage == "" {
			return all, nil
		}
		u, err := url.Parse(*r.NextPage)
		if err != nil {
			return nil, fmt.Errorf("zendesk: groups: next_page %q: %w", *r.NextPage, err)
		}
		path = u.RequestURI()
	}
	return all, nil
}
