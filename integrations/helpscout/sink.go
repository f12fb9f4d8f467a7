package helpscout

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/triage-bot/triage/outbox"
	"github.com/triage-bot/triage/redact"
	"github.com/triage-bot/triage/route"
	"github.com/triage-bot/triage/ticket"
)

// MarkerPrefix starts the last line of every note the bot writes,
// followed by the action key: the sink finds its earlier note by it.
const MarkerPrefix = "triage-action:"

// maxNoteBytes keeps a note well under Help Scout's 100 kB request cap.
const maxNoteBytes = 60 << 10

func decodePayload(kind string, a ticket.Action) (route.Payload, int, error) {
	var p route.Payload
	if err := json.Unmarshal(a.Payload, &p); err != nil {
		return p, 0, outbox.Permanent(fmt.Errorf("%s: action %d: payload is not a route payload: %w", kind, a.ID, err))
	}
	conv, err := parseTicketID(a.TicketID)
	if err != nil {
		return p, 0, outbox.Permanent(fmt.Errorf("%s: %w", kind, err))
	}
	return p, conv, nil
}

// NoteSink carries out helpscout.note: a private note on the ticket's
// conversation listing each code with its meaning, docs link, first
// hint and how sure we are. Idempotent per action key: the note's last
// line is MarkerPrefix+key; before writing, the sink reads the
// conversation's notes for it whenever an earlier attempt may have
// reached Help Scout (the store remembers "sending" before the request
// and the thread ID after it), so a crash or a lost answer never adds a
// second note, and a first attempt costs one request.
type NoteSink struct{ h *Helpdesk }

// NoteSink returns the helpscout.note sink.
func (h *Helpdesk) NoteSink() *NoteSink { return &NoteSink{h} }

// sending marks a note that may have been written without being recorded.
const sending = "sending"

func noteCursor(key string) string { return "helpscout-note:" + key }

// Send implements outbox.Sink.
func (s *NoteSink) Send(ctx context.Context, a ticket.Action) error {
	h := s.h
	p, conv, err := decodePayload(ticket.KindHelpScoutNote, a)
	if err != nil {
		return err
	}
	mark := noteCursor(a.Key)
	state, err := h.st.Cursor(ctx, mark)
	if err != nil {
		return fmt.Errorf("helpscout.note: read note state: %w", err)
	}
	switch state {
	case "":
	case sending:
		found, err := s.find(ctx, conv, a.Key)
		if err != nil {
			return classify(err)
		}
		if found != 0 {
			if err := h.st.SetCursor(ctx, mark, strconv.Itoa(found)); err != nil {
				h.log.Warn("helpscout: remember note", "ticket_id", a.TicketID, "err", err)
			}
			return nil
		}
	default:
		return nil // written before
	}
	text := RenderNote(p, a.Key)
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := h.st.SetCursor(ctx, mark, sending); err != nil {
		return fmt.Errorf("helpscout.note: record note state: %w", err)
	}
	body := map[string]any{"text": text}
	if h.cfg.NoteUser != 0 {
		body["user"] = h.cfg.NoteUser
	}
	hdr, err := h.call(ctx, http.MethodPost, "conversations/"+strconv.Itoa(conv)+"/notes", body, nil)
	if err != nil {
		var ae *APIError
		if errors.As(err, &ae) && ae.Status >= 400 && ae.Status < 500 && ae.Status != http.StatusRequestTimeout {
			// Refused: no note was written, so the next attempt need not
			// look for one.
			if err := h.st.SetCursor(ctx, mark, ""); err != nil {
				h.log.Warn("helpscout: forget note state", "ticket_id", a.TicketID, "err", err)
			}
		}
		return gone(ticket.KindHelpScoutNote, conv, err)
	}
	done := hdr.Get("Resource-ID")
	if done == "" {
		done = "written"
	}
	if err := h.st.SetCursor(ctx, mark, done); err != nil {
		h.log.Warn("helpscout: remember note", "ticket_id", a.TicketID, "err", err)
	}
	return nil
}

// find returns the ID of the conversation's note carrying key, or 0.
func (s *NoteSink) find(ctx context.Context, conv int, key string) (int, error) {
	found := 0
	needle := MarkerPrefix + key
	err := s.h.listAll(ctx, "conversations/"+strconv.Itoa(conv)+"/threads", "threads", func(raw json.RawMessage) error {
		var ts []thread
		if err := json.Unmarshal(raw, &ts); err != nil {
			return fmt.Errorf("helpscout: threads of conversation %d: %w", conv, err)
		}
		for _, t := range ts {
			if t.Type == "note" && strings.Contains(t.Body, needle) {
				found = t.ID
			}
		}
		return nil
	})
	return found, err
}

// RenderNote turns an action's rendered text (the route's default note
// for helpscout.note, or the rule's template) into Help Scout note HTML:
// the text redacted once more and HTML-escaped, line breaks as <br>,
// https links clickable, cut to stay under Help Scout's request size, and
// a last line MarkerPrefix+key by which the sink finds the note again.
func RenderNote(p route.Payload, key string) string {
	text := strings.TrimSpace(redact.String(p.Text))
	if text == "" {
		text = "triage: no ngrok error code found in this message."
	}
	if len(text) > maxNoteBytes {
		text = strings.ToValidUTF8(text[:maxNoteBytes], "") + "…"
	}
	var b strings.Builder
	b.WriteString("<p>")
	for i, line := range strings.Split(text, "\n") {
		if i > 0 {
			b.WriteString("<br>")
		}
		b.WriteString(linkify(line))
	}
	b.WriteString("</p><p><small>" + MarkerPrefix + html.EscapeString(key) + "</small></p>")
	return b.String()
}

// linkify escapes a line of text, making each https:// URL a link.
func linkify(line string) string {
	var b strings.Builder
	for {
		i := strings.Index(line, "https://")
		if i < 0 {
			b.WriteString(html.EscapeString(line))
			return b.String()
		}
		b.WriteString(html.EscapeString(line[:i]))
		end := strings.IndexAny(line[i:], " \t<>\"'")
		if end < 0 {
			end = len(line) - i
		}
		u := strings.TrimRight(line[i:i+end], ".,;:)")
		fmt.Fprintf(&b, `<a href="%s">%s</a>`, html.EscapeString(u), html.EscapeString(u))
		line = line[i+len(u):]
	}
}

// TagSink carries out helpscout.tag: it adds the target's tags to the
// conversation's, keeping those it has. The word "default" in the target
// stands for ngrok-err-<n> for each code written or inferred in the new
// text and triage-<category> for the primary category. Idempotent: when
// every tag is already there nothing is written.
type TagSink struct{ h *Helpdesk }

// TagSink returns the helpscout.tag sink.
func (h *Helpdesk) TagSink() *TagSink { return &TagSink{h} }

// Tags returns the tags a helpscout.tag action with target adds, in
// order, lower case, without duplicates.
func Tags(target string, tv route.TicketView) []string {
	var out []string
	add := func(t string) {
		t = strings.ToLower(strings.TrimSpace(t))
		if t != "" && !slices.Contains(out, t) {
			out = append(out, t)
		}
	}
	words := strings.Fields(target)
	if len(words) == 0 {
		words = []string{"default"}
	}
	for _, w := range words {
		if w != "default" && w != "auto" {
			add(w)
			continue
		}
		for _, c := range tv.Codes {
			if !c.QuotedOnly {
				add("ngrok-err-" + strconv.Itoa(c.Code))
			}
		}
		if tv.PrimaryCategory != "" {
			add("triage-" + tv.PrimaryCategory)
		}
	}
	return out
}

// Send implements outbox.Sink.
func (s *TagSink) Send(ctx context.Context, a ticket.Action) error {
	h := s.h
	p, conv, err := decodePayload(ticket.KindHelpScoutTag, a)
	if err != nil {
		return err
	}
	want := Tags(redact.String(a.Target), p.Ticket)
	if len(want) == 0 {
		return nil
	}
	var c conversation
	path := "conversations/" + strconv.Itoa(conv)
	if _, err := h.call(ctx, http.MethodGet, path, nil, &c); err != nil {
		return gone(ticket.KindHelpScoutTag, conv, err)
	}
	var have []string
	for _, t := range c.Tags {
		have = append(have, t.Tag)
	}
	all := slices.Clone(have)
	for _, t := range want {
		if !slices.ContainsFunc(have, func(h string) bool { return strings.EqualFold(h, t) }) {
			all = append(all, t)
		}
	}
	if len(all) == len(have) {
		return nil
	}
	if _, err := h.call(ctx, http.MethodPut, path+"/tags", map[string]any{"tags": all}, nil); err != nil {
		return gone(ticket.KindHelpScoutTag, conv, err)
	}
	return nil
}

// gone classifies err, naming a 404 as a conversation deleted or merged.
func gone(kind string, conv int, err error) error {
	var ae *APIError
	if errors.As(err, &ae) && ae.Status == http.StatusNotFound {
		return outbox.Permanent(fmt.Errorf("%s: conversation %d is gone (deleted, or merged into another): %w", kind, conv, err))
	}
	return classify(err)
}

// AssignSink carries out helpscout.assign: it assigns the conversation
// to a user or team (target: a name from Assignees — a category such as
// the one {{.Primary}} renders, falling back to "default" for "auto" —
// or a numeric user or team ID), or moves it to another inbox (target
// "inbox:<name or ID>", names from Inboxes). Setting the same owner or
// inbox again changes nothing, so a repeat is harmless.
type AssignSink struct{ h *Helpdesk }

// AssignSink returns the helpscout.assign sink.
func (h *Helpdesk) AssignSink() *AssignSink { return &AssignSink{h} }

// resolve turns an assign target into a JSON Patch operation.
func (h *Helpdesk) resolve(target, primary string) (map[string]any, error) {
	target = strings.TrimSpace(target)
	if name, ok := strings.CutPrefix(target, "inbox:"); ok {
		id, ok := h.cfg.Inboxes[name]
		if !ok {
			n, err := strconv.Atoi(name)
			if err != nil || n <= 0 {
				return nil, fmt.Errorf("no inbox named %q (add it under helpscout.inboxes)", name)
			}
			id = n
		}
		return map[string]any{"op": "move", "path": "/mailboxId", "value": id}, nil
	}
	id, ok := h.cfg.Assignees[target]
	if !ok && (target == "" || target == "auto") {
		if id, ok = h.cfg.Assignees[primary]; !ok || primary == "" {
			id, ok = h.cfg.Assignees["default"]
		}
	}
	if !ok {
		n, err := strconv.Atoi(target)
		if err != nil || n <= 0 {
			if _, dflt := h.cfg.Assignees["default"]; dflt {
				id, ok = h.cfg.Assignees["default"], true
			} else {
				return nil, fmt.Errorf("no assignee named %q (add it, or a default, under helpscout.assignees)", target)
			}
		} else {
			id = n
		}
	}
	return map[string]any{"op": "replace", "path": "/assignTo", "value": id}, nil
}

// Send implements outbox.Sink.
func (s *AssignSink) Send(ctx context.Context, a ticket.Action) error {
	h := s.h
	p, conv, err := decodePayload(ticket.KindHelpScoutAssign, a)
	if err != nil {
		return err
	}
	op, err := h.resolve(a.Target, p.Ticket.PrimaryCategory)
	if err != nil {
		return outbox.Permanent(fmt.Errorf("helpscout.assign: %w", err))
	}
	if _, err := h.call(ctx, http.MethodPatch, "conversations/"+strconv.Itoa(conv), op, nil); err != nil {
		return gone(ticket.KindHelpScoutAssign, conv, err)
	}
	return nil
}
