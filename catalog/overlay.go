package catalog

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"
)

// An overlay file adds a team's knowledge to the catalog:
//
//	codes:
//	  - code: ERR_NGROK_108          # or 108
//	    category: limits-billing     # override the category
//	    hint: "Check the seat count in Salesforce first."
//	    runbook: https://wiki.example.com/ngrok/108
//	    owner: "@agent-team"
//	    signatures:                  # more wordings that name this code
//	      - "seat limit * agent session*"
//	  - code: 99001                  # a code the default catalog lacks
//	    summary: Our own gateway refused the tunnel.
//	    category: upstream-gateway
//
// Fields left out keep the default catalog's value. A code the catalog does
// not know must come with a summary and a category. Signatures are added
// to the code's embedded ones and follow the same rules (ParsePhrase); a
// bad one is a load error naming its line.
type overlayFile struct {
	Codes []overlayEntry `yaml:"codes"`
}

type overlayEntry struct {
	Code     string `yaml:"code"`
	Summary  string `yaml:"summary"`
	Category string `yaml:"category"`
	Status   string `yaml:"status"`
	Hint     string `yaml:"hint"`
	Runbook  string `yaml:"runbook"`
	Owner    string `yaml:"owner"`
	// Signatures are phrases in ParsePhrase's syntax.
	Signatures []string `yaml:"signatures"`
}

// Overlay is a parsed, validated overlay file.
type Overlay struct {
	// Name is the file it came from.
	Name    string
	entries []overlayItem
}

type overlayItem struct {
	code  int
	line  int
	entry overlayEntry
	sigs  []Signature
}

// LoadOverlay reads and validates an overlay file.
func LoadOverlay(path string) (*Overlay, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("catalog overlay: %w", err)
	}
	return ParseOverlay(path, data)
}

// ParseOverlay validates overlay data; every problem is reported at once,
// each as "file:line: what is wrong".
func ParseOverlay(name string, data []byte) (*Overlay, error) {
	var root yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&root); err != nil {
		if errors.Is(err, io.EOF) {
			return &Overlay{Name: name}, nil
		}
		return nil, fmt.Errorf("%s: not valid YAML: %w", name, err)
	}
	var f overlayFile
	strict := yaml.NewDecoder(bytes.NewReader(data))
	strict.KnownFields(true)
	if err := strict.Decode(&f); err != nil {
		return nil, fmt.Errorf("%s: %w (allowed keys: codes; per code: code, summary, category, status, hint, runbook, owner, signatures)", name, err)
	}
	lines := codeLines(&root)
	o := &Overlay{Name: name}
	var errs []error
	seen := map[int]int{}
	for i, e := range f.Codes {
		var line int
		var sigLines []int
		if i < len(lines) {
			line, sigLines = lines[i].line, lines[i].sigs
		}
		bad := func(format string, args ...any) {
			errs = append(errs, fmt.Errorf("%s:%d: %s", name, line, fmt.Sprintf(format, args...)))
		}
		code, err := ParseCode(e.Code)
		if e.Code == "" {
			bad("entry %d has no code", i+1)
			continue
		}
		if err != nil {
			bad("%v", err)
			continue
		}
		if prev, dup := seen[code]; dup {
			bad("ERR_NGROK_%d is already given at line %d", code, prev)
		}
		seen[code] = line
		if e.Category != "" && (!Category(e.Category).Valid() || Category(e.Category) == Unknown) {
			bad("ERR_NGROK_%d: unknown category %q (want one of %s)", code, e.Category, categoryList())
		}
		if e.Status != "" && Status(e.Status) != Current && Status(e.Status) != Retired {
			bad("ERR_NGROK_%d: status %q is neither current nor retired", code, e.Status)
		}
		if e.Runbook != "" {
			if u, err := url.Parse(e.Runbook); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
				bad("ERR_NGROK_%d: runbook %q is not an http(s) URL", code, e.Runbook)
			}
		}
		for field, v := range map[string]string{"summary": e.Summary, "hint": e.Hint, "owner": e.Owner} {
			if strings.ContainsAny(v, "\t\n") {
				bad("ERR_NGROK_%d: %s must be one line without tabs", code, field)
			}
		}
		var sigs []Signature
		seenPhrase := map[string]bool{}
		for j, phrase := range e.Signatures {
			sl := line
			if j < len(sigLines) {
				sl = sigLines[j]
			}
			p, err := ParsePhrase(phrase)
			switch {
			case err != nil:
				errs = append(errs, fmt.Errorf("%s:%d: ERR_NGROK_%d: signature: %w", name, sl, code, err))
				continue
			case seenPhrase[phrase]:
				errs = append(errs, fmt.Errorf("%s:%d: ERR_NGROK_%d: signature %q is given twice", name, sl, code, phrase))
				continue
			}
			seenPhrase[phrase] = true
			sigs = append(sigs, Signature{Code: code, Phrase: phrase, Tokens: p, Source: fmt.Sprintf("%s:%d", name, sl)})
		}
		o.entries = append(o.entries, overlayItem{code: code, line: line, entry: e, sigs: sigs})
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return o, nil
}

func categoryList() string {
	var names []string
	for _, c := range Categories() {
		if c != Unknown {
			names = append(names, string(c))
		}
	}
	return strings.Join(names, ", ")
}

// itemLines is where one item of the "codes" list and its signatures are.
type itemLines struct {
	line int
	sigs []int
}

// codeLines returns the lines of each item of the top-level "codes" list.
func codeLines(root *yaml.Node) []itemLines {
	if root.Kind != yaml.DocumentNode || len(root.Content) == 0 {
		return nil
	}
	m := root.Content[0]
	if m.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == "codes" && m.Content[i+1].Kind == yaml.SequenceNode {
			var lines []itemLines
			for _, item := range m.Content[i+1].Content {
				lines = append(lines, itemLines{line: item.Line, sigs: signatureLines(item)})
			}
			return lines
		}
	}
	return nil
}

// signatureLines returns the line of each item of an entry's signatures.
func signatureLines(item *yaml.Node) []int {
	if item.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(item.Content); i += 2 {
		if item.Content[i].Value == "signatures" {
			var lines []int
			for _, s := range item.Content[i+1].Content {
				lines = append(lines, s.Line)
			}
			return lines
		}
	}
	return nil
}

// Apply returns a new catalog with the overlay's entries laid over base,
// and the overlay's signatures added after base's. A new code without
// summary or category is an error naming the line.
func (o *Overlay) Apply(base *Catalog) (*Catalog, error) {
	entries := base.All()
	sigs := slices.Clone(base.sigs)
	var errs []error
	for _, it := range o.entries {
		e := base.Lookup(it.code)
		if !e.Known {
			if it.entry.Summary == "" || it.entry.Category == "" {
				errs = append(errs, fmt.Errorf("%s:%d: ERR_NGROK_%d is not in the catalog, so it needs a summary and a category", o.Name, it.line, it.code))
				continue
			}
			e = Entry{Code: it.code, Status: Current}
		}
		set := func(dst *string, v string) {
			if v != "" {
				*dst = v
			}
		}
		set(&e.Summary, it.entry.Summary)
		set((*string)(&e.Category), it.entry.Category)
		set((*string)(&e.Status), it.entry.Status)
		set(&e.Hint, it.entry.Hint)
		set(&e.Runbook, it.entry.Runbook)
		set(&e.Owner, it.entry.Owner)
		entries = append(entries, e)
		sigs = append(sigs, it.sigs...)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	out := New(entries)
	out.sigs = sigs
	out.official, out.derived = base.official, base.derived
	return out, nil
}
