package route

import (
	"errors"
	"fmt"
	"net/mail"
	"regexp"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/triage-bot/triage/annotate"
	"github.com/triage-bot/triage/catalog"
	"github.com/triage-bot/triage/extract"
	"github.com/triage-bot/triage/ticket"
)

// matcher is a compiled `match:`. Empty fields match anything.
type matcher struct {
	categories    []catalog.Category
	codes         []codeRange
	sources       []string
	senders       []*regexp.Regexp
	domains       []string
	channels      []*regexp.Regexp
	keywords      []string // lower-case, white space folded
	hasCode       *bool
	quotedOnly    *bool
	inferred      *bool
	agentAPI      *bool
	autoSubmitted *bool
	// filter says which codes the code conditions (category, code,
	// has_code, quoted_only, inferred) look at; its zero value lets every
	// code count.
	filter codeFilter
}

// codeFilter is a rule's min_confidence, forms and exclude_forms: the
// codes that count for its code conditions.
type codeFilter struct {
	minConfidence float64 // 0: any
	forms         uint32  // bit per extract.Form; 0: any form
	exclude       uint32  // bit per extract.Form
}

// active reports whether the filter leaves any code out.
func (f codeFilter) active() bool { return f.minConfidence > 0 || f.forms != 0 || f.exclude != 0 }

// counts reports whether code c counts: its confidence (the highest among
// its matches) is at least the minimum, and at least one of the forms it
// was found in is listed in forms (when given) and not in exclude.
func (f codeFilter) counts(c *annotate.Code) bool {
	if c.Confidence < f.minConfidence {
		return false
	}
	if f.forms == 0 && f.exclude == 0 {
		return true
	}
	if len(c.Forms) == 0 {
		// An annotation without forms (stored before forms were
		// recorded, or built by hand): written unless inferred.
		form := extract.FormCanonical
		if c.Inferred {
			form = extract.FormInferred
		}
		return f.allows(form)
	}
	for _, name := range c.Forms {
		if f.allows(extract.ParseForm(name)) {
			return true
		}
	}
	return false
}

// allows reports whether one form passes forms and exclude_forms.
func (f codeFilter) allows(form extract.Form) bool {
	bit := uint32(1) << form
	return (f.forms == 0 || f.forms&bit != 0) && f.exclude&bit == 0
}

// codeFacts is what the code conditions ask of a ticket, over the codes
// that count.
type codeFacts struct {
	any        bool             // some code counts
	quotedOnly bool             // some counts, and every one is only in quoted history
	inferred   bool             // some counts, and every one was only inferred
	primary    catalog.Category // the category of the first that counts
}

// facts computes the code facts of a under the matcher's filter.
func (m *matcher) facts(a *annotate.Annotation) codeFacts {
	f := codeFacts{quotedOnly: true, inferred: true}
	for i := range a.Codes {
		c := &a.Codes[i]
		if !m.filter.counts(c) {
			continue
		}
		if !f.any {
			f.any, f.primary = true, c.Category
		}
		f.quotedOnly = f.quotedOnly && c.QuotedOnly
		f.inferred = f.inferred && c.Inferred
	}
	if !f.any {
		f.quotedOnly, f.inferred = false, false
	} else if !m.filter.active() {
		f.primary = a.Primary
	}
	return f
}

// needsFacts reports whether any code condition is set.
func (m *matcher) needsFacts() bool {
	return m.hasCode != nil || m.quotedOnly != nil || m.inferred != nil || m.categories != nil || m.filter.active()
}

// matches reports whether every condition holds for the ticket in v.
func (m *matcher) matches(v *view) bool {
	a := &v.a
	if m.needsFacts() {
		f := m.facts(a)
		switch {
		case m.hasCode != nil && f.any != *m.hasCode:
			return false
		case m.hasCode == nil && m.filter.active() && !f.any:
			// min_confidence, forms and exclude_forms ask for a code
			// that passes them, unless has_code: false says otherwise.
			return false
		case m.quotedOnly != nil && f.quotedOnly != *m.quotedOnly:
			return false
		case m.inferred != nil && f.inferred != *m.inferred:
			return false
		case m.categories != nil && (!f.any || !slices.Contains(m.categories, f.primary)):
			return false
		}
	}
	if m.agentAPI != nil && (len(a.AgentAPI) > 0) != *m.agentAPI {
		return false
	}
	if m.autoSubmitted != nil && autoSubmitted(v.t) != *m.autoSubmitted {
		return false
	}
	if m.codes != nil && !slices.ContainsFunc(a.Codes, func(c annotate.Code) bool {
		return m.filter.counts(&c) && slices.ContainsFunc(m.codes, func(r codeRange) bool { return r.contains(c.Code) })
	}) {
		return false
	}
	if m.sources != nil && !slices.Contains(m.sources, strings.ToLower(v.t.Source)) {
		return false
	}
	if m.senders != nil && !anyGlob(m.senders, v.sender()) {
		return false
	}
	if m.domains != nil && !slices.ContainsFunc(m.domains, v.inDomain) {
		return false
	}
	if m.channels != nil && !anyGlob(m.channels, v.t.Channel) {
		return false
	}
	if m.keywords != nil {
		text := v.newText()
		if !slices.ContainsFunc(m.keywords, func(k string) bool { return strings.Contains(text, k) }) {
			return false
		}
	}
	return true
}

// autoSubmitted reports whether a mail was sent by a robot (RFC 3834 and
// common practice): Auto-Submitted other than "no", Precedence bulk, junk
// or list, a List-Id, or an X-Autoreply / X-Autorespond header.
func autoSubmitted(t *ticket.Ticket) bool {
	if v, ok := header(t, "Auto-Submitted"); ok {
		v, _, _ = strings.Cut(v, ";")
		if !strings.EqualFold(strings.TrimSpace(v), "no") {
			return true
		}
	}
	if v, ok := header(t, "Precedence"); ok {
		switch strings.ToLower(strings.TrimSpace(v)) {
		case "bulk", "junk", "list":
			return true
		}
	}
	for _, h := range []string{"List-Id", "X-Autoreply", "X-Autorespond"} {
		if v, ok := header(t, h); ok && strings.TrimSpace(v) != "" {
			return true
		}
	}
	// Bounces and read receipts: a delivery or disposition report, a null
	// return path, or a mailer-daemon sender, with or without
	// Auto-Submitted (not every mail server sets it on them).
	if v, ok := header(t, "Content-Type"); ok && strings.HasPrefix(strings.ToLower(strings.TrimSpace(v)), "multipart/report") {
		return true
	}
	if v, ok := header(t, "Return-Path"); ok && strings.TrimSpace(v) == "<>" {
		return true
	}
	local, _, _ := strings.Cut(strings.ToLower(t.From), "@")
	return t.Source == "email" && (local == "mailer-daemon" || local == "postmaster")
}

// header looks a header up by its canonical key, then case-insensitively.
func header(t *ticket.Ticket, name string) (string, bool) {
	if v, ok := t.Headers[name]; ok {
		return v, true
	}
	for k, v := range t.Headers {
		if strings.EqualFold(k, name) {
			return v, true
		}
	}
	return "", false
}

func anyGlob(res []*regexp.Regexp, s string) bool {
	return slices.ContainsFunc(res, func(re *regexp.Regexp) bool { return re.MatchString(s) })
}

// codeRange is an inclusive range of codes; a single code has lo == hi.
type codeRange struct{ lo, hi int }

func (r codeRange) contains(n int) bool { return r.lo <= n && n <= r.hi }

// parseCodeRange reads "108", "ERR_NGROK_108", "err_ngrok_108", a docs
// URL, or an inclusive range "8000-8099" of any of those forms.
func parseCodeRange(s string) (codeRange, error) {
	s = strings.TrimSpace(strings.ReplaceAll(s, "–", "-")) // en dash
	if lo, hi, ok := strings.Cut(s, "-"); ok {
		a, errA := catalog.ParseCode(lo)
		b, errB := catalog.ParseCode(hi)
		switch {
		case errA == nil && errB == nil && a > b:
			return codeRange{}, fmt.Errorf("range %q is reversed (write %d-%d)", s, b, a)
		case errA == nil && errB == nil:
			return codeRange{a, b}, nil
		}
		if n, err := catalog.ParseCode(s); err == nil { // a docs URL with a hyphen
			return codeRange{n, n}, nil
		}
		return codeRange{}, fmt.Errorf("%q is not a code range (write 8000-8099 or ERR_NGROK_8000-ERR_NGROK_8099)", s)
	}
	n, err := catalog.ParseCode(s)
	if err != nil {
		return codeRange{}, fmt.Errorf("%q is not an ngrok error code (write 108, ERR_NGROK_108, or a range 8000-8099)", s)
	}
	return codeRange{n, n}, nil
}

// compileGlob turns a shell-style pattern into an anchored, case-insensitive
// regexp: * is any text (including / and .), ? one character, [abc], [a-z]
// and [!abc] sets, \ quotes the next character.
func compileGlob(p string) (*regexp.Regexp, error) {
	if p == "" {
		return nil, errors.New("empty pattern")
	}
	var b strings.Builder
	b.WriteString(`(?is)^`)
	for i := 0; i < len(p); {
		switch c := p[i]; c {
		case '*':
			b.WriteString(`.*`)
			i++
		case '?':
			b.WriteString(`.`)
			i++
		case '\\':
			if i+1 == len(p) {
				return nil, errors.New(`trailing \`)
			}
			_, size := utf8.DecodeRuneInString(p[i+1:])
			b.WriteString(regexp.QuoteMeta(p[i+1 : i+1+size]))
			i += 1 + size
		case '[':
			j := i + 1
			if j < len(p) && (p[j] == '!' || p[j] == '^') {
				j++
			}
			if j < len(p) && p[j] == ']' {
				j++
			}
			end := strings.IndexByte(p[j:], ']')
			if end < 0 {
				return nil, errors.New("unclosed [")
			}
			set := p[i+1 : j+end]
			if set == "" || set == "!" || set == "^" {
				return nil, errors.New("empty [] set")
			}
			if set[0] == '!' {
				set = "^" + set[1:]
			}
			set = strings.ReplaceAll(set, `[`, `\[`)
			b.WriteString("[" + set + "]")
			i = j + end + 1
		default:
			_, size := utf8.DecodeRuneInString(p[i:])
			b.WriteString(regexp.QuoteMeta(p[i : i+size]))
			i += size
		}
	}
	b.WriteString(`$`)
	re, err := regexp.Compile(b.String())
	if err != nil {
		return nil, errors.New(strings.TrimPrefix(err.Error(), "error parsing regexp: "))
	}
	return re, nil
}

// view is one ticket as the matchers and templates see it. Expensive parts
// are computed on first use; a view belongs to one Decide call.
type view struct {
	t *ticket.Ticket
	a annotate.Annotation

	addr, domain string
	addrDone     bool
	text         *string
	tv           *TicketView
	groups       codeGroups // tv.Codes split for templates
	bare         []CodeView // tv.Codes without the catalog's words
	// lim are the rules' limits; payload is the view for payloads and
	// data the template data (both cut to the limits), built once.
	lim     Limits
	payload *TicketView
	data    *TemplateData
	// keywords are the IMAP keywords this ticket's imap.flag actions
	// set so far (lower case), against lim.Keywords.
	keywords []string
}

func newView(t *ticket.Ticket, a annotate.Annotation) *view { return &view{t: t, a: a} }

// sender returns the lower-case address of the sender (From may be
// "Ana <ana@example.com>"), or the Slack user ID.
func (v *view) sender() string {
	if !v.addrDone {
		v.addrDone = true
		from := strings.TrimSpace(v.t.From)
		if a, err := mail.ParseAddress(from); err == nil {
			from = a.Address
		}
		v.addr = strings.ToLower(strings.Trim(from, "<>"))
		if i := strings.LastIndexByte(v.addr, '@'); i >= 0 {
			v.domain = strings.TrimSuffix(v.addr[i+1:], ".")
		}
	}
	return v.addr
}

// inDomain reports whether the sender's domain is d or a subdomain of d.
func (v *view) inDomain(d string) bool {
	v.sender()
	return v.domain == d || strings.HasSuffix(v.domain, "."+d)
}

// newText returns the subject and new body text (not quoted history, not
// attachments), lower-cased with runs of white space folded to one space.
func (v *view) newText() string {
	if v.text == nil {
		var b strings.Builder
		b.WriteString(v.t.Subject)
		for _, p := range v.t.Parts {
			if p.Kind == ticket.KindSubject || p.Kind == ticket.KindBody {
				b.WriteString("\n")
				b.WriteString(p.Text)
			}
		}
		s := foldSpace(strings.ToLower(b.String()))
		v.text = &s
	}
	return *v.text
}

// foldSpace trims s and replaces each run of white space with one space.
func foldSpace(s string) string {
	return strings.Join(strings.Fields(s), " ")
}
