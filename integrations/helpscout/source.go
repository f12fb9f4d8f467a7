package helpscout

import (
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/triage-bot/triage/normalize"
	"github.com/triage-bot/triage/pipeline"
	"github.com/triage-bot/triage/ticket"
)

// Webhook events that carry a new customer thread.
const (
	EventCreated       = "convo.created"
	EventCustomerReply = "convo.customer.reply.created"
)

// TicketID returns "helpscout:<mailbox>/<conversation>/<thread>": the
// mailbox stands for the account (Help Scout's conversation and thread
// IDs are unique across an account).
func TicketID(mailbox, conversation, thread int) string {
	return fmt.Sprintf("helpscout:%d/%d/%d", mailbox, conversation, thread)
}

// AppURL is where agents open Help Scout conversations.
const AppURL = "https://secure.helpscout.net"

// TicketURL returns the agent's page of a triage ticket ID
// (AppURL/conversation/<conversation>), "" when it is not a Help Scout
// conversation.
func TicketURL(id string) string {
	n, err := parseTicketID(id)
	if err != nil {
		return ""
	}
	return AppURL + "/conversation/" + strconv.Itoa(n)
}

// parseTicketID returns the conversation ID of a Help Scout ticket ID.
func parseTicketID(id string) (int, error) {
	rest, ok := strings.CutPrefix(id, "helpscout:")
	parts := strings.Split(rest, "/")
	if ok && len(parts) == 3 {
		if n, err := strconv.Atoi(parts[1]); err == nil && n > 0 {
			return n, nil
		}
	}
	return 0, fmt.Errorf("ticket %q is not a Help Scout conversation (helpscout:<mailbox>/<conversation>/<thread>)", id)
}

// Verify reports whether sig is the X-HelpScout-Signature of body under
// secret: base64 of the body's HMAC-SHA1, compared in constant time. An
// empty secret verifies nothing.
func Verify(secret string, body []byte, sig string) bool {
	if secret == "" || sig == "" {
		return false
	}
	got, err := base64.StdEncoding.DecodeString(strings.TrimSpace(sig))
	if err != nil {
		return false
	}
	m := hmac.New(sha1.New, []byte(secret))
	m.Write(body)
	return hmac.Equal(got, m.Sum(nil))
}

// person is a thread's author or a conversation's customer.
type person struct {
	ID    int    `json:"id"`
	Type  string `json:"type"`
	First string `json:"first"`
	Last  string `json:"last"`
	Email string `json:"email"`
}

// thread is one thread of a conversation.
type thread struct {
	ID        int       `json:"id"`
	Type      string    `json:"type"`
	State     string    `json:"state"`
	Body      string    `json:"body"`
	CreatedBy person    `json:"createdBy"`
	CreatedAt time.Time `json:"createdAt"`
}

// fromCustomer reports whether t is text the customer wrote.
func (t thread) fromCustomer() bool {
	switch t.Type {
	case "customer":
		return true
	case "chat", "phone":
		return t.CreatedBy.Type == "customer"
	}
	return false
}

// conversation is the v2 conversation object, as webhooks and Get
// Conversation send it.
type conversation struct {
	ID              int    `json:"id"`
	Number          int    `json:"number"`
	MailboxID       int    `json:"mailboxId"`
	Subject         string `json:"subject"`
	State           string `json:"state"`
	PrimaryCustomer person `json:"primaryCustomer"`
	Tags            []struct {
		Tag string `json:"tag"`
	} `json:"tags"`
	Embedded struct {
		Threads []thread `json:"threads"`
	} `json:"_embedded"`
}

// newestCustomerThread returns the newest published customer thread with
// a body.
func newestCustomerThread(ts []thread) (thread, bool) {
	var best thread
	found := false
	for _, t := range ts {
		if !t.fromCustomer() || strings.TrimSpace(t.Body) == "" || t.State != "" && t.State != "published" {
			continue
		}
		if !found || t.CreatedAt.After(best.CreatedAt) || t.CreatedAt.Equal(best.CreatedAt) && t.ID > best.ID {
			best, found = t, true
		}
	}
	return best, found
}

// WebhookHandler serves POST /hooks/helpscout. It answers 401 to a
// delivery whose signature does not verify and 413 to one larger than
// MaxBodyBytes, storing nothing; 200 once the new customer thread is
// stored (or was stored before, or the event carries none); 503 when it
// could not be stored or fetched, so Help Scout delivers it again.
func (h *Helpdesk) WebhookHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, h.cfg.MaxBodyBytes))
		if err != nil {
			http.Error(w, "request too large or unreadable", http.StatusRequestEntityTooLarge)
			return
		}
		if !Verify(h.cfg.WebhookSecret, body, r.Header.Get("X-HelpScout-Signature")) {
			h.log.Warn("helpscout: webhook refused: bad or missing X-HelpScout-Signature", "event", clip(r.Header.Get("X-HelpScout-Event")))
			http.Error(w, "bad signature", http.StatusUnauthorized)
			return
		}
		event := r.Header.Get("X-HelpScout-Event")
		err = h.HandleEvent(r.Context(), event, body)
		switch {
		case errors.Is(err, pipeline.ErrBadInput):
			h.log.Warn("helpscout: webhook cannot be read; acknowledged and dropped", "event", clip(event), "err", err)
		case err != nil:
			h.log.Error("helpscout: webhook not stored; Help Scout will deliver it again", "event", clip(event), "err", err)
			http.Error(w, "not stored, retry", http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(http.StatusOK)
	})
}

func clip(s string) string {
	if len(s) > 64 {
		return strings.ToValidUTF8(s[:64], "") + "…"
	}
	return s
}

// HandleEvent stores the newest customer thread of a verified webhook
// body and returns nil when the delivery may be acknowledged: stored, a
// duplicate, or an event without customer text. When the payload has no
// threads (Help Scout leaves them out of some deliveries) they are
// fetched through the API. An error wrapping pipeline.ErrBadInput means
// the body is not a conversation; any other error means nothing was
// stored and the delivery should be retried.
func (h *Helpdesk) HandleEvent(ctx context.Context, event string, body []byte) error {
	if event != EventCreated && event != EventCustomerReply {
		return nil
	}
	var c conversation
	if err := json.Unmarshal(body, &c); err != nil {
		return fmt.Errorf("helpscout: %s: body is not a conversation: %w (%w)", event, err, pipeline.ErrBadInput)
	}
	if c.ID <= 0 {
		return fmt.Errorf("helpscout: %s: conversation has no id (%w)", event, pipeline.ErrBadInput)
	}
	t, ok := newestCustomerThread(c.Embedded.Threads)
	if !ok {
		var err error
		if t, ok, err = h.fetchCustomerThread(ctx, c.ID); err != nil {
			return err
		}
		if !ok {
			h.log.Info("helpscout: conversation has no customer text; nothing to triage", "conversation", c.ID, "event", event)
			return nil
		}
	}
	id := TicketID(c.MailboxID, c.ID, t.ID)
	tk := h.ticketFor(&c, t)
	_, err := h.ing.Ingest(ctx, pipeline.Incoming{ID: id, Source: "helpscout", Channel: strconv.Itoa(c.MailboxID), Ticket: tk})
	switch {
	case errors.Is(err, pipeline.ErrDuplicate):
		h.log.Debug("helpscout: thread stored before; delivery acknowledged", "ticket_id", id)
		return nil
	case err != nil:
		return fmt.Errorf("helpscout: store %s: %w", id, err)
	}
	return nil
}

// fetchCustomerThread lists the conversation's threads (newest first)
// and returns the newest customer thread.
func (h *Helpdesk) fetchCustomerThread(ctx context.Context, conv int) (thread, bool, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	var doc struct {
		Embedded struct {
			Threads []thread `json:"threads"`
		} `json:"_embedded"`
	}
	if _, err := h.call(ctx, http.MethodGet, "conversations/"+strconv.Itoa(conv)+"/threads", nil, &doc); err != nil {
		return thread{}, false, fmt.Errorf("helpscout: fetch threads of conversation %d: %w", conv, err)
	}
	t, ok := newestCustomerThread(doc.Embedded.Threads)
	return t, ok, nil
}

// ticketFor reads a customer thread's HTML into a ticket: new text as
// the body, quoted history apart (normalize.HTMLToText marks
// blockquotes and mail clients' quote blocks, normalize.SplitQuoted
// splits them off).
func (h *Helpdesk) ticketFor(c *conversation, t thread) (tk *ticket.Ticket) {
	from := t.CreatedBy.Email
	if from == "" {
		from = c.PrimaryCustomer.Email
	}
	tk = &ticket.Ticket{Source: "helpscout", Channel: strconv.Itoa(c.MailboxID), From: from, Subject: c.Subject,
		MessageID: strconv.Itoa(t.ID), InReplyTo: strconv.Itoa(c.ID), Date: t.CreatedAt.UTC()}
	lim := h.cfg.Limits
	maxBytes := lim.MaxPartBytes
	if maxBytes <= 0 {
		maxBytes = normalize.DefaultMaxPartBytes
	}
	if lim.MaxTextBytes > 0 && lim.MaxTextBytes < maxBytes {
		maxBytes = lim.MaxTextBytes
	}
	defer func() {
		if p := recover(); p != nil {
			if h.cfg.Panicked != nil {
				h.cfg.Panicked()
			}
			h.log.Error("helpscout: reading a thread panicked; it is stored without its text", "thread", t.ID, "panic", p)
			tk.Parts = nil
			tk.Problems = append(tk.Problems, "the thread could not be read (an internal error, counted and logged)")
		}
	}()
	if s := strings.TrimSpace(c.Subject); s != "" {
		tk.Parts = append(tk.Parts, ticket.Part{Kind: ticket.KindSubject, ContentType: "text/plain", Text: s})
	}
	text, truncated, err := normalize.HTMLToText(strings.NewReader(t.Body), maxBytes)
	if err != nil {
		tk.Problems = append(tk.Problems, "the thread's HTML could not be read to the end")
	}
	if truncated {
		tk.Problems = append(tk.Problems, fmt.Sprintf("the thread is longer than %d bytes; the rest was not read", maxBytes))
	}
	body, quoted := normalize.SplitQuoted(text)
	if body != "" {
		tk.Parts = append(tk.Parts, ticket.Part{Kind: ticket.KindBody, ContentType: "text/html", Text: body, Truncated: truncated})
	}
	if quoted != "" {
		tk.Parts = append(tk.Parts, ticket.Part{Kind: ticket.KindQuoted, ContentType: "text/html", Text: quoted, Truncated: truncated})
	}
	if !slices.ContainsFunc(tk.Parts, func(p ticket.Part) bool { return p.Kind == ticket.KindBody }) {
		tk.Problems = append(tk.Problems, "the thread has no new text")
	}
	return tk
}
