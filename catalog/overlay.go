package catalog

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
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
//	  - code: 99001                  # a code the default catalog lacks
//	    summary: Our own gateway refused the tunnel.
//	    category: upstream-gateway
//
// Fields left out keep the default catalog's value. A code the catalog does
// not know must come with a summary and a category.
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
		return nil, fmt.Errorf("%s: %w (allowed keys: codes; per code: code, summary, category, status, hint, runbook, owner)", name, err)
	}
	lines := codeLines(&root)
	o := &Overlay{Name: name}
	var errs []error
	seen := map[int]int{}
	for i, e := range f.Codes {
		line := 0
		if i < len(lines) {
			line = lines[i]
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
		o.entries = append(o.entries, overlayItem{code: code, line: line, entry: e})
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

// codeLines returns the line of each item of the top-level "codes" list.
func codeLines(root *yaml.Node) []int {
	if root.Kind != yaml.DocumentNode || len(root.Content) == 0 {
		return nil
	}
	m := root.Content[0]
	if m.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == "codes" && m.Content[i+1].Kind == yaml.SequenceNode {
			var lines []int
			for _, item := range m.Content[i+1].Content {
				lines = append(lines, item.Line)
			}
			return lines
		}
	}
	return nil
}

// Apply returns a new catalog with the overlay's entries laid over base.
// A new code without summary or category is an error naming the line.
func (o *Overlay) Apply(base *Catalog) (*Catalog, error) {
	entries := base.All()
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
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return New(entries), nil
}
