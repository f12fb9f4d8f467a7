// Package catalog is the project's knowledge of every ngrok error code:
// what it means in our own words, which team's queue it belongs to, a first
// hint for the customer, and its docs link.
//
// The default catalog is embedded in the binary (data/catalog.tsv). Teams
// add their own knowledge with overlay files (see LoadOverlay), and
// `triage catalog sync` stores ngrok's official messages in the data
// directory (see Sync); Load puts the three together.
//
// Signatures name an error by its wording when a customer pastes the
// message without the code (see Signature and docs/signatures.md): short
// phrases with wildcards in data/signatures.tsv, in overlay files, and
// derived from the synced official messages. They are facts about the
// wording, never ngrok's sentences: a written phrase has at most seven
// tokens, so no run of eight of ngrok's words can enter the project.
//
// A Catalog is immutable once built and safe for concurrent use. Lookup
// never fails: a code nobody knows yet gets its docs link, the Unknown
// category and Known == false, so a human can add it.
package catalog

import (
	_ "embed"
	"fmt"
	"iter"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// Category names the team queue that owns a kind of problem.
type Category string

// The categories. See docs/categories.md for what belongs where and why.
const (
	AgentAuth        Category = "agent-auth"
	UpstreamGateway  Category = "upstream-gateway"
	LimitsBilling    Category = "limits-billing"
	AbuseTrust       Category = "abuse-trust"
	DomainsTLS       Category = "domains-tls"
	IdentityLogin    Category = "identity-login"
	APIConfig        Category = "api-config"
	PlatformIncident Category = "platform-incident"
	Unknown          Category = "unknown"
)

// Categories returns every category, Unknown last, in a stable order.
func Categories() []Category {
	return []Category{AgentAuth, UpstreamGateway, LimitsBilling, AbuseTrust, DomainsTLS, IdentityLogin, APIConfig, PlatformIncident, Unknown}
}

// Valid reports whether c is one of Categories.
func (c Category) Valid() bool { return slices.Contains(Categories(), c) }

// Status says whether ngrok still emits a code.
type Status string

// Code statuses.
const (
	Current Status = "current"
	Retired Status = "retired"
)

// Entry is what the catalog knows about one code.
type Entry struct {
	// Code is n in ERR_NGROK_n.
	Code int `json:"code" yaml:"code"`
	// Summary says what the code means for the customer, in our words.
	Summary string `json:"summary" yaml:"summary"`
	// Category is the owning team's queue.
	Category Category `json:"category" yaml:"category"`
	// Status is current or retired; empty for unknown codes.
	Status Status `json:"status,omitempty" yaml:"status,omitempty"`
	// Hint is a first step to suggest to the customer; may be empty.
	Hint string `json:"hint,omitempty" yaml:"hint,omitempty"`
	// Runbook is a team's internal link, from an overlay.
	Runbook string `json:"runbook,omitempty" yaml:"runbook,omitempty"`
	// Owner is a team or person, from an overlay.
	Owner string `json:"owner,omitempty" yaml:"owner,omitempty"`
	// Official is ngrok's own message, present after `triage catalog sync`.
	Official string `json:"official,omitempty" yaml:"official,omitempty"`
	// Known is false for codes the catalog has no entry for.
	Known bool `json:"known" yaml:"-"`
}

// Name returns "ERR_NGROK_<n>".
func (e Entry) Name() string { return "ERR_NGROK_" + strconv.Itoa(e.Code) }

// DocsURL returns the code's page in ngrok's docs.
func (e Entry) DocsURL() string { return DocsURL(e.Code) }

// DocsURL returns the docs page of code n. Every code has one, known or not.
func DocsURL(n int) string {
	return "https://ngrok.com/docs/errors/err_ngrok_" + strconv.Itoa(n) + "/"
}

// maxCode bounds the dense index; larger codes go to a map.
const maxCode = 1 << 16

// Catalog is a set of entries with constant-time lookup.
type Catalog struct {
	entries []Entry
	index   []int32 // code → position in entries + 1; 0 means absent
	large   map[int]int32
	// official holds ngrok's messages from the last sync, by code.
	official map[int]string
	// sigs are the written signatures (embedded file, then overlays);
	// derived are those made from official.
	sigs    []Signature
	derived []Signature
	// memo holds values derived from this catalog once (see Memo); each
	// copy made by a With… method gets its own.
	memo *memo
}

type memo struct {
	mu   sync.Mutex
	vals map[any]any
}

// Memo returns the value build makes from this catalog for key, calling
// build at most once per catalog and key (other packages keep their
// compiled forms of the catalog here, such as compiled signature
// phrases). build must not call Memo.
func (c *Catalog) Memo(key any, build func() any) any {
	c.memo.mu.Lock()
	defer c.memo.mu.Unlock()
	if v, ok := c.memo.vals[key]; ok {
		return v
	}
	if c.memo.vals == nil {
		c.memo.vals = map[any]any{}
	}
	v := build()
	c.memo.vals[key] = v
	return v
}

// New builds a catalog from entries; a later entry for the same code
// replaces an earlier one.
func New(entries []Entry) *Catalog {
	c := &Catalog{index: make([]int32, maxCode), memo: &memo{}}
	for _, e := range entries {
		e.Known = true
		if i, ok := c.pos(e.Code); ok {
			c.entries[i] = e
			continue
		}
		c.entries = append(c.entries, e)
		c.setPos(e.Code, len(c.entries)-1)
	}
	slices.SortFunc(c.entries, func(a, b Entry) int { return a.Code - b.Code })
	clear(c.index)
	c.large = nil
	for i, e := range c.entries {
		c.setPos(e.Code, i)
	}
	return c
}

func (c *Catalog) pos(code int) (int, bool) {
	if code >= 0 && code < maxCode {
		p := c.index[code]
		return int(p) - 1, p != 0
	}
	p, ok := c.large[code]
	return int(p), ok
}

func (c *Catalog) setPos(code, i int) {
	if code >= 0 && code < maxCode {
		c.index[code] = int32(i + 1)
		return
	}
	if c.large == nil {
		c.large = map[int]int32{}
	}
	c.large[code] = int32(i)
}

// Lookup returns the entry for code n. For a code the catalog does not
// know it returns an entry with Known == false, Category Unknown and a
// summary saying so; the docs link still works. It does not allocate.
func (c *Catalog) Lookup(n int) Entry {
	var e Entry
	if i, ok := c.pos(n); ok {
		e = c.entries[i]
	} else {
		e = Entry{Code: n, Category: Unknown, Summary: "Not in the catalog yet: read the docs page and add it to an overlay file."}
	}
	if c.official != nil {
		e.Official = c.official[n]
	}
	return e
}

// WithOfficial returns a copy of c that shows ngrok's official message
// (from a sync) beside each entry, and whose Signatures include those
// derived from the messages (see DeriveSignatures).
func (c *Catalog) WithOfficial(messages map[int]string) *Catalog {
	cp := *c
	cp.memo = &memo{}
	cp.official = messages
	cp.derived = DeriveSignatures(messages)
	return &cp
}

// WithSignatures returns a copy of c whose written signatures are sigs
// (replacing any it had; derived ones are kept). sigs must come from
// ParseSignatures or an overlay, which validated them.
func (c *Catalog) WithSignatures(sigs []Signature) *Catalog {
	cp := *c
	cp.memo = &memo{}
	cp.sigs = slices.Clip(sigs)
	return &cp
}

// Signatures returns every signature: the embedded ones in file order,
// then the overlays' in the order given, then those derived from the
// official messages in code order. The slice is a copy; the Tokens of
// each signature are shared and must not be modified. A phrase may appear
// under several codes: that wording then settles nothing on its own.
func (c *Catalog) Signatures() []Signature {
	return slices.Concat(c.sigs, c.derived)
}

// Has reports whether the catalog knows code n.
func (c *Catalog) Has(n int) bool { _, ok := c.pos(n); return ok }

// Len returns the number of known codes.
func (c *Catalog) Len() int { return len(c.entries) }

// All returns every known entry in code order, with official messages
// filled in. The slice is a copy.
func (c *Catalog) All() []Entry {
	out := slices.Clone(c.entries)
	for i := range out {
		out[i].Official = c.official[out[i].Code]
	}
	return out
}

//go:embed data/catalog.tsv
var defaultTSV string

//go:embed data/signatures.tsv
var defaultSignatures string

var defaultCatalog = sync.OnceValues(func() (*Catalog, error) {
	entries, err := ParseTSV("catalog/data/catalog.tsv", defaultTSV)
	if err != nil {
		return nil, err
	}
	sigs, err := ParseSignatures("catalog/data/signatures.tsv", defaultSignatures)
	if err != nil {
		return nil, err
	}
	c := New(entries)
	for _, s := range sigs {
		if !c.Has(s.Code) {
			return nil, fmt.Errorf("%s: ERR_NGROK_%d is not in the catalog", s.Source, s.Code)
		}
	}
	return c.WithSignatures(sigs), nil
})

// Default returns the catalog embedded in the binary, with the embedded
// signatures. It is parsed once; the result is shared and must not be
// modified (Catalog has no mutators).
func Default() (*Catalog, error) { return defaultCatalog() }

// dataLines yields the numbered lines of a data file that carry data:
// blank lines and lines starting with # are skipped, and a trailing \r
// is dropped.
func dataLines(data string) iter.Seq2[int, string] {
	return func(yield func(int, string) bool) {
		line := 0
		for rest := data; rest != ""; {
			var l string
			l, rest, _ = strings.Cut(rest, "\n")
			line++
			l = strings.TrimRight(l, "\r")
			if l == "" || strings.HasPrefix(l, "#") {
				continue
			}
			if !yield(line, l) {
				return
			}
		}
	}
}

// ParseTSV reads catalog rows: code, status, category, summary, hint,
// tab-separated, one per line; lines starting with # and blank lines are
// skipped. name is used in error messages.
func ParseTSV(name, data string) ([]Entry, error) {
	var out []Entry
	for line, l := range dataLines(data) {
		f := strings.Split(l, "\t")
		if len(f) != 5 {
			return nil, fmt.Errorf("%s:%d: want 5 tab-separated fields (code, status, category, summary, hint), got %d", name, line, len(f))
		}
		code, err := ParseCode(f[0])
		if err != nil {
			return nil, fmt.Errorf("%s:%d: %w", name, line, err)
		}
		e := Entry{Code: code, Status: Status(f[1]), Category: Category(f[2]), Summary: f[3], Hint: f[4], Known: true}
		if e.Status != Current && e.Status != Retired {
			return nil, fmt.Errorf("%s:%d: %s: status %q is neither %q nor %q", name, line, e.Name(), f[1], Current, Retired)
		}
		if !e.Category.Valid() || e.Category == Unknown {
			return nil, fmt.Errorf("%s:%d: %s: unknown category %q (want one of %v)", name, line, e.Name(), f[2], Categories()[:len(Categories())-1])
		}
		if strings.TrimSpace(e.Summary) == "" {
			return nil, fmt.Errorf("%s:%d: %s: empty summary", name, line, e.Name())
		}
		out = append(out, e)
	}
	return out, nil
}

// ParseCode reads a code written as "ERR_NGROK_108" (any case), a docs URL
// ending in err_ngrok_108, or a bare number "108".
func ParseCode(s string) (int, error) {
	t := strings.TrimSpace(s)
	t = strings.TrimSuffix(t, "/")
	if i := strings.LastIndex(strings.ToLower(t), "err_ngrok_"); i >= 0 {
		t = t[i+len("err_ngrok_"):]
	}
	n, err := strconv.Atoi(t)
	if err != nil || n < 0 || n > 9_999_999 || t == "" || t[0] == '+' || t[0] == '-' {
		return 0, fmt.Errorf("%q is not an ngrok error code (write ERR_NGROK_108 or 108)", s)
	}
	return n, nil
}
