package front

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/triage-bot/triage/outbox"
	"github.com/triage-bot/triage/redact"
	"github.com/triage-bot/triage/route"
	"github.com/triage-bot/triage/ticket"
)

// MarkerPrefix starts the last line of every comment the bot posts,
// followed by the action key: how a repeat finds the earlier comment.
const MarkerPrefix = "triage-action:"

// maxDefaultTags caps the ngrok-err-<n> tags one action adds when its
// target is empty.
const maxDefaultTags = 10

func decodePayload(kind string, a ticket.Action) (route.Payload, string, error) {
	var p route.Payload
	if err := json.Unmarshal(a.Payload, &p); err != nil {
		return p, "", outbox.Permanent(fmt.Errorf("%s: action %d: payload is not a route payload: %w", kind, a.ID, err))
	}
	cnv, _, err := parseTicketID(a.TicketID)
	if err != nil {
		return p, "", outbox.Permanent(fmt.Errorf("%s: %w", kind, err))
	}
	return p, cnv, nil
}

func cnvPath(cnv string) string { return "/conversations/" + url.PathEscape(cnv) }

// NoteSink carries out front.note: an internal comment on the ticket's
// conversation, the action's rendered text followed by a
// "triage-action:<key>" line. Idempotent per action key: the
// conversation's comments are read first and a comment carrying the key
// means done.
type NoteSink struct{ c *Client }

// NoteSink returns the front.note sink.
func (c *Client) NoteSink() *NoteSink { return &NoteSink{c} }

// Send implements outbox.Sink.
func (s *NoteSink) Send(ctx context.Context, a ticket.Action) error {
	c := s.c
	p, cnv, err := decodePayload(ticket.KindFrontNote, a)
	if err != nil {
		return err
	}
	marker := MarkerPrefix + a.Key
	found := false
	err = list(ctx, c, cnvPath(cnv)+"/comments", func(cm comment) bool {
		found = strings.Contains(cm.Body, marker)
		return !found
	})
	if err != nil {
		return classify(fmt.Errorf("front.note: look for an earlier note: %w", err))
	}
	if found {
		c.log.Info("front: note already posted", "action_id", a.ID, "ticket_id", a.TicketID)
		return nil
	}
	text := strings.TrimSpace(redact.String(p.Text))
	body := map[string]string{"body": text + "\n\n" + marker}
	if c.cfg.AuthorID != "" {
		body["author_id"] = c.cfg.AuthorID
	}
	if err := c.do(ctx, http.MethodPost, cnvPath(cnv)+"/comments", body, nil); err != nil {
		return classify(fmt.Errorf("front.note: %w", err))
	}
	return nil
}

// TagSink carries out front.tag: the target's tag names (separated by
// spaces), or when empty ngrok-err-<n> for each code written or inferred
// in the new text and triage-<category>. Missing tags are created. Tags
// the conversation has already are not added again, so a repeat does
// nothing.
type TagSink struct{ c *Client }

// TagSink returns the front.tag sink.
func (c *Client) TagSink() *TagSink { return &TagSink{c} }

// DefaultTags returns the tags of an empty front.tag target:
// ngrok-err-<n> per code not only quoted (at most 10), then
// triage-<primary category>.
func DefaultTags(tv route.TicketView) []string {
	var names []string
	for _, cv := range tv.Codes {
		if cv.QuotedOnly || len(names) == maxDefaultTags {
			continue
		}
		names = append(names, "ngrok-err-"+strconv.Itoa(cv.Code))
	}
	if tv.PrimaryCategory != "" {
		names = append(names, "triage-"+tv.PrimaryCategory)
	}
	return names
}

// Send implements outbox.Sink.
func (s *TagSink) Send(ctx context.Context, a ticket.Action) error {
	c := s.c
	p, cnv, err := decodePayload(ticket.KindFrontTag, a)
	if err != nil {
		return err
	}
	names := strings.Fields(redact.String(p.Target))
	if len(names) == 0 {
		names = DefaultTags(p.Ticket)
	}
	if len(names) == 0 {
		return nil
	}
	var cv conversation
	if err := c.do(ctx, http.MethodGet, cnvPath(cnv), nil, &cv); err != nil {
		return classify(fmt.Errorf("front.tag: %w", err))
	}
	var ids []string
	for _, n := range names {
		if slices.ContainsFunc(cv.Tags, func(t tag) bool { return strings.EqualFold(t.Name, n) }) {
			continue
		}
		id, err := c.tagID(ctx, n)
		if err != nil {
			return classify(fmt.Errorf("front.tag: tag %q: %w", n, err))
		}
		if !slices.Contains(ids, id) && !slices.ContainsFunc(cv.Tags, func(t tag) bool { return t.ID == id }) {
			ids = append(ids, id)
		}
	}
	if len(ids) == 0 {
		return nil
	}
	if err := c.do(ctx, http.MethodPost, cnvPath(cnv)+"/tags", map[string][]string{"tag_ids": ids}, nil); err != nil {
		return classify(fmt.Errorf("front.tag: %w", err))
	}
	return nil
}

// tagID returns the ID of the tag named name (case-insensitively),
// listing the company's tags once and creating the tag when missing.
func (c *Client) tagID(ctx context.Context, name string) (string, error) {
	key := strings.ToLower(name)
	c.mu.Lock()
	id, ok := c.tags[key]
	c.mu.Unlock()
	if ok {
		return id, nil
	}
	if err := c.loadTags(ctx); err != nil {
		return "", err
	}
	c.mu.Lock()
	id, ok = c.tags[key]
	c.mu.Unlock()
	if ok {
		return id, nil
	}
	var t tag
	if err := c.do(ctx, http.MethodPost, "/tags", map[string]string{"name": name}, &t); err != nil {
		return "", fmt.Errorf("create: %w", err)
	}
	if t.ID == "" {
		return "", fmt.Errorf("create: Front answered without the new tag's ID")
	}
	c.mu.Lock()
	c.tags[key] = t.ID
	c.mu.Unlock()
	return t.ID, nil
}

// loadTags (re)reads the company's tags into the cache.
func (c *Client) loadTags(ctx context.Context) error {
	m := map[string]string{}
	err := list(ctx, c, "/tags", func(t tag) bool {
		m[strings.ToLower(t.Name)] = t.ID
		return true
	})
	if err != nil {
		return err
	}
	c.mu.Lock()
	c.tags = m
	c.mu.Unlock()
	return nil
}

// AssignSink carries out front.assign: the target, a name from
// Config.Assignees (falling back to its "default" entry) or an ID,
// names a teammate (tea_…, alt:email:…) to assign or an inbox (inb_…) to
// move the conversation to. A conversation already assigned to that
// teammate, or already in that inbox, is left alone.
type AssignSink struct{ c *Client }

// AssignSink returns the front.assign sink.
func (c *Client) AssignSink() *AssignSink { return &AssignSink{c} }

// isInboxID and isTeammateID tell Front's ID kinds apart.
func isInboxID(id string) bool { return strings.HasPrefix(id, "inb_") }
func isTeammateID(id string) bool {
	return strings.HasPrefix(id, "tea_") || strings.HasPrefix(id, "alt:email:")
}

// Resolve returns the teammate or inbox ID a front.assign target names.
func (c *Client) Resolve(target string) (string, error) {
	target = strings.TrimSpace(target)
	if id, ok := c.cfg.Assignees[target]; ok {
		return id, nil
	}
	if isInboxID(target) || isTeammateID(target) {
		return target, nil
	}
	if id, ok := c.cfg.Assignees["default"]; ok {
		return id, nil
	}
	return "", fmt.Errorf("%q is neither a name in front.assignees nor a teammate (tea_…, alt:email:…) or inbox (inb_…) ID", target)
}

// Send implements outbox.Sink.
func (s *AssignSink) Send(ctx context.Context, a ticket.Action) error {
	c := s.c
	p, cnv, err := decodePayload(ticket.KindFrontAssign, a)
	if err != nil {
		return err
	}
	id, err := c.Resolve(p.Target)
	if err != nil {
		return outbox.Permanent(fmt.Errorf("front.assign: %w", err))
	}
	if isInboxID(id) {
		in := false
		err := list(ctx, c, cnvPath(cnv)+"/inboxes", func(ib inbox) bool {
			in = ib.ID == id
			return !in
		})
		if err != nil {
			return classify(fmt.Errorf("front.assign: %w", err))
		}
		if in {
			return nil
		}
		if err := c.do(ctx, http.MethodPatch, cnvPath(cnv), map[string]string{"inbox_id": id}, nil); err != nil {
			return classify(fmt.Errorf("front.assign: move to inbox %s: %w", id, err))
		}
		return nil
	}
	if !isTeammateID(id) {
		return outbox.Permanent(fmt.Errorf("front.assign: %q is not a teammate (tea_…, alt:email:…) or inbox (inb_…) ID", id))
	}
	var cv conversation
	if err := c.do(ctx, http.MethodGet, cnvPath(cnv), nil, &cv); err != nil {
		return classify(fmt.Errorf("front.assign: %w", err))
	}
	if as := cv.Assignee; as != nil && (as.ID == id || "alt:email:"+as.Email == id) {
		return nil
	}
	if err := c.do(ctx, http.MethodPut, cnvPath(cnv)+"/assignee", map[string]string{"assignee_id": id}, nil); err != nil {
		return classify(fmt.Errorf("front.assign: assign %s: %w", id, err))
	}
	return nil
}
