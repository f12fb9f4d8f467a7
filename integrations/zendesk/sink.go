package zendesk

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"unicode"

	"github.com/triage-bot/triage/outbox"
	"github.com/triage-bot/triage/redact"
	"github.com/triage-bot/triage/route"
	"github.com/triage-bot/triage/ticket"
)

// markerPrefix starts the last line of every note the bot writes; the
// action key follows, so a repeat finds the earlier note.
const markerPrefix = "triage-action:"

// maxNoteRunes keeps a note below Zendesk's comment size limit.
const maxNoteRunes = 30000

// maxTags caps the tags one action adds.
const maxTags = 20

// searchPages caps how many pages of 100 comments a note search reads,
// newest first.
const searchPages = 10

func decodePayload(kind string, a ticket.Action) (route.Payload, int64, error) {
	var p route.Payload
	if err := json.Unmarshal(a.Payload, &p); err != nil {
		return p, 0, outbox.Permanent(fmt.Errorf("%s: action %d: payload is not a route payload: %w", kind, a.ID, err))
	}
	n, err := parseTicketID(a.TicketID)
	if err != nil {
		return p, 0, outbox.Permanent(fmt.Errorf("%s: %w", kind, err))
	}
	return p, n, nil
}

// NoteSink carries out zendesk.note: an internal note (a private
// comment) on the ticket. Idempotent per action key: the note's last
// line is "triage-action:<key>", and before writing the sink reads the
// ticket's comments, newest first, for it.
type NoteSink struct{ a *Account }

// NoteSink returns the zendesk.note sink.
func (a *Account) NoteSink() *NoteSink { return &NoteSink{a} }

// Send implements outbox.Sink.
func (s *NoteSink) Send(ctx context.Context, act ticket.Action) error {
	p, n, err := decodePayload(ticket.KindZendeskNote, act)
	if err != nil {
		return err
	}
	marker := markerPrefix + act.Key
	done := false
	err = s.a.api.comments(ctx, n, true, searchPages, func(page commentPage) bool {
		for _, c := range page.Comments {
			if !c.Public && strings.Contains(c.Body, marker) {
				done = true
				return false
			}
		}
		return true
	})
	if err != nil {
		return classify(fmt.Errorf("zendesk.note: look for an earlier note on ticket %d: %w", n, err))
	}
	if done {
		s.a.log.Info("zendesk: note already on the ticket", "ticket_id", act.TicketID, "action_id", act.ID)
		return nil
	}
	text := strings.TrimSpace(redact.String(p.Text))
	if text == "" {
		text = "triage: no ngrok error code found."
	}
	body := truncateRunes(text, maxNoteRunes) + "\n\n" + marker
	if err := s.a.api.addNote(ctx, n, body); err != nil {
		return classify(fmt.Errorf("zendesk.note: ticket %d: %w", n, err))
	}
	return nil
}

// TagSink carries out zendesk.tag: tags added to the ticket, keeping
// its others. The target is a space-separated list; empty, "default" or
// "auto" means ngrok-err-<n> for each code written or inferred in the
// new text and triage-<category>. Adding a tag twice changes nothing.
type TagSink struct{ a *Account }

// TagSink returns the zendesk.tag sink.
func (a *Account) TagSink() *TagSink { return &TagSink{a} }

// Send implements outbox.Sink.
func (s *TagSink) Send(ctx context.Context, act ticket.Action) error {
	p, n, err := decodePayload(ticket.KindZendeskTag, act)
	if err != nil {
		return err
	}
	tags := Tags(act.Target, p.Ticket)
	if len(tags) == 0 {
		s.a.log.Info("zendesk: no tags to add", "ticket_id", act.TicketID, "action_id", act.ID)
		return nil
	}
	if _, err := s.a.api.addTags(ctx, n, tags); err != nil {
		return classify(fmt.Errorf("zendesk.tag: ticket %d: %w", n, err))
	}
	return nil
}

// Tags returns the tags a zendesk.tag action with target adds: the
// target's words made valid Zendesk tags (lower case; letters, digits,
// and - _ / : kept, anything else becomes _), or for an empty, "default"
// or "auto" target the default tags of tv. At most 20, without repeats.
func Tags(target string, tv route.TicketView) []string {
	var raw []string
	switch strings.TrimSpace(target) {
	case "", "default", "auto":
		for _, c := range tv.Codes {
			if !c.QuotedOnly {
				raw = append(raw, "ngrok-err-"+strconv.Itoa(c.Code))
			}
		}
		if tv.PrimaryCategory != "" {
			raw = append(raw, "triage-"+tv.PrimaryCategory)
		}
	default:
		raw = strings.Fields(target)
	}
	var out []string
	for _, t := range raw {
		t = strings.Map(func(r rune) rune {
			r = unicode.ToLower(r)
			if unicode.IsLetter(r) || unicode.IsDigit(r) || strings.ContainsRune("-_/:", r) {
				return r
			}
			return '_'
		}, redact.String(t))
		t = strings.Trim(t, "_")
		if t != "" && !slices.Contains(out, t) && len(out) < maxTags {
			out = append(out, truncateRunes(t, 80))
		}
	}
	return out
}

// AssignSink carries out zendesk.assign: the ticket's group. The target
// is a group ID, a group name, or a key of zendesk.groups (a category or
// a name) mapping to either; empty or "auto" means the ticket's primary
// category, then "default". Setting the group it has changes nothing.
type AssignSink struct{ a *Account }

// AssignSink returns the zendesk.assign sink.
func (a *Account) AssignSink() *AssignSink { return &AssignSink{a} }

// Send implements outbox.Sink.
func (s *AssignSink) Send(ctx context.Context, act ticket.Action) error {
	p, n, err := decodePayload(ticket.KindZendeskAssign, act)
	if err != nil {
		return err
	}
	group, err := s.a.resolveGroup(ctx, act.Target, p.Ticket.PrimaryCategory)
	if err != nil {
		return classify(fmt.Errorf("zendesk.assign: ticket %d: %w", n, err))
	}
	if err := s.a.api.setGroup(ctx, n, group); err != nil {
		return classify(fmt.Errorf("zendesk.assign: ticket %d: %w", n, err))
	}
	return nil
}

// errNoGroup is a target that names no group; retrying cannot help.
type errNoGroup struct{ msg string }

func (e errNoGroup) Error() string { return e.msg }

// resolveGroup turns an assign target into a group ID.
func (a *Account) resolveGroup(ctx context.Context, target, primary string) (int64, error) {
	target = strings.TrimSpace(target)
	name := target
	if v, ok := a.cfg.Groups[target]; ok && target != "" {
		name = v
	} else if target == "" || target == "auto" {
		if v, ok := a.cfg.Groups[primary]; ok && primary != "" {
			name = v
		} else if v, ok := a.cfg.Groups["default"]; ok {
			name = v
		} else {
			return 0, outbox.Permanent(errNoGroup{fmt.Sprintf("no group for category %q (set zendesk.groups.%s or zendesk.groups.default)", primary, primary)})
		}
	}
	if id, err := strconv.ParseInt(name, 10, 64); err == nil && id > 0 {
		return id, nil
	}
	id, found, err := a.groupID(ctx, name, false)
	if err == nil && !found {
		// A group created since the list was read.
		id, found, err = a.groupID(ctx, name, true)
	}
	if err != nil {
		return 0, err
	}
	if !found {
		return 0, outbox.Permanent(errNoGroup{fmt.Sprintf("no group named %q in Zendesk (create it, or fix zendesk.groups)", name)})
	}
	return id, nil
}

// groupID looks a group name up in the account's group list, read once
// (again when refresh).
func (a *Account) groupID(ctx context.Context, name string, refresh bool) (int64, bool, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.groups == nil || refresh {
		gs, err := a.api.groups(ctx)
		if err != nil {
			return 0, false, fmt.Errorf("list groups: %w", err)
		}
		a.groups = map[string]int64{}
		for _, g := range gs {
			a.groups[strings.ToLower(g.Name)] = g.ID
		}
	}
	id, ok := a.groups[strings.ToLower(name)]
	return id, ok, nil
}

func truncateRunes(s string, n int) string {
	if len([]rune(s)) <= n {
		return s
	}
	return string([]rune(s)[:n-1]) + "…"
}
