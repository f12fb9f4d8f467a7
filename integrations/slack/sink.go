package slack

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	slackapi "github.com/slack-go/slack"

	"github.com/triage-bot/triage/outbox"
	"github.com/triage-bot/triage/redact"
	"github.com/triage-bot/triage/route"
	"github.com/triage-bot/triage/ticket"
)

// metaEvent is the metadata event_type of every message the bot posts;
// its payload carries the action key and the customer message it is
// about, so a repeat finds the earlier post.
const metaEvent = "triage_action"

// permanentErrors are Slack errors that retrying cannot fix, with what
// to do about them.
var permanentErrors = map[string]string{
	"channel_not_found":   "the channel does not exist or the bot cannot see it (invite the app, or fix the channel ID)",
	"not_in_channel":      "the bot is not a member of the channel (invite it with /invite @triage)",
	"invalid_auth":        "the bot token is not valid (check slack.bot_token)",
	"account_inactive":    "the bot token belongs to a deleted user or a removed app (reinstall the app)",
	"token_revoked":       "the bot token was revoked (reinstall the app)",
	"not_authed":          "no bot token was sent (check slack.bot_token)",
	"missing_scope":       "the app lacks a scope (recreate it from deploy/slack/manifest.yaml)",
	"is_archived":         "the channel is archived",
	"msg_too_long":        "the message is too long",
	"invalid_blocks":      "Slack rejected the message's blocks",
	"restricted_action":   "a workspace setting forbids the bot to post there",
	"message_not_found":   "the message is gone",
	"cant_update_message": "the bot may only update its own messages",
}

// classify turns a Slack error into an outbox error: rate limits wait as
// asked, permanent errors park the action, anything else is retried.
func classify(method string, err error) error {
	if err == nil {
		return nil
	}
	var rl *slackapi.RateLimitedError
	if errors.As(err, &rl) {
		return outbox.RetryAfter(fmt.Errorf("slack: %s: rate limited, retry after %s", method, rl.RetryAfter), max(rl.RetryAfter, time.Second))
	}
	var se slackapi.SlackErrorResponse
	if errors.As(err, &se) {
		if se.Err == "ratelimited" {
			return outbox.RetryAfter(fmt.Errorf("slack: %s: rate limited", method), time.Second)
		}
		if hint, ok := permanentErrors[se.Err]; ok {
			return outbox.Permanent(fmt.Errorf("slack: %s: %s: %s", method, se.Err, hint))
		}
	}
	return fmt.Errorf("slack: %s: %w", method, err)
}

func decodePayload(a ticket.Action) (route.Payload, error) {
	var p route.Payload
	if err := json.Unmarshal(a.Payload, &p); err != nil {
		return p, outbox.Permanent(fmt.Errorf("slack: action %d: payload is not a route payload: %w", a.ID, err))
	}
	return p, nil
}

// actionMeta is the metadata payload of the bot's messages.
func actionMeta(key, channel, ts string) slackapi.SlackMetadata {
	return slackapi.SlackMetadata{EventType: metaEvent, EventPayload: map[string]any{"key": key, "message": channel + "/" + ts}}
}

func metaOf(m slackapi.Message) (key, about string) {
	if m.Metadata.EventType != metaEvent {
		return "", ""
	}
	k, _ := m.Metadata.EventPayload["key"].(string)
	a, _ := m.Metadata.EventPayload["message"].(string)
	return k, a
}

// ReplySink carries out slack.reply: a Block Kit reply in the customer
// message's thread. Idempotent per action key: before posting it reads
// the thread and skips a reply carrying the key. An edited message's
// action updates the earlier reply (chat.update) instead of posting.
//
// One message has one reply: the actions about one message (its own and
// its edits') run one at a time in a process, so whichever runs later
// finds the earlier one's reply; the message's own action then leaves it
// be, an edit's updates it.
type ReplySink struct{ b *Bot }

// ReplySink returns the slack.reply sink.
func (b *Bot) ReplySink() *ReplySink { return &ReplySink{b} }

// Send implements outbox.Sink.
func (s *ReplySink) Send(ctx context.Context, a ticket.Action) error {
	b := s.b
	p, err := decodePayload(a)
	if err != nil {
		return err
	}
	channel, ts, err := parseTicketID(a.TicketID)
	if err != nil {
		return outbox.Permanent(fmt.Errorf("slack.reply: %w", err))
	}
	unlock, err := b.lockMessage(ctx, channel+"/"+ts)
	if err != nil {
		return fmt.Errorf("slack.reply: wait for the message's other actions: %w", err)
	}
	defer unlock()
	thread := ts
	if rec, err := b.st.Ticket(ctx, a.TicketID); err == nil && rec.Ticket.InReplyTo != "" {
		thread = rec.Ticket.InReplyTo
	}
	blocks := codeBlocks(p.Ticket.Codes, p.Ticket.Unknown, p.Ticket.AgentAPI, p.Ticket.MoreCodes)
	text := strings.TrimSpace(redact.String(p.Text))
	if text == "" {
		text = fallbackText(p.Ticket.Codes)
	}
	text = truncateRunes(text, maxText)
	opts := []slackapi.MsgOption{slackapi.MsgOptionText(text, false), slackapi.MsgOptionBlocks(blocks...),
		slackapi.MsgOptionMetadata(actionMeta(a.Key, channel, ts))}
	isEdit := strings.Contains(a.TicketID, "#edit-")
	// The cursor holds the reply's ts once posted, "sending" while a post
	// may be under way. Only then (a crash or lost answer) must the thread
	// be read; a first post needs no extra call.
	mark := replyCursor(channel, ts)
	state, err := b.st.Cursor(ctx, mark)
	if err != nil {
		return fmt.Errorf("slack.reply: read reply state: %w", err)
	}
	earlier := ""
	switch {
	case state != "" && state != sending:
		earlier = state
	case state == sending || isEdit:
		found, done, err := s.search(ctx, channel, thread, ts, a.Key)
		if err != nil || done {
			return err
		}
		earlier = found
	}
	if earlier != "" {
		if !isEdit {
			return nil // this message already has its reply
		}
		if _, _, _, err := b.api.UpdateMessageContext(ctx, channel, earlier, opts...); err != nil {
			return classify("chat.update", err)
		}
		b.log.Info("slack: reply updated after an edit", "ticket_id", a.TicketID, "action_id", a.ID)
		return nil
	}
	if err := b.st.SetCursor(ctx, mark, sending); err != nil {
		return fmt.Errorf("slack.reply: record reply state: %w", err)
	}
	_, replyTS, err := b.api.PostMessageContext(ctx, channel, append(opts, slackapi.MsgOptionTS(thread))...)
	if err != nil {
		return classify("chat.postMessage", err)
	}
	if err := b.st.SetCursor(ctx, mark, replyTS); err != nil {
		b.log.Warn("slack: remember reply", "ticket_id", a.TicketID, "err", err)
	}
	return nil
}

// sending marks a reply that may have been posted without being recorded.
const sending = "sending"

func replyCursor(channel, ts string) string { return "slack-reply:" + channel + "/" + ts }

// search reads the thread for the bot's reply about channel/ts: done is
// true when a reply carries key (the action took effect before);
// otherwise found is the ts of another reply about the message, if any.
func (s *ReplySink) search(ctx context.Context, channel, thread, ts, key string) (found string, done bool, err error) {
	cursor := ""
	for range 10 {
		msgs, more, next, err := s.b.api.GetConversationRepliesContext(ctx, &slackapi.GetConversationRepliesParameters{
			ChannelID: channel, Timestamp: thread, Cursor: cursor, Limit: 200, IncludeAllMetadata: true})
		if err != nil {
			return "", false, classify("conversations.replies", err)
		}
		for _, m := range msgs {
			k, about := metaOf(m)
			if k == key {
				_ = s.b.st.SetCursor(ctx, replyCursor(channel, ts), m.Timestamp)
				return "", true, nil
			}
			if about == channel+"/"+ts {
				found = m.Timestamp
			}
		}
		if !more || next == "" {
			break
		}
		cursor = next
	}
	return found, false, nil
}

// pick resolves a category-keyed target: an explicit category, or "auto"
// for the ticket's primary category, falling back to "default".
func pick(m map[string]string, target, primary string) (string, bool) {
	if v, ok := m[target]; ok {
		return v, true
	}
	if target == "auto" || target == "" {
		if v, ok := m[primary]; ok && primary != "" {
			return v, true
		}
		if v, ok := m["default"]; ok {
			return v, true
		}
		return "", false
	}
	return target, true
}

// PostSink carries out slack.post: a message in the category's triage
// channel naming the customer's channel, a permalink, the codes and
// their categories. Idempotent per action key (looked for in the
// channel's recent history when the target is a channel ID).
//
// A triage channel holds one post per customer message: an edit's
// action updates the earlier post (chat.update) instead of posting
// again, and the message's own action, should it run after its edit's,
// finds the post there and leaves it be. The post is remembered per
// message and channel; without that record the channel's recent history
// is searched for it.
type PostSink struct{ b *Bot }

// PostSink returns the slack.post sink.
func (b *Bot) PostSink() *PostSink { return &PostSink{b} }

// Send implements outbox.Sink.
func (s *PostSink) Send(ctx context.Context, a ticket.Action) error {
	b := s.b
	p, err := decodePayload(a)
	if err != nil {
		return err
	}
	target, ok := pick(b.cfg.TriageChannels, strings.TrimPrefix(a.Target, "#"), p.Ticket.PrimaryCategory)
	if !ok {
		return outbox.Permanent(fmt.Errorf("slack.post: no triage channel for %q (set slack.triage_channels.%s or .default)", a.Target, p.Ticket.PrimaryCategory))
	}
	if strings.HasPrefix(a.Target, "#") && target == strings.TrimPrefix(a.Target, "#") {
		target = a.Target
	}
	channel, ts, idErr := parseTicketID(a.TicketID)
	if idErr == nil {
		unlock, err := b.lockMessage(ctx, channel+"/"+ts)
		if err != nil {
			return fmt.Errorf("slack.post: wait for the message's other actions: %w", err)
		}
		defer unlock()
	}
	isEdit := strings.Contains(a.TicketID, "#edit-")
	mark := postCursor(target, channel, ts)
	earlier, err := b.st.Cursor(ctx, mark)
	if err != nil {
		return fmt.Errorf("slack.post: read post state: %w", err)
	}
	earlierCh, earlierTS, _ := strings.Cut(earlier, " ")
	if earlier == "" && !strings.HasPrefix(target, "#") {
		hist, err := b.api.GetConversationHistoryContext(ctx, &slackapi.GetConversationHistoryParameters{ChannelID: target, Limit: 200, IncludeAllMetadata: true})
		if err != nil {
			return classify("conversations.history", err)
		}
		for _, m := range hist.Messages {
			key, about := metaOf(m)
			if key == a.Key {
				return nil
			}
			if idErr == nil && about == channel+"/"+ts && earlierTS == "" {
				earlierCh, earlierTS = target, m.Timestamp // newest first
			}
		}
	}
	if earlierTS != "" && !isEdit {
		return nil // this message is in the channel already
	}
	var blocks []slackapi.Block
	section := func(text string) {
		blocks = append(blocks, slackapi.NewSectionBlock(slackapi.NewTextBlockObject(slackapi.MarkdownType, truncateRunes(text, 2900), false, false), nil, nil))
	}
	var lines []string
	if idErr == nil {
		head := fmt.Sprintf("*New ticket in <#%s>*", channel)
		if link, err := b.api.GetPermalinkContext(ctx, &slackapi.PermalinkParameters{Channel: channel, Ts: ts}); err == nil {
			head += fmt.Sprintf(" · <%s|view message>", link)
		} else if c := classify("chat.getPermalink", err); !outbox.IsPermanent(c) {
			return c
		}
		if p.Ticket.From != "" {
			head += fmt.Sprintf(" from <@%s>", p.Ticket.From)
		}
		lines = append(lines, head)
		section(head)
	}
	// The rule's text (its template, or the default listing the codes).
	body := strings.TrimSpace(redact.String(p.Text))
	if body == "" {
		var cl []string
		for _, c := range p.Ticket.Codes {
			cl = append(cl, fmt.Sprintf("• <%s|%s> — %s", c.DocsURL, c.Name, escape(c.Summary)))
		}
		if len(cl) == 0 {
			cl = append(cl, "No ngrok error code found.")
		}
		body = strings.Join(cl, "\n")
	}
	lines = append(lines, body)
	section(body)
	if len(p.Ticket.Codes) > 0 {
		var cc []string
		for _, c := range p.Ticket.Codes {
			mark := ""
			switch {
			case c.Inferred && c.QuotedOnly:
				mark = " (inferred, quoted)"
			case c.Inferred:
				mark = " (inferred)"
			case c.QuotedOnly:
				mark = " (quoted)"
			}
			cc = append(cc, fmt.Sprintf("%s `%s`%s", c.Name, c.Category, mark))
		}
		if p.Ticket.MoreCodes > 0 {
			cc = append(cc, fmt.Sprintf("and %d more", p.Ticket.MoreCodes))
		}
		blocks = append(blocks, slackapi.NewContextBlock("codes", slackapi.NewTextBlockObject(slackapi.MarkdownType, truncateRunes("Codes: "+strings.Join(cc, ", "), 1900), false, false)))
	}
	if ex := strings.TrimSpace(redact.String(p.Ticket.Excerpt)); ex != "" {
		blocks = append(blocks, slackapi.NewContextBlock("excerpt", slackapi.NewTextBlockObject(slackapi.MarkdownType,
			truncateRunes("> "+strings.ReplaceAll(escape(ex), "\n", "\n> "), 1900), false, false)))
	}
	text := redact.String(strings.Join(lines, "\n"))
	opts := []slackapi.MsgOption{slackapi.MsgOptionText(truncateRunes(text, 3000), false), slackapi.MsgOptionBlocks(blocks...),
		slackapi.MsgOptionMetadata(actionMeta(a.Key, channel, ts))}
	if earlierTS != "" {
		if _, _, _, err := b.api.UpdateMessageContext(ctx, earlierCh, earlierTS, opts...); err != nil {
			return classify("chat.update", err)
		}
		b.log.Info("slack: triage post updated after an edit", "ticket_id", a.TicketID, "action_id", a.ID)
		return nil
	}
	postedCh, postTS, err := b.api.PostMessageContext(ctx, target, opts...)
	if err != nil {
		return classify("chat.postMessage", err)
	}
	if idErr == nil {
		if err := b.st.SetCursor(ctx, mark, postedCh+" "+postTS); err != nil {
			b.log.Warn("slack: remember triage post", "ticket_id", a.TicketID, "err", err)
		}
	}
	return nil
}

// postCursor names the cursor that holds "<channel ID> <ts>" of the
// triage post in target about the customer message channel/ts.
func postCursor(target, channel, ts string) string {
	return "slack-post:" + target + ":" + channel + "/" + ts
}

// ReactSink carries out slack.react: an emoji on the customer's message,
// chosen per category. Adding it twice is a success, and an edit whose
// category has the same emoji does not ask Slack again: each emoji is
// added once per message (remembered in a cursor).
type ReactSink struct{ b *Bot }

// ReactSink returns the slack.react sink.
func (b *Bot) ReactSink() *ReactSink { return &ReactSink{b} }

// Send implements outbox.Sink.
func (s *ReactSink) Send(ctx context.Context, a ticket.Action) error {
	b := s.b
	p, err := decodePayload(a)
	if err != nil {
		return err
	}
	channel, ts, err := parseTicketID(a.TicketID)
	if err != nil {
		return outbox.Permanent(fmt.Errorf("slack.react: %w", err))
	}
	name, ok := pick(b.cfg.Emoji, strings.Trim(a.Target, ":"), p.Ticket.PrimaryCategory)
	if !ok {
		return outbox.Permanent(fmt.Errorf("slack.react: no emoji for %q (set slack.emoji.%s or .default)", a.Target, p.Ticket.PrimaryCategory))
	}
	unlock, err := b.lockMessage(ctx, channel+"/"+ts)
	if err != nil {
		return fmt.Errorf("slack.react: wait for the message's other actions: %w", err)
	}
	defer unlock()
	mark := reactCursor(channel, ts, name)
	if done, err := b.st.Cursor(ctx, mark); err != nil {
		return fmt.Errorf("slack.react: read reaction state: %w", err)
	} else if done != "" {
		return nil // an edit in the same category: the emoji is there
	}
	err = b.api.AddReactionContext(ctx, name, slackapi.NewRefToMessage(channel, ts))
	var se slackapi.SlackErrorResponse
	if err != nil && !(errors.As(err, &se) && se.Err == "already_reacted") {
		return classify("reactions.add", err)
	}
	if err := b.st.SetCursor(ctx, mark, "1"); err != nil {
		b.log.Warn("slack: remember reaction", "ticket_id", a.TicketID, "err", err)
	}
	return nil
}

// reactCursor names the cursor set once emoji name is on channel/ts.
func reactCursor(channel, ts, name string) string {
	return "slack-react:" + channel + "/" + ts + ":" + name
}
