package route

import (
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"text/template"

	"go.yaml.in/yaml/v3"

	"github.com/triage-bot/triage/catalog"
	"github.com/triage-bot/triage/extract"
	"github.com/triage-bot/triage/ticket"
)

// The YAML schema. Field tags are the keys accepted; any other key is an
// error. route/REFERENCE.md documents every key (a test checks it).

// routesSpec is the value of `routes:`.
type routesSpec struct {
	Rules   seq[ruleSpec] `yaml:"rules"`
	Default defaultSpec   `yaml:"default"`
	Limits  limitsSpec    `yaml:"limits"`
}

// ruleSpec is one entry of `rules:`.
type ruleSpec struct {
	Name     str             `yaml:"name"`
	Match    matchSpec       `yaml:"match"`
	Actions  seq[actionSpec] `yaml:"actions"`
	Continue optional[bool]  `yaml:"continue"`
	Shadow   optional[bool]  `yaml:"shadow"`
	Line     int             `yaml:"-"`
}

// matchSpec is a rule's `match:`. Every key given must hold.
type matchSpec struct {
	Category      list              `yaml:"category"`
	Code          list              `yaml:"code"`
	Source        list              `yaml:"source"`
	Sender        list              `yaml:"sender"`
	SenderDomain  list              `yaml:"sender_domain"`
	Channel       list              `yaml:"channel"`
	Keyword       list              `yaml:"keyword"`
	HasCode       optional[bool]    `yaml:"has_code"`
	QuotedOnly    optional[bool]    `yaml:"quoted_only"`
	Inferred      optional[bool]    `yaml:"inferred"`
	AgentAPI      optional[bool]    `yaml:"agent_api"`
	MinConfidence optional[float64] `yaml:"min_confidence"`
	Forms         list              `yaml:"forms"`
	ExcludeForms  list              `yaml:"exclude_forms"`
	AutoSubmitted optional[bool]    `yaml:"auto_submitted"`
	Line          int               `yaml:"-"`
}

// actionSpec is one entry of `actions:`.
type actionSpec struct {
	Kind                 str            `yaml:"kind"`
	Target               str            `yaml:"target"`
	Template             str            `yaml:"template"`
	AllowCustomerFolders optional[bool] `yaml:"allow_customer_folders"`
	Line                 int            `yaml:"-"`
}

// defaultSpec is `default:`.
type defaultSpec struct {
	Actions seq[actionSpec] `yaml:"actions"`
	Line    int             `yaml:"-"`
}

// str is a scalar with where it was written.
type str struct {
	Value string
	Line  int
	Style yaml.Style
	Set   bool
}

// optional is a scalar that may be absent.
type optional[T any] struct {
	Value T
	Line  int
	Set   bool
}

// list is one scalar or a list of scalars ("any of").
type list struct {
	Items []str
	Line  int
	Set   bool
}

// seq is a list of mappings.
type seq[T any] struct {
	Items []T
	Line  int
	Set   bool
}

// ConfigError is one problem in the rules, with where it is. Compile and
// Parse return every ConfigError at once, joined with errors.Join.
type ConfigError struct {
	// File and Line locate the problem.
	File string
	Line int
	// Where names the place: `rule "agent problems"`, `rule #3` for a rule
	// without a name, `default`, or `routes`.
	Where string
	// Msg says what is wrong, with a hint in parentheses where one helps.
	Msg string
}

// Error formats the problem as "file:line: where: msg".
func (e *ConfigError) Error() string {
	return fmt.Sprintf("%s:%d: %s: %s", e.File, e.Line, e.Where, e.Msg)
}

// Parse compiles the `routes:` section of a whole YAML file (e.g.
// triage.yaml); other top-level keys are ignored. A file without `routes:`
// gives rules with only an empty default. name is used in messages.
func Parse(file string, data []byte, opts Options) (*Rules, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	root := &doc
	if root.Kind == yaml.DocumentNode && len(root.Content) > 0 {
		root = root.Content[0]
	}
	if root.Kind == 0 || isNull(root) {
		return Compile(file, nil, opts)
	}
	if root.Kind != yaml.MappingNode {
		return nil, &ConfigError{File: file, Line: root.Line, Where: "routes", Msg: "the file is not a YAML mapping (want a top-level routes: key)"}
	}
	for i := 0; i+1 < len(root.Content); i += 2 {
		if root.Content[i].Value == "routes" {
			return Compile(file, root.Content[i+1], opts)
		}
	}
	return Compile(file, nil, opts)
}

// Compile compiles the value of `routes:` (a mapping with `rules:` and
// `default:`). A nil or empty node gives rules with only a default that
// plans nothing. Every problem is reported at once: the error is an
// errors.Join of *ConfigError, one per problem.
func Compile(file string, node *yaml.Node, opts Options) (*Rules, error) {
	c := &compiler{file: file, opts: opts}
	r := &Rules{file: file}
	if node != nil && node.Kind == yaml.DocumentNode && len(node.Content) == 1 {
		node = node.Content[0]
	}
	if node == nil || node.Kind == 0 || isNull(node) {
		return r, nil
	}
	var spec routesSpec
	c.decode(node, reflect.ValueOf(&spec).Elem(), "routes", "routes")
	r.limits = c.limits(&spec.Limits)
	c.lim = r.limits
	names := map[string]int{}
	for i := range spec.Rules.Items {
		rs := &spec.Rules.Items[i]
		where := fmt.Sprintf("rule #%d", i+1)
		name := strings.TrimSpace(rs.Name.Value)
		switch {
		case !rs.Name.Set || name == "":
			c.errorf(rs.Line, where, "missing name (every rule needs a unique name:)")
		case name == DefaultRule:
			where = strconv.Quote(name)
			c.errorf(rs.Name.Line, "rule "+where, "the name %q is reserved for the default actions (choose another)", DefaultRule)
		default:
			where = "rule " + strconv.Quote(name)
			if first, dup := names[name]; dup {
				c.errorf(rs.Name.Line, where, "duplicate rule name (first used at line %d)", first)
			} else {
				names[name] = rs.Name.Line
			}
		}
		ru := &rule{name: name, line: rs.Line, cont: rs.Continue.Value, shadow: rs.Shadow.Value}
		ru.match = c.matcher(&rs.Match, where)
		if len(spec.Rules.Items[i].Actions.Items) == 0 {
			line := rs.Line
			if rs.Actions.Set {
				line = rs.Actions.Line
			}
			c.errorf(line, where, "no actions (a rule needs at least one action; use shadow: true to try a rule out)")
		}
		ru.actions = c.actions(rs.Actions.Items, where)
		r.rules = append(r.rules, ru)
	}
	r.def = c.actions(spec.Default.Actions.Items, DefaultRule)
	if len(c.errs) > 0 {
		slices.SortStableFunc(c.errs, func(a, b error) int { return a.(*ConfigError).Line - b.(*ConfigError).Line })
		return nil, errors.Join(c.errs...)
	}
	return r, nil
}

// compiler collects every problem while compiling.
type compiler struct {
	file string
	opts Options
	lim  Limits
	errs []error
}

func (c *compiler) errorf(line int, where, format string, args ...any) {
	c.errs = append(c.errs, &ConfigError{File: c.file, Line: line, Where: where, Msg: fmt.Sprintf(format, args...)})
}

func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.Tag == "!!null"
}

// decode fills v from n, strictly: unknown keys, duplicate keys and wrong
// shapes are reported and decoding goes on.
//
// path names the key being decoded ("match.has_code") for messages.
func (c *compiler) decode(n *yaml.Node, v reflect.Value, where, path string) {
	for n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	if isNull(n) {
		if s, ok := v.Addr().Interface().(setter); ok {
			s.setNull(n.Line)
		}
		return
	}
	switch p := v.Addr().Interface().(type) {
	case *str:
		if n.Kind != yaml.ScalarNode {
			c.errorf(n.Line, where, "%swant a single value, not a %s", pfx(path), kindName(n))
			return
		}
		*p = str{Value: n.Value, Line: n.Line, Style: n.Style, Set: true}
		return
	case *optional[bool]:
		p.Line, p.Set = n.Line, true
		b, err := strconv.ParseBool(n.Value)
		if n.Kind != yaml.ScalarNode || n.Tag != "!!bool" || err != nil {
			c.errorf(n.Line, where, "%swant true or false, got %s", pfx(path), describe(n))
			return
		}
		p.Value = b
		return
	case *optional[int]:
		p.Line, p.Set = n.Line, true
		v, err := strconv.Atoi(n.Value)
		if n.Kind != yaml.ScalarNode || n.Tag != "!!int" || err != nil {
			c.errorf(n.Line, where, "%swant a whole number, got %s", pfx(path), describe(n))
			p.Set = false
			return
		}
		p.Value = v
		return
	case *optional[float64]:
		p.Line, p.Set = n.Line, true
		f, err := strconv.ParseFloat(n.Value, 64)
		if n.Kind != yaml.ScalarNode || (n.Tag != "!!float" && n.Tag != "!!int") || err != nil {
			c.errorf(n.Line, where, "%swant a number, got %s", pfx(path), describe(n))
			p.Set = false
			return
		}
		p.Value = f
		return
	case *list:
		p.Line, p.Set = n.Line, true
		items := []*yaml.Node{n}
		if n.Kind == yaml.SequenceNode {
			items = n.Content
		}
		for _, it := range items {
			if it.Kind != yaml.ScalarNode || isNull(it) {
				c.errorf(it.Line, where, "%swant a value or a list of values, got %s", pfx(path), describe(it))
				continue
			}
			p.Items = append(p.Items, str{Value: it.Value, Line: it.Line, Style: it.Style, Set: true})
		}
		return
	case seqDecoder:
		p.decodeSeq(c, n, where, path)
		return
	}
	if v.Kind() != reflect.Struct {
		panic(fmt.Sprintf("route: no decoder for %s", v.Type())) // a programming error in the schema
	}
	if n.Kind != yaml.MappingNode {
		c.errorf(n.Line, where, "%swant a mapping of keys, got %s", pfx(path), describe(n))
		return
	}
	if f := v.FieldByName("Line"); f.IsValid() {
		f.SetInt(int64(n.Line))
	}
	fields := yamlFields(v.Type())
	seen := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		idx, ok := fields[k.Value]
		if !ok {
			c.errorf(k.Line, where, "%sunknown key %q (valid keys: %s)", pfx(path), k.Value, strings.Join(yamlKeys(v.Type()), ", "))
			continue
		}
		if first, dup := seen[k.Value]; dup {
			c.errorf(k.Line, where, "%skey %q given twice (first at line %d)", pfx(path), k.Value, first)
			continue
		}
		seen[k.Value] = k.Line
		w := where
		if path == "routes" && k.Value == DefaultRule {
			w = DefaultRule
		}
		c.decode(val, v.Field(idx), w, subPath(path, k.Value))
	}
}

// pfx returns "path: ", or "" at the top level (where already names it).
func pfx(path string) string {
	switch path {
	case "routes", "rule", DefaultRule:
		return ""
	}
	return path + ": "
}

// setter is implemented by schema types that record an explicit null.
type setter interface{ setNull(line int) }

func (l *list) setNull(line int)        { l.Line, l.Set = line, true }
func (s *seq[T]) setNull(line int)      { s.Line, s.Set = line, true }
func (o *optional[T]) setNull(line int) { o.Line = line }

// seqDecoder is implemented by seq.
type seqDecoder interface {
	decodeSeq(c *compiler, n *yaml.Node, where, path string)
}

// subPath returns path.key; the rule and action levels are named by where.
func subPath(path, key string) string {
	switch path {
	case "", "routes", "rule", "action":
		return key
	}
	return path + "." + key
}

func (s *seq[T]) decodeSeq(c *compiler, n *yaml.Node, where, path string) {
	s.Line, s.Set = n.Line, true
	if n.Kind != yaml.SequenceNode {
		c.errorf(n.Line, where, "%swant a list, got %s", pfx(path), describe(n))
		return
	}
	s.Items = make([]T, len(n.Content))
	for i, it := range n.Content {
		w, p := where, fmt.Sprintf("%s[%d]", path, i)
		switch any(&s.Items[i]).(type) {
		case *ruleSpec:
			w, p = fmt.Sprintf("rule #%d", i+1), "rule"
			if name := scalarKey(it, "name"); name != "" {
				w = "rule " + strconv.Quote(name)
			}
		case *actionSpec:
			p = fmt.Sprintf("action %d", i+1)
		}
		c.decode(it, reflect.ValueOf(&s.Items[i]).Elem(), w, p)
	}
}

// scalarKey returns the scalar value of key in mapping n, or "".
func scalarKey(n *yaml.Node, key string) string {
	if n.Kind != yaml.MappingNode {
		return ""
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key && n.Content[i+1].Kind == yaml.ScalarNode {
			return strings.TrimSpace(n.Content[i+1].Value)
		}
	}
	return ""
}

// yamlFields maps the yaml keys of struct type t to field indexes.
func yamlFields(t reflect.Type) map[string]int {
	out := map[string]int{}
	for i := range t.NumField() {
		if k := yamlKey(t.Field(i)); k != "" {
			out[k] = i
		}
	}
	return out
}

// yamlKeys returns the yaml keys of struct type t in field order.
func yamlKeys(t reflect.Type) []string {
	var out []string
	for i := range t.NumField() {
		if k := yamlKey(t.Field(i)); k != "" {
			out = append(out, k)
		}
	}
	return out
}

func yamlKey(f reflect.StructField) string {
	k, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
	if k == "-" || !f.IsExported() {
		return ""
	}
	return k
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "mapping"
	case yaml.SequenceNode:
		return "list"
	default:
		return "value"
	}
}

func describe(n *yaml.Node) string {
	if n.Kind == yaml.ScalarNode {
		return strconv.Quote(n.Value)
	}
	return "a " + kindName(n)
}

// matcher compiles a rule's match: section.
func (c *compiler) matcher(ms *matchSpec, where string) matcher {
	var m matcher
	nonEmpty := func(l list, key string) bool {
		if l.Set && len(l.Items) == 0 {
			c.errorf(l.Line, where, "match.%s: empty list (remove the key to match any value)", key)
			return false
		}
		return len(l.Items) > 0
	}
	if nonEmpty(ms.Category, "category") {
		valid := catalog.Categories()
		for _, it := range ms.Category.Items {
			cat := catalog.Category(strings.TrimSpace(it.Value))
			if !cat.Valid() {
				c.errorf(it.Line, where, "match.category: unknown category %q (valid: %s)", it.Value, joinCategories(valid))
				continue
			}
			m.categories = append(m.categories, cat)
		}
	}
	if nonEmpty(ms.Code, "code") {
		for _, it := range ms.Code.Items {
			cr, err := parseCodeRange(it.Value)
			if err != nil {
				c.errorf(it.Line, where, "match.code: %v", err)
				continue
			}
			m.codes = append(m.codes, cr)
		}
	}
	if nonEmpty(ms.Source, "source") {
		for _, it := range ms.Source.Items {
			s := strings.ToLower(strings.TrimSpace(it.Value))
			if !slices.Contains(Sources(), s) {
				c.errorf(it.Line, where, "match.source: unknown source %q (valid: %s)", it.Value, strings.Join(Sources(), ", "))
				continue
			}
			m.sources = append(m.sources, s)
		}
	}
	globs := func(l list, key string) []*regexp.Regexp {
		var out []*regexp.Regexp
		if !nonEmpty(l, key) {
			return nil
		}
		for _, it := range l.Items {
			re, err := compileGlob(strings.TrimSpace(it.Value))
			if err != nil {
				c.errorf(it.Line, where, "match.%s: bad pattern %q: %v (use * for any text, ? for one character, [abc] for a set)", key, it.Value, err)
				continue
			}
			out = append(out, re)
		}
		return out
	}
	m.senders = globs(ms.Sender, "sender")
	m.channels = globs(ms.Channel, "channel")
	if nonEmpty(ms.SenderDomain, "sender_domain") {
		for _, it := range ms.SenderDomain.Items {
			d := strings.TrimSuffix(strings.ToLower(strings.TrimSpace(it.Value)), ".")
			if d == "" || strings.ContainsAny(d, "@*?[] \t/") || strings.HasPrefix(d, ".") {
				c.errorf(it.Line, where, "match.sender_domain: %q is not a domain (write the bare domain, e.g. example.com; it matches its subdomains too)", it.Value)
				continue
			}
			m.domains = append(m.domains, d)
		}
	}
	if nonEmpty(ms.Keyword, "keyword") {
		for _, it := range ms.Keyword.Items {
			k := foldSpace(strings.ToLower(it.Value))
			if k == "" {
				c.errorf(it.Line, where, "match.keyword: empty keyword (remove it)")
				continue
			}
			m.keywords = append(m.keywords, k)
		}
	}
	if ms.HasCode.Set {
		m.hasCode = &ms.HasCode.Value
	}
	if ms.QuotedOnly.Set {
		m.quotedOnly = &ms.QuotedOnly.Value
	}
	if ms.Inferred.Set {
		m.inferred = &ms.Inferred.Value
	}
	if ms.AgentAPI.Set {
		m.agentAPI = &ms.AgentAPI.Value
	}
	if ms.AutoSubmitted.Set {
		m.autoSubmitted = &ms.AutoSubmitted.Value
	}
	if mc := ms.MinConfidence; mc.Set {
		if mc.Value <= 0 || mc.Value > 1 {
			c.errorf(mc.Line, where, "match.min_confidence: %v is out of range (write a number above 0 and at most 1, e.g. 0.9 for written codes only; see the confidence of each form in route/REFERENCE.md)", mc.Value)
		} else {
			m.filter.minConfidence = mc.Value
		}
	}
	formBits := func(l list, key string) uint32 {
		var bits uint32
		if !nonEmpty(l, key) {
			return 0
		}
		for _, it := range l.Items {
			name := strings.ToLower(strings.TrimSpace(it.Value))
			f, ok := codeForm(name)
			switch {
			case name == extract.FormAgentAPI.String():
				c.errorf(it.Line, where, "match.%s: %q numbers are the agent's local API's, not ngrok codes, and have no form to filter (use agent_api: true to match them)", key, it.Value)
			case !ok:
				c.errorf(it.Line, where, "match.%s: unknown form %q (valid: %s)", key, it.Value, strings.Join(CodeForms(), ", "))
			default:
				bits |= 1 << f
			}
		}
		return bits
	}
	m.filter.forms = formBits(ms.Forms, "forms")
	m.filter.exclude = formBits(ms.ExcludeForms, "exclude_forms")
	if both := m.filter.forms & m.filter.exclude; both != 0 {
		c.errorf(ms.ExcludeForms.Line, where, "match.exclude_forms: %s also listed in forms (a form is either wanted or excluded)", strings.Join(formList(both), ", "))
	}
	return m
}

// CodeForms returns the names of the forms a code can be found in, for
// `forms:` and `exclude_forms:`, strongest first.
func CodeForms() []string {
	var out []string
	for f := extract.Form(0); f <= extract.FormInferred; f++ {
		if f != extract.FormAgentAPI {
			out = append(out, f.String())
		}
	}
	return out
}

// codeForm returns the form named name, if it is one a code can have.
func codeForm(name string) (extract.Form, bool) {
	if !slices.Contains(CodeForms(), name) {
		return 0, false
	}
	return extract.ParseForm(name), true
}

// formList returns the names of the forms in a bit set.
func formList(bits uint32) []string {
	var out []string
	for f := extract.Form(0); f <= extract.FormInferred; f++ {
		if bits&(1<<f) != 0 {
			out = append(out, f.String())
		}
	}
	return out
}

func joinCategories(cs []catalog.Category) string {
	s := make([]string, len(cs))
	for i, c := range cs {
		s[i] = string(c)
	}
	return strings.Join(s, ", ")
}

// actions compiles a list of actions of a rule (or the default).
func (c *compiler) actions(specs []actionSpec, where string) []*action {
	var out []*action
	for i := range specs {
		as := &specs[i]
		aw := fmt.Sprintf("action %d", i+1)
		kind := strings.TrimSpace(as.Kind.Value)
		ok := true
		switch {
		case kind == "":
			c.errorf(as.Line, where, "%s: missing kind (valid: %s)", aw, strings.Join(c.opts.kinds(), ", "))
			ok = false
		case !slices.Contains(Kinds(), kind):
			c.errorf(as.Kind.Line, where, "%s: unknown action kind %q (valid: %s)", aw, kind, strings.Join(c.opts.kinds(), ", "))
			ok = false
		case !c.opts.kindAllowed(kind):
			c.errorf(as.Kind.Line, where, "%s: action kind %q is not enabled here (enabled: %s)", aw, kind, strings.Join(c.opts.kinds(), ", "))
			ok = false
		default:
			aw += " (" + kind + ")"
		}
		a := &action{kind: kind, targetText: strings.TrimSpace(as.Target.Value), line: as.Line, targetLine: as.Line}
		if as.Target.Set {
			a.targetLine = as.Target.Line
		}
		if ok && targetRequired(kind) && a.targetText == "" {
			line := as.Line
			if as.Target.Set {
				line = as.Target.Line
			}
			c.errorf(line, where, "%s: missing target (%s)", aw, targetHelp[kind])
		}
		if strings.Contains(a.targetText, "{{") {
			a.target = c.template(as.Target, aw+": target", where)
			a.targetFn = renderers[a.targetText]
		}
		if ok {
			c.checkTarget(a, as, where, aw)
		}
		if as.Template.Set && strings.TrimSpace(as.Template.Value) != "" {
			a.text = c.template(as.Template, aw+": template", where)
			a.textFn = renderers[as.Template.Value]
		} else if ok {
			a.text = defaultTemplate(kind)
			a.textFn = renderers[defaultText(kind)]
		}
		if a.text == nil {
			a.text = template.Must(newTemplate().Parse(""))
		}
		out = append(out, a)
	}
	return out
}

var templateErrRe = regexp.MustCompile(`^template: [^:]*:(\d+):(?:\d+:)? ?(.*)$`)

// template parses s, reporting errors at the file line of the template's
// own line, and tries it on a sample ticket to catch misspelt fields.
func (c *compiler) template(s str, what, where string) *template.Template {
	first := s.Line
	if s.Style&(yaml.LiteralStyle|yaml.FoldedStyle) != 0 {
		first++ // block scalars start on the line after the indicator
	}
	at := func(err error) (int, string) {
		msg := err.Error()
		if m := templateErrRe.FindStringSubmatch(msg); m != nil {
			n, _ := strconv.Atoi(m[1])
			return first + n - 1, fmt.Sprintf("line %d of the template: %s", n, m[2])
		}
		return first, msg
	}
	t, err := newTemplate().Parse(s.Value)
	if err != nil {
		line, msg := at(err)
		c.errorf(line, where, "%s: %s (see the template data and functions in route/REFERENCE.md)", what, msg)
		return nil
	}
	if err := t.Execute(discard{}, sampleData()); err != nil && strings.Contains(err.Error(), "can't evaluate field") {
		line, msg := at(err)
		c.errorf(line, where, "%s: %s (see the template data in route/REFERENCE.md)", what, msg)
		return nil
	}
	return t
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

// targetRequired reports whether an action of kind needs a target.
func targetRequired(kind string) bool {
	switch kind {
	case ticket.KindSlackReply, ticket.KindEmailReply:
		return false
	case ticket.KindZendeskNote, ticket.KindZendeskTag, ticket.KindZendeskAssign: // Zendesk
		return false
	case ticket.KindFreshdeskNote, ticket.KindFreshdeskTag: // Freshdesk
		return false
	case ticket.KindFrontNote, ticket.KindFrontTag: // Front
		return false
	}
	return true
}

// targetHelp says what `target` means for each kind.
var targetHelp = map[string]string{
	ticket.KindWebhook:      "the name of a webhook from the webhooks: section",
	ticket.KindJSONL:        "the path of a JSON Lines file to append to",
	ticket.KindMaildirMove:  "the Maildir folder to move the message to, e.g. Triage/{{.Primary}}",
	ticket.KindSlackReply:   "optional: empty replies in the ticket's own thread",
	ticket.KindSlackPost:    "the Slack channel to post to, e.g. #support-agent or C0123456789",
	ticket.KindSlackReact:   "the emoji name to react with, without colons, e.g. eyes",
	ticket.KindIMAPFlag:     "the IMAP keyword or flag to set, e.g. $Triage or \\Flagged",
	ticket.KindIMAPMove:     "the mailbox to move the message to, e.g. Triage/{{.Primary}}",
	ticket.KindEmailReply:   "optional: empty replies to the sender",
	ticket.KindEmailForward: "the address to forward to, e.g. billing@example.com",
	ticket.KindAlert:        "the alert receiver's name, e.g. on-call",
	// Zendesk
	ticket.KindZendeskNote:   "optional: empty or default writes the internal note on the ticket itself",
	ticket.KindZendeskTag:    "optional: space-separated tags; empty adds ngrok-err-<n> per code and triage-<category>",
	ticket.KindZendeskAssign: "optional: a group name or ID, or a category mapped through zendesk.groups; empty means {{.Primary}}",
	// Freshdesk
	ticket.KindFreshdeskNote:   "optional: empty notes on the ticket itself",
	ticket.KindFreshdeskTag:    "optional: space-separated tags; empty adds ngrok-err-<n> and triage-<category>",
	ticket.KindFreshdeskAssign: "a category looked up in freshdesk.groups (or auto), or a group name or ID",
	// Front
	ticket.KindFrontNote:   "optional: empty comments on the ticket's own conversation",
	ticket.KindFrontTag:    "optional: tag names separated by spaces; empty tags ngrok-err-<n> per code and triage-<category>",
	ticket.KindFrontAssign: "a name from front.assignees, or a teammate (tea_…, alt:email:…) or inbox (inb_…) ID, e.g. {{.Primary}}",

	// Help Scout
	ticket.KindHelpScoutNote:   "default (the note goes on the ticket's own conversation)",
	ticket.KindHelpScoutTag:    "tags separated by spaces; the word default stands for ngrok-err-<n> and triage-<category>",
	ticket.KindHelpScoutAssign: "a name from helpscout.assignees (a category such as {{.Primary}} works), a user or team ID, or inbox:<name>",
}
