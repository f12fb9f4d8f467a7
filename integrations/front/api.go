package front

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

// maxPages bounds one paginated listing (comments on a conversation, the
// company's tags), so a peer that never stops paginating cannot hold a
// worker forever.
const maxPages = 50

// APIError is an answer of the Core API other than 2xx, with Front's
// {"_error":{"status","title","message"}} body when there is one.
type APIError struct {
	// Method and Path name the call ("GET /me").
	Method, Path string
	// Status is the HTTP status code.
	Status int
	// Title and Message are Front's words, if it sent any.
	Title, Message string
	// RetryAfter is the Retry-After header of a 429, zero otherwise.
	RetryAfter time.Duration
}

func (e *APIError) Error() string {
	s := fmt.Sprintf("front: %s %s: HTTP %d", e.Method, e.Path, e.Status)
	if e.Title != "" {
		s += " " + e.Title
	}
	if e.Message != "" {
		s += ": " + e.Message
	}
	if hint := statusHint(e.Status); hint != "" {
		s += " (" + hint + ")"
	}
	return s
}

// statusHint says what a person can do about an answer.
func statusHint(status int) string {
	switch status {
	case http.StatusUnauthorized:
		return "the API token is not valid: check front.api_token"
	case http.StatusForbidden:
		return "the API token lacks a scope or access to this inbox: see docs/helpdesks.md#front"
	case http.StatusNotFound:
		return "it does not exist or the token cannot see it"
	}
	return ""
}

// classify turns an error of a call into an outbox error: 429 waits as
// Front asks, 408 and 5xx and network errors are retried, any other 4xx
// parks the action.
func classify(err error) error {
	var ae *APIError
	if !errors.As(err, &ae) {
		return err
	}
	return outbox.ForHTTP(err, ae.Status, ae.RetryAfter)
}

// isStatus reports whether err is an APIError with that status.
func isStatus(err error, status int) bool {
	var ae *APIError
	return errors.As(err, &ae) && ae.Status == status
}

// page is the envelope of Front's list endpoints.
type page[T any] struct {
	Pagination struct {
		Next string `json:"next"`
	} `json:"_pagination"`
	Results []T `json:"_results"`
}

// do calls the Core API: method on path (relative to the API URL, or an
// absolute _pagination.next URL on the same host), in as the JSON body
// when not nil, the answer decoded into out when not nil.
func (c *Client) do(ctx context.Context, method, path string, in, out any) error {
	u, err := c.url(path)
	if err != nil {
		return err
	}
	_, err = jsonhttp.Do(ctx, c.http, jsonhttp.Request{Vendor: "front", Method: method, URL: u, Body: in,
		Header: http.Header{"Authorization": {"Bearer " + c.cfg.Token}}}, out)
	var se *jsonhttp.StatusError
	if !errors.As(err, &se) {
		return err
	}
	ae := &APIError{Method: method, Path: jsonhttp.Path(u), Status: se.Status}
	var eb struct {
		Error struct {
			Title   string `json:"title"`
			Message string `json:"message"`
		} `json:"_error"`
	}
	if json.Unmarshal(se.Body, &eb) == nil {
		ae.Title, ae.Message = eb.Error.Title, eb.Error.Message
	}
	ae.RetryAfter = outbox.ParseRetryAfter(se.Header.Get("Retry-After"), time.Now())
	return ae
}

// url resolves path against the API URL. An absolute URL (a pagination
// link) must point at the API URL's own scheme and host, so the token is
// never sent elsewhere.
func (c *Client) url(path string) (string, error) {
	if !strings.HasPrefix(path, "http://") && !strings.HasPrefix(path, "https://") {
		return strings.TrimSuffix(c.cfg.APIURL, "/") + path, nil
	}
	base, err := url.Parse(c.cfg.APIURL)
	if err != nil {
		return "", fmt.Errorf("front: api_url %q: %w", c.cfg.APIURL, err)
	}
	u, err := url.Parse(path)
	if err != nil || u.Scheme != base.Scheme || u.Host != base.Host {
		return "", fmt.Errorf("front: refusing to follow a pagination link off the API host (%s)", jsonhttp.Path(path))
	}
	return path, nil
}

// list walks a paginated listing from path, calling each for every result
// until each returns false or the pages end.
func list[T any](ctx context.Context, c *Client, path string, each func(T) bool) error {
	next := path
	for i := 0; next != "" && i < maxPages; i++ {
		var p page[T]
		if err := c.do(ctx, http.MethodGet, next, nil, &p); err != nil {
			return err
		}
		for _, r := range p.Results {
			if !each(r) {
				return nil
			}
		}
		next = p.Pagination.Next
	}
	return nil
}
