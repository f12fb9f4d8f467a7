// Package webhook delivers webhook actions: the action's JSON payload is
// POSTed to a named endpoint (a helpdesk, an automation), signed with
// HMAC-SHA256 and carrying the action's idempotency key, so a receiver
// can verify the sender and drop repeats.
//
// Each request carries:
//
//	Content-Type: application/json
//	Idempotency-Key: <the action's key; the same on every retry>
//	X-Triage-Timestamp: <unix seconds>
//	X-Triage-Signature: sha256=<hex HMAC-SHA256(secret, timestamp + "." + body)>
//
// A receiver recomputes the signature over the timestamp and the raw body,
// compares in constant time, and rejects timestamps older than a few
// minutes.
//
// Redirects are never followed: a 3xx answer is a permanent failure that
// names the Location, so a payload, its signature and its key go only to
// the configured URL, and a redirect to a page that answers 200 is not
// mistaken for a delivery.
package webhook

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/triage-bot/triage/outbox"
	"github.com/triage-bot/triage/ticket"
)

// Endpoint is one named webhook.
type Endpoint struct {
	Name    string
	URL     string
	Secret  string
	Timeout time.Duration
}

// Sink sends webhook actions; the action's Target names the endpoint.
type Sink struct {
	endpoints map[string]Endpoint
	client    *http.Client
	now       func() time.Time
}

// New returns a sink for the endpoints. client nil means a default
// client; per-endpoint timeouts apply either way, and the sink uses a copy
// of client that does not follow redirects.
func New(endpoints []Endpoint, client *http.Client) *Sink {
	c := &http.Client{}
	if client != nil {
		*c = *client
	}
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	s := &Sink{endpoints: map[string]Endpoint{}, client: c, now: time.Now}
	for _, e := range endpoints {
		s.endpoints[e.Name] = e
	}
	return s
}

// Sign returns the X-Triage-Signature value for body sent at ts.
func Sign(secret string, ts int64, body []byte) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(strconv.FormatInt(ts, 10)))
	mac.Write([]byte("."))
	mac.Write(body)
	return "sha256=" + hex.EncodeToString(mac.Sum(nil))
}

// Verify checks a signature header against the secret in constant time,
// and that ts is within maxAge of now.
func Verify(secret, header string, ts int64, body []byte, now time.Time, maxAge time.Duration) bool {
	if d := now.Sub(time.Unix(ts, 0)); d > maxAge || d < -maxAge {
		return false
	}
	return hmac.Equal([]byte(header), []byte(Sign(secret, ts, body)))
}

// Send POSTs the action's payload. 2xx is success; 429 and 5xx are
// retried (honouring Retry-After); 3xx (never followed; the error names
// the Location), other 4xx and unknown endpoints are permanent failures.
func (s *Sink) Send(ctx context.Context, a ticket.Action) error {
	ep, ok := s.endpoints[a.Target]
	if !ok {
		return outbox.Permanent(fmt.Errorf("webhook: no endpoint named %q is configured", a.Target))
	}
	if ep.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, ep.Timeout)
		defer cancel()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, ep.URL, bytes.NewReader(a.Payload))
	if err != nil {
		return outbox.Permanent(fmt.Errorf("webhook %s: %w", ep.Name, err))
	}
	ts := s.now().Unix()
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "triage-webhook")
	req.Header.Set("Idempotency-Key", a.Key)
	req.Header.Set("X-Triage-Timestamp", strconv.FormatInt(ts, 10))
	if ep.Secret != "" {
		req.Header.Set("X-Triage-Signature", Sign(ep.Secret, ts, a.Payload))
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return fmt.Errorf("webhook %s: %w", ep.Name, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	switch {
	case resp.StatusCode >= 200 && resp.StatusCode < 300:
		return nil
	case resp.StatusCode >= 300 && resp.StatusCode < 400:
		return outbox.Permanent(fmt.Errorf("webhook %s answered %s with Location %q: redirects are not followed, so nothing was delivered (set the webhook's url to where it should go)",
			ep.Name, resp.Status, resp.Header.Get("Location")))
	case resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500:
		err := fmt.Errorf("webhook %s answered %s: %s", ep.Name, resp.Status, bytes.TrimSpace(body))
		if d := outbox.ParseRetryAfter(resp.Header.Get("Retry-After"), s.now()); d > 0 {
			return outbox.RetryAfter(err, d)
		}
		return err
	default:
		return outbox.Permanent(fmt.Errorf("webhook %s answered %s: %s", ep.Name, resp.Status, bytes.TrimSpace(body)))
	}
}
