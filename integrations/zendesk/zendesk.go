// Package zendesk connects the bot to one Zendesk Support account, in
// both directions.
//
// Source: a Zendesk webhook calls POST /hooks/zendesk, from a trigger
// (body {"ticket_id": "{{ticket.id}}"}) or subscribed to the
// ticket.comment_added and ticket.created events. Every call must carry
// Zendesk's signature (X-Zendesk-Webhook-Signature, base64 of the
// HMAC-SHA256 of X-Zendesk-Webhook-Signature-Timestamp followed by the
// body, keyed with the webhook's signing secret) and a timestamp within
// five minutes; anything else is answered 401 and nothing is stored.
// When the call does not carry the customer's comment, the newest public
// comment by an end user is fetched through the API. Its text (quoted
// history split off by package normalize) becomes a ticket with the ID
// "zendesk:<account>/<ticket>/<comment>", stored before the call is
// answered; a redelivery, or a second trigger for the same comment,
// finds it stored and changes nothing.
//
// Sinks: zendesk.note adds an internal note (a private comment) with each
// code, its meaning, docs link, first hint and how sure triage is of it;
// zendesk.tag adds tags; zendesk.assign sets the ticket's group. Each is
// idempotent per action key: a note ends with a "triage-action:<key>"
// line and the sink reads the ticket's comments for it before writing;
// adding tags or setting a group twice changes nothing. 429 answers wait
// for Retry-After through the outbox; other 4xx answers (but 408) park
// the action; network errors and 5xx are retried.
package zendesk

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/triage-bot/triage/normalize"
	"github.com/triage-bot/triage/pipeline"
	"github.com/triage-bot/triage/store"
)

// Config is what the integration needs (see config.Zendesk).
type Config struct {
	// BaseURL is the account's URL, "https://<subdomain>.zendesk.com";
	// tests point it at a fake.
	BaseURL string
	// Account names the account in ticket IDs (the subdomain).
	Account string
	// Email and APIToken authenticate as "<email>/token:<api_token>"
	// (basic auth); OAuthToken, when set, is sent as a bearer token
	// instead.
	Email, APIToken, OAuthToken string
	// WebhookSecret is the webhook's signing secret.
	WebhookSecret string
	// Groups maps a category (agent-auth, …, "default") or a name used in
	// zendesk.assign targets to a group ID or group name.
	Groups map[string]string
	// Limits bound normalized text.
	Limits normalize.Limits
	// MaxBodyBytes bounds a webhook request. Default 1 MiB.
	MaxBodyBytes int64
	// MaxSkew is how far the signature timestamp may be from now.
	// Default 5 minutes.
	MaxSkew time.Duration
}

// Ingester stores a ticket with its planned actions (pipeline.Pipeline).
type Ingester interface {
	Ingest(ctx context.Context, in pipeline.Incoming) (*store.Record, error)
}

// Account is one Zendesk account: the webhook handler, the sinks and the
// connection check share it.
type Account struct {
	cfg Config
	api *client
	ing Ingester
	log *slog.Logger
	now func() time.Time

	mu     sync.Mutex
	groups map[string]int64 // lower-case group name → ID, fetched once
}

// New returns an Account; it does no I/O. A nil log discards.
func New(cfg Config, ing Ingester, log *slog.Logger) *Account {
	if cfg.MaxBodyBytes <= 0 {
		cfg.MaxBodyBytes = 1 << 20
	}
	if cfg.MaxSkew <= 0 {
		cfg.MaxSkew = 5 * time.Minute
	}
	if cfg.Account == "" {
		if u, err := url.Parse(cfg.BaseURL); err == nil {
			cfg.Account, _, _ = strings.Cut(u.Hostname(), ".")
		}
	}
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	hc := &http.Client{Timeout: 30 * time.Second}
	return &Account{cfg: cfg, api: newClient(cfg, hc), ing: ing, log: log, now: time.Now}
}

// TicketID returns "zendesk:<account>/<ticket>/<comment>".
func TicketID(account string, ticket, comment int64) string {
	return fmt.Sprintf("zendesk:%s/%d/%d", account, ticket, comment)
}

// parseTicketID returns the Zendesk ticket number of a triage ticket ID
// (with an optional "#…" suffix).
func parseTicketID(id string) (int64, error) {
	base, _, _ := strings.Cut(id, "#")
	rest, ok := strings.CutPrefix(base, "zendesk:")
	parts := strings.Split(rest, "/")
	if ok && len(parts) == 3 {
		if n, err := strconv.ParseInt(parts[1], 10, 64); err == nil && n > 0 {
			return n, nil
		}
	}
	return 0, fmt.Errorf("ticket %q is not a Zendesk comment (zendesk:<account>/<ticket>/<comment>)", id)
}

// TicketURL returns the agent's page of a triage ticket ID, "" when it
// is not a Zendesk ticket.
func TicketURL(baseURL, id string) string {
	n, err := parseTicketID(id)
	if err != nil {
		return ""
	}
	return fmt.Sprintf("%s/agent/tickets/%d", strings.TrimRight(baseURL, "/"), n)
}

// flexID is a Zendesk ID sent as a JSON number or a string (event
// payloads use strings, the REST API numbers).
type flexID int64

// UnmarshalJSON implements json.Unmarshaler.
func (f *flexID) UnmarshalJSON(b []byte) error {
	s := strings.Trim(string(b), `"`)
	if s == "" || s == "null" {
		*f = 0
		return nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return fmt.Errorf("%s is not a Zendesk ID", b)
	}
	*f = flexID(n)
	return nil
}

// delivery is a webhook body: an event subscription's event, or the
// trigger body the docs ask for ({"ticket_id": "{{ticket.id}}"}).
type delivery struct {
	// Event subscriptions.
	Type   string `json:"type"`
	ID     string `json:"id"`
	Detail *struct {
		ID          flexID `json:"id"`
		Subject     string `json:"subject"`
		RequesterID flexID `json:"requester_id"`
	} `json:"detail"`
	Event *struct {
		Comment *struct {
			ID       flexID `json:"id"`
			Body     string `json:"body"`
			IsPublic *bool  `json:"is_public"`
			Author   struct {
				ID      flexID `json:"id"`
				IsStaff bool   `json:"is_staff"`
				Name    string `json:"name"`
			} `json:"author"`
		} `json:"comment"`
	} `json:"event"`
	// Triggers.
	TicketID flexID `json:"ticket_id"`
}

// Event types the source reads; others are acknowledged and ignored.
const (
	eventCommentAdded  = "zen:event-type:ticket.comment_added"
	eventTicketCreated = "zen:event-type:ticket.created"
)
