package normalize

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/triage-bot/triage/ticket"
)

// SlackMrkdwn turns Slack mrkdwn, as it arrives in a message's text field,
// into plain text:
//
//   - links <https://x|label> become "label (https://x)", or just the URL
//     when the label repeats it; <mailto:a@b|a@b> becomes "a@b"
//   - mentions <@U123>, <#C123|name>, <!here>, <!subteam^S1|@team> become
//     "@U123", "#name", "@here", "@team"
//   - the escapes &amp; &lt; &gt; are undone (after the links, so an
//     escaped "&lt;" never starts one)
//   - `code` spans lose their backticks, ```fences``` become their lines
//   - block quotes ("&gt; " or "> " at a line start) stay "> " lines, so
//     SplitQuoted marks them as quoted history
//
// Bold, italic and strike markers (*, _, ~) are kept: they are harmless to
// readers and an underscore may belong to an ERR_NGROK_ code.
func SlackMrkdwn(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == '<':
			end := strings.IndexByte(s[i:], '>')
			if end < 0 {
				b.WriteString(s[i:])
				i = len(s)
				continue
			}
			b.WriteString(slackLink(s[i+1 : i+end]))
			i += end + 1
		case c == '`' && strings.HasPrefix(s[i:], "```"):
			end := strings.Index(s[i+3:], "```")
			if end < 0 {
				b.WriteString(unescapeMrkdwn(s[i+3:]))
				i = len(s)
				continue
			}
			body := s[i+3 : i+3+end]
			if b.Len() > 0 && !strings.HasSuffix(b.String(), "\n") {
				b.WriteByte('\n')
			}
			b.WriteString(strings.Trim(unescapeMrkdwn(body), "\n"))
			b.WriteByte('\n')
			i += 3 + end + 3
			if i < len(s) && s[i] == '\n' {
				i++
			}
		case c == '`':
			end := strings.IndexByte(s[i+1:], '`')
			if end < 0 || strings.IndexByte(s[i+1:i+1+end], '\n') >= 0 {
				b.WriteByte('`')
				i++
				continue
			}
			b.WriteString(unescapeMrkdwn(s[i+1 : i+1+end]))
			i += end + 2
		case c == '&':
			n := escapeLen(s[i:])
			if n == 0 {
				b.WriteByte('&')
				i++
				continue
			}
			b.WriteString(unescapeMrkdwn(s[i : i+n]))
			i += n
		default:
			b.WriteByte(c)
			i++
		}
	}
	return normalizeSlackQuotes(b.String())
}

// escapeLen returns the length of the mrkdwn escape at the start of s, or 0.
func escapeLen(s string) int {
	for _, e := range []string{"&amp;", "&lt;", "&gt;"} {
		if strings.HasPrefix(s, e) {
			return len(e)
		}
	}
	return 0
}

func unescapeMrkdwn(s string) string {
	return strings.NewReplacer("&lt;", "<", "&gt;", ">", "&amp;", "&").Replace(s)
}

// slackLink renders the inside of <…>.
func slackLink(inner string) string {
	target, label, hasLabel := strings.Cut(inner, "|")
	target, label = unescapeMrkdwn(target), unescapeMrkdwn(label)
	switch {
	case strings.HasPrefix(target, "@"):
		if hasLabel {
			return "@" + strings.TrimPrefix(label, "@")
		}
		return target
	case strings.HasPrefix(target, "#"):
		if hasLabel {
			return "#" + label
		}
		return target
	case strings.HasPrefix(target, "!"):
		if hasLabel {
			return label
		}
		name, _, _ := strings.Cut(target[1:], "^")
		return "@" + name
	case strings.HasPrefix(target, "mailto:"):
		if hasLabel {
			return label
		}
		return strings.TrimPrefix(target, "mailto:")
	}
	if !hasLabel || label == "" || label == target || strings.TrimPrefix(strings.TrimPrefix(target, "https://"), "http://") == label {
		return target
	}
	return label + " (" + target + ")"
}

// normalizeSlackQuotes makes every quote line start with "> ".
func normalizeSlackQuotes(s string) string {
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		if strings.HasPrefix(l, ">") && !strings.HasPrefix(l, "> ") && !strings.HasPrefix(l, ">>") {
			lines[i] = "> " + l[1:]
		}
	}
	return strings.Join(lines, "\n")
}

// slackBlock is the part of a Block Kit block (and of its nested
// elements) that carries text.
type slackBlock struct {
	Type     string          `json:"type"`
	Text     json.RawMessage `json:"text"`
	Elements []slackBlock    `json:"elements"`
	Fields   []slackBlock    `json:"fields"`
	URL      string          `json:"url"`
	UserID   string          `json:"user_id"`
	Channel  string          `json:"channel_id"`
	Group    string          `json:"usergroup_id"`
	Range    string          `json:"range"`
	Name     string          `json:"name"`
	Style    json.RawMessage `json:"style"`
	Indent   int             `json:"indent"`
}

// text returns the block's "text" as a string: either a plain string
// (rich_text elements) or a text object's text (section blocks).
func (b slackBlock) text() (s string, mrkdwn bool) {
	if len(b.Text) == 0 {
		return "", false
	}
	if b.Text[0] == '"' {
		_ = json.Unmarshal(b.Text, &s)
		return s, false
	}
	var obj struct {
		Type string `json:"type"`
		Text string `json:"text"`
	}
	_ = json.Unmarshal(b.Text, &obj)
	return obj.Text, obj.Type == "mrkdwn"
}

// SlackBlocks turns a message's Block Kit blocks into plain text:
// rich_text blocks (sections, preformatted code, quotes, lists, links,
// mentions, emoji) and the text of section, header and context blocks.
// rich_text_quote lines become "> " lines so SplitQuoted marks them as
// quoted history. It returns "" for no blocks and an error for blocks
// that are not a JSON array of objects.
func SlackBlocks(blocks []byte) (string, error) {
	if len(strings.TrimSpace(string(blocks))) == 0 || string(blocks) == "null" {
		return "", nil
	}
	var bs []slackBlock
	if err := json.Unmarshal(blocks, &bs); err != nil {
		return "", fmt.Errorf("normalize: slack blocks: %w", err)
	}
	var w slackWriter
	for _, b := range bs {
		w.block(b)
	}
	return strings.TrimSpace(w.b.String()), nil
}

type slackWriter struct {
	b     strings.Builder
	quote bool // inside rich_text_quote: prefix lines with "> "
}

// ensureLine starts a new line unless at the start of one.
func (w *slackWriter) ensureLine() {
	if w.b.Len() > 0 && !strings.HasSuffix(w.b.String(), "\n") {
		w.b.WriteByte('\n')
	}
}

// write adds text, prefixing each new line with "> " inside a quote.
func (w *slackWriter) write(s string) {
	for i, l := range strings.Split(s, "\n") {
		if i > 0 {
			w.b.WriteByte('\n')
		}
		if w.quote && (w.b.Len() == 0 || strings.HasSuffix(w.b.String(), "\n")) && (l != "" || i == 0) {
			w.b.WriteString("> ")
		}
		w.b.WriteString(l)
	}
}

func (w *slackWriter) block(b slackBlock) {
	switch b.Type {
	case "rich_text":
		for _, e := range b.Elements {
			w.block(e)
		}
	case "rich_text_section":
		w.ensureLine()
		w.inline(b.Elements)
		w.ensureLine()
	case "rich_text_preformatted":
		w.ensureLine()
		w.inline(b.Elements)
		w.ensureLine()
	case "rich_text_quote":
		w.ensureLine()
		old := w.quote
		w.quote = true
		w.inline(b.Elements)
		w.quote = old
		w.ensureLine()
	case "rich_text_list":
		ordered := strings.Contains(string(b.Style), "ordered")
		for i, item := range b.Elements {
			w.ensureLine()
			w.write(strings.Repeat("  ", b.Indent))
			if ordered {
				w.write(fmt.Sprintf("%d. ", i+1))
			} else {
				w.write("- ")
			}
			w.inline(item.Elements)
		}
		w.ensureLine()
	case "section", "header", "context":
		if s, md := b.text(); s != "" {
			w.ensureLine()
			if md {
				s = SlackMrkdwn(s)
			}
			w.write(s)
		}
		for _, f := range append(b.Fields, b.Elements...) {
			if s, md := f.text(); s != "" || f.Type == "mrkdwn" || f.Type == "plain_text" {
				if s == "" {
					_ = json.Unmarshal(f.Text, &s)
				}
				if md || f.Type == "mrkdwn" {
					s = SlackMrkdwn(s)
				}
				w.ensureLine()
				w.write(s)
			}
		}
		w.ensureLine()
	}
}

// inline writes rich-text inline elements.
func (w *slackWriter) inline(es []slackBlock) {
	for _, e := range es {
		switch e.Type {
		case "text":
			s, _ := e.text()
			w.write(s)
		case "link":
			s, _ := e.text()
			switch {
			case s == "" || s == e.URL:
				w.write(e.URL)
			default:
				w.write(s + " (" + e.URL + ")")
			}
		case "user":
			w.write("@" + e.UserID)
		case "channel":
			w.write("#" + e.Channel)
		case "usergroup":
			w.write("@" + e.Group)
		case "broadcast":
			w.write("@" + e.Range)
		case "emoji":
			w.write(":" + e.Name + ":")
		case "date":
			s, _ := e.text()
			w.write(s)
		default:
			// Nested sections (list items, quotes inside lists).
			if len(e.Elements) > 0 {
				w.inline(e.Elements)
			}
		}
	}
}

// hasRichText reports whether blocks hold a rich_text block, the form the
// Slack clients write; bots write section blocks and a text fallback.
func hasRichText(blocks []byte) bool {
	return strings.Contains(string(blocks), `"rich_text"`)
}

// SlackFile is a text file or snippet shared in a message, already
// fetched and size-bounded by the caller.
type SlackFile struct {
	// Name is the file's name ("ngrok.log").
	Name string
	// ContentType is its MIME type ("text/plain").
	ContentType string
	// Text is its content.
	Text string
	// Truncated is true when the caller cut it at its size cap.
	Truncated bool
}

// SlackMessage turns a Slack message into a ticket with Source "slack":
// the rich_text blocks when the message has them (what the sender wrote,
// with structure), else the mrkdwn text; split into new text (KindBody)
// and quoted history (KindQuoted, from quotes); each file as a
// KindAttachment part. Limits bound the text as in Text. Unreadable blocks
// fall back to the text and are noted in Problems.
func SlackMessage(text string, blocks []byte, files []SlackFile, lim Limits) *ticket.Ticket {
	lim = lim.withDefaults()
	t := &ticket.Ticket{Source: "slack"}
	w := &walker{lim: lim, t: t}
	plain := ""
	if hasRichText(blocks) {
		s, err := SlackBlocks(blocks)
		if err != nil {
			w.problem(fmt.Sprintf("could not read the message's blocks (%v); its text is used", err))
		} else {
			plain = s
		}
	}
	if plain == "" {
		plain = SlackMrkdwn(text)
	}
	plain = strings.ToValidUTF8(strings.ReplaceAll(plain, "\r\n", "\n"), "\uFFFD")
	body, quoted := SplitQuoted(plain)
	add := func(p ticket.Part) {
		limit := max(w.room(), 0)
		if int64(len(p.Text)) > limit {
			p.Text = cutUTF8(p.Text, int(limit))
			p.Truncated = true
			w.problem(fmt.Sprintf("%s part longer than %d bytes was cut", p.Kind, limit))
		}
		w.add(p)
	}
	if body != "" {
		add(ticket.Part{Kind: ticket.KindBody, ContentType: "text/plain", Text: body})
	}
	if quoted != "" {
		add(ticket.Part{Kind: ticket.KindQuoted, ContentType: "text/plain", Text: quoted})
	}
	for _, f := range files {
		ct := f.ContentType
		if ct == "" {
			ct = "text/plain"
		}
		add(ticket.Part{Kind: ticket.KindAttachment, Name: f.Name, ContentType: ct,
			Text: strings.ToValidUTF8(f.Text, "\uFFFD"), Truncated: f.Truncated})
		if f.Truncated {
			w.problem(fmt.Sprintf("%s: cut at the file size limit", f.Name))
		}
	}
	return t
}
