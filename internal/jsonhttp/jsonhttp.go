// Package jsonhttp sends the JSON requests of the helpdesk integrations
// (Zendesk, Freshdesk, Help Scout, Front): the body encoded as JSON, the
// answer read up to a bound, a 2xx answer decoded into the caller's
// value, and any other answer handed back whole, for the integration to
// word in its vendor's terms. Each integration had its own copy of this;
// one copy keeps the bound and the wording of errors the same for all.
package jsonhttp

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
)

// MaxAnswer bounds one answer read into memory: a peer that sends more
// is cut off there, and its answer fails to decode instead of filling
// the process's memory.
const MaxAnswer = 8 << 20

// Request is one call.
type Request struct {
	// Vendor starts every error's text ("zendesk").
	Vendor string
	// Method is the HTTP method.
	Method string
	// URL is the whole address. Errors show only its path (Path).
	URL string
	// Header is sent as it is (credentials, User-Agent). Accept and,
	// with a body, Content-Type default to JSON.
	Header http.Header
	// Body, when not nil, is sent encoded as JSON.
	Body any
}

// StatusError is an answer other than 2xx: its status, headers and body
// (up to MaxAnswer bytes). Integrations turn it into their own error.
type StatusError struct {
	Status int
	Header http.Header
	Body   []byte
}

// Error implements error.
func (e *StatusError) Error() string { return fmt.Sprintf("HTTP %d", e.Status) }

// Do sends r with hc and returns the answer's headers. A 2xx answer's
// JSON is decoded into out when out is not nil (an empty answer is then
// an error; pass nil for calls that answer nothing); any other answer is
// a *StatusError. Other errors (encoding, transport, a 2xx answer that
// is not the JSON expected) say the vendor, the method and the path.
func Do(ctx context.Context, hc *http.Client, r Request, out any) (http.Header, error) {
	where := fmt.Sprintf("%s: %s %s", r.Vendor, r.Method, Path(r.URL))
	var body io.Reader
	if r.Body != nil {
		b, err := json.Marshal(r.Body)
		if err != nil {
			return nil, fmt.Errorf("%s: encode the request: %w", where, err)
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, r.Method, r.URL, body)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", where, err)
	}
	for k, vs := range r.Header {
		req.Header[k] = vs
	}
	if req.Header.Get("Accept") == "" {
		req.Header.Set("Accept", "application/json")
	}
	if r.Body != nil && req.Header.Get("Content-Type") == "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", where, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, MaxAnswer))
	if err != nil {
		return resp.Header, fmt.Errorf("%s: read the answer: %w", where, err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return resp.Header, &StatusError{Status: resp.StatusCode, Header: resp.Header, Body: data}
	}
	if out == nil {
		return resp.Header, nil
	}
	if len(bytes.TrimSpace(data)) == 0 {
		// A caller that passes out expects a document: an empty answer
		// (from a proxy in the way) is not an empty ticket.
		return resp.Header, fmt.Errorf("%s: the answer is empty (HTTP %d), not the JSON expected", where, resp.StatusCode)
	}
	if err := json.Unmarshal(data, out); err != nil {
		return resp.Header, fmt.Errorf("%s: the answer is not the JSON expected: %w", where, err)
	}
	return resp.Header, nil
}

// Path returns the path of a URL, or of a path with a query, without the
// query: what errors show of an address.
func Path(u string) string {
	if p, err := url.Parse(u); err == nil && p.Path != "" {
		return p.Path
	}
	s, _, _ := strings.Cut(u, "?")
	return s
}
