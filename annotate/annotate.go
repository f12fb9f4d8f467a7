// Package annotate turns the codes found in a ticket into what a support
// engineer needs: each distinct code once, with the catalog's meaning,
// category, hint and docs link, codes in new text before codes seen only
// in quoted history, the ticket's primary category, and unknown codes
// flagged so a human adds them to the catalog.
package annotate

import (
	"slices"

	"github.com/triage-bot/triage/catalog"
	"github.com/triage-bot/triage/extract"
	"github.com/triage-bot/triage/ticket"
)

// Code is one distinct code of a ticket with its catalog entry.
type Code struct {
	catalog.Entry
	// Name is "ERR_NGROK_<n>".
	Name string `json:"name"`
	// DocsURL is the code's docs page.
	DocsURL string `json:"docs_url"`
	// Count is how often the code was found.
	Count int `json:"count"`
	// QuotedOnly is true when the code appears only in quoted history: the
	// customer is not reporting it now.
	QuotedOnly bool `json:"quoted_only,omitempty"`
	// Where lists the places it was found: "subject", "body", "quoted",
	// "attachment:agent.log", "forwarded", each once, in order of first
	// appearance.
	Where []string `json:"where"`
	// Confidence is the highest confidence among its matches.
	Confidence float64 `json:"confidence"`

	first int // order of first appearance
}

// Annotation is what the bot says about a ticket.
type Annotation struct {
	// Codes are the distinct codes, most important first: codes in new
	// text (by first appearance), then codes seen only in quoted history.
	Codes []Code `json:"codes"`
	// Primary is the category of the first code, or "" when the ticket has
	// no code.
	Primary catalog.Category `json:"primary_category,omitempty"`
	// Unknown lists codes the catalog does not know.
	Unknown []int `json:"unknown,omitempty"`
}

// HasCodes reports whether any code was found.
func (a Annotation) HasCodes() bool { return len(a.Codes) > 0 }

// Builder accumulates matches one at a time, so a stream of any length
// is annotated in memory proportional to its distinct codes.
type Builder struct {
	cat   *catalog.Catalog
	codes map[int]*Code
	n     int
}

// NewBuilder returns a Builder that looks codes up in cat.
func NewBuilder(cat *catalog.Catalog) *Builder {
	return &Builder{cat: cat, codes: map[int]*Code{}}
}

// Add records one match.
func (b *Builder) Add(m ticket.Match) {
	c, ok := b.codes[m.Code]
	if !ok {
		e := b.cat.Lookup(m.Code)
		c = &Code{Entry: e, Name: e.Name(), DocsURL: e.DocsURL(), QuotedOnly: true, first: b.n}
		b.codes[m.Code] = c
		b.n++
	}
	c.Count++
	if !m.Quoted {
		c.QuotedOnly = false
	}
	c.Confidence = max(c.Confidence, m.Confidence)
	where := string(m.PartKind)
	if m.PartName != "" {
		where += ":" + m.PartName
	}
	if !slices.Contains(c.Where, where) {
		c.Where = append(c.Where, where)
	}
}

// Annotation returns the result so far.
func (b *Builder) Annotation() Annotation {
	a := Annotation{Codes: make([]Code, 0, len(b.codes))}
	for _, c := range b.codes {
		a.Codes = append(a.Codes, *c)
	}
	slices.SortFunc(a.Codes, func(x, y Code) int {
		if x.QuotedOnly != y.QuotedOnly {
			if x.QuotedOnly {
				return 1
			}
			return -1
		}
		return x.first - y.first
	})
	for _, c := range a.Codes {
		if !c.Known {
			a.Unknown = append(a.Unknown, c.Code)
		}
	}
	slices.Sort(a.Unknown)
	if len(a.Codes) > 0 {
		a.Primary = a.Codes[0].Category
	} else {
		a.Codes = nil
	}
	return a
}

// Matches finds every code in a ticket's parts, in part order.
func Matches(t *ticket.Ticket) []ticket.Match {
	var out []ticket.Match
	for i, p := range t.Parts {
		for _, m := range extract.FindString(p.Text) {
			out = append(out, FromExtract(m, i, p, p.Text))
		}
	}
	return out
}

// FromExtract converts an extractor match in part i (p) to a ticket match;
// text is the part's text when at hand (for the text as written), else "".
func FromExtract(m extract.Match, i int, p ticket.Part, text string) ticket.Match {
	tm := ticket.Match{
		Code:       m.Code,
		Canonical:  m.Canonical(),
		Part:       i,
		PartKind:   p.Kind,
		PartName:   p.Name,
		Offset:     m.Offset,
		Form:       m.Form.String(),
		Confidence: m.Confidence(),
		Quoted:     p.Kind == ticket.KindQuoted,
	}
	if end := m.Offset + int64(m.Len); text != "" && end <= int64(len(text)) {
		tm.Text = text[m.Offset:end]
	}
	return tm
}

// Ticket finds and annotates the codes of t.
func Ticket(t *ticket.Ticket, cat *catalog.Catalog) ([]ticket.Match, Annotation) {
	ms := Matches(t)
	b := NewBuilder(cat)
	for _, m := range ms {
		b.Add(m)
	}
	return ms, b.Annotation()
}
