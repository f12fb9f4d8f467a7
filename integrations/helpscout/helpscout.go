// Package helpscout connects the bot to one Help Scout account through
// the Mailbox API 2.0: a signed webhook (convo.created,
// convo.customer.reply.created) turns each new customer thread into a
// ticket, and the helpscout.note, helpscout.tag and helpscout.assign
// sinks write the triage back onto the conversation.
//
// Every webhook is verified (X-HelpScout-Signature, base64 of the body's
// HMAC-SHA1 under the webhook secret) and stored before it is answered
// 200; a forged one is answered 401 and nothing is stored. Tickets are
// idempotent by conversation and thread: a redelivered webhook finds its
// ticket stored and changes nothing. Help Scout signs no timestamp, so a
// replayed delivery is recognised by that same ID, never stored twice.
//
// Actions are idempotent per action key: a note carries its key on its
// last line ("triage-action:<key>") and the sink looks for it among the
// conversation's notes before writing again whenever an earlier attempt
// may have reached Help Scout; tags are added to those the conversation
// has (a tag already there is not written again); an assignment sets the
// same owner again. Rate limits (429 with X-RateLimit-Retry-After) wait
// as asked through the outbox.
package helpscout

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

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/triage-bot/triage/internal/jsonhttp"
	"github.com/triage-bot/triage/normalize"
	"github.com/triage-bot/triage/outbox"
	"github.com/triage-bot/triage/pipeline"
	"github.com/triage-bot/triage/store"
)

// DefaultAPIURL is the Mailbox API 2.0 base URL.
const DefaultAPIURL = "https://api.helpscout.net/v2/"

// DefaultMaxBodyBytes bounds one webhook request.
const DefaultMaxBodyBytes = 2 << 20

// Config is what the integration needs (see config.HelpScout).
type Config struct {
	// AppID and AppSecret are the OAuth2 client credentials of a Help
	// Scout "My App".
	AppID, AppSecret string
	// WebhookSecret verifies webhook deliveries.
	WebhookSecret string
	// APIURL is the API base URL ending in "/". Default DefaultAPIURL.
	APIURL string
	// TokenURL is the OAuth2 token endpoint. Default APIURL+"oauth2/token".
	TokenURL string
	// Assignees maps a name (a category, "default", a person's or team's
	// name) to a Help Scout user or team ID for helpscout.assign.
	Assignees map[string]int
	// Inboxes maps a name to a mailbox ID for helpscout.assign targets
	// "inbox:<name>".
	Inboxes map[string]int
	// NoteUser is the user ID notes are written as; 0 means the owner of
	// the app's credentials.
	NoteUser int
	// MaxBodyBytes bounds one webhook request. Default 2 MiB.
	MaxBodyBytes int64
	// Limits bound normalized text.
	Limits normalize.Limits
	// Panicked, when set, counts a panic recovered while reading a thread.
	Panicked func()
}

// Ingester stores a ticket with its planned actions (pipeline.Pipeline).
type Ingester interface {
	Ingest(ctx context.Context, in pipeline.Incoming) (*store.Record, error)
}

// Store is the small durable state the note sink keeps: whether a note
// may have been sent without being recorded.
type Store interface {
	Cursor(ctx context.Context, source string) (string, error)
	SetCursor(ctx context.Context, source, value string) error
}

// Helpdesk is one Help Scout account: the webhook handler, the sinks and
// the --connect check share its API client.
type Helpdesk struct {
	cfg  Config
	ing  Ingester
	st   Store
	log  *slog.Logger
	http *http.Client
	base *url.URL

	mu     sync.Mutex
	tokens oauth2.TokenSource
}

// New returns a Helpdesk; it does no I/O. A nil log discards.
func New(cfg Config, ing Ingester, st Store, log *slog.Logger) *Helpdesk {
	if cfg.APIURL == "" {
		cfg.APIURL = DefaultAPIURL
	}
	if !strings.HasSuffix(cfg.APIURL, "/") {
		cfg.APIURL += "/"
	}
	if cfg.TokenURL == "" {
		cfg.TokenURL = cfg.APIURL + "oauth2/token"
	}
	if cfg.MaxBodyBytes <= 0 {
		cfg.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	base, err := url.Parse(cfg.APIURL)
	if err != nil {
		base = &url.URL{Scheme: "https", Host: "invalid.invalid"}
	}
	return &Helpdesk{cfg: cfg, ing: ing, st: st, log: log, http: &http.Client{Timeout: 30 * time.Second}, base: base}
}

// tokenSource returns the cached client-credentials token source.
func (h *Helpdesk) tokenSource() oauth2.TokenSource {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.tokens == nil {
		cc := clientcredentials.Config{ClientID: h.cfg.AppID, ClientSecret: h.cfg.AppSecret, TokenURL: h.cfg.TokenURL,
			AuthStyle: oauth2.AuthStyleInParams}
		h.tokens = cc.TokenSource(context.WithValue(context.Background(), oauth2.HTTPClient, h.http))
	}
	return h.tokens
}

// forgetToken drops the cached token after Help Scout refused it, so the
// next call fetches a new one.
func (h *Helpdesk) forgetToken() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.tokens = nil
}

// APIError is an answer from Help Scout other than 2xx.
type APIError struct {
	// Method and Path name the call ("POST conversations/42/notes").
	Method, Path string
	// Status is the HTTP status.
	Status int
	// Message is Help Scout's message, with its field errors.
	Message string
	// RetryAfter is what a 429 asked for.
	RetryAfter time.Duration
}

func (e *APIError) Error() string {
	msg := e.Message
	if msg == "" {
		msg = http.StatusText(e.Status)
	}
	return fmt.Sprintf("helpscout: %s %s: HTTP %d: %s", e.Method, e.Path, e.Status, msg)
}

// classify turns an error of a call into an outbox error: 429 waits as
// asked, 408 and 5xx and network errors are retried, other 4xx (and a
// token endpoint refusing the credentials) park the action.
func classify(err error) error {
	if err == nil {
		return nil
	}
	var ae *APIError
	if errors.As(err, &ae) {
		if ae.Status == http.StatusUnauthorized {
			return err // the token was dropped; the next attempt fetches a new one
		}
		return outbox.ForHTTP(err, ae.Status, ae.RetryAfter)
	}
	var re *oauth2.RetrieveError
	if errors.As(err, &re) && re.Response != nil {
		switch s := re.Response.StatusCode; {
		case s == http.StatusTooManyRequests:
			return outbox.RetryAfter(err, retryAfter(re.Response.Header))
		case s >= 400 && s < 500 && s != http.StatusRequestTimeout:
			return outbox.Permanent(fmt.Errorf("%w (check helpscout.app_id and app_secret)", err))
		}
	}
	return err
}

// retryAfter reads Help Scout's X-RateLimit-Retry-After (or a plain
// Retry-After) in seconds; at least one second.
func retryAfter(hdr http.Header) time.Duration {
	for _, k := range []string{"X-RateLimit-Retry-After", "Retry-After"} {
		if n, err := strconv.Atoi(strings.TrimSpace(hdr.Get(k))); err == nil && n > 0 {
			return time.Duration(n) * time.Second
		}
	}
	return time.Second
}

// call does one API request: body (if not nil) is sent as JSON, a 2xx
// answer's JSON is decoded into out (if not nil), and the answer's
// headers are returned. Errors are *APIError for answers, wrapped
// transport or token errors otherwise; none carries the token.
func (h *Helpdesk) call(ctx context.Context, method, path string, body, out any) (http.Header, error) {
	tok, err := h.tokenSource().Token()
	if err != nil {
		return nil, fmt.Errorf("helpscout: get an access token: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	u := h.base.ResolveReference(&url.URL{Path: strings.SplitN(path, "?", 2)[0]})
	if _, q, ok := strings.Cut(path, "?"); ok {
		u.RawQuery = q
	}
	header := http.Header{"Authorization": {"Bearer " + tok.AccessToken}}
	if body != nil {
		header.Set("Content-Type", "application/json; charset=UTF-8")
	}
	hdr, err := jsonhttp.Do(ctx, h.http, jsonhttp.Request{Vendor: "helpscout", Method: method, URL: u.String(), Body: body, Header: header}, out)
	var se *jsonhttp.StatusError
	if !errors.As(err, &se) {
		return hdr, err
	}
	ae := &APIError{Method: method, Path: path, Status: se.Status, Message: errorMessage(se.Body)}
	if se.Status == http.StatusTooManyRequests {
		ae.RetryAfter = retryAfter(se.Header)
	}
	if se.Status == http.StatusUnauthorized {
		h.forgetToken()
	}
	return hdr, ae
}

// errorMessage reads Help Scout's vnd.error document: its message and
// each field error, cut short.
func errorMessage(data []byte) string {
	var doc struct {
		Message  string `json:"message"`
		Embedded struct {
			Errors []struct {
				Path    string `json:"path"`
				Message string `json:"message"`
			} `json:"errors"`
		} `json:"_embedded"`
	}
	if json.Unmarshal(data, &doc) != nil {
		return ""
	}
	msg := doc.Message
	for _, e := range doc.Embedded.Errors {
		msg += fmt.Sprintf("; %s: %s", e.Path, e.Message)
	}
	if len(msg) > 300 {
		msg = strings.ToValidUTF8(msg[:300], "") + "…"
	}
	return msg
}

// pageInfo is the page object of a HAL list.
type pageInfo struct {
	Number     int `json:"number"`
	TotalPages int `json:"totalPages"`
}

// maxPages bounds how many pages of a list are read.
const maxPages = 20

// listAll reads every page (up to maxPages) of a HAL list whose items
// sit in _embedded.<name>, calling each with the raw items of a page.
func (h *Helpdesk) listAll(ctx context.Context, path, name string, each func(json.RawMessage) error) error {
	for p := 1; p <= maxPages; p++ {
		var doc struct {
			Embedded map[string]json.RawMessage `json:"_embedded"`
			Page     pageInfo                   `json:"page"`
		}
		sep := "?"
		if strings.Contains(path, "?") {
			sep = "&"
		}
		if _, err := h.call(ctx, http.MethodGet, path+sep+"page="+strconv.Itoa(p), nil, &doc); err != nil {
			return err
		}
		if raw, ok := doc.Embedded[name]; ok {
			if err := each(raw); err != nil {
				return err
			}
		}
		if doc.Page.TotalPages <= p {
			return nil
		}
	}
	return nil
}
