package zendesk

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
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

// Webhook headers Zendesk sends.
const (
	HeaderSignature  = "X-Zendesk-Webhook-Signature"
	HeaderTimestamp  = "X-Zendesk-Webhook-Signature-Timestamp"
	HeaderInvocation = "X-Zendesk-Webhook-Invocation-Id"
)

// Sign returns the signature Zendesk sends for body at timestamp ts:
// base64(HMAC-SHA256(secret, ts + body)).
func Sign(secret, ts string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(ts))
	m.Write(body)
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}

// verify reads the body and checks the signature and the timestamp; on
// failure it answers (401, or 413) itself and returns nil.
func (a *Account) verify(w http.ResponseWriter, r *http.Request) []byte {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, a.cfg.MaxBodyBytes))
	if err != nil {
		http.Error(w, "request too large or unreadable", http.StatusRequestEntityTooLarge)
		return nil
	}
	ts := r.Header.Get(HeaderTimestamp)
	when, ok := parseTimestamp(ts)
	if d := a.now().Sub(when); !ok || d > a.cfg.MaxSkew || d < -a.cfg.MaxSkew {
		a.log.Warn("zendesk: webhook refused: signature timestamp missing or too far from now", "timestamp", ts)
		http.Error(w, "stale or missing timestamp", http.StatusUnauthorized)
		return nil
	}
	got, err := base64.StdEncoding.DecodeString(r.Header.Get(HeaderSignature))
	want, _ := base64.StdEncoding.DecodeString(Sign(a.cfg.WebhookSecret, ts, body))
	if err != nil || a.cfg.WebhookSecret == "" || !hmac.Equal(got, want) {
		a.log.Warn("zendesk: webhook refused: bad signature (check zendesk.webhook_secret against the webhook's signing secret)")
		http.Error(w, "bad signature", http.StatusUnauthorized)
		return nil
	}
	return body
}

// parseTimestamp reads the signature timestamp: RFC 3339, as Zendesk
// sends it ("2021-03-25T05:09:27Z"), or Unix seconds.
func parseTimestamp(s string) (time.Time, bool) {
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, true
	}
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		return time.Unix(n, 0), true
	}
	return time.Time{}, false
}

// Handler serves POST /hooks/zendesk: it verifies the call, stores the
// customer's comment as a ticket, and only then answers 200. A comment
// stored before answers 200 too. Calls that carry no customer comment
// (an agent's reply, a private note, another event type) are answered
// 200 and ignored. A failure to store answers 503 with Retry-After, so
// Zendesk calls again.
func (a *Account) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body := a.verify(w, r)
		if body == nil {
			return
		}
		var d delivery
		if err := json.Unmarshal(body, &d); err != nil {
			http.Error(w, "body is not the JSON triage expects (see docs/helpdesks.md#zendesk)", http.StatusBadRequest)
			return
		}
		in, skip, err := a.incoming(r.Context(), &d)
		switch {
		case err != nil && isBadRequest(err):
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		case err != nil:
			a.log.Error("zendesk: could not read the ticket; Zendesk will call again", "err", err)
			w.Header().Set("Retry-After", "10")
			http.Error(w, "could not read the ticket, retry", http.StatusServiceUnavailable)
			return
		case skip != "":
			a.log.Debug("zendesk: webhook ignored", "reason", skip, "invocation", r.Header.Get(HeaderInvocation))
			w.WriteHeader(http.StatusOK)
			return
		}
		_, err = a.ing.Ingest(r.Context(), in)
		if err != nil && !errors.Is(err, pipeline.ErrDuplicate) {
			a.log.Error("zendesk: ticket not stored; Zendesk will call again", "ticket_id", in.ID, "err", err)
			w.Header().Set("Retry-After", "10")
			http.Error(w, "not stored, retry", http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(http.StatusOK)
	})
}

// badRequest marks a body that can never be read.
type badRequest struct{ msg string }

func (e badRequest) Error() string { return e.msg }

func isBadRequest(err error) bool {
	var b badRequest
	return errors.As(err, &b)
}

// incoming turns a delivery into a ticket to store; skip says why there
// is none.
func (a *Account) incoming(ctx context.Context, d *delivery) (in pipeline.Incoming, skip string, err error) {
	var (
		ticketID  int64
		subject   string
		commentID int64
		text      string
		from      string
		date      time.Time
	)
	switch {
	case d.Type == eventCommentAdded:
		if d.Detail == nil || d.Detail.ID == 0 || d.Event == nil || d.Event.Comment == nil {
			return in, "", badRequest{"a ticket.comment_added event without detail.id or event.comment"}
		}
		c := d.Event.Comment
		if c.Author.IsStaff || c.IsPublic != nil && !*c.IsPublic {
			return in, "an agent's comment or a private note", nil
		}
		ticketID, subject, commentID, text = int64(d.Detail.ID), d.Detail.Subject, int64(c.ID), c.Body
		from = strconv.FormatInt(int64(c.Author.ID), 10)
	case d.Type == eventTicketCreated:
		if d.Detail == nil || d.Detail.ID == 0 {
			return in, "", badRequest{"a ticket.created event without detail.id"}
		}
		ticketID, subject = int64(d.Detail.ID), d.Detail.Subject
	case strings.HasPrefix(d.Type, "zen:"):
		return in, "event type " + d.Type, nil
	case d.TicketID != 0:
		ticketID = int64(d.TicketID)
	default:
		return in, "", badRequest{`no ticket_id: the trigger's JSON body must be {"ticket_id": "{{ticket.id}}"}`}
	}
	if commentID == 0 || strings.TrimSpace(text) == "" {
		c, author, found, err := a.latestCustomerComment(ctx, ticketID)
		if err != nil {
			return in, "", err
		}
		if !found {
			return in, "no public comment by an end user on the ticket", nil
		}
		commentID, text, date = c.ID, commentText(c), c.CreatedAt
		from = author
	}
	if subject == "" {
		t, err := a.api.ticket(ctx, ticketID)
		if err != nil {
			return in, "", fmt.Errorf("zendesk: read ticket %d: %w", ticketID, err)
		}
		subject = t.Subject
	}
	t, err := normalize.Text("zendesk", strings.NewReader(text), a.cfg.Limits)
	if err != nil {
		return in, "", fmt.Errorf("zendesk: read comment %d of ticket %d: %w", commentID, ticketID, err)
	}
	t.Subject, t.From, t.Date = subject, from, date
	if subject != "" {
		t.Parts = append([]ticket.Part{{Kind: ticket.KindSubject, ContentType: "text/plain", Text: subject}}, t.Parts...)
	}
	return pipeline.Incoming{
		ID:      TicketID(a.cfg.Account, ticketID, commentID),
		Source:  "zendesk",
		Channel: a.cfg.Account,
		Ticket:  t,
	}, "", nil
}

// commentText is a comment's text: the plain body, or the HTML body
// turned into text when there is no plain one.
func commentText(c Comment) string {
	if strings.TrimSpace(c.Body) != "" {
		return c.Body
	}
	if c.HTMLBody != "" {
		if s, _, err := normalize.HTMLToText(strings.NewReader(c.HTMLBody), 0); err == nil {
			return s
		}
	}
	return c.PlainBody
}

// latestCustomerComment returns the newest public comment on the ticket
// written by an end user, and its author's e-mail address (or ID).
func (a *Account) latestCustomerComment(ctx context.Context, ticketID int64) (Comment, string, bool, error) {
	var (
		found  Comment
		author string
		ok     bool
	)
	err := a.api.comments(ctx, ticketID, true, 3, func(p commentPage) bool {
		roles := map[int64]User{}
		for _, u := range p.Users {
			roles[u.ID] = u
		}
		for _, c := range p.Comments {
			u, known := roles[c.AuthorID]
			if !c.Public || known && u.Role != "end-user" {
				continue
			}
			found, ok = c, true
			author = u.Email
			if author == "" {
				author = strconv.FormatInt(c.AuthorID, 10)
			}
			return false
		}
		return true
	})
	if err != nil {
		return Comment{}, "", false, fmt.Errorf("zendesk: read the comments of ticket %d: %w", ticketID, err)
	}
	return found, author, ok, nil
}
