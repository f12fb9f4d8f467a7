package config

// This file reads a config file as a YAML tree before decoding it, so that
// every problem (an unset variable, a key of the wrong type, an unknown
// key, a value Validate refuses) names the file, the line and the key
// path as the user wrote them, and all of them are reported at once.

import (
	"encoding"
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Problem is one mistake in a config file: where it is and what is wrong.
type Problem struct {
	// File is the config file ("defaults" when there is none).
	File string
	// Line is the line of the key (or of its closest parent written in
	// the file); 0 when the file has none of them.
	Line int
	// Msg says what is wrong, starting with the key path in YAML terms
	// (outbox.workers, sources.maildir[1].path).
	Msg string

	// path is the key the problem was located at.
	path string
}

// Error returns "file:line: msg", or "file: msg" without a line.
func (p *Problem) Error() string {
	if p.Line > 0 {
		return fmt.Sprintf("%s:%d: %s", p.File, p.Line, p.Msg)
	}
	return fmt.Sprintf("%s: %s", p.File, p.Msg)
}

// Problemf reports a problem with the key at path ("catalog.files[0]"),
// located at that key's line in c's file (or its closest written
// parent's). The message is "path: " and the formatted text.
func (c *Config) Problemf(path, format string, args ...any) error {
	return &Problem{File: c.fileName(), Line: c.lineOf(path), Msg: path + ": " + fmt.Sprintf(format, args...), path: path}
}

func (c *Config) fileName() string {
	if c.File == "" {
		return "defaults"
	}
	return c.File
}

// lineOf returns the line of the key at path, or of its closest parent
// that the file has; 0 when none.
func (c *Config) lineOf(path string) int {
	for p := path; p != ""; p = parentPath(p) {
		if l, ok := c.lines[p]; ok {
			return l
		}
	}
	return 0
}

// parentPath returns the path one level up: a.b[2].c → a.b[2] → a.b → a → "".
func parentPath(p string) string {
	i := strings.LastIndexAny(p, ".[")
	if i < 0 {
		return ""
	}
	return p[:i]
}

// locate turns a message from Validate, which starts with a key path
// ("webhooks[0] (h): url … must start with https://"), into a Problem at
// that key's line. When the words after the path name a key under it
// ("url …") or a whole path ("http.listen …"), that key's line is used.
func (c *Config) locate(msg string) error {
	p := &Problem{File: c.fileName(), Msg: msg}
	head, rest, ok := strings.Cut(msg, ": ")
	if !ok {
		return p
	}
	if i := strings.Index(head, " ("); i > 0 && strings.HasSuffix(head, ")") {
		head = head[:i] // "webhooks[0] (h)": the name is for the reader
	}
	if strings.ContainsAny(head, " \t") {
		return p
	}
	word, _, _ := strings.Cut(rest, " ")
	word = strings.TrimSuffix(word, ":")
	for _, cand := range []string{head + "." + word, word, head} {
		if l, ok := c.lines[cand]; ok {
			p.Line, p.path = l, cand
			return p
		}
	}
	p.Line, p.path = c.lineOf(head), head
	return p
}

// lineError matches the "line N: " yaml puts before its messages.
var lineError = regexp.MustCompile(`^(?:yaml: )?line (\d+): (.*)$`)

// syntaxError words a YAML syntax error as "file:line: …".
func syntaxError(file string, err error) error {
	if m := lineError.FindStringSubmatch(err.Error()); m != nil {
		n, _ := strconv.Atoi(m[1])
		return &Problem{File: file, Line: n, Msg: "not valid YAML: " + m[2]}
	}
	return &Problem{File: file, Msg: "not valid YAML: " + strings.TrimPrefix(err.Error(), "yaml: ")}
}

// envRE matches ${NAME} and ${NAME:-default}.
var envRE = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)(:-([^}]*))?\}`)

// walker visits a parsed config file once: it records the line of every
// key, expands ${ENV} in scalar values, and checks every key and value
// against the Config type, collecting problems instead of stopping.
type walker struct {
	c      *Config
	getenv func(string) string
	errs   []error
	// unset holds the paths of values with an unset variable: what
	// Validate then says about them follows from it and is left out.
	unset map[string]bool
}

// consequence reports whether err, from Validate, is about a value
// whose variable is unset (and so already reported).
func (w *walker) consequence(err error) bool {
	var p *Problem
	return errors.As(err, &p) && w.unset[p.path]
}

func (w *walker) problem(line int, path, format string, args ...any) {
	p := &Problem{File: w.c.fileName(), Line: line, path: path}
	if path == "" {
		path = "the top level"
	}
	p.Msg = path + ": " + fmt.Sprintf(format, args...)
	w.errs = append(w.errs, p)
}

var (
	yamlNodeType = reflect.TypeFor[yaml.Node]()
	durationType = reflect.TypeFor[time.Duration]()
	timeType     = reflect.TypeFor[time.Time]()
	textType     = reflect.TypeFor[encoding.TextUnmarshaler]()
	yamlUnmType  = reflect.TypeFor[yaml.Unmarshaler]()
)

// expand replaces ${NAME} and ${NAME:-default} in one scalar value. Only
// values are expanded, after parsing: what a variable holds is never
// read as YAML (a '#', a leading '*' or a "key: value" stays text) and
// comments are never looked at. A variable that is unset (or empty) and
// has no default is a problem naming the key, so a missing secret is
// noticed.
func (w *walker) expand(n *yaml.Node, path string) {
	if !strings.Contains(n.Value, "${") {
		return
	}
	var missing []string
	out := envRE.ReplaceAllStringFunc(n.Value, func(m string) string {
		sub := envRE.FindStringSubmatch(m)
		if v := w.getenv(sub[1]); v != "" {
			return v
		}
		if strings.HasPrefix(sub[2], ":-") {
			return sub[3]
		}
		missing = append(missing, sub[1])
		return ""
	})
	for _, name := range missing {
		w.problem(n.Line, path, "environment variable %s is not set (set it, or write ${%s:-default})", name, name)
		if w.unset == nil {
			w.unset = map[string]bool{}
		}
		w.unset[path] = true
	}
	if out == n.Value {
		return
	}
	n.Value = out
	if n.Style&(yaml.TaggedStyle|yaml.DoubleQuotedStyle|yaml.SingleQuotedStyle|yaml.LiteralStyle|yaml.FoldedStyle) == 0 {
		// A plain ${PORT} was read as a string; let the value decide
		// (8080 is a number, true a boolean), as if written in place.
		n.Tag = ""
	}
}

// walk visits node n, which is decoded into a value of type t at path.
// t nil means "anything" (the routes section, which package route
// compiles and checks itself): only ${ENV} is expanded there.
func (w *walker) walk(n *yaml.Node, t reflect.Type, path string) {
	if n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	if path != "" {
		if _, seen := w.c.lines[path]; !seen {
			w.c.lines[path] = n.Line
		}
	}
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == yamlNodeType {
		t = nil
	}
	if n.Kind == yaml.ScalarNode {
		w.expand(n, path)
	}
	if t == nil {
		w.walkAny(n, path)
		return
	}
	if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null" {
		return // an empty value: the default
	}
	custom := reflect.PointerTo(t).Implements(yamlUnmType) || reflect.PointerTo(t).Implements(textType)
	switch {
	case custom || t == durationType || t == timeType:
		w.leaf(n, t, path)
	case t.Kind() == reflect.Struct:
		if n.Kind != yaml.MappingNode {
			w.problem(n.Line, path, "must be a mapping of keys (%s), not %s", strings.Join(structKeys(t), ", "), nodeKind(n))
			return
		}
		fields := structFields(t)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			kp := joinPath(path, k.Value)
			f, ok := fields[k.Value]
			if !ok {
				w.c.lines[kp] = k.Line
				where := path
				if where == "" {
					where = "the top level"
				}
				w.problem(k.Line, kp, "unknown key (%s takes %s)", where, strings.Join(structKeys(t), ", "))
				continue
			}
			w.c.lines[kp] = k.Line
			w.walk(v, f, kp)
		}
	case t.Kind() == reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			w.problem(n.Line, path, "must be a list (write [a, b], or one item per line after -), not %s", nodeKind(n))
			return
		}
		for i, item := range n.Content {
			w.walk(item, t.Elem(), fmt.Sprintf("%s[%d]", path, i))
		}
	case t.Kind() == reflect.Map:
		if n.Kind != yaml.MappingNode {
			w.problem(n.Line, path, "must be a mapping (key: value), not %s", nodeKind(n))
			return
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			kp := joinPath(path, k.Value)
			w.c.lines[kp] = k.Line
			w.walk(v, t.Elem(), kp)
		}
	default:
		w.leaf(n, t, path)
	}
}

// walkAny expands ${ENV} in every value below n and records lines.
func (w *walker) walkAny(n *yaml.Node, path string) {
	switch n.Kind {
	case yaml.ScalarNode:
		w.expand(n, path)
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			w.walk(n.Content[i+1], nil, joinPath(path, n.Content[i].Value))
		}
	case yaml.SequenceNode:
		for i, item := range n.Content {
			w.walk(item, nil, fmt.Sprintf("%s[%d]", path, i))
		}
	case yaml.DocumentNode:
		for _, c := range n.Content {
			w.walkAny(c, path)
		}
	}
}

// leaf checks that scalar n decodes into a t.
func (w *walker) leaf(n *yaml.Node, t reflect.Type, path string) {
	if n.Kind != yaml.ScalarNode {
		w.problem(n.Line, path, "must be %s, not %s", describeType(t), nodeKind(n))
		return
	}
	if err := n.Decode(reflect.New(t).Interface()); err != nil {
		w.problem(n.Line, path, "%q is not %s", n.Value, describeType(t))
	}
}

func joinPath(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// nodeKind names what a node is, in YAML terms.
func nodeKind(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	default:
		return fmt.Sprintf("%q", n.Value)
	}
}

// describeType says what a value of type t looks like, in YAML terms
// (never a Go type name).
func describeType(t reflect.Type) string {
	switch {
	case t == durationType:
		return "a duration (write 30s, 5m or 2h)"
	case t == timeType:
		return "a date (write 2026-01-31 or 2026-01-31T09:00:00Z)"
	}
	switch t.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "a whole number"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Bool:
		return "true or false"
	case reflect.String:
		return "a single value (quote it if it holds : or #)"
	case reflect.Slice:
		return "a list"
	case reflect.Map, reflect.Struct:
		return "a mapping of keys"
	}
	return "a value of another kind"
}

// yamlField is one key a struct takes in YAML.
type yamlField struct {
	name string
	typ  reflect.Type
}

// structYAMLFields lists the keys struct t takes, with their types, in
// order of declaration; inlined structs' keys stand in their place.
func structYAMLFields(t reflect.Type) []yamlField {
	var out []yamlField
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name, opts, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if name == "-" {
			continue
		}
		if slices.Contains(strings.Split(opts, ","), "inline") {
			out = append(out, structYAMLFields(f.Type)...)
			continue
		}
		if name == "" {
			name = strings.ToLower(f.Name)
		}
		out = append(out, yamlField{name, f.Type})
	}
	return out
}

// structFields maps the keys struct t takes to their types.
func structFields(t reflect.Type) map[string]reflect.Type {
	out := map[string]reflect.Type{}
	for _, f := range structYAMLFields(t) {
		out[f.name] = f.typ
	}
	return out
}

// structKeys lists the keys struct t takes, in order of declaration.
func structKeys(t reflect.Type) []string {
	var out []string
	for _, f := range structYAMLFields(t) {
		out = append(out, f.name)
	}
	return out
}
