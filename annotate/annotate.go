// Package annotate turns the codes found in a ticket into what a support
// engineer needs: each distinct code once, with the catalog's meaning,
// category, hint and docs link, codes in new text before codes seen only
// in quoted history, the ticket's primary category, and unknown codes
// flagged so a human adds them to the catalog.
package annotate

import (
	mathbits "math/bits"
	"slices"
	"sync"

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
	// Inferred is true when the code was never written in the ticket,
	// only named by its wording (see Phrase): ranked after every written
	// code, and presented as "this looks like", never as what the
	// customer reported.
	Inferred bool `json:"inferred,omitempty"`
	// Phrase is, for an inferred code, the customer's words that named it.
	Phrase string `json:"phrase,omitempty"`
	// Forms lists the forms it was found in (extract.Form names), each
	// once, in extract.Form order: strongest first (route shows Forms[0]
	// as the code's form).
	Forms []string `json:"forms,omitempty"`
}

// AgentAPICode is one distinct number of the ngrok agent's local API
// found in a ticket: its own namespace, never an ngrok code.
type AgentAPICode struct {
	catalog.AgentAPIEntry
	// Count is how often it was found.
	Count int `json:"count"`
	// QuotedOnly is true when it appears only in quoted history.
	QuotedOnly bool `json:"quoted_only,omitempty"`
	// Where lists the places it was found, as Code.Where does.
	Where []string `json:"where"`
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
	// AgentAPI lists the agent local API's numbers: not ngrok codes.
	AgentAPI []AgentAPICode `json:"agent_api,omitempty"`
	// MoreCodes, MoreUnknown and MoreAgentAPI count what Bounded left out
	// of Codes, Unknown and AgentAPI.
	MoreCodes    int `json:"more_codes,omitempty"`
	MoreUnknown  int `json:"more_unknown,omitempty"`
	MoreAgentAPI int `json:"more_agent_api,omitempty"`
}

// HasCodes reports whether any code was found.
func (a Annotation) HasCodes() bool { return len(a.Codes) > 0 }

// StoredCodes is how many codes (and unknown codes, and agent API
// numbers) a stored annotation describes: one message naming thousands of
// codes must not store megabytes of catalog text with its ticket, whose
// own list of codes stays complete.
const StoredCodes = 200

// Bounded returns a with at most n entries in Codes, Unknown and
// AgentAPI (the first, most important ones), counting the rest in
// MoreCodes, MoreUnknown and MoreAgentAPI. Primary is unchanged. a itself
// is not modified.
func (a Annotation) Bounded(n int) Annotation {
	cut := func(l int) (keep, more int) {
		if l <= n {
			return l, 0
		}
		return n, l - n
	}
	var k int
	k, a.MoreCodes = cut(len(a.Codes))
	a.Codes = a.Codes[:k:k]
	k, a.MoreUnknown = cut(len(a.Unknown))
	a.Unknown = a.Unknown[:k:k]
	k, a.MoreAgentAPI = cut(len(a.AgentAPI))
	a.AgentAPI = a.AgentAPI[:k:k]
	return a
}

// Builder accumulates matches one at a time, so a stream of any length
// is annotated in memory proportional to its distinct codes.
type Builder struct {
	cat *catalog.Catalog
	// Per match, only a small record is touched: a log with thousands of
	// distinct codes keeps them in cache. Catalog entries are looked up
	// once, in Annotation.
	stats []stat      // in order of first appearance
	dense []int32     // code → 1 + its place in stats, for codes below len(dense)
	index map[int]int // the same for larger codes
	// agent holds the agent API's numbers, few per ticket.
	agent []stat
}

// stat is what a Builder keeps per distinct code.
type stat struct {
	code       int
	count      int
	confidence float64
	quotedOnly bool
	inferred   bool   // only inferred so far
	forms      uint32 // bit per extract.Form
	phrase     string // first phrase that named it, for inferred codes
	where      []string
}

// denseCodes bounds the codes a Builder indexes by array once it has seen
// more than a few distinct ones; every ngrok code so far is far below.
const denseCodes = 1 << 16

// NewBuilder returns a Builder that looks codes up in cat.
func NewBuilder(cat *catalog.Catalog) *Builder {
	return &Builder{cat: cat}
}

// place returns the index in b.stats of code, adding it when new.
func (b *Builder) place(code int) int {
	if code >= 0 && code < len(b.dense) {
		if i := b.dense[code]; i > 0 {
			return int(i - 1)
		}
	} else if i, ok := b.index[code]; ok {
		return i
	}
	i := len(b.stats)
	b.stats = append(b.stats, stat{code: code, quotedOnly: true, inferred: true})
	switch {
	case code >= 0 && code < len(b.dense):
		b.dense[code] = int32(i + 1)
	case b.dense == nil && len(b.stats) > 64:
		// Many distinct codes: switch to the array for the small ones.
		b.dense = make([]int32, denseCodes)
		for j, st := range b.stats {
			if st.code >= 0 && st.code < denseCodes {
				b.dense[st.code] = int32(j + 1)
				delete(b.index, st.code)
			}
		}
		if code < 0 || code >= denseCodes {
			b.index[code] = i
		}
	default:
		if b.index == nil {
			b.index = map[int]int{}
		}
		b.index[code] = i
	}
	return i
}

// Add records one match. A match of form agent-api is an agent API
// number, kept apart; one of form inferred names a code by its wording.
func (b *Builder) Add(m ticket.Match) {
	form := extract.ParseForm(m.Form)
	var st *stat
	if form == extract.FormAgentAPI {
		k := slices.IndexFunc(b.agent, func(s stat) bool { return s.code == m.Code })
		if k < 0 {
			k = len(b.agent)
			b.agent = append(b.agent, stat{code: m.Code, quotedOnly: true})
		}
		st = &b.agent[k]
	} else {
		st = &b.stats[b.place(m.Code)]
		if form != extract.FormInferred {
			st.inferred = false
		} else if st.phrase == "" {
			st.phrase = m.Text
		}
	}
	st.forms |= 1 << form
	st.count++
	if !m.Quoted {
		st.quotedOnly = false
	}
	st.confidence = max(st.confidence, m.Confidence)
	if m.PartName == "" {
		if !slices.Contains(st.where, string(m.PartKind)) {
			st.where = append(st.where, string(m.PartKind))
		}
		return
	}
	where := string(m.PartKind) + ":" + m.PartName
	if !slices.Contains(st.where, where) {
		st.where = append(st.where, where)
	}
}

// AddStream records one match of a text with a single part, as a
// streamed file is: Add for a match in new text of that part, without a
// ticket.Match per match (scan's hot path). where names the part (a
// one-element slice of capacity one, shared by every code: Add appends
// to a copy).
func (b *Builder) AddStream(code int, form extract.Form, confidence float64, where []string) {
	if form == extract.FormAgentAPI || form == extract.FormInferred {
		b.Add(ticket.Match{Code: code, Form: form.String(), Confidence: confidence, PartKind: ticket.PartKind(where[0])})
		return
	}
	st := &b.stats[b.place(code)]
	st.inferred = false
	st.forms |= 1 << form
	st.count++
	st.quotedOnly = false
	st.confidence = max(st.confidence, confidence)
	if st.where == nil {
		st.where = where[:1:1]
	}
}

// singleForms holds the name list of each one-form set: most codes are
// found in one form, and a log can hold tens of thousands of codes.
var singleForms = func() (s [32][]string) {
	for f := range s {
		s[f] = []string{extract.Form(f).String()}
	}
	return s
}()

// formNames returns the names of the forms in the bit set (shared for a
// set of one form: callers must not modify it).
func formNames(bits uint32) []string {
	if bits != 0 && bits&(bits-1) == 0 {
		return singleForms[mathbits.TrailingZeros32(bits)]
	}
	var out []string
	for f := extract.Form(0); bits != 0; f++ {
		if bits&1 != 0 {
			out = append(out, f.String())
		}
		bits >>= 1
	}
	return out
}

// Annotation returns the result so far.
func (b *Builder) Annotation() Annotation {
	var a Annotation
	for _, st := range b.agent {
		a.AgentAPI = append(a.AgentAPI, AgentAPICode{AgentAPIEntry: catalog.AgentAPI(st.code), Count: st.count,
			QuotedOnly: st.quotedOnly, Where: slices.Clip(st.where)})
	}
	if len(b.stats) == 0 {
		return a
	}
	// Written codes in new text first, then codes inferred from new text,
	// then written codes seen only in quoted history, then inferred ones
	// there; each group in order of first appearance. An inferred code
	// never outranks a written one.
	order := make([]int32, 0, len(b.stats))
	for _, quoted := range []bool{false, true} {
		for _, inferred := range []bool{false, true} {
			for i, st := range b.stats {
				if st.quotedOnly == quoted && st.inferred == inferred {
					order = append(order, int32(i))
				}
			}
		}
	}
	a.Codes = make([]Code, len(order))
	fill := func(lo, hi int) {
		for k := lo; k < hi; k++ {
			st := &b.stats[order[k]]
			e := b.cat.Lookup(st.code)
			c := Code{Entry: e, Name: e.Name(), DocsURL: e.DocsURL(), Count: st.count,
				QuotedOnly: st.quotedOnly, Where: slices.Clip(st.where), Confidence: st.confidence,
				Inferred: st.inferred, Forms: formNames(st.forms)}
			if st.inferred {
				c.Phrase = st.phrase
			}
			a.Codes[k] = c
		}
	}
	if n := len(order); n >= parallelCodes {
		// A log with tens of thousands of distinct codes: two halves at
		// once.
		var wg sync.WaitGroup
		wg.Go(func() { fill(0, n/2) })
		fill(n/2, n)
		wg.Wait()
	} else {
		fill(0, len(order))
	}
	for _, c := range a.Codes {
		if !c.Known {
			a.Unknown = append(a.Unknown, c.Code)
		}
	}
	slices.Sort(a.Unknown)
	a.Primary = a.Codes[0].Category
	return a
}

// parallelCodes is how many distinct codes make Annotation split its work.
const parallelCodes = 4096

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
	return TicketWith(t, cat, Options{})
}

// TicketWith is Ticket with options.
func TicketWith(t *ticket.Ticket, cat *catalog.Catalog, opt Options) ([]ticket.Match, Annotation) {
	ms := Find(t, cat, opt)
	b := NewBuilder(cat)
	for _, m := range ms {
		b.Add(m)
	}
	return ms, b.Annotation()
}
