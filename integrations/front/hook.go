package front

import (
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/triage-bot/triage/normalize"
	"github.com/triage-bot/triage/pipeline"
	"github.com/triage-bot/triage/ticket"
)

// MaxRequestBytes bounds a webhook request's body. Front's full event
// payload carries the message body; larger requests are refused with 413.
const MaxRequestBytes = 4 << 20

// Signature headers Front sends.
const (
	HeaderSignature = "X-Front-Signature"
	HeaderTimestamp = "X-Front-Request-Timestamp"
	HeaderChallenge = "X-Front-Challenge"
)

// inboundTypes are the event types of a customer's new message: "inbound"
// for rule webhooks, "inbound_received" for application webhooks.
var inboundTypes = map[string]bool{"inbound": true, "inbound_received": true}

// errRefused is a request that is not Front's (forged, stale, unsigned).
var errRefused = errors.New("refused")

// verify checks the request's signature and age. With an
// X-Front-Request-Timestamp header (milliseconds) it is an application
// webhook: base64(HMAC-SHA256(secret, ts+":"+body)); without, a rule
// webhook: base64(HMAC-SHA1(secret, body)), whose age is the event's
// emitted_at. Both compare in constant time.
func (c *Client) verify(h http.Header, body []byte) error {
	got, err := base64.StdEncoding.DecodeString(strings.TrimSpace(h.Get(HeaderSignature)))
	if err != nil || len(got) == 0 {
		return fmt.Errorf("%w: no %s header, or not base64", errRefused, HeaderSignature)
	}
	secret := []byte(c.cfg.WebhookSecret)
	if ts := strings.TrimSpace(h.Get(HeaderTimestamp)); ts != "" {
		mac := hmac.New(sha256.New, secret)
		mac.Write([]byte(ts + ":"))
		mac.Write(body)
		if !hmac.Equal(got, mac.Sum(nil)) {
			return fmt.Errorf("%w: bad application webhook signature", errRefused)
		}
		ms, err := strconv.ParseInt(ts, 10, 64)
		if err != nil {
			return fmt.Errorf("%w: %s %q is not milliseconds", errRefused, HeaderTimestamp, ts)
		}
		return c.fresh(time.UnixMilli(ms))
	}
	mac := hmac.New(sha1.New, secret)
	mac.Write(body)
	if !hmac.Equal(got, mac.Sum(nil)) {
		return fmt.Errorf("%w: bad rule webhook signature", errRefused)
	}
	var ev struct {
		EmittedAt float64 `json:"emitted_at"`
	}
	if json.Unmarshal(body, &ev) != nil || ev.EmittedAt <= 0 {
		return fmt.Errorf("%w: a rule webhook without emitted_at cannot be dated", errRefused)
	}
	sec, frac := math.Modf(ev.EmittedAt)
	return c.fresh(time.Unix(int64(sec), int64(frac*1e9)))
}

// fresh refuses a time more than MaxAge away from now.
func (c *Client) fresh(t time.Time) error {
	if d := c.now().Sub(t); d > c.cfg.MaxAge || d < -c.cfg.MaxAge {
		return fmt.Errorf("%w: sent %s ago, more than %s", errRefused, d.Round(time.Second), c.cfg.MaxAge)
	}
	return nil
}

// Handler serves POST /hooks/front. It verifies the request (401 when
// forged or stale, 413 when too large, nothing stored), answers Front's
// validation challenge, stores an inbound message as a ticket and only
// then answers 200. A redelivery is recognised by the ticket ID and
// changes nothing. A failure to store answers 500.
func (c *Client) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxRequestBytes))
		if err != nil {
			http.Error(w, "request too large or unreadable", http.StatusRequestEntityTooLarge)
			return
		}
		if err := c.verify(r.Header, body); err != nil {
			c.log.Warn("front: webhook refused", "err", err, "remote", r.RemoteAddr)
			http.Error(w, "signature missing, wrong or stale", http.StatusUnauthorized)
			return
		}
		if ch := r.Header.Get(HeaderChallenge); ch != "" {
			w.Header().Set("Content-Type", "application/json")
			_ = json.NewEncoder(w).Encode(map[string]string{"challenge": ch})
			return
		}
		if err := c.HandleEvent(r.Context(), body); err != nil {
			c.log.Error("front: webhook not stored", "err", err)
			http.Error(w, "not stored, retry", http.StatusInternalServerError)
			return
		}
		w.WriteHeader(http.StatusOK)
	})
}

// HandleEvent stores what a verified webhook body says and returns nil
// when it may be acknowledged: stored, a duplicate, not a customer's
// message, or unreadable (logged). An error means it was not stored.
func (c *Client) HandleEvent(ctx context.Context, body []byte) error {
	var env envelope
	if err := json.Unmarshal(body, &env); err != nil {
		c.log.Warn("front: webhook body is not a Front event; acknowledged and dropped", "err", err)
		return nil
	}
	ev := env.Payload
	if ev == nil {
		ev = new(event)
		if err := json.Unmarshal(body, ev); err != nil {
			c.log.Warn("front: webhook body is not a Front event; acknowledged and dropped", "err", err)
			return nil
		}
	}
	if !inboundTypes[ev.Type] || ev.Conversation == nil || ev.Conversation.ID == "" {
		return nil
	}
	var m message
	if ev.Target.Meta.Type == "message" {
		if err := json.Unmarshal(ev.Target.Data, &m); err != nil {
			c.log.Warn("front: event's message is unreadable; fetching it", "event_id", ev.ID, "err", err)
			m = message{}
		}
	}
	var problems []string
	if m.Body == "" && m.Text == "" {
		full, err := c.fetchMessage(ctx, ev.Conversation.ID, m.ID)
		if err != nil {
			c.log.Warn("front: message body not fetched; storing the preview", "event_id", ev.ID, "conversation", ev.Conversation.ID, "err", err)
			problems = append(problems, "the message body could not be fetched from Front ("+shortErr(err)+"); only its preview was read")
			if m.ID == "" {
				return fmt.Errorf("front: event %s names no message and the conversation's messages could not be read: %w", ev.ID, err)
			}
			m.Text = m.Blurb
		} else {
			m = *full
		}
	}
	t := c.ticketFor(&m, ev.Conversation.Subject)
	t.Problems = append(t.Problems, problems...)
	t.Channel = inboxName(ev)
	id := TicketID(c.cfg.Account, ev.Conversation.ID, m.ID)
	_, err := c.ing.Ingest(ctx, pipeline.Incoming{ID: id, EventID: Source + ":" + ev.ID, Source: Source, Channel: t.Channel, Ticket: t})
	switch {
	case err == nil:
		c.log.Info("front: message stored", "ticket_id", id, "event_id", ev.ID)
		return nil
	case errors.Is(err, pipeline.ErrDuplicate):
		c.log.Info("front: message redelivered; already stored", "ticket_id", id, "event_id", ev.ID)
		return nil
	case errors.Is(err, pipeline.ErrBadInput):
		c.log.Warn("front: message cannot be read as a ticket; acknowledged", "ticket_id", id, "err", err)
		return nil
	}
	return fmt.Errorf("front: store message %s: %w", id, err)
}

func shortErr(err error) string {
	s := err.Error()
	if len(s) > 200 {
		s = strings.ToValidUTF8(s[:200], "") + "…"
	}
	return s
}

// fetchMessage reads a message through the Core API: by its ID, or when
// the event names none, the conversation's latest inbound message.
func (c *Client) fetchMessage(ctx context.Context, conversation, id string) (*message, error) {
	if id != "" {
		var m message
		if err := c.do(ctx, http.MethodGet, "/messages/"+url.PathEscape(id), nil, &m); err != nil {
			return nil, err
		}
		return &m, nil
	}
	var latest *message
	err := list(ctx, c, "/conversations/"+url.PathEscape(conversation)+"/messages", func(m message) bool {
		if m.IsInbound && (latest == nil || m.CreatedAt > latest.CreatedAt) {
			latest = &m
		}
		return true
	})
	if err != nil {
		return nil, err
	}
	if latest == nil {
		return nil, fmt.Errorf("front: conversation %s has no inbound message", conversation)
	}
	return latest, nil
}

// inboxName is the first inbox the event's source names, if any.
func inboxName(ev *event) string {
	if ev.Source.Meta.Type != "inboxes" {
		return ""
	}
	var ibs []inbox
	if json.Unmarshal(ev.Source.Data, &ibs) != nil || len(ibs) == 0 {
		return ""
	}
	return ibs[0].Name
}

// looksHTML reports whether a message body is HTML rather than plain
// text (Front sends e-mail bodies as HTML, SMS and chat as text).
func looksHTML(s string) bool {
	i := strings.IndexByte(s, '<')
	return i >= 0 && strings.IndexByte(s[i:], '>') > 0
}

// ticketFor normalizes a message: HTML to text (blockquotes and reply
// markers become quoted history), then the new text split from quoted
// history. Only the body is read; attachments are not fetched.
func (c *Client) ticketFor(m *message, subject string) *ticket.Ticket {
	lim := c.cfg.Limits
	text := m.Text
	var problems []string
	if m.Body != "" && (text == "" || looksHTML(m.Body)) {
		text = m.Body
		if looksHTML(m.Body) {
			max := lim.MaxPartBytes
			if max <= 0 {
				max = normalize.DefaultMaxPartBytes
			}
			var cut bool
			var err error
			text, cut, err = normalize.HTMLToText(strings.NewReader(m.Body), max)
			if err != nil || cut {
				problems = append(problems, "the message's HTML was cut at the size limit")
			}
		}
	}
	t, err := normalize.Text(m.ID, strings.NewReader(text), lim)
	if err != nil {
		t = &ticket.Ticket{Problems: []string{"the message's text could not be read: " + err.Error()}}
	}
	if m.Subject != "" {
		subject = m.Subject
	}
	t.Source, t.Channel = Source, ""
	t.Subject = subject
	if subject != "" {
		t.Parts = append([]ticket.Part{{Kind: ticket.KindSubject, ContentType: "text/plain", Text: subject}}, t.Parts...)
	}
	t.From = m.from()
	t.MessageID = m.ID
	if m.CreatedAt > 0 {
		sec, frac := math.Modf(m.CreatedAt)
		t.Date = time.Unix(int64(sec), int64(frac*1e9)).UTC()
	}
	t.Problems = append(t.Problems, problems...)
	return t
}
