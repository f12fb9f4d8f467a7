// Package front connects the bot to one Front company, in both
// directions.
//
// Source: Front calls POST /hooks/front from a rule webhook or an
// application webhook when a customer's message arrives. The request is
// verified first (rule webhooks: X-Front-Signature, base64 HMAC-SHA1 of
// the body keyed with the API secret; application webhooks: base64
// HMAC-SHA256 of "<X-Front-Request-Timestamp>:<body>" keyed with the app
// secret), and refused with 401 when forged or more than MaxAge old. The
// customer's new text is stored as a ticket "front:<account>/<conversation
// ID>/<message ID>" before the request is answered; a redelivery of the
// same message is a no-op. A preview event without the message body has
// it fetched through the Core API.
//
// Sinks: front.note posts an internal comment on the conversation,
// front.tag adds tags (created when missing), front.assign assigns a
// teammate or moves the conversation to an inbox. Each is idempotent per
// action key: a comment carries a "triage-action:<key>" line and is looked
// for before posting; tags and assignment already in place are not set
// again. Front's 429 answers wait for Retry-After through the outbox.
package front

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/triage-bot/triage/normalize"
	"github.com/triage-bot/triage/pipeline"
	"github.com/triage-bot/triage/store"
)

// DefaultAPIURL is Front's Core API.
const DefaultAPIURL = "https://api2.frontapp.com"

// DefaultMaxAge is how old a signed webhook may be before it is refused
// as a replay.
const DefaultMaxAge = 5 * time.Minute

// Source is the ticket source name of Front tickets.
const Source = "front"

// Config is what the integration needs (see config.Front).
type Config struct {
	// APIURL is the Core API base URL. Default DefaultAPIURL; tests point
	// it at frontfake.
	APIURL string
	// Token is the API token (Bearer) used for every Core API call.
	Token string
	// WebhookSecret verifies webhooks: the company's API secret for rule
	// webhooks, or the app's secret for application webhooks.
	WebhookSecret string
	// Account names the company in ticket IDs. Default "front".
	Account string
	// Assignees maps a name (a category such as agent-auth, or "default")
	// to a teammate ID (tea_…, alt:email:…) or an inbox ID (inb_…) for
	// front.assign.
	Assignees map[string]string
	// AuthorID, when set, is the teammate comments are posted as.
	AuthorID string
	// MaxAge bounds a webhook's age. Default DefaultMaxAge.
	MaxAge time.Duration
	// Limits bound normalized text.
	Limits normalize.Limits
}

// Ingester stores a ticket with its planned actions (pipeline.Pipeline).
// Only after Ingest returns nil or a duplicate may the webhook be
// answered 200.
type Ingester interface {
	Ingest(ctx context.Context, in pipeline.Incoming) (*store.Record, error)
}

// Client is one Front company: the webhook handler, the sinks and the
// connection check share it.
type Client struct {
	cfg  Config
	ing  Ingester
	log  *slog.Logger
	http *http.Client
	now  func() time.Time

	mu   sync.Mutex
	tags map[string]string // tag name (lower case) → tag ID, cached
}

// New returns a Client; it does no I/O. A nil log discards; ing may be
// nil when only sinks and checks are used.
func New(cfg Config, ing Ingester, log *slog.Logger) *Client {
	if cfg.APIURL == "" {
		cfg.APIURL = DefaultAPIURL
	}
	cfg.APIURL = strings.TrimSuffix(cfg.APIURL, "/")
	if cfg.Account == "" {
		cfg.Account = "front"
	}
	if cfg.MaxAge <= 0 {
		cfg.MaxAge = DefaultMaxAge
	}
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return &Client{cfg: cfg, ing: ing, log: log, http: &http.Client{Timeout: 30 * time.Second}, now: time.Now}
}

// TicketID returns "front:<account>/<conversation>/<message>".
func TicketID(account, conversation, message string) string {
	return Source + ":" + account + "/" + conversation + "/" + message
}

// AppURL is where agents open Front conversations.
const AppURL = "https://app.frontapp.com"

// TicketURL returns the agent's page of a triage ticket ID
// (AppURL/open/<conversation>), "" when it is not a Front message.
func TicketURL(id string) string {
	cnv, _, err := parseTicketID(id)
	if err != nil {
		return ""
	}
	return AppURL + "/open/" + url.PathEscape(cnv)
}

// parseTicketID returns the conversation and message IDs of a Front
// ticket ID.
func parseTicketID(id string) (conversation, message string, err error) {
	rest, ok := strings.CutPrefix(id, Source+":")
	parts := strings.Split(rest, "/")
	if !ok || len(parts) != 3 || parts[1] == "" || parts[2] == "" {
		return "", "", fmt.Errorf("ticket %q is not a Front message (front:<account>/<conversation>/<message>)", id)
	}
	return parts[1], parts[2], nil
}

// Core API resources, as far as the bot reads them.

type recipient struct {
	Handle string `json:"handle"`
	Role   string `json:"role"`
}

type message struct {
	ID         string      `json:"id"`
	Type       string      `json:"type"`
	IsInbound  bool        `json:"is_inbound"`
	CreatedAt  float64     `json:"created_at"`
	Subject    string      `json:"subject"`
	Blurb      string      `json:"blurb"`
	Body       string      `json:"body"`
	Text       string      `json:"text"`
	Recipients []recipient `json:"recipients"`
	Author     *struct {
		Email string `json:"email"`
	} `json:"author"`
}

// from returns the sender's handle.
func (m *message) from() string {
	for _, r := range m.Recipients {
		if r.Role == "from" {
			return r.Handle
		}
	}
	if m.Author != nil {
		return m.Author.Email
	}
	return ""
}

type tag struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

type teammate struct {
	ID    string `json:"id"`
	Email string `json:"email"`
}

type conversation struct {
	ID       string    `json:"id"`
	Subject  string    `json:"subject"`
	Status   string    `json:"status"`
	Assignee *teammate `json:"assignee"`
	Tags     []tag     `json:"tags"`
}

type inbox struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

type comment struct {
	ID   string `json:"id"`
	Body string `json:"body"`
}

// event is a Front event: the body of a rule webhook, or the "payload"
// of an application webhook.
type event struct {
	ID           string        `json:"id"`
	Type         string        `json:"type"`
	EmittedAt    float64       `json:"emitted_at"`
	Conversation *conversation `json:"conversation"`
	Source       struct {
		Meta struct {
			Type string `json:"type"`
		} `json:"_meta"`
		Data json.RawMessage `json:"data"`
	} `json:"source"`
	Target struct {
		Meta struct {
			Type string `json:"type"`
		} `json:"_meta"`
		Data json.RawMessage `json:"data"`
	} `json:"target"`
}

// envelope is an application webhook's body.
type envelope struct {
	Type          string `json:"type"`
	Authorization struct {
		ID string `json:"id"`
	} `json:"authorization"`
	Payload *event `json:"payload"`
}
