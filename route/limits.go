package route

import (
	"fmt"
	"slices"
	"strings"
	"text/template"
	"text/template/parse"
	"unicode"
	"unicode/utf8"

	"github.com/triage-bot/triage/ticket"
)

// Limits bound what one ticket can make its actions carry, however many
// codes the customer writes: a mail naming 5,000 codes gets texts that
// name the first few and say how many more, payloads of bounded size, and
// a bounded number of IMAP keywords. The ticket itself (its stored codes)
// keeps the full list. Limits are the `limits:` key of `routes:`; a zero
// field takes its default.
type Limits struct {
	// NamedCodes is how many entries of each list templates see (.Codes,
	// .Written, .LooksLike, .Quoted, .AgentAPI, .Unknown and their
	// .Ticket twins); the rest are counted in .More, and the default
	// texts say "and N more". Default DefaultNamedCodes.
	NamedCodes int
	// PayloadCodes is how many codes (and unknown codes, and agent API
	// numbers) a payload describes in "ticket"; the rest are counted in
	// "more_codes", "more_unknown" and "more_agent_api". Default
	// DefaultPayloadCodes.
	PayloadCodes int
	// Keywords is how many IMAP keywords the imap.flag actions of one
	// ticket set in all; keywords past it are left out. Default
	// DefaultKeywords.
	Keywords int
	// TextChars bounds a rendered text, in characters; a longer one is
	// cut and ends in "…". Default DefaultTextChars.
	TextChars int
}

// Defaults and ceilings of Limits.
const (
	DefaultNamedCodes   = 5
	DefaultPayloadCodes = 50
	DefaultKeywords     = 10
	DefaultTextChars    = 16000

	maxNamedCodes   = 100
	maxPayloadCodes = 1000
	maxKeywords     = 100
	// maxTextChars is Slack's documented ceiling for a message's text
	// (longer texts are truncated by Slack); no text needs more.
	maxTextChars = 40000
)

// SubjectRunes bounds TicketView.Subject, in characters (RFC 5322's line
// length); "…" marks a cut.
const SubjectRunes = 998

// withDefaults fills zero fields.
func (l Limits) withDefaults() Limits {
	def := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	def(&l.NamedCodes, DefaultNamedCodes)
	def(&l.PayloadCodes, DefaultPayloadCodes)
	def(&l.Keywords, DefaultKeywords)
	def(&l.TextChars, DefaultTextChars)
	return l
}

// limitsSpec is `routes: limits:`.
type limitsSpec struct {
	NamedCodes   optional[int] `yaml:"named_codes"`
	PayloadCodes optional[int] `yaml:"payload_codes"`
	Keywords     optional[int] `yaml:"keywords"`
	TextChars    optional[int] `yaml:"text_chars"`
	Line         int           `yaml:"-"`
}

// limits compiles `limits:`, reporting values out of range.
func (c *compiler) limits(ls *limitsSpec) Limits {
	var l Limits
	set := func(o optional[int], key string, hi int, dst *int) {
		if !o.Set {
			return
		}
		if o.Value < 1 || o.Value > hi {
			c.errorf(o.Line, "limits", "%s: %d is out of range (write a number from 1 to %d, or leave it out for the default)", key, o.Value, hi)
			return
		}
		*dst = o.Value
	}
	set(ls.NamedCodes, "named_codes", maxNamedCodes, &l.NamedCodes)
	set(ls.PayloadCodes, "payload_codes", maxPayloadCodes, &l.PayloadCodes)
	set(ls.Keywords, "keywords", maxKeywords, &l.Keywords)
	set(ls.TextChars, "text_chars", maxTextChars, &l.TextChars)
	return l.withDefaults()
}

// Limits returns the limits in force (defaults filled in).
func (r *Rules) Limits() Limits { return r.limits.withDefaults() }

// Omitted counts the entries each list of TemplateData leaves out (see
// Limits.NamedCodes): templates write "and {{.More.Codes}} more".
type Omitted struct {
	Codes, Written, LooksLike, Quoted, AgentAPI, Unknown int
}

// capList returns the first n entries of s and how many it left out.
func capList[T any](s []T, n int) ([]T, int) {
	if len(s) <= n {
		return s, 0
	}
	return s[:n:n], len(s) - n
}

// Folder and keyword targets are built from text the customer controls
// when a template uses it. The output of every {{…}} of such a target
// goes through a sanitizer (see wrapOutputs), so only the route's literal
// text can add a keyword, a system flag or a folder level.

// keywordSpecials are the characters an IMAP atom may not hold besides
// space and controls (RFC 3501 atom-specials); the bot also keeps `[`
// and `\` out of keywords.
const keywordSpecials = `(){%*"\][`

// maxAtom bounds one keyword made from template output, in bytes.
const maxAtom = 64

// keywordAtom makes template output one IMAP keyword: every character
// that is not allowed in an atom (space, control, non-ASCII, specials,
// `\`) becomes "-", runs of "-" become one, and it is cut to maxAtom
// bytes. It can never start a system flag or add a second keyword.
func keywordAtom(v any) string {
	s := fmt.Sprint(v)
	var b strings.Builder
	dash := false
	for _, r := range s {
		if r <= ' ' || r >= 0x7f || strings.ContainsRune(keywordSpecials, r) {
			r = '-'
		}
		if r == '-' {
			if dash {
				continue
			}
			dash = true
		} else {
			dash = false
		}
		if b.Len() >= maxAtom {
			break
		}
		b.WriteRune(r)
	}
	return b.String()
}

// folderPart makes template output part of one folder name: control
// characters, the IMAP wildcards `*` and `%`, and the hierarchy
// separators `/`, `.` and `\` become "-", and it is cut to 100
// characters. It can never add a folder level or a wildcard.
func folderPart(v any) string {
	s := fmt.Sprint(v)
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || strings.ContainsRune(`*%/.\`, r) || r == utf8.RuneError {
			return '-'
		}
		return r
	}, s)
	return truncate(100, strings.TrimSpace(s))
}

// wrapOutputs makes the output of every {{…}} of t (and of templates it
// defines) pass through fn, registered as name: text written in the route
// is kept as written, and everything a field, function or range produces
// is sanitized. Declarations ({{$x := …}}) print nothing and are left
// alone.
func wrapOutputs(t *template.Template, name string, fn func(any) string) {
	t.Funcs(template.FuncMap{name: fn})
	var walk func(tree *parse.Tree, n parse.Node)
	walk = func(tree *parse.Tree, n parse.Node) {
		switch n := n.(type) {
		case *parse.ListNode:
			if n == nil {
				return
			}
			for _, c := range n.Nodes {
				walk(tree, c)
			}
		case *parse.ActionNode:
			if n.Pipe != nil && len(n.Pipe.Decl) == 0 {
				id := parse.NewIdentifier(name).SetTree(tree).SetPos(n.Pos)
				n.Pipe.Cmds = append(n.Pipe.Cmds, &parse.CommandNode{NodeType: parse.NodeCommand, Pos: n.Pos, Args: []parse.Node{id}})
			}
		case *parse.IfNode:
			walk(tree, n.List)
			walk(tree, n.ElseList)
		case *parse.RangeNode:
			walk(tree, n.List)
			walk(tree, n.ElseList)
		case *parse.WithNode:
			walk(tree, n.List)
			walk(tree, n.ElseList)
		}
	}
	for _, tt := range t.Templates() {
		if tt.Tree != nil {
			walk(tt.Tree, tt.Tree.Root)
		}
	}
}

// literalText returns the text written in a template, outside its
// {{…}}, with "\x00" where an action or block stands; for a target that
// is not a template, the target itself.
func (a *action) literalText() string {
	if a.target == nil || a.target.Tree == nil {
		return a.targetText
	}
	var b strings.Builder
	var walk func(n parse.Node)
	walk = func(n parse.Node) {
		switch n := n.(type) {
		case *parse.ListNode:
			if n == nil {
				return
			}
			for _, c := range n.Nodes {
				walk(c)
			}
		case *parse.TextNode:
			b.Write(n.Text)
		case *parse.IfNode:
			b.WriteByte(0)
			walk(n.List)
			b.WriteByte(0)
			walk(n.ElseList)
			b.WriteByte(0)
		case *parse.RangeNode:
			b.WriteByte(0)
			walk(n.List)
			b.WriteByte(0)
			walk(n.ElseList)
			b.WriteByte(0)
		case *parse.WithNode:
			b.WriteByte(0)
			walk(n.List)
			b.WriteByte(0)
			walk(n.ElseList)
			b.WriteByte(0)
		default:
			b.WriteByte(0)
		}
	}
	walk(a.target.Tree.Root)
	return b.String()
}

// systemFlags are the IMAP system flags a route may write in an imap.flag
// target (integrations/imap sets exactly these): \Deleted, \Recent and
// any other are refused when the rules load.
var systemFlags = []string{`\Flagged`, `\Seen`, `\Answered`, `\Draft`}

// systemFlag returns the spelling in systemFlags of s, or "".
func systemFlag(s string) string {
	for _, f := range systemFlags {
		if strings.EqualFold(f, s) {
			return f
		}
	}
	return ""
}

// keywordProblem says what is wrong with a keyword written in a route, or
// "" when the bot may set it.
func keywordProblem(w string) string {
	if strings.HasPrefix(w, `\`) {
		if systemFlag(w) != "" {
			return ""
		}
		if strings.EqualFold(w, `\Deleted`) {
			return fmt.Sprintf(`%s is a system flag the bot never sets: it marks the message for deletion at the next expunge (write a keyword such as $Triage, or one of %s)`, w, strings.Join(systemFlags, ", "))
		}
		return fmt.Sprintf(`%s is not a system flag the bot sets (write a keyword such as $Triage, or one of %s)`, w, strings.Join(systemFlags, ", "))
	}
	// The per-code form ($ngrok-{code}) becomes one keyword per code.
	for _, r := range strings.ReplaceAll(w, PerCode, "0") {
		if r <= ' ' || r >= 0x7f || strings.ContainsRune(keywordSpecials, r) {
			return fmt.Sprintf(`%q is not a valid IMAP keyword (letters, digits and $ - _ . only; no spaces, brackets, quotes or \)`, w)
		}
	}
	return ""
}

// checkFlagTarget checks an imap.flag target at load: every keyword
// written in it must be one the bot may set, a system flag only as a word
// of its own (never glued to template output), and a literal target may
// not name more keywords than the limit.
func (c *compiler) checkFlagTarget(a *action, lim Limits, where, aw string) {
	words := strings.Fields(a.literalText())
	for _, w := range words {
		parts := strings.Split(w, "\x00")
		for _, p := range parts {
			if p == "" {
				continue
			}
			if strings.Contains(p, `\`) && len(parts) > 1 {
				c.errorf(a.targetLine, where, "%s: target: %q: a system flag must be a word of its own, never joined to template output (write e.g. `\\Flagged $ngrok-{{.Primary}}`)", aw, strings.ReplaceAll(w, "\x00", "{{…}}"))
				break
			}
			if msg := keywordProblem(p); msg != "" {
				c.errorf(a.targetLine, where, "%s: target: %s", aw, msg)
			}
		}
	}
	if a.target == nil && len(words) > lim.Keywords {
		c.errorf(a.targetLine, where, "%s: target names %d keywords, more than limits.keywords (%d)", aw, len(words), lim.Keywords)
	}
}

// specialUse are mailbox names with a meaning of their own to mail
// clients (RFC 6154 and common spellings), compared case-insensitively: a
// folder target built from customer text may never render to one.
var specialUse = []string{"INBOX", "Trash", "Drafts", "Junk", "Sent", "Spam", "Archive", "All Mail",
	"Sent Items", "Sent Messages", "Deleted Items", "Deleted Messages", "Outbox"}

// folderProblem says what is wrong with a rendered folder name, or "".
// literal is the target as written in the route: a special-use name is
// allowed when it is written there.
func folderProblem(name, literal string) string {
	if strings.ContainsAny(name, "*%") {
		return fmt.Sprintf("%q holds an IMAP wildcard (* or %%)", name)
	}
	if strings.IndexFunc(name, unicode.IsControl) >= 0 {
		return fmt.Sprintf("%q holds a control character", name)
	}
	clean := strings.Trim(name, "/. ")
	if i := slices.IndexFunc(specialUse, func(s string) bool { return strings.EqualFold(s, clean) }); i >= 0 && !strings.Contains(literal, clean) {
		return fmt.Sprintf("%q is the special-use mailbox %s, which only a route may name literally", name, specialUse[i])
	}
	return ""
}

// folderKind reports whether actions of kind move the message to a
// folder named by their target.
func folderKind(kind string) bool {
	return kind == ticket.KindIMAPMove || kind == ticket.KindMaildirMove
}

// checkTarget checks a target against what its kind may be built from,
// and makes the output of a flag or folder template safe (see
// wrapOutputs): an imap.flag template's output becomes one keyword per
// {{…}}; a folder template may use fields the customer writes only with
// allow_customer_folders: true, and its output never adds a folder level
// or a wildcard.
func (c *compiler) checkTarget(a *action, as *actionSpec, where, aw string) {
	allow := as.AllowCustomerFolders
	if allow.Set && !folderKind(a.kind) {
		c.errorf(allow.Line, where, "%s: allow_customer_folders applies only to imap.move and maildir.move", aw)
	}
	templated := strings.Contains(a.targetText, "{{")
	if templated && a.target == nil {
		return // its template error is reported
	}
	switch {
	case a.kind == ticket.KindIMAPFlag:
		c.checkFlagTarget(a, c.lim, where, aw)
		if templated {
			wrapOutputs(a.target, "triageKeyword", keywordAtom)
			a.targetFn = wrapRenderer(a.targetFn, keywordAtom)
		}
	case folderKind(a.kind) && templated:
		if fields := customerFields(a.target.Tree.Root); len(fields) > 0 && !allow.Value {
			c.errorf(a.targetLine, where, "%s: target uses %s, which the customer writes: a folder named by customer text (refused; build folders from .Primary, .Codes or .Rule, or set allow_customer_folders: true on this action to accept it, see route/REFERENCE.md)",
				aw, strings.Join(fields, ", "))
		}
		wrapOutputs(a.target, "triageFolder", folderPart)
		a.targetFn = wrapRenderer(a.targetFn, folderPart)
	case folderKind(a.kind):
		if strings.ContainsAny(a.targetText, "*%") || strings.IndexFunc(a.targetText, unicode.IsControl) >= 0 {
			c.errorf(a.targetLine, where, "%s: target %q holds an IMAP wildcard (* or %%) or a control character", aw, a.targetText)
		}
	}
}

// wrapRenderer returns fn with its output passed through clean; nil for
// nil.
func wrapRenderer(fn renderer, clean func(any) string) renderer {
	if fn == nil {
		return nil
	}
	return func(d *TemplateData) string { return clean(fn(d)) }
}
