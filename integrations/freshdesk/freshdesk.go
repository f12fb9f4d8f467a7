// Package freshdesk connects the bot to one Freshdesk account (API v2):
// an automation rule's webhook tells triage that a ticket was created or
// a customer replied, and the freshdesk.note, freshdesk.tag and
// freshdesk.assign actions write back to that ticket.
//
// The source (Handler) checks the shared secret Freshdesk sends in a
// custom header (Freshdesk does not sign its webhooks), reads the
// ticket's latest customer message through the API, and stores it before
// answering 200; the ticket ID "freshdesk:<domain>/<ticket>/<message>"
// makes a redelivered or repeated webhook a no-op. Message "0" is the
// ticket's description (the first message); replies use their
// conversation ID.
//
// The sinks are idempotent per action key: a note carries its key in a
// "triage-action:<key>" line and is looked for before a second post when
// an earlier attempt may have written it; tags and groups are compared
// with the ticket before they are written. 429 answers wait for their
// Retry-After through the outbox; other 4xx answers (but 408) are
// permanent.
package freshdesk

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/triage-bot/triage/internal/jsonhttp"
	"github.com/triage-bot/triage/normalize"
	"github.com/triage-bot/triage/outbox"
	"github.com/triage-bot/triage/pipeline"
	"github.com/triage-bot/triage/store"
)

// DefaultSecretHeader is the custom header the automation rule sends the
// webhook secret in.
const DefaultSecretHeader = "X-Triage-Webhook-Secret"

// Config is what the integration needs (see config.Freshdesk).
type Config struct {
	// Domain is the account's subdomain: "acme" for acme.freshdesk.com.
	// It names the account in ticket IDs.
	Domain string
	// APIURL is the API base URL ending in "/"; default
	// "https://<domain>.freshdesk.com/api/v2/". Tests point it at a fake.
	APIURL string
	// APIKey is an agent's API key (Profile settings → View API key),
	// sent as the Basic auth user with the password "X".
	APIKey string
	// WebhookSecret is the shared secret the automation rule sends in
	// SecretHeader (or as the Basic auth password).
	WebhookSecret string
	// SecretHeader is the header carrying WebhookSecret; default
	// DefaultSecretHeader.
	SecretHeader string
	// Groups maps a category (or "default") to a group name or numeric
	// ID, for freshdesk.assign targets "auto" or a category.
	Groups map[string]string
	// Limits bound normalized text.
	Limits normalize.Limits
}

// Ingester stores a ticket with its planned actions (pipeline.Pipeline).
type Ingester interface {
	Ingest(ctx context.Context, in pipeline.Incoming) (*store.Record, error)
}

// Cursors is the store's small durable state; the note sink records
// there that a post may be under way, so only a repeat after a crash or
// a lost answer reads the ticket's notes first. Nil means always read
// them first.
type Cursors interface {
	Cursor(ctx context.Context, source string) (string, error)
	SetCursor(ctx context.Context, source, value string) error
}

// Desk is one Freshdesk account: the webhook handler, the API client and
// the sinks share it.
type Desk struct {
	cfg  Config
	ing  Ingester
	st   Cursors
	log  *slog.Logger
	http *http.Client

	mu     sync.Mutex
	groups map[string]int64 // lower-cased name → ID, loaded once
}

// New returns a Desk; it does no I/O. A nil log discards; ing and st may
// be nil for a Desk that only checks (config check --connect).
func New(cfg Config, ing Ingester, st Cursors, log *slog.Logger) *Desk {
	if cfg.APIURL == "" {
		cfg.APIURL = "https://" + cfg.Domain + ".freshdesk.com/api/v2/"
	}
	if !strings.HasSuffix(cfg.APIURL, "/") {
		cfg.APIURL += "/"
	}
	if cfg.SecretHeader == "" {
		cfg.SecretHeader = DefaultSecretHeader
	}
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return &Desk{cfg: cfg, ing: ing, st: st, log: log, http: &http.Client{Timeout: 30 * time.Second}}
}

// APIError is a non-2xx answer of the Freshdesk API.
type APIError struct {
	// Method and Path name the call ("GET tickets/4711").
	Method, Path string
	// Status is the HTTP status.
	Status int
	// RetryAfter is the Retry-After of a 429, 0 otherwise.
	RetryAfter time.Duration
	// Detail is what the answer's body says, short.
	Detail string
}

func (e *APIError) Error() string {
	s := fmt.Sprintf("freshdesk: %s %s: HTTP %d", e.Method, e.Path, e.Status)
	if e.Detail != "" {
		s += ": " + e.Detail
	}
	if hint := statusHint(e.Status); hint != "" {
		s += " (" + hint + ")"
	}
	return s
}

func statusHint(status int) string {
	switch status {
	case http.StatusUnauthorized:
		return "the API key is wrong: check freshdesk.api_key"
	case http.StatusForbidden:
		return "the API key's agent may not do this, or the account lacks the feature"
	case http.StatusNotFound:
		return "no such ticket or group, or it was deleted"
	case http.StatusTooManyRequests:
		return "rate limited"
	}
	return ""
}

// errorBody is Freshdesk's error document: {"description":"Validation
// failed","errors":[{"field":"group_id","message":"…","code":"invalid_value"}]}
// or {"code":"invalid_credentials","message":"…"}.
type errorBody struct {
	Description string `json:"description"`
	Code        string `json:"code"`
	Message     string `json:"message"`
	Errors      []struct {
		Field   string `json:"field"`
		Message string `json:"message"`
		Code    string `json:"code"`
	} `json:"errors"`
}

func (b errorBody) String() string {
	var parts []string
	for _, s := range []string{b.Description, b.Code, b.Message} {
		if s != "" {
			parts = append(parts, s)
		}
	}
	for _, e := range b.Errors {
		parts = append(parts, strings.TrimSpace(e.Field+": "+e.Message+" ("+e.Code+")"))
	}
	s := strings.Join(parts, "; ")
	if len(s) > 300 {
		s = s[:300] + "…"
	}
	return s
}

// classify turns an API error into an outbox error: 429 waits as asked,
// 408 and 5xx and network errors are retried, other 4xx are permanent.
func classify(err error) error {
	var ae *APIError
	if !errors.As(err, &ae) {
		return err
	}
	return outbox.ForHTTP(err, ae.Status, ae.RetryAfter)
}

// call does one API request: body (if not nil) is sent as JSON, a 2xx
// answer is decoded into out (if not nil). It returns the response
// headers for pagination.
func (d *Desk) call(ctx context.Context, method, path string, body, out any) (http.Header, error) {
	hdr, err := jsonhttp.Do(ctx, d.http, jsonhttp.Request{Vendor: "freshdesk", Method: method, URL: d.cfg.APIURL + path, Body: body,
		Header: http.Header{"Authorization": {basicAuth(d.cfg.APIKey, "X")}}}, out)
	var se *jsonhttp.StatusError
	if !errors.As(err, &se) {
		return hdr, err
	}
	ae := &APIError{Method: method, Path: jsonhttp.Path(path), Status: se.Status}
	var eb errorBody
	if json.Unmarshal(se.Body, &eb) == nil {
		ae.Detail = eb.String()
	}
	if se.Status == http.StatusTooManyRequests {
		ae.RetryAfter = outbox.ParseRetryAfter(se.Header.Get("Retry-After"), time.Now())
	}
	return hdr, ae
}

// basicAuth is the Authorization header of HTTP basic authentication.
func basicAuth(user, pass string) string {
	r := &http.Request{Header: http.Header{}}
	r.SetBasicAuth(user, pass)
	return r.Header.Get("Authorization")
}

// Ticket is the part of Freshdesk's ticket object the bot reads.
type Ticket struct {
	ID              int64     `json:"id"`
	Subject         string    `json:"subject"`
	Description     string    `json:"description"`
	DescriptionText string    `json:"description_text"`
	RequesterID     int64     `json:"requester_id"`
	GroupID         *int64    `json:"group_id"`
	Tags            []string  `json:"tags"`
	Source          int       `json:"source"`
	CreatedAt       time.Time `json:"created_at"`
	UpdatedAt       time.Time `json:"updated_at"`
}

// Conversation is a reply or note on a ticket.
type Conversation struct {
	ID        int64     `json:"id"`
	Body      string    `json:"body"`
	BodyText  string    `json:"body_text"`
	Incoming  bool      `json:"incoming"`
	Private   bool      `json:"private"`
	UserID    int64     `json:"user_id"`
	FromEmail string    `json:"from_email"`
	TicketID  int64     `json:"ticket_id"`
	CreatedAt time.Time `json:"created_at"`
}

// Group is an agent group.
type Group struct {
	ID   int64  `json:"id"`
	Name string `json:"name"`
}

// GetTicket reads a ticket (GET tickets/{id}).
func (d *Desk) GetTicket(ctx context.Context, id int64) (*Ticket, error) {
	var t Ticket
	if _, err := d.call(ctx, http.MethodGet, "tickets/"+strconv.FormatInt(id, 10), nil, &t); err != nil {
		return nil, err
	}
	return &t, nil
}

// maxPages bounds how many pages of a list are read.
const maxPages = 50

// Conversations reads a ticket's replies and notes, oldest first
// (GET tickets/{id}/conversations, following the Link header's next page).
func (d *Desk) Conversations(ctx context.Context, id int64) ([]Conversation, error) {
	var all []Conversation
	path := "tickets/" + strconv.FormatInt(id, 10) + "/conversations?per_page=100"
	for page := 1; page <= maxPages; page++ {
		var cs []Conversation
		h, err := d.call(ctx, http.MethodGet, path+"&page="+strconv.Itoa(page), nil, &cs)
		if err != nil {
			return nil, err
		}
		all = append(all, cs...)
		if !hasNext(h) || len(cs) == 0 {
			break
		}
	}
	return all, nil
}

// hasNext reports whether a Link header names a next page.
func hasNext(h http.Header) bool {
	for _, l := range h.Values("Link") {
		if strings.Contains(l, `rel="next"`) {
			return true
		}
	}
	return false
}

// Groups reads every agent group (GET groups).
func (d *Desk) Groups(ctx context.Context) ([]Group, error) {
	var all []Group
	for page := 1; page <= maxPages; page++ {
		var gs []Group
		h, err := d.call(ctx, http.MethodGet, "groups?per_page=100&page="+strconv.Itoa(page), nil, &gs)
		if err != nil {
			return nil, err
		}
		all = append(all, gs...)
		if !hasNext(h) || len(gs) == 0 {
			break
		}
	}
	return all, nil
}

// groupID resolves a group name or numeric ID to an ID; names are
// looked up once (GET groups) and compared without case.
func (d *Desk) groupID(ctx context.Context, nameOrID string) (int64, error) {
	if id, err := strconv.ParseInt(nameOrID, 10, 64); err == nil && id > 0 {
		return id, nil
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.groups == nil {
		gs, err := d.Groups(ctx)
		if err != nil {
			return 0, err
		}
		d.groups = map[string]int64{}
		for _, g := range gs {
			d.groups[strings.ToLower(g.Name)] = g.ID
		}
	}
	id, ok := d.groups[strings.ToLower(nameOrID)]
	if !ok {
		return 0, outbox.Permanent(fmt.Errorf("freshdesk: no group named %q (create it under Admin → Groups, or fix freshdesk.groups)", nameOrID))
	}
	return id, nil
}

// TicketURL returns the agent's page of a triage ticket ID
// (https://<domain>.freshdesk.com/a/tickets/<ticket>, on the API's host),
// "" when it is not a ticket of this Freshdesk domain.
func (d *Desk) TicketURL(id string) string {
	n, err := ParseTicketID(id)
	if err != nil || !strings.HasPrefix(id, "freshdesk:"+d.cfg.Domain+"/") {
		return ""
	}
	u, err := url.Parse(d.cfg.APIURL)
	if err != nil {
		return ""
	}
	return u.Scheme + "://" + u.Host + "/a/tickets/" + strconv.FormatInt(n, 10)
}
