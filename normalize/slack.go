package normalize

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
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

// Bounds on one Slack message, besides Limits. Slack itself sends less
// (its clients indent lists 0 to 8 and nest rich text four deep; a
// message has at most 50 blocks, and Slack advises at most 20
// attachments), so reaching one means a payload built by hand: the value
// is clamped or the rest skipped, and the ticket says so in Problems.
// With them and Limits, what SlackMessage does and makes is linear in its
// input and capped, whatever the input.
const (
	// slackMaxIndent is the deepest list indent rendered, two spaces a
	// level.
	slackMaxIndent = 8
	// slackMaxOffset is the largest list offset read: an ordered list
	// numbers its items from offset+1.
	slackMaxOffset = 99_999
	// slackMaxDepth is how deep blocks and elements nest at most; the
	// message's blocks and attachments are depth 0.
	slackMaxDepth = 8
	// slackMaxNodes is how many blocks, elements, fields and attachments
	// of one message are read at most.
	slackMaxNodes = 10_000
	// slackMaxAttachments is how many attachments are read at most.
	slackMaxAttachments = 50
)

// slackNode is the part of a Block Kit block, rich-text element or text
// object that carries text. Arrays are kept raw and read one element at
// a time, so that a budget can stop reading them.
type slackNode struct {
	Type     string          `json:"type"`
	Text     json.RawMessage `json:"text"`
	Elements json.RawMessage `json:"elements"`
	Fields   json.RawMessage `json:"fields"`
	URL      string          `json:"url"`
	UserID   string          `json:"user_id"`
	Channel  string          `json:"channel_id"`
	Group    string          `json:"usergroup_id"`
	Range    string          `json:"range"`
	Name     string          `json:"name"`
	Style    json.RawMessage `json:"style"`
	Indent   json.RawMessage `json:"indent"`
	Offset   json.RawMessage `json:"offset"`
}

// slackAttachment is the part of a legacy message attachment that carries
// text.
type slackAttachment struct {
	Pretext     string          `json:"pretext"`
	Title       string          `json:"title"`
	Text        string          `json:"text"`
	Fallback    string          `json:"fallback"`
	Fields      json.RawMessage `json:"fields"`
	Blocks      json.RawMessage `json:"blocks"`
	FromURL     string          `json:"from_url"`
	OriginalURL string          `json:"original_url"`
	IsAppUnfurl bool            `json:"is_app_unfurl"`
}

// SlackBlocks turns a message's Block Kit blocks into plain text:
// rich_text blocks (sections, preformatted code, quotes, lists, links,
// mentions, emoji) and the text of section, header and context blocks.
// rich_text_quote lines become "> " lines so SplitQuoted marks them as
// quoted history. It returns "" for no blocks. Whatever it could not read
// (blocks that are not a JSON array of objects, fields of the wrong type,
// values out of range, more than the bounds allow) is skipped or clamped,
// and listed in the error, beside the text it could read.
func SlackBlocks(blocks []byte) (string, error) {
	t := &ticket.Ticket{}
	s := newSlackWriter(&walker{lim: Limits{}.withDefaults(), t: t})
	s.blocks(blocks, 0)
	out := strings.TrimSpace(s.b.String())
	if len(t.Problems) > 0 {
		return out, fmt.Errorf("normalize: slack blocks: %s", strings.Join(t.Problems, "; "))
	}
	return out, nil
}

// slackWriter renders blocks and attachments as text within a budget of
// output bytes and of nodes read; problems go to the walker's ticket.
type slackWriter struct {
	w     *walker
	b     strings.Builder
	quote bool            // inside rich_text_quote: prefix lines with "> "
	max   int             // bytes of output at most
	nodes int             // blocks, elements, fields, attachments read
	full  bool            // a budget ran out: nothing more is read
	said  map[string]bool // problems already noted, noted once
}

func newSlackWriter(w *walker) *slackWriter {
	return &slackWriter{w: w, max: int(min(w.lim.MaxTextBytes, math.MaxInt32)), said: map[string]bool{}}
}

// problem notes p on the ticket once.
func (s *slackWriter) problem(p string) {
	if s.said[p] {
		return
	}
	if len(s.said) < 2*maxProblems {
		s.said[p] = true
	}
	s.w.problem(p)
}

// put adds str as it is, cut at the output budget.
func (s *slackWriter) put(str string) {
	if s.full {
		return
	}
	if room := s.max - s.b.Len(); len(str) > room {
		str = cutUTF8(str, max(room, 0))
		s.full = true
		s.problem(fmt.Sprintf("the message gives more than %d bytes of text; the rest was not read", s.max))
	}
	s.b.WriteString(str)
}

// atLineStart reports whether the output is empty or ends a line.
func (s *slackWriter) atLineStart() bool {
	return s.b.Len() == 0 || strings.HasSuffix(s.b.String(), "\n")
}

// ensureLine starts a new line unless at the start of one.
func (s *slackWriter) ensureLine() {
	if !s.atLineStart() {
		s.put("\n")
	}
}

// write adds text, prefixing each new line with "> " inside a quote.
func (s *slackWriter) write(str string) {
	for i := 0; !s.full; i++ {
		line, rest, more := strings.Cut(str, "\n")
		if i > 0 {
			s.put("\n")
		}
		if s.quote && s.atLineStart() && (line != "" || i == 0) {
			s.put("> ")
		}
		s.put(line)
		if !more {
			return
		}
		str = rest
	}
}

// room cuts str to the output budget left, so that no more of a long text
// is converted than can be kept.
func (s *slackWriter) room(str string) string {
	return cutUTF8(str, max(s.max-s.b.Len(), 0))
}

// enter counts one node at depth and reports whether it is to be read:
// not when a budget ran out or it nests too deep.
func (s *slackWriter) enter(depth int) bool {
	switch {
	case s.full:
		return false
	case depth > slackMaxDepth:
		s.problem(fmt.Sprintf("the message's blocks nest more than %d deep; the deeper ones were not read", slackMaxDepth))
		return false
	}
	s.nodes++
	if s.nodes > slackMaxNodes {
		s.full = true
		s.problem(fmt.Sprintf("the message has more than %d blocks, elements and attachments; the rest was not read", slackMaxNodes))
		return false
	}
	return true
}

// decode reads one node into v. A node that is not a JSON object, or has
// a field of the wrong type, is a problem; the fields that could be read
// are used.
func (s *slackWriter) decode(raw json.RawMessage, what string, v any) {
	if err := json.Unmarshal(raw, v); err != nil {
		s.problem(fmt.Sprintf("%s could not be read whole (%s); what could be read is used", what, jsonProblem(err)))
	}
}

// jsonProblem words a decoding error for a person.
func jsonProblem(err error) string {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		if te.Field == "" {
			return fmt.Sprintf("it is %s, not an object", jsonKind(te.Value))
		}
		return fmt.Sprintf("its %q is %s", clip(te.Field), jsonKind(te.Value))
	}
	return clip(err.Error())
}

// jsonKind names the kind of JSON value an UnmarshalTypeError found
// ("number", or "number -1" for one out of range).
func jsonKind(v string) string {
	kind, _, _ := strings.Cut(v, " ")
	switch kind {
	case "array", "object":
		return "an " + kind
	case "bool":
		return "true or false"
	case "number", "string":
		return "a " + kind
	}
	return "a " + clip(kind)
}

// shortName bounds a file's name or type: valid UTF-8, 255 bytes at most.
func shortName(s string) string {
	return cutUTF8(strings.ToValidUTF8(s, "\uFFFD"), 255)
}

// clip shortens a value quoted in a problem.
func clip(s string) string {
	if len(s) > 40 {
		return strings.ToValidUTF8(cutUTF8(s, 40), "") + "…"
	}
	return strings.ToValidUTF8(s, "\uFFFD")
}

// each calls f with the elements of a JSON array in turn, until f returns
// false or a budget runs out. Absent and null are an empty array; anything
// else that is not an array is a problem.
func (s *slackWriter) each(raw json.RawMessage, what string, f func(json.RawMessage) bool) {
	if len(raw) == 0 || string(raw) == "null" {
		return
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('[') {
		s.problem(fmt.Sprintf("%s is not a list; it was not read", what))
		return
	}
	for !s.full && dec.More() {
		var e json.RawMessage
		if err := dec.Decode(&e); err != nil {
			s.problem(fmt.Sprintf("%s could not be read (%s); the rest of it was skipped", what, jsonProblem(err)))
			return
		}
		if !f(e) {
			return
		}
	}
}

// count reads a list's indent or offset: a whole number from 0 to hi.
// A value out of range is clamped (a negative one is 0), one that is not
// a number is 0, and either is a problem.
func (s *slackWriter) count(raw json.RawMessage, what string, hi int) int {
	str := strings.TrimSpace(string(raw))
	if str == "" || str == "null" {
		return 0
	}
	f, err := strconv.ParseFloat(str, 64)
	if err != nil && !errors.Is(err, strconv.ErrRange) {
		s.problem(fmt.Sprintf("a list's %s (%s) is not a number; 0 was used", what, clip(str)))
		return 0
	}
	if f >= 0 && f <= float64(hi) {
		return int(f)
	}
	n := 0
	if f > float64(hi) {
		n = hi
	}
	s.problem(fmt.Sprintf("a list's %s of %s is out of range (0 to %d); %d was used", what, clip(str), hi, n))
	return n
}

// text returns a node's "text" as a string: either a plain string
// (rich_text elements, text objects in fields) or a text object's text
// (section blocks); mrkdwn reports whether it is mrkdwn.
func (s *slackWriter) text(n slackNode) (str string, mrkdwn bool) {
	if len(n.Text) == 0 || string(n.Text) == "null" {
		return "", false
	}
	if n.Text[0] == '"' {
		s.decode(n.Text, "a text", &str)
		return str, n.Type == "mrkdwn"
	}
	var obj struct {
		Type string `json:"type"`
		Text string `json:"text"`
	}
	s.decode(n.Text, "a text object", &obj)
	return obj.Text, obj.Type == "mrkdwn"
}

// blocks renders a message's (or an attachment's) blocks at depth.
func (s *slackWriter) blocks(raw []byte, depth int) {
	if len(bytes.TrimSpace(raw)) == 0 {
		return
	}
	s.each(raw, "the message's blocks", func(e json.RawMessage) bool {
		s.block(e, depth)
		return true
	})
}

func (s *slackWriter) block(raw json.RawMessage, depth int) {
	if !s.enter(depth) {
		return
	}
	var n slackNode
	s.decode(raw, "a block", &n)
	switch n.Type {
	case "rich_text":
		s.each(n.Elements, "a rich_text block's elements", func(e json.RawMessage) bool {
			s.block(e, depth+1)
			return true
		})
	case "rich_text_section", "rich_text_preformatted":
		s.ensureLine()
		s.inline(n.Elements, depth+1)
		s.ensureLine()
	case "rich_text_quote":
		s.ensureLine()
		old := s.quote
		s.quote = true
		s.inline(n.Elements, depth+1)
		s.quote = old
		s.ensureLine()
	case "rich_text_list":
		ordered := strings.Contains(string(n.Style), "ordered")
		pad := strings.Repeat("  ", s.count(n.Indent, "indent", slackMaxIndent))
		num := s.count(n.Offset, "offset", slackMaxOffset)
		s.each(n.Elements, "a list's items", func(e json.RawMessage) bool {
			if !s.enter(depth + 1) {
				return false
			}
			var item slackNode
			s.decode(e, "a list item", &item)
			s.ensureLine()
			s.write(pad)
			if num++; ordered {
				s.write(strconv.Itoa(num) + ". ")
			} else {
				s.write("- ")
			}
			s.inline(item.Elements, depth+2)
			return true
		})
		s.ensureLine()
	case "section", "header", "context":
		if str, md := s.text(n); str != "" {
			s.ensureLine()
			if md {
				str = SlackMrkdwn(s.room(str))
			}
			s.write(str)
		}
		field := func(e json.RawMessage) bool {
			if !s.enter(depth + 1) {
				return false
			}
			var f slackNode
			s.decode(e, "a field", &f)
			if str, md := s.text(f); str != "" {
				if md {
					str = SlackMrkdwn(s.room(str))
				}
				s.ensureLine()
				s.write(str)
			}
			return true
		}
		s.each(n.Fields, "a block's fields", field)
		s.each(n.Elements, "a block's elements", field)
		s.ensureLine()
	}
}

// inline writes rich-text inline elements.
func (s *slackWriter) inline(raw json.RawMessage, depth int) {
	s.each(raw, "a rich-text element list", func(r json.RawMessage) bool {
		if !s.enter(depth) {
			return false
		}
		var e slackNode
		s.decode(r, "a rich-text element", &e)
		switch e.Type {
		case "text", "date":
			str, _ := s.text(e)
			s.write(str)
		case "link":
			str, _ := s.text(e)
			if str == "" || str == e.URL {
				s.write(e.URL)
			} else {
				s.write(str + " (" + e.URL + ")")
			}
		case "user":
			s.write("@" + e.UserID)
		case "channel":
			s.write("#" + e.Channel)
		case "usergroup":
			s.write("@" + e.Group)
		case "broadcast":
			s.write("@" + e.Range)
		case "emoji":
			s.write(":" + e.Name + ":")
		default:
			// Nested sections (list items, quotes inside lists).
			s.inline(e.Elements, depth+1)
		}
		return true
	})
}

// attachments renders legacy message attachments: pretext, title, text,
// fields and blocks, or the fallback when there is nothing else. Link
// unfurls are skipped: Slack added them, the sender did not write them.
func (s *slackWriter) attachments(raw []byte) {
	if len(bytes.TrimSpace(raw)) == 0 {
		return
	}
	n := 0
	s.each(raw, "the message's attachments", func(e json.RawMessage) bool {
		if n++; n > slackMaxAttachments {
			s.problem(fmt.Sprintf("the message has more than %d attachments; the rest was not read", slackMaxAttachments))
			return false
		}
		if !s.enter(0) {
			return false
		}
		var a slackAttachment
		s.decode(e, "an attachment", &a)
		if a.FromURL != "" || a.OriginalURL != "" || a.IsAppUnfurl {
			return true
		}
		before := s.b.Len()
		for _, str := range []string{a.Pretext, a.Title, a.Text} {
			if str != "" {
				s.ensureLine()
				s.write(SlackMrkdwn(s.room(str)))
			}
		}
		s.each(a.Fields, "an attachment's fields", func(e json.RawMessage) bool {
			if !s.enter(1) {
				return false
			}
			var f struct {
				Title string `json:"title"`
				Value string `json:"value"`
			}
			s.decode(e, "an attachment field", &f)
			if f.Title != "" || f.Value != "" {
				s.ensureLine()
				s.write(SlackMrkdwn(s.room(strings.TrimPrefix(f.Title+": "+f.Value, ": "))))
			}
			return true
		})
		s.blocks(a.Blocks, 1)
		if s.b.Len() == before && a.Fallback != "" {
			s.ensureLine()
			s.write(SlackMrkdwn(s.room(a.Fallback)))
		}
		s.ensureLine()
		return true
	})
}

// hasRichText reports whether blocks hold a rich_text block, the form the
// Slack clients write; bots write section blocks and a text fallback.
func hasRichText(blocks []byte) bool {
	return bytes.Contains(blocks, []byte(`"rich_text"`))
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

// SlackInput is one Slack message as its event carries it.
type SlackInput struct {
	// Text is the message's text, in mrkdwn.
	Text string
	// Blocks is the message's "blocks" array as raw JSON; nil when absent.
	Blocks []byte
	// Attachments is the message's "attachments" array as raw JSON; nil
	// when absent.
	Attachments []byte
	// Files are the message's text files, fetched and cut by the caller.
	Files []SlackFile
}

// SlackMessage turns a Slack message into a ticket with Source "slack":
// the rich_text blocks when the message has them (what the sender wrote,
// with structure), else the mrkdwn text; then the text of its
// attachments other than link unfurls; split into new text (KindBody) and
// quoted history (KindQuoted, from quotes); each file as a KindAttachment
// part. Limits bound the text as in Text, and fixed bounds the structure
// (list indents and offsets, nesting, the number of blocks, elements and
// attachments). Any input makes a ticket: what could not be read, or was
// clamped or cut, is listed in Problems, and unreadable blocks fall back
// to the text.
func SlackMessage(in SlackInput, lim Limits) *ticket.Ticket {
	lim = lim.withDefaults()
	t := &ticket.Ticket{Source: "slack"}
	w := &walker{lim: lim, t: t}
	s := newSlackWriter(w)
	if hasRichText(in.Blocks) || strings.TrimSpace(in.Text) == "" {
		s.blocks(in.Blocks, 0)
		if strings.TrimSpace(s.b.String()) == "" {
			s.b.Reset()
			if len(w.t.Problems) > 0 {
				w.problem("the message's blocks gave no text; its text is used")
			}
		}
	}
	if s.b.Len() == 0 && !s.full {
		text := in.Text
		if len(text) > s.max {
			text = cutUTF8(text, s.max)
			s.problem(fmt.Sprintf("the message gives more than %d bytes of text; the rest was not read", s.max))
		}
		s.put(SlackMrkdwn(text))
	}
	s.ensureLine()
	s.attachments(in.Attachments)
	plain := strings.TrimSpace(s.b.String())
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
	for _, f := range in.Files {
		if w.stopped {
			break
		}
		ct := f.ContentType
		if ct == "" {
			ct = "text/plain"
		}
		add(ticket.Part{Kind: ticket.KindAttachment, Name: shortName(f.Name), ContentType: shortName(ct),
			Text: strings.ToValidUTF8(f.Text, "\uFFFD"), Truncated: f.Truncated})
		if f.Truncated {
			w.problem(fmt.Sprintf("%s: cut at the file size limit", clip(f.Name)))
		}
	}
	if w.dropped > 0 {
		t.Problems = append(t.Problems, fmt.Sprintf("%d more problems were not listed", w.dropped))
	}
	return t
}
