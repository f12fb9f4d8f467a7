package slack

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	slackapi "github.com/slack-go/slack"

	"github.com/triage-bot/triage/annotate"
	"github.com/triage-bot/triage/catalog"
	"github.com/triage-bot/triage/extract"
	"github.com/triage-bot/triage/redact"
	"github.com/triage-bot/triage/route"
	"github.com/triage-bot/triage/store"
	"github.com/triage-bot/triage/ticket"
)

// Slack's documented limits on one message: 50 blocks, 3,000 characters
// in a section's text, and a top-level text truncated past 40,000
// characters (4,000 recommended). Within those, one reply stays short
// however many codes a message names.
const (
	// maxCodeSections bounds the code and agent API sections of one
	// reply; the rest are counted in a closing context line.
	maxCodeSections = 10
	// maxBlocksChars bounds the text of all blocks of one reply (Slack
	// refuses some messages well below 50 full blocks with
	// msg_blocks_too_long).
	maxBlocksChars = 12000
	// maxText bounds a message's top-level text: Slack's recommended
	// length, a tenth of the 40,000 it truncates at.
	maxText = 4000
)

// codesIn finds codes in a command or mention text, in any written form:
// ERR_NGROK_108, err_ngrok_108, a docs URL, or a bare number.
func codesIn(text string) []int {
	var out []int
	seen := map[int]bool{}
	add := func(n int) {
		if !seen[n] {
			seen[n] = true
			out = append(out, n)
		}
	}
	for _, m := range extract.FindString(text) {
		add(m.Code)
	}
	for _, w := range strings.FieldsFunc(text, func(r rune) bool {
		return r == ' ' || r == ',' || r == '\n' || r == '\t' || r == '<' || r == '>' || r == '|'
	}) {
		if n, err := catalog.ParseCode(strings.Trim(w, "`*_.:;()?!\"'")); err == nil {
			add(n)
		}
	}
	return out
}

// codeViews looks codes up in the catalog.
func (b *Bot) codeViews(codes []int) (views []route.CodeView, unknown []int) {
	for _, n := range codes {
		e := b.cat.Lookup(n)
		views = append(views, route.CodeView{Code: n, Name: e.Name(), Summary: e.Summary, Category: string(e.Category),
			DocsURL: e.DocsURL(), Hint: e.Hint, Official: e.Official, Known: e.Known})
		if !e.Known {
			unknown = append(unknown, n)
		}
	}
	return views, unknown
}

// escape escapes text for mrkdwn.
func escape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}

// codeBlocks renders one section per known code and per agent API
// number, and a context line naming unknown codes. Only a code written in
// the new text is shown as the message's error (summary, category, hint,
// a Docs button); a code named only by the wording is offered as "looks
// like", with a request for the real code; a code written only in quoted
// history is marked as not reported now (one only inferred there is left
// out); an agent API number is explained as the agent API's own, never
// as an ngrok code.
//
// At most maxCodeSections sections and maxBlocksChars characters are
// shown; more counts the codes the payload already left out, and what is
// not shown is counted in a closing context line ("…and N more").
func codeBlocks(codes []route.CodeView, unknown []int, agent []route.AgentAPIView, more int) []slackapi.Block {
	var blocks []slackapi.Block
	var unknownNames []string
	chars, left := 0, more
	section := func(text string, accessory *slackapi.Accessory) {
		text = truncateRunes(text, 2900)
		if len(blocks) >= maxCodeSections || chars+len(text) > maxBlocksChars {
			left++
			return
		}
		chars += len(text)
		blocks = append(blocks, slackapi.NewSectionBlock(slackapi.NewTextBlockObject(slackapi.MarkdownType, text, false, false), nil, accessory))
	}
	codeSection := func(c route.CodeView) {
		if !c.Known {
			if len(unknownNames) < maxCodeSections {
				unknownNames = append(unknownNames, fmt.Sprintf("<%s|%s>", c.DocsURL, c.Name))
			} else {
				left++
			}
			return
		}
		var text string
		switch {
		case c.Inferred:
			text = fmt.Sprintf("*Looks like %s* — %s\n_Category:_ `%s`\n_No code is written in the message; the words “%s” name this error. If you saw an error code, please send it._",
				c.Name, escape(c.Summary), c.Category, escape(c.Phrase))
		case c.QuotedOnly:
			text = fmt.Sprintf("*%s* — %s\n_Category:_ `%s` _(only in quoted history: not taken as the error reported now)_", c.Name, escape(c.Summary), c.Category)
		default:
			text = fmt.Sprintf("*%s* — %s\n_Category:_ `%s`", c.Name, escape(c.Summary), c.Category)
		}
		if c.Hint != "" && !c.QuotedOnly {
			text += "\n_What to try:_ " + escape(c.Hint)
		}
		btn := slackapi.NewButtonBlockElement("docs-"+c.Name, c.Name, slackapi.NewTextBlockObject(slackapi.PlainTextType, "Docs", false, false))
		btn.URL = c.DocsURL
		section(text, slackapi.NewAccessory(btn))
	}
	// As the default reply text has it: codes in the new text (written,
	// then inferred), the agent API's numbers, then codes written only in
	// quoted history.
	for _, c := range codes {
		if !c.QuotedOnly {
			codeSection(c)
		}
	}
	for _, n := range agent {
		section(fmt.Sprintf("*Agent API error %d* — %s\n_A number of the ngrok agent's local API, not an ngrok error code._", n.Number, escape(n.Summary)), nil)
	}
	for _, c := range codes {
		if c.QuotedOnly && !c.Inferred { // a guess about old history helps nobody
			codeSection(c)
		}
	}
	listed := strings.Join(unknownNames, " ")
	for _, n := range unknown {
		name := extract.CodeString(n)
		if !strings.Contains(listed, "|"+name+">") && len(unknownNames) < maxCodeSections {
			unknownNames = append(unknownNames, fmt.Sprintf("<%s|%s>", catalog.DocsURL(n), name))
		}
	}
	if len(unknownNames) > 0 {
		blocks = append(blocks, slackapi.NewContextBlock("unknown", slackapi.NewTextBlockObject(slackapi.MarkdownType,
			truncateRunes("Not in our catalog yet: "+strings.Join(unknownNames, ", "), 2900), false, false)))
	}
	if left > 0 {
		blocks = append(blocks, slackapi.NewContextBlock("more", slackapi.NewTextBlockObject(slackapi.MarkdownType,
			fmt.Sprintf("…and %d more (the ticket lists them all)", left), false, false)))
	}
	if len(blocks) == 0 {
		section("No ngrok error code found in this message.", nil)
	}
	return blocks
}

func truncateRunes(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

// fallbackText is the notification text of a reply: the codes written
// in the message, else the one its wording names, as a question.
func fallbackText(codes []route.CodeView) string {
	var names []string
	looks := ""
	for _, c := range codes {
		switch {
		case !c.Inferred && !c.QuotedOnly:
			names = append(names, c.Name)
		case c.Inferred && !c.QuotedOnly && looks == "":
			looks = c.Name
		}
	}
	switch {
	case len(names) > 0:
		return "ngrok error codes: " + strings.Join(names, ", ")
	case looks != "":
		return "This looks like " + looks + "; if you saw an error code, please send it."
	}
	return "No ngrok error code found in this message."
}

// CommandResponse is the ephemeral answer to the slash command.
type CommandResponse struct {
	ResponseType string           `json:"response_type"`
	Text         string           `json:"text"`
	Blocks       []slackapi.Block `json:"blocks,omitempty"`
}

// Command answers "/ngrok-error CODE…" from the catalog.
func (b *Bot) Command(text string) CommandResponse {
	codes := codesIn(text)
	if len(codes) == 0 {
		return CommandResponse{ResponseType: "ephemeral",
			Text: fmt.Sprintf("Give me an ngrok error code, e.g. `%s ERR_NGROK_108` or `%s 3200`.", b.cfg.Command, b.cfg.Command)}
	}
	views, unknown := b.codeViews(codes)
	return CommandResponse{ResponseType: "ephemeral", Text: truncateRunes(fallbackText(views), maxText), Blocks: codeBlocks(views, unknown, nil, 0)}
}

// mention stores an app mention ("@triage 3200") as a ticket with one
// slack.reply action answering in its thread, through the outbox.
func (b *Bot) mention(ctx context.Context, cb callback, m *message) error {
	robot, err := b.fromRobot(ctx, m)
	if err != nil {
		return err
	}
	if robot {
		return errIgnored
	}
	id := TicketID(cb.TeamID, m.Channel, m.TS) + "#mention"
	t := b.ticketFor(ctx, m)
	t.ID, t.Source, t.Channel = id, "slack", m.Channel
	views, unknown := b.codeViews(codesIn(m.Text))
	if views == nil {
		views = []route.CodeView{}
	}
	_, ann := annotate.Ticket(t, b.cat)
	annJSON, _ := json.Marshal(ann)
	tv := route.TicketView{ID: id, Source: "slack", Channel: m.Channel, From: m.User, Codes: views, Unknown: unknown, Date: t.Date}
	if len(views) > 0 {
		tv.PrimaryCategory = views[0].Category
	}
	// As routing does for every payload: a mention naming thousands of
	// codes describes the first ones and counts the rest.
	if n := route.DefaultPayloadCodes; len(tv.Codes) > n {
		tv.Codes, tv.MoreCodes = tv.Codes[:n], len(tv.Codes)-n
	}
	if n := route.DefaultPayloadCodes; len(tv.Unknown) > n {
		tv.Unknown, tv.MoreUnknown = tv.Unknown[:n], len(tv.Unknown)-n
	}
	p := route.Payload{Ticket: tv, Rule: "app_mention", Kind: ticket.KindSlackReply, Text: truncateRunes(redact.String(fallbackText(views)), maxText)}
	payload, _ := json.Marshal(p)
	rec := &store.Record{Ticket: *t, EventID: cb.EventID, Annotation: annJSON, Category: tv.PrimaryCategory,
		Rules: []string{"app_mention"}, Received: b.now().UTC(), Codes: codesIn(m.Text),
		Actions: []ticket.Action{{TicketID: id, Kind: ticket.KindSlackReply, Rule: "app_mention", Payload: payload,
			Key: route.Key(id, "app_mention", ticket.KindSlackReply, "", 0)}}}
	if err := b.st.Ingest(ctx, rec); err != nil {
		if errors.Is(err, store.ErrDuplicate) {
			return errIgnored
		}
		return fmt.Errorf("slack: store mention %s: %w", id, err)
	}
	b.log.Info("slack: mention stored", "ticket_id", id, "codes", rec.Codes)
	return nil
}
