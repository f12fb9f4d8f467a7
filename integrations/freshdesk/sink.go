package freshdesk

import (
	"context"
	"encoding/json"
	"fmt"
	"html"
	"slices"
	"strconv"
	"strings"

	"github.com/triage-bot/triage/outbox"
	"github.com/triage-bot/triage/redact"
	"github.com/triage-bot/triage/route"
	"github.com/triage-bot/triage/ticket"
)

// MarkerPrefix starts the line of a note that carries its action key.
const MarkerPrefix = "triage-action:"

func decodePayload(kind string, a ticket.Action) (route.Payload, int64, error) {
	var p route.Payload
	if err := json.Unmarshal(a.Payload, &p); err != nil {
		return p, 0, outbox.Permanent(fmt.Errorf("%s: action %d: payload is not a route payload: %w", kind, a.ID, err))
	}
	id, err := ParseTicketID(a.TicketID)
	if err != nil {
		return p, 0, outbox.Permanent(fmt.Errorf("%s: %w", kind, err))
	}
	return p, id, nil
}

// NoteSink carries out freshdesk.note: a private note on the ticket
// naming each code with its meaning, docs link, first hint and how sure
// the bot is. Idempotent per action key: the note carries
// "triage-action:<key>"; when an earlier attempt may have posted it
// (recorded in the cursor table before posting), the ticket's notes are
// read first and a note with the key ends the action.
type NoteSink struct{ d *Desk }

// NoteSink returns the freshdesk.note sink.
func (d *Desk) NoteSink() *NoteSink { return &NoteSink{d} }

// sending marks a note that may have been posted without being recorded.
const sending = "sending"

func noteCursor(key string) string { return "freshdesk-note:" + key }

// Send implements outbox.Sink.
func (s *NoteSink) Send(ctx context.Context, a ticket.Action) error {
	d := s.d
	p, id, err := decodePayload("freshdesk.note", a)
	if err != nil {
		return err
	}
	search := d.st == nil
	if d.st != nil {
		state, err := d.st.Cursor(ctx, noteCursor(a.Key))
		if err != nil {
			return fmt.Errorf("freshdesk.note: read note state: %w", err)
		}
		switch state {
		case "":
		case sending:
			search = true
		default:
			return nil // posted and recorded before
		}
	}
	if search {
		convs, err := d.Conversations(ctx, id)
		if err != nil {
			return classify(err)
		}
		for _, c := range convs {
			if c.Private && (strings.Contains(c.BodyText, MarkerPrefix+a.Key) || strings.Contains(c.Body, MarkerPrefix+a.Key)) {
				d.remember(ctx, a.Key, c.ID)
				return nil
			}
		}
	}
	if d.st != nil {
		if err := d.st.SetCursor(ctx, noteCursor(a.Key), sending); err != nil {
			return fmt.Errorf("freshdesk.note: record note state: %w", err)
		}
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	var note Conversation
	path := "tickets/" + strconv.FormatInt(id, 10) + "/notes"
	if _, err := d.call(ctx, "POST", path, map[string]any{"body": NoteHTML(p, a.Key), "private": true}, &note); err != nil {
		return classify(err)
	}
	d.remember(ctx, a.Key, note.ID)
	d.log.Info("freshdesk: note added", "ticket_id", a.TicketID, "action_id", a.ID)
	return nil
}

func (d *Desk) remember(ctx context.Context, key string, noteID int64) {
	if d.st == nil {
		return
	}
	if err := d.st.SetCursor(ctx, noteCursor(key), "note:"+strconv.FormatInt(noteID, 10)); err != nil {
		d.log.Warn("freshdesk: remember note", "err", err)
	}
}

// NoteHTML renders a note's HTML body from the payload's ticket view
// (its rendered text is not used): for each code its name, how sure the bot is,
// its meaning, docs link and first hint; agent API numbers apart; and the
// line carrying the action key. Every piece of text is redacted and
// escaped.
func NoteHTML(p route.Payload, key string) string {
	esc := func(s string) string { return html.EscapeString(redact.String(s)) }
	var b strings.Builder
	tv := p.Ticket
	if len(tv.Codes) == 0 && len(tv.AgentAPI) == 0 {
		b.WriteString("<p><b>triage</b>: no ngrok error code found in this message.</p>\n")
	} else if len(tv.Codes) > 0 {
		b.WriteString("<p><b>triage</b>: ngrok error codes in this message</p>\n<ul>\n")
		for _, c := range tv.Codes {
			b.WriteString("<li><b>" + esc(c.Name) + "</b> — " + esc(sureness(c)))
			if c.Summary != "" {
				label := "Meaning"
				if !c.Known {
					label = "Not in the catalog yet"
				}
				b.WriteString("<br>" + label + ": " + esc(c.Summary))
			}
			if c.DocsURL != "" {
				b.WriteString(`<br>Docs: <a href="` + esc(c.DocsURL) + `">` + esc(c.DocsURL) + "</a>")
			}
			if c.Hint != "" {
				b.WriteString("<br>First hint: " + esc(c.Hint))
			}
			b.WriteString("</li>\n")
		}
		if tv.MoreCodes > 0 {
			fmt.Fprintf(&b, "<li>and %d more (the triage dashboard lists them all)</li>\n", tv.MoreCodes)
		}
		b.WriteString("</ul>\n")
	}
	if len(tv.AgentAPI) > 0 {
		b.WriteString("<p>Numbers from the ngrok agent's local API (its own numbering, not ngrok error codes):</p>\n<ul>\n")
		for _, n := range tv.AgentAPI {
			b.WriteString("<li><b>" + esc(n.Name) + "</b>: " + esc(n.Summary))
			if n.Hint != "" {
				b.WriteString("<br>First hint: " + esc(n.Hint))
			}
			if n.QuotedOnly {
				b.WriteString("<br>Only in quoted history.")
			}
			b.WriteString("</li>\n")
		}
		if tv.MoreAgentAPI > 0 {
			fmt.Fprintf(&b, "<li>and %d more</li>\n", tv.MoreAgentAPI)
		}
		b.WriteString("</ul>\n")
	}
	b.WriteString(`<p style="color:#999999;font-size:11px">` + MarkerPrefix + esc(key) + "</p>")
	return b.String()
}

// sureness says how the code was found: written in full, written
// loosely, or only inferred from the wording; and whether only in
// quoted history.
func sureness(c route.CodeView) string {
	var s string
	switch {
	case c.Inferred && c.Phrase != "":
		s = fmt.Sprintf("looks like this code (inferred from the words %q; the customer did not write it)", c.Phrase)
	case c.Inferred:
		s = "looks like this code (inferred from the wording; the customer did not write it)"
	case c.Form == "canonical" || c.Confidence >= 1:
		s = "written in the message"
	default:
		form := c.Form
		if form == "" {
			form = "a loose form"
		}
		s = fmt.Sprintf("written loosely (%s), confidence %.1f", form, c.Confidence)
	}
	if c.QuotedOnly {
		s += "; only in quoted history, not what the customer reports now"
	}
	return s
}

// TagSink carries out freshdesk.tag: it adds tags to the ticket. The
// target is a space-separated list; empty means the default tags,
// ngrok-err-<n> for each code the customer wrote or that the wording
// names (not those only in quoted history) and triage-<category>.
// Freshdesk replaces a ticket's tags on update, so the sink reads them,
// adds the missing ones and writes the union; when none is missing it
// writes nothing (idempotent).
type TagSink struct{ d *Desk }

// TagSink returns the freshdesk.tag sink.
func (d *Desk) TagSink() *TagSink { return &TagSink{d} }

// DefaultTags returns the tags an empty freshdesk.tag target adds.
func DefaultTags(tv route.TicketView) []string {
	var tags []string
	for _, c := range tv.Codes {
		if !c.QuotedOnly {
			tags = append(tags, "ngrok-err-"+strconv.Itoa(c.Code))
		}
	}
	if tv.PrimaryCategory != "" {
		tags = append(tags, "triage-"+tv.PrimaryCategory)
	}
	return tags
}

// Send implements outbox.Sink.
func (s *TagSink) Send(ctx context.Context, a ticket.Action) error {
	d := s.d
	p, id, err := decodePayload("freshdesk.tag", a)
	if err != nil {
		return err
	}
	want := strings.Fields(a.Target)
	if len(want) == 0 || len(want) == 1 && want[0] == "default" {
		want = DefaultTags(p.Ticket)
	}
	if len(want) == 0 {
		return nil
	}
	ft, err := d.GetTicket(ctx, id)
	if err != nil {
		return classify(err)
	}
	tags := slices.Clone(ft.Tags)
	have := map[string]bool{}
	for _, t := range ft.Tags {
		have[strings.ToLower(t)] = true
	}
	for _, t := range want {
		if !have[strings.ToLower(t)] {
			have[strings.ToLower(t)] = true
			tags = append(tags, t)
		}
	}
	if len(tags) == len(ft.Tags) {
		return nil
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if _, err := d.call(ctx, "PUT", "tickets/"+strconv.FormatInt(id, 10), map[string]any{"tags": tags}, nil); err != nil {
		return classify(err)
	}
	return nil
}

// AssignSink carries out freshdesk.assign: it sets the ticket's group.
// The target is a category (or "auto" for the ticket's primary category)
// looked up in the config's groups, or a group name or numeric ID. A
// ticket already in the group is left alone (idempotent).
type AssignSink struct{ d *Desk }

// AssignSink returns the freshdesk.assign sink.
func (d *Desk) AssignSink() *AssignSink { return &AssignSink{d} }

// pickGroup resolves an assign target through the groups map.
func pickGroup(groups map[string]string, target, primary string) (string, bool) {
	if v, ok := groups[target]; ok {
		return v, true
	}
	if target == "auto" || target == "" {
		if v, ok := groups[primary]; ok && primary != "" {
			return v, true
		}
		v, ok := groups["default"]
		return v, ok
	}
	return target, true
}

// Send implements outbox.Sink.
func (s *AssignSink) Send(ctx context.Context, a ticket.Action) error {
	d := s.d
	p, id, err := decodePayload("freshdesk.assign", a)
	if err != nil {
		return err
	}
	name, ok := pickGroup(d.cfg.Groups, strings.TrimSpace(a.Target), p.Ticket.PrimaryCategory)
	if !ok {
		return outbox.Permanent(fmt.Errorf("freshdesk.assign: no group for %q (set freshdesk.groups.%s or .default)", a.Target, p.Ticket.PrimaryCategory))
	}
	gid, err := d.groupID(ctx, name)
	if err != nil {
		return classify(err)
	}
	ft, err := d.GetTicket(ctx, id)
	if err != nil {
		return classify(err)
	}
	if ft.GroupID != nil && *ft.GroupID == gid {
		return nil
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if _, err := d.call(ctx, "PUT", "tickets/"+strconv.FormatInt(id, 10), map[string]any{"group_id": gid}, nil); err != nil {
		return classify(err)
	}
	return nil
}
