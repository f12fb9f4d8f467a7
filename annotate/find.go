package annotate

import (
	"cmp"
	"log/slog"
	"slices"
	"unicode/utf8"
	"unsafe"

	"github.com/triage-bot/triage/catalog"
	"github.com/triage-bot/triage/extract"
	"github.com/triage-bot/triage/ticket"
)

// maxPhraseMatches bounds the inferred matches kept per part: a part
// that repeats an error's wording ten thousand times is still one code.
const maxPhraseMatches = 256

// Signatures is a catalog's signature phrases compiled for search.
type Signatures struct {
	phrases *extract.Phrases
	codes   []int // phrase ID → code
}

// signaturesKey is the catalog memo key of the compiled signatures.
type signaturesKey struct{}

// CompiledSignatures returns cat's signature phrases compiled once per
// catalog. A phrase that does not compile (a derived one too long for
// the matcher) is left out and logged at debug level; the catalog
// validated the rest when it loaded them.
func CompiledSignatures(cat *catalog.Catalog) *Signatures {
	return cat.Memo(signaturesKey{}, func() any {
		sigs := cat.Signatures()
		list := make([]string, len(sigs))
		s := &Signatures{codes: make([]int, len(sigs))}
		for i, sg := range sigs {
			list[i], s.codes[i] = sg.Phrase, sg.Code
		}
		p, err := extract.CompilePhrases(list)
		if err != nil {
			slog.Debug("annotate: some signature phrases were left out", "err", err)
		}
		s.phrases = p
		return s
	}).(*Signatures)
}

// Options says what Find looks for beyond written codes.
type Options struct {
	// NoInfer turns off naming codes from their wording.
	NoInfer bool
}

// Matches finds every code in a ticket's parts, in part order: written
// codes (one glued to the next word only when cat knows it), the agent
// API's numbers, and codes inferred from the wording (see Infer).
func Matches(t *ticket.Ticket, cat *catalog.Catalog) []ticket.Match {
	return Find(t, cat, Options{})
}

// Find is Matches with options. With a nil catalog it finds written
// codes and agent API numbers only, keeping glued codes unconfirmed (for
// highlighting text).
func Find(t *ticket.Ticket, cat *catalog.Catalog, opt Options) []ticket.Match {
	var out []ticket.Match
	for i, p := range t.Parts {
		b := unsafe.Slice(unsafe.StringData(p.Text), len(p.Text))
		ms := extract.Find(b)
		for _, m := range ms {
			if m.Glued && cat != nil && !cat.Lookup(m.Code).Known {
				continue
			}
			out = append(out, FromExtract(m, i, p, p.Text))
		}
		if cat != nil {
			for _, m := range extract.FindBare(b, func(n int) bool { return cat.Lookup(n).Known }) {
				if !covered(ms, m.Offset) {
					out = append(out, FromExtract(m, i, p, p.Text))
				}
			}
		}
		for _, m := range extract.FindAgentAPIProse(b) {
			if !covered(ms, m.Offset) {
				out = append(out, FromExtract(m, i, p, p.Text))
			}
		}
	}
	if !opt.NoInfer && cat != nil {
		out = append(out, Infer(t, cat, out)...)
	}
	return out
}

// maxPhraseText bounds the customer's words kept for an inferred code:
// they are quoted back in replies and notes, and a wildcard may span long
// words.
const maxPhraseText = 200

// cutText cuts s to at most n bytes on a character boundary, marking the
// cut with "…".
func cutText(s string, n int) string {
	if len(s) <= n {
		return s
	}
	i := n
	for i > 0 && !utf8.RuneStart(s[i]) {
		i--
	}
	return s[:i] + "…"
}

// covered reports whether offset lies inside one of ms, which Find
// returns in order and without overlap: a binary search, so a part with
// many written codes and many bare numbers stays linear-logarithmic.
func covered(ms []extract.Match, offset int64) bool {
	k, _ := slices.BinarySearchFunc(ms, offset, func(m extract.Match, off int64) int { return cmp.Compare(m.Offset, off+1) })
	return k > 0 && offset < ms[k-1].Offset+int64(ms[k-1].Len)
}

// Span is one signature phrase found in a text: the part it is in, its
// byte span, the code it names, and its words as written (cut to
// maxPhraseText bytes).
type Span struct {
	Part       int
	Start, End int64
	Code       int
	Text       string
}

// AppendSpans appends to spans the signature phrases found in b that
// start in b[from:to], at most max of them, with part and with offsets
// plus base. A phrase lies within a few KiB of its anchor word (see
// extract.Phrases.Find), so a caller cutting a long text into windows
// gives each one that much context beyond [from, to).
func (s *Signatures) AppendSpans(spans []Span, b []byte, part int, base int64, from, to, max int) []Span {
	if s.phrases == nil {
		return spans
	}
	n := 0
	s.phrases.Find(b, func(m extract.PhraseMatch) {
		if n < max && m.Start >= from && m.Start < to {
			spans = append(spans, Span{Part: part, Start: base + int64(m.Start), End: base + int64(m.End), Code: s.codes[m.ID],
				Text: cutText(string(b[m.Start:m.End]), maxPhraseText)})
			n++
		}
	})
	return spans
}

// Retuned returns s with its phrases anchored for texts like sample, the
// start of a long text: on the words sample repeats least (see
// extract.Phrases.Retune). The matches are the same; a busy log is
// searched faster.
func (s *Signatures) Retuned(sample []byte) *Signatures {
	if s.phrases == nil {
		return s
	}
	return &Signatures{phrases: s.phrases.Retune(sample), codes: s.codes}
}

// Infer names codes from the wording of t's parts with cat's signature
// phrases, given the matches already found (written codes settle
// ambiguous wording); see Resolve for the rules. Every inferred match has
// form inferred and confidence extract.InferredConfidence, below every
// written form.
func Infer(t *ticket.Ticket, cat *catalog.Catalog, written []ticket.Match) []ticket.Match {
	sigs := CompiledSignatures(cat)
	var spans []Span
	for i, p := range t.Parts {
		b := unsafe.Slice(unsafe.StringData(p.Text), len(p.Text))
		spans = sigs.AppendSpans(spans, b, i, 0, 0, len(b), maxPhraseMatches)
	}
	var out []ticket.Match
	for _, s := range Resolve(spans, written) {
		p := t.Parts[s.Part]
		m := SpanMatch(s)
		m.PartKind, m.PartName, m.Quoted = p.Kind, p.Name, p.Kind == ticket.KindQuoted
		out = append(out, m)
	}
	return out
}

// SpanMatch is the inferred match of a span that names a code.
func SpanMatch(s Span) ticket.Match {
	return ticket.Match{Code: s.Code, Canonical: extract.CodeString(s.Code), Part: s.Part, Offset: s.Start, Text: s.Text,
		Form: extract.FormInferred.String(), Confidence: extract.InferredConfidence}
}

// Resolve picks, from the spans found in a ticket, those that name a
// code, given the matches already found:
//   - overlapping spans form a group; a group naming one code names it;
//   - a phrase listed under several codes, or overlapping phrases of
//     different codes, name nothing unless exactly one of those codes is
//     settled elsewhere in the ticket (written, or named by unambiguous
//     wording).
func Resolve(spans []Span, written []ticket.Match) []Span {
	if len(spans) == 0 {
		return nil
	}
	slices.SortStableFunc(spans, func(a, b Span) int {
		if a.Part != b.Part {
			return a.Part - b.Part
		}
		return cmp.Compare(a.Start, b.Start)
	})
	// Group overlapping spans; a group naming one code is clear.
	type group struct {
		spans []Span
		codes []int
		end   int64 // the furthest end of its spans
	}
	var groups []group
	for _, s := range spans {
		if n := len(groups); n > 0 {
			g := &groups[n-1]
			if g.spans[0].Part == s.Part && s.Start < g.end {
				g.spans = append(g.spans, s)
				g.end = max(g.end, s.End)
				if !slices.Contains(g.codes, s.Code) {
					g.codes = append(g.codes, s.Code)
				}
				continue
			}
		}
		groups = append(groups, group{spans: []Span{s}, codes: []int{s.Code}, end: s.End})
	}
	settled := map[int]bool{}
	for _, m := range written {
		if extract.ParseForm(m.Form).Written() {
			settled[m.Code] = true
		}
	}
	for _, g := range groups {
		if len(g.codes) == 1 {
			settled[g.codes[0]] = true
		}
	}
	var out []Span
	for _, g := range groups {
		code := g.codes[0]
		if len(g.codes) > 1 {
			var pick []int
			for _, c := range g.codes {
				if settled[c] {
					pick = append(pick, c)
				}
			}
			if len(pick) != 1 {
				continue // ambiguous wording: no guess
			}
			code = pick[0]
		}
		i := slices.IndexFunc(g.spans, func(s Span) bool { return s.Code == code })
		out = append(out, g.spans[i])
	}
	return out
}
