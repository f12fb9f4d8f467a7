package freshdesk

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/triage-bot/triage/normalize"
	"github.com/triage-bot/triage/pipeline"
	"github.com/triage-bot/triage/ticket"
)

// maxWebhookBytes bounds a webhook request body.
const maxWebhookBytes = 256 << 10

// TicketID returns "freshdesk:<domain>/<ticket>/<message>"; message is
// "0" for the ticket's description, else the conversation ID.
func TicketID(domain string, ticketID, messageID int64) string {
	return "freshdesk:" + domain + "/" + strconv.FormatInt(ticketID, 10) + "/" + strconv.FormatInt(messageID, 10)
}

// ParseTicketID returns the Freshdesk ticket number of a triage ticket ID
// made by TicketID (a "#…" suffix is ignored).
func ParseTicketID(id string) (int64, error) {
	base, _, _ := strings.Cut(id, "#")
	rest, ok := strings.CutPrefix(base, "freshdesk:")
	parts := strings.Split(rest, "/")
	if !ok || len(parts) != 3 {
		return 0, fmt.Errorf("ticket %q is not a Freshdesk ticket (freshdesk:<domain>/<ticket>/<message>)", id)
	}
	n, err := strconv.ParseInt(parts[1], 10, 64)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("ticket %q has no Freshdesk ticket number", id)
	}
	return n, nil
}

// webhook is the request body: the automation rule's simple content
// ({"freshdesk_webhook":{"ticket_id":…}}) or the advanced content
// documented in docs/helpdesks.md#freshdesk ({"ticket_id":"{{ticket.id}}"}).
// A placeholder may render as a number or a string; both are read.
type webhook struct {
	TicketID json.RawMessage `json:"ticket_id"`
	Simple   *struct {
		TicketID json.RawMessage `json:"ticket_id"`
	} `json:"freshdesk_webhook"`
}

// ticketNumber reads a ticket ID given as 4711, "4711" or "#4711".
func ticketNumber(raw json.RawMessage) (int64, bool) {
	s := strings.TrimSpace(string(raw))
	if uq, err := strconv.Unquote(s); err == nil {
		s = strings.TrimSpace(uq)
	}
	s = strings.TrimPrefix(s, "#")
	n, err := strconv.ParseInt(s, 10, 64)
	return n, err == nil && n > 0
}

// authorized checks the shared secret in the custom header or as the
// Basic auth password, in constant time.
func (d *Desk) authorized(r *http.Request) bool {
	want := []byte(d.cfg.WebhookSecret)
	if len(want) == 0 {
		return false
	}
	if got := r.Header.Get(d.cfg.SecretHeader); got != "" {
		return subtle.ConstantTimeCompare([]byte(got), want) == 1
	}
	if _, pw, ok := r.BasicAuth(); ok {
		return subtle.ConstantTimeCompare([]byte(pw), want) == 1
	}
	return false
}

// Handler serves POST /hooks/freshdesk. A request without the right
// secret is answered 401 and nothing is read or stored. Otherwise the
// ticket's latest customer message is read through the API and stored,
// and only then is 200 answered; the same message again (a redelivery,
// or a rule firing on the bot's own note) is a no-op answered 200. When
// the message cannot be stored the answer is 5xx (503 with Retry-After
// when Freshdesk's API is rate limiting), so the webhook may be retried.
func (d *Desk) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !d.authorized(r) {
			d.log.Warn("freshdesk: webhook refused: missing or wrong secret", "header", d.cfg.SecretHeader, "remote", r.RemoteAddr)
			http.Error(w, "missing or wrong webhook secret", http.StatusUnauthorized)
			return
		}
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxWebhookBytes))
		if err != nil {
			http.Error(w, "request too large or unreadable", http.StatusRequestEntityTooLarge)
			return
		}
		var hook webhook
		if err := json.Unmarshal(body, &hook); err != nil {
			http.Error(w, "the body is not JSON", http.StatusBadRequest)
			return
		}
		raw := hook.TicketID
		if hook.Simple != nil && len(hook.Simple.TicketID) > 0 {
			raw = hook.Simple.TicketID
		}
		id, ok := ticketNumber(raw)
		if !ok {
			http.Error(w, `the body names no ticket: send {"ticket_id":"{{ticket.id}}"}`, http.StatusBadRequest)
			return
		}
		err = d.HandleTicket(r.Context(), id)
		var ae *APIError
		switch {
		case err == nil:
			w.WriteHeader(http.StatusOK)
		case errors.As(err, &ae) && ae.Status == http.StatusNotFound:
			d.log.Info("freshdesk: webhook for a ticket that is gone; acknowledged", "freshdesk_ticket", id)
			w.WriteHeader(http.StatusOK)
		case errors.As(err, &ae) && ae.Status == http.StatusTooManyRequests:
			d.log.Warn("freshdesk: webhook not stored: the API is rate limiting", "freshdesk_ticket", id, "retry_after", ae.RetryAfter)
			w.Header().Set("Retry-After", strconv.Itoa(max(int(ae.RetryAfter/time.Second), 1)))
			http.Error(w, "rate limited by Freshdesk, retry", http.StatusServiceUnavailable)
		default:
			d.log.Error("freshdesk: webhook not stored", "freshdesk_ticket", id, "err", err)
			http.Error(w, "not stored, retry", http.StatusInternalServerError)
		}
	})
}

// HandleTicket reads ticket id's latest customer message (or its
// description when the customer has not replied) and stores it as a
// triage ticket. It returns nil when the message is stored or was stored
// before.
func (d *Desk) HandleTicket(ctx context.Context, id int64) error {
	ft, err := d.GetTicket(ctx, id)
	if err != nil {
		return err
	}
	convs, err := d.Conversations(ctx, id)
	if err != nil {
		return err
	}
	msgID, html, text, from, date := int64(0), ft.Description, ft.DescriptionText, "", ft.CreatedAt
	for _, c := range convs {
		// The customer's messages: incoming and public. Agents' replies
		// and every note (the bot's own too) are not.
		if c.Incoming && !c.Private && c.ID > msgID {
			msgID, html, text, from, date = c.ID, c.Body, c.BodyText, c.FromEmail, c.CreatedAt
		}
	}
	if from == "" && ft.RequesterID != 0 {
		from = "contact:" + strconv.FormatInt(ft.RequesterID, 10)
	}
	t := readMessage(html, text, d.cfg.Limits)
	t.Source = "freshdesk"
	t.Channel = d.cfg.Domain
	t.Subject = ft.Subject
	if msgID == 0 && ft.Subject != "" {
		t.Parts = append([]ticket.Part{{Kind: ticket.KindSubject, Text: ft.Subject}}, t.Parts...)
	}
	t.From = from
	t.MessageID = strconv.FormatInt(msgID, 10)
	t.Date = date
	tid := TicketID(d.cfg.Domain, id, msgID)
	_, err = d.ing.Ingest(ctx, pipeline.Incoming{ID: tid, Source: "freshdesk", Channel: d.cfg.Domain, Ticket: t})
	switch {
	case err == nil:
		d.log.Info("freshdesk: ticket stored", "ticket_id", tid)
		return nil
	case errors.Is(err, pipeline.ErrDuplicate):
		return nil
	case errors.Is(err, pipeline.ErrBadInput):
		d.log.Warn("freshdesk: message cannot be read as a ticket; acknowledged", "ticket_id", tid, "err", err)
		return nil
	}
	return fmt.Errorf("freshdesk: store message %s: %w", tid, err)
}

// readMessage turns a message's HTML body (or, without one, its plain
// text) into new text and quoted history: Freshdesk keeps the quoted
// thread of an e-mail reply in a blockquote, which becomes "> " lines.
func readMessage(html, text string, lim normalize.Limits) *ticket.Ticket {
	t := &ticket.Ticket{}
	maxPart := lim.MaxPartBytes
	if maxPart <= 0 {
		maxPart = normalize.DefaultMaxPartBytes
	}
	plain, truncated := text, false
	ct := "text/plain"
	if strings.TrimSpace(html) != "" {
		conv, cut, err := normalize.HTMLToText(strings.NewReader(html), maxPart)
		if err == nil {
			plain, truncated, ct = conv, cut, "text/html"
		}
	}
	if int64(len(plain)) > maxPart {
		plain, truncated = strings.ToValidUTF8(plain[:maxPart], ""), true
	}
	if truncated {
		t.Problems = append(t.Problems, fmt.Sprintf("the message is longer than %d bytes; the rest was not read", maxPart))
	}
	body, quoted := normalize.SplitQuoted(strings.ToValidUTF8(plain, "\uFFFD"))
	if body != "" {
		t.Parts = append(t.Parts, ticket.Part{Kind: ticket.KindBody, ContentType: ct, Text: body, Truncated: truncated})
	}
	if quoted != "" {
		t.Parts = append(t.Parts, ticket.Part{Kind: ticket.KindQuoted, ContentType: ct, Text: quoted, Truncated: truncated})
	}
	return t
}
