package route

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"text/template"
	"time"
	"unicode/utf8"

	"github.com/triage-bot/triage/catalog"
	"github.com/triage-bot/triage/redact"
	"github.com/triage-bot/triage/ticket"
)

// Payload is the JSON document in every planned action's Payload. Sinks
// take what they need: the text for Slack and e-mail, the whole document
// for webhooks and JSON Lines files.
type Payload struct {
	// Ticket is the ticket as routing saw it, customer text redacted.
	Ticket TicketView `json:"ticket"`
	// Rule is the rule that planned the action ("default" for the default).
	Rule string `json:"rule"`
	// Kind is the action kind.
	Kind string `json:"kind"`
	// Target is the rendered target.
	Target string `json:"target"`
	// Text is the rendered human-readable text, redacted.
	Text string `json:"text"`
}

// TicketView is a ticket with its annotation as payloads and templates see
// it. Subject and Excerpt have passed through redact.String.
type TicketView struct {
	// ID is the ticket's stable ID.
	ID string `json:"id"`
	// Source is "email", "slack", "api" or "file".
	Source string `json:"source"`
	// Channel is the mailbox, Slack channel or input file.
	Channel string `json:"channel,omitempty"`
	// From is the sender's address or Slack user ID.
	From string `json:"from,omitempty"`
	// Subject is the subject line, redacted.
	Subject string `json:"subject,omitempty"`
	// Date is when the sender wrote it; absent when unknown.
	Date time.Time `json:"date,omitzero"`
	// PrimaryCategory is the category of the most important code, "" when
	// the ticket has none.
	PrimaryCategory string `json:"primary_category"`
	// Codes are the distinct codes, most important first: in a payload
	// at most Limits.PayloadCodes of them, in templates at most
	// Limits.NamedCodes.
	Codes []CodeView `json:"codes"`
	// MoreCodes counts the codes left out of Codes (the stored ticket
	// keeps them all).
	MoreCodes int `json:"more_codes,omitempty"`
	// Unknown lists codes the catalog does not know, as many as Codes
	// may hold.
	Unknown []int `json:"unknown,omitempty"`
	// MoreUnknown counts the unknown codes left out of Unknown.
	MoreUnknown int `json:"more_unknown,omitempty"`
	// AgentAPI lists the numbers of the ngrok agent's local API found in
	// the ticket: a namespace of their own, never ngrok error codes; as
	// many as Codes may hold.
	AgentAPI []AgentAPIView `json:"agent_api,omitempty"`
	// MoreAgentAPI counts the numbers left out of AgentAPI.
	MoreAgentAPI int `json:"more_agent_api,omitempty"`
	// Excerpt is the first ExcerptRunes characters of the new body text
	// (not quoted history, not attachments), redacted; "…" marks a cut.
	Excerpt string `json:"excerpt"`
}

// CodeView is one code of a ticket with what the catalog says about it.
type CodeView struct {
	// Code is n in ERR_NGROK_n.
	Code int `json:"code"`
	// Name is "ERR_NGROK_<n>".
	Name string `json:"name"`
	// Summary is the catalog's meaning (left out of in-place actions'
	// payloads).
	Summary string `json:"summary,omitempty"`
	// Category is the owning team's queue.
	Category string `json:"category"`
	// DocsURL is the code's page in ngrok's docs (left out of in-place
	// actions' payloads).
	DocsURL string `json:"docs_url,omitempty"`
	// Hint is a first step for the customer; may be empty.
	Hint string `json:"hint,omitempty"`
	// QuotedOnly is true when the code appears only in quoted history.
	QuotedOnly bool `json:"quoted_only"`
	// Official is ngrok's own message, when the catalog was synced.
	Official string `json:"official,omitempty"`
	// Known is false for a code the catalog has no entry for yet; its
	// Summary is then a note for the team, not for customers.
	Known bool `json:"known"`
	// Form is the strongest form the code was found in (an
	// extract.Form name: "canonical", "docs-url", …, "inferred").
	Form string `json:"form,omitempty"`
	// Forms lists every form it was found in, strongest first.
	Forms []string `json:"forms,omitempty"`
	// Confidence is the highest confidence among its matches: 1 for a
	// code written in full, 0.5 for one only inferred.
	Confidence float64 `json:"confidence"`
	// Inferred is true when the code was never written in the ticket,
	// only named by its wording: "this looks like", never what the
	// customer reported.
	Inferred bool `json:"inferred,omitempty"`
	// Phrase is, for an inferred code, the customer's words that named
	// it, redacted.
	Phrase string `json:"phrase,omitempty"`
}

// written reports whether the code is one the customer reports: written
// (not only inferred) in new text (not only in quoted history).
func (c *CodeView) written() bool { return !c.Inferred && !c.QuotedOnly }

// AgentAPIView is one number of the ngrok agent's local API found in a
// ticket ({"error_code":103,"status_code":502,…}), with what it means.
type AgentAPIView struct {
	// Number is the agent API's error_code.
	Number int `json:"number"`
	// Name is "agent-api:<n>", never spelled like an ngrok code.
	Name string `json:"name"`
	// Summary says what the number means.
	Summary string `json:"summary"`
	// Hint is a first step, written for the support engineer.
	Hint string `json:"hint,omitempty"`
	// QuotedOnly is true when it appears only in quoted history.
	QuotedOnly bool `json:"quoted_only"`
	// Known is false for a number the table does not describe.
	Known bool `json:"known"`
}

// TemplateData is what `target` and `template` templates are executed
// with.
type TemplateData struct {
	// Ticket is the ticket view (the same as in the payload).
	Ticket TicketView
	// Codes is Ticket.Codes.
	Codes []CodeView
	// Primary is Ticket.PrimaryCategory.
	Primary string
	// Unknown is Ticket.Unknown.
	Unknown []int
	// Written are the codes the customer reports: written in the new
	// text, not only in quoted history and not only inferred.
	Written []CodeView
	// LooksLike are the codes named only by the wording of the new text
	// ("this looks like …"), never written there.
	LooksLike []CodeView
	// Quoted are the codes written only in quoted history: not what the
	// customer reports now.
	Quoted []CodeView
	// AgentAPI is Ticket.AgentAPI.
	AgentAPI []AgentAPIView
	// Rule is the rule's name ("default" for the default).
	Rule string
	// Kind is the action kind.
	Kind string
	// Target is the rendered target; empty while the target itself renders.
	Target string
	// More counts what each list above leaves out (Limits.NamedCodes):
	// {{if .More.Written}}and {{.More.Written}} more{{end}}.
	More Omitted
}

// ExcerptRunes is the length of TicketView.Excerpt, in characters.
const ExcerptRunes = 1500

// Key returns an action's idempotency key: a hex SHA-256 digest (128 bits)
// of the ticket ID, rule name, kind, rendered target and the action's
// index in its rule. The same ticket decided again gets the same keys.
func Key(ticketID, rule, kind, target string, index int) string {
	h := sha256.New()
	for _, s := range []string{ticketID, rule, kind, target, strconv.Itoa(index)} {
		h.Write([]byte(strconv.Itoa(len(s))))
		h.Write([]byte{':'})
		h.Write([]byte(s))
	}
	return hex.EncodeToString(h.Sum(nil)[:16])
}

// plan renders one action for the ticket in v.
func (a *action) plan(v *view, ruleName string, index int, state ticket.ActionState) (ticket.Action, error) {
	tv := v.payloadView()
	data := v.templateData()
	data.Rule, data.Kind = ruleName, a.kind
	target := a.targetText
	switch {
	case a.targetFn != nil:
		target = strings.TrimSpace(a.targetFn(&data))
	case a.target != nil:
		var b strings.Builder
		if err := a.target.Execute(&b, data); err != nil {
			return ticket.Action{}, renderError(ruleName, index, a.kind, "target", err)
		}
		target = strings.TrimSpace(b.String())
	}
	if target == "" && targetRequired(a.kind) {
		return ticket.Action{}, renderError(ruleName, index, a.kind, "target", fmt.Errorf("%q rendered empty for ticket %s", a.targetText, v.t.ID))
	}
	if a.kind == ticket.KindIMAPFlag && strings.Contains(target, PerCode) {
		if target = expandPerCode(target, data.Written); target == "" {
			return ticket.Action{}, errNothingToPlan
		}
	}
	if folderKind(a.kind) && a.target != nil {
		if p := folderProblem(target, a.targetText); p != "" {
			return ticket.Action{}, renderError(ruleName, index, a.kind, "target", fmt.Errorf("%q rendered for ticket %s: %s; the action is left out", a.targetText, v.t.ID, p))
		}
	}
	if a.kind == ticket.KindIMAPFlag {
		var err error
		if target, err = v.takeKeywords(target, state != ticket.StateShadow); err != nil {
			return ticket.Action{}, renderError(ruleName, index, a.kind, "target", err)
		}
	}
	data.Target = target
	var text string
	if a.textFn != nil {
		text = a.textFn(&data)
	} else {
		var b strings.Builder
		if err := a.text.Execute(&b, data); err != nil {
			return ticket.Action{}, renderError(ruleName, index, a.kind, "template", err)
		}
		text = b.String()
	}
	p := Payload{Ticket: *tv, Rule: ruleName, Kind: a.kind, Target: target, Text: truncate(v.lim.TextChars, redact.String(text))}
	if inPlace(a.kind) {
		// These act on the message where it lies and need only the
		// target and category: no copy of the text or of the catalog's
		// words in every row.
		p.Ticket.Excerpt = ""
		p.Ticket.Codes = v.bareCodes()
		p.Ticket.AgentAPI = nil
	}
	var body bytes.Buffer
	enc := json.NewEncoder(&body)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(p); err != nil {
		return ticket.Action{}, renderError(ruleName, index, a.kind, "payload", err)
	}
	return ticket.Action{
		TicketID: v.t.ID,
		Kind:     a.kind,
		Target:   target,
		Rule:     ruleName,
		Payload:  bytes.TrimSuffix(body.Bytes(), []byte("\n")),
		Key:      Key(v.t.ID, ruleName, a.kind, target, index),
		State:    state,
	}, nil
}

// PerCode is the placeholder of imap.flag's per-code form: a word of the
// target that holds it becomes one keyword per code written in the new
// text (.Written: not inferred, not only quoted), so "$ngrok-{code}
// $triaged-by-bot" sets "$ngrok-108 $ngrok-3200 $triaged-by-bot". Words
// without it are kept as they are; a target left with no word (no code
// written, nothing else) plans no action.
const PerCode = "{code}"

// errNothingToPlan is plan's answer for an action with nothing to do for
// this ticket; Decide leaves it out without an error.
var errNothingToPlan = errors.New("route: nothing to plan")

// expandPerCode writes each word of target holding PerCode once per code
// of written, in order, without repeats.
func expandPerCode(target string, written []CodeView) string {
	var out []string
	seen := map[string]bool{}
	add := func(w string) {
		if !seen[w] {
			seen[w] = true
			out = append(out, w)
		}
	}
	for _, w := range strings.Fields(target) {
		if !strings.Contains(w, PerCode) {
			add(w)
			continue
		}
		for _, c := range written {
			add(strings.ReplaceAll(w, PerCode, strconv.Itoa(c.Code)))
		}
	}
	return strings.Join(out, " ")
}

// codeGroups are a ticket's codes split as TemplateData shows them.
type codeGroups struct{ written, looksLike, quoted []CodeView }

// groupCodes splits codes into those the customer reports, those only
// inferred from the new text, and those written only in quoted history
// (codes only inferred from quoted history are in none of them).
func groupCodes(codes []CodeView) codeGroups {
	var g codeGroups
	for _, c := range codes {
		switch {
		case c.written():
			g.written = append(g.written, c)
		case !c.QuotedOnly:
			g.looksLike = append(g.looksLike, c)
		case !c.Inferred:
			g.quoted = append(g.quoted, c)
		}
	}
	return g
}

// newTemplateData returns the data templates see for tv, split as g.
func newTemplateData(tv *TicketView, g codeGroups) TemplateData {
	return TemplateData{Ticket: *tv, Codes: tv.Codes, Primary: tv.PrimaryCategory, Unknown: tv.Unknown,
		Written: g.written, LooksLike: g.looksLike, Quoted: g.quoted, AgentAPI: tv.AgentAPI}
}

// bareCodes returns (once) the payload's codes without the catalog's
// words, for in-place actions' payloads.
func (v *view) bareCodes() []CodeView {
	if v.bare == nil {
		tv := v.payloadView()
		v.bare = make([]CodeView, len(tv.Codes))
		for i, c := range tv.Codes {
			v.bare[i] = CodeView{Code: c.Code, Name: c.Name, Category: c.Category, QuotedOnly: c.QuotedOnly, Known: c.Known,
				Form: c.Form, Confidence: c.Confidence, Inferred: c.Inferred}
		}
	}
	return v.bare
}

// ticketView builds (once) the redacted view of the ticket.
func (v *view) ticketView() *TicketView {
	if v.tv != nil {
		return v.tv
	}
	t, a := v.t, v.a
	tv := &TicketView{
		ID:              t.ID,
		Source:          t.Source,
		Channel:         t.Channel,
		From:            t.From,
		Subject:         truncate(SubjectRunes, redact.String(t.Subject)),
		Date:            t.Date,
		PrimaryCategory: string(a.Primary),
		Codes:           make([]CodeView, 0, len(a.Codes)),
		Unknown:         a.Unknown,
	}
	for _, c := range a.Codes {
		cv := CodeView{
			Code: c.Code, Name: c.Name, Summary: c.Summary, Category: string(c.Category),
			DocsURL: c.DocsURL, Hint: c.Hint, QuotedOnly: c.QuotedOnly, Official: c.Official, Known: c.Known,
			Forms: c.Forms, Confidence: c.Confidence, Inferred: c.Inferred, Phrase: redactPhrase(c.Phrase),
		}
		if len(c.Forms) > 0 {
			cv.Form = c.Forms[0]
		}
		tv.Codes = append(tv.Codes, cv)
	}
	for _, n := range a.AgentAPI {
		tv.AgentAPI = append(tv.AgentAPI, AgentAPIView{Number: n.Number, Name: n.Name, Summary: n.Summary, Hint: n.Hint,
			QuotedOnly: n.QuotedOnly, Known: n.Known})
	}
	v.groups = groupCodes(tv.Codes)
	var body []string
	for _, p := range t.Parts {
		if p.Kind == ticket.KindBody {
			body = append(body, p.Text)
		}
	}
	tv.Excerpt = excerpt(strings.Join(body, "\n\n"))
	v.tv = tv
	return tv
}

// payloadView returns (once) the ticket view payloads carry: the full
// view cut to Limits.PayloadCodes codes, unknown codes and agent API
// numbers, with the rest counted.
func (v *view) payloadView() *TicketView {
	if v.payload == nil {
		lim := v.lim.withDefaults()
		tv := *v.ticketView()
		tv.Codes, tv.MoreCodes = capList(tv.Codes, lim.PayloadCodes)
		tv.Unknown, tv.MoreUnknown = capList(tv.Unknown, lim.PayloadCodes)
		tv.AgentAPI, tv.MoreAgentAPI = capList(tv.AgentAPI, lim.PayloadCodes)
		v.payload = &tv
	}
	return v.payload
}

// templateData returns (a copy of) the data templates see, built once:
// every list cut to Limits.NamedCodes, with what was left out in .More.
func (v *view) templateData() TemplateData {
	if v.data == nil {
		n := v.lim.withDefaults().NamedCodes
		full := v.ticketView()
		tv := *full
		var m Omitted
		tv.Codes, m.Codes = capList(full.Codes, n)
		tv.Unknown, m.Unknown = capList(full.Unknown, n)
		tv.AgentAPI, m.AgentAPI = capList(full.AgentAPI, n)
		tv.MoreCodes, tv.MoreUnknown, tv.MoreAgentAPI = m.Codes, m.Unknown, m.AgentAPI
		var g codeGroups
		g.written, m.Written = capList(v.groups.written, n)
		g.looksLike, m.LooksLike = capList(v.groups.looksLike, n)
		g.quoted, m.Quoted = capList(v.groups.quoted, n)
		d := newTemplateData(&tv, g)
		d.More = m
		v.data = &d
	}
	return *v.data
}

// takeKeywords cuts an imap.flag target to the ticket's keyword budget
// (Limits.Keywords distinct keywords over all its imap.flag actions):
// keywords another action set already cost nothing, new ones past the
// budget are left out. count is false for a shadow action, which never
// runs and so spends nothing. It fails when nothing is left.
func (v *view) takeKeywords(target string, count bool) (string, error) {
	limit := v.lim.withDefaults().Keywords
	have := v.keywords
	var keep []string
	dropped := 0
	for _, w := range strings.Fields(target) {
		lw := strings.ToLower(w)
		switch {
		case slices.Contains(have, lw):
			if !slices.ContainsFunc(keep, func(k string) bool { return strings.EqualFold(k, w) }) {
				keep = append(keep, w)
			}
		case len(have) < limit:
			have = append(have, lw)
			keep = append(keep, w)
		default:
			dropped++
		}
	}
	if count {
		v.keywords = have
	}
	if len(keep) == 0 {
		return "", fmt.Errorf("the ticket's imap.flag actions already set %d keywords, the most limits.keywords allows; %d more left out", limit, dropped)
	}
	return strings.Join(keep, " "), nil
}

// Redaction works on whole lines, so redacting the lines that cover the
// excerpt is the same as redacting the whole body first.
const (
	excerptWindow = 8 << 10  // bytes; more than ExcerptRunes characters of UTF-8
	excerptLine   = 64 << 10 // how far to look for the end of the last line
)

func excerpt(body string) string {
	if len(body) > excerptWindow {
		cut := excerptWindow
		if i := strings.IndexByte(body[cut:], '\n'); i >= 0 && i < excerptLine {
			cut += i
		} else {
			cut = min(len(body), cut+excerptLine)
		}
		body = body[:cut]
	}
	s := strings.TrimSpace(strings.ToValidUTF8(redact.String(body), "\uFFFD"))
	return truncate(ExcerptRunes, s)
}

// truncate cuts s to n characters, marking a cut with "…" (counted in n).
func truncate(n int, s string) string {
	if n <= 0 {
		return ""
	}
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	i, count := 0, 0
	for i = range s {
		if count == n-1 {
			break
		}
		count++
	}
	return strings.TrimRightFunc(s[:i], func(r rune) bool { return r == ' ' || r == '\t' || r == '\n' }) + "…"
}

// funcs are the helpers templates may call.
func funcs() template.FuncMap {
	return template.FuncMap{
		"join":     join,
		"lower":    strings.ToLower,
		"upper":    strings.ToUpper,
		"truncate": truncate,
		"mrkdwn":   mrkdwn,
		"clause":   clause,
	}
}

// redactPhrase redacts an inferred code's phrase (the customer's words).
func redactPhrase(s string) string {
	if s == "" {
		return ""
	}
	return redact.String(s)
}

// clause drops the final full stop of a sentence, so a summary reads
// inside another sentence: "this looks like X (too many sessions)".
func clause(s string) string {
	return strings.TrimSuffix(strings.TrimSpace(s), ".")
}

// join joins the elements of a list (strings, numbers, codes) with sep:
// {{join ", " .Unknown}}. A CodeView joins as its Name.
func join(sep string, list any) (string, error) {
	v := reflect.ValueOf(list)
	if !v.IsValid() {
		return "", nil
	}
	if v.Kind() != reflect.Slice && v.Kind() != reflect.Array {
		return "", fmt.Errorf("join: want a list, got %T", list)
	}
	parts := make([]string, v.Len())
	for i := range parts {
		e := v.Index(i).Interface()
		if c, ok := e.(CodeView); ok {
			e = c.Name
		}
		parts[i] = fmt.Sprint(e)
	}
	return strings.Join(parts, sep), nil
}

// mrkdwn escapes &, < and > for Slack's mrkdwn.
func mrkdwn(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}

func newTemplate() *template.Template {
	return template.New("t").Funcs(funcs()).Option("missingkey=error")
}

// Default texts, by kind; route/REFERENCE.md shows them. The texts a
// customer may read (slack.reply, slack.post, email.reply) name as the
// customer's error only the codes written in the new text (.Written); a
// code named only by the wording is offered as "this looks like", with a
// request for the real code; codes only in quoted history and the agent
// API's numbers are explained, never presented as the error reported.
// The texts for the team (webhook, jsonl, alert, email.forward) list
// every code, marking inferred and quoted-only ones.
const (
	slackCodes = `{{define "codes"}}
{{- if .Written}}ngrok error {{if or (gt (len .Written) 1) .More.Written}}codes{{else}}code{{end}} in this message ({{.Primary}}):
{{range .Written}}• <{{.DocsURL}}|{{.Name}}> — {{mrkdwn .Summary}}
{{end}}{{if .More.Written}}• and {{.More.Written}} more
{{end}}{{end}}
{{- range .LooksLike}}{{if $.Written}}It also looks like{{else}}No error code is written in this message, but it looks like{{end}} <{{.DocsURL}}|{{.Name}}> ({{mrkdwn (clause .Summary)}}), going by the words “{{mrkdwn .Phrase}}”. If you saw an error code, please send it.
{{end}}
{{- if .More.LooksLike}}The wording may name {{.More.LooksLike}} more.
{{end}}
{{- range .AgentAPI}}The ngrok agent's local API answered with error {{.Number}}, a number of its own and not an ngrok error code: {{mrkdwn .Summary}}
{{end}}
{{- if .More.AgentAPI}}…and {{.More.AgentAPI}} more numbers of the agent's local API.
{{end}}
{{- if .Quoted}}Only in the quoted history, so not taken as the error reported now: {{range $i, $c := .Quoted}}{{if $i}}, {{end}}<{{.DocsURL}}|{{.Name}}>{{end}}{{if .More.Quoted}} and {{.More.Quoted}} more{{end}}.
{{end}}
{{- if not (or .Written .LooksLike .AgentAPI .Quoted)}}No ngrok error code found in this message.
{{end}}{{end}}`

	slackReplyText = slackCodes + `{{template "codes" .}}`

	slackPostText = slackCodes + `*{{if .Ticket.Subject}}{{mrkdwn .Ticket.Subject}}{{else}}New ticket{{end}}*` +
		`{{if .Ticket.From}} from {{mrkdwn .Ticket.From}}{{end}} ({{.Ticket.Source}}{{if .Ticket.Channel}}, {{mrkdwn .Ticket.Channel}}{{end}})
{{template "codes" .}}`

	emailReplyText = `Hello,

thank you for writing to us.
{{- if .Written}} Your message mentions {{if or (gt (len .Written) 1) .More.Written}}these ngrok errors{{else}}this ngrok error{{end}}:
{{range .Written}}
{{.Name}}: {{if .Known}}{{.Summary}}{{else}}please see its page in ngrok's documentation.{{end}}
{{- if .Hint}}
  What to try: {{.Hint}}{{end}}
  Docs: {{.DocsURL}}
{{end}}{{if .More.Written}}
…and {{.More.Written}} more; we will look at all of them.
{{end}}{{else}}
{{end}}
{{- range .LooksLike}}
{{if $.Written}}Part of your message also{{else}}Your message does not include an error code, but it{{end}} reads like {{.Name}} ({{clause .Summary}}), going by the words "{{.Phrase}}". If you saw an error code, please send it to us so we can be sure.
{{- if .Hint}}
  What to try: {{.Hint}}{{end}}
  Docs: {{.DocsURL}}
{{end}}
{{- range .AgentAPI}}
The ngrok agent's local API answered with error {{.Number}}. That number is the agent API's own, not one of ngrok's ERR_NGROK_ error codes: {{.Summary}}
{{end}}
{{- if .Quoted}}
The earlier messages you quoted mention {{join ", " .Quoted}}{{if .More.Quoted}} and {{.More.Quoted}} more{{end}}; we have not taken {{if or (gt (len .Quoted) 1) .More.Quoted}}them{{else}}it{{end}} as the problem you are reporting now.
{{- if not (or .Written .LooksLike .AgentAPI)}} If you are seeing an error now, please send us its code or the full message.{{end}}
{{end}}
A member of our support team will follow up.
`

	emailForwardText = `Forwarded by triage (rule "{{.Rule}}").

From: {{.Ticket.From}}
Subject: {{.Ticket.Subject}}
Category: {{if .Primary}}{{.Primary}}{{else}}none{{end}}

{{if .Codes}}Codes:
{{range .Codes}}- {{.Name}} ({{.Category}}){{if .Inferred}} [inferred from the words "{{.Phrase}}"]{{end}}{{if .QuotedOnly}} [only in quoted history]{{end}}: {{.Summary}}
  {{.DocsURL}}
{{end}}{{if .More.Codes}}- and {{.More.Codes}} more (the ticket lists them all)
{{end}}{{else}}No ngrok error code found.
{{end}}{{range .AgentAPI}}Agent API error {{.Number}} (not an ngrok code): {{.Summary}}
{{end}}{{if .More.AgentAPI}}Agent API: and {{.More.AgentAPI}} more
{{end}}
Message:
{{.Ticket.Excerpt}}
`

	plainText = `[{{if .Primary}}{{.Primary}}{{else}}no code{{end}}] {{.Ticket.Subject}}{{if .Ticket.From}} (from {{.Ticket.From}}){{end}}
{{range .Codes}}- {{.Name}}{{if .Inferred}} (inferred){{end}}{{if .QuotedOnly}} (quoted only){{end}}: {{.Summary}} {{.DocsURL}}
{{else}}No ngrok error code found.
{{end}}{{if .More.Codes}}- and {{.More.Codes}} more
{{end}}{{range .AgentAPI}}- {{.Name}} (agent API, not an ngrok code): {{.Summary}}
{{end}}{{if .More.AgentAPI}}- and {{.More.AgentAPI}} more agent API numbers
{{end}}`

	// zendeskNoteText is the Zendesk internal note: for the agents, every
	// code with how sure we are of it.
	zendeskNoteText = `triage: {{if .Primary}}{{.Primary}}{{else}}no ngrok error code found{{end}}
{{range .Codes}}
{{.Name}} ({{.Category}}) — {{if and .Inferred .QuotedOnly}}inferred from quoted history only, going by the words "{{.Phrase}}"{{else if .Inferred}}looks like it, going by the words "{{.Phrase}}" (not written){{else if .QuotedOnly}}written only in quoted history, not what the customer reports now{{else if ge .Confidence 1.0}}written{{else}}loose: written as {{.Form}}{{end}}
  Meaning: {{if .Known}}{{.Summary}}{{else}}not in the catalog yet{{end}}
  Docs: {{.DocsURL}}
{{- if .Hint}}
  First step: {{.Hint}}{{end}}
{{end}}{{if .More.Codes}}
…and {{.More.Codes}} more (the ticket in triage lists them all)
{{end}}{{range .AgentAPI}}
{{.Name}}{{if .QuotedOnly}} (quoted only){{end}}: a number of the ngrok agent's local API, not an ngrok error code. {{.Summary}}{{if .Hint}}
  First step: {{.Hint}}{{end}}
{{end}}{{if .More.AgentAPI}}…and {{.More.AgentAPI}} more agent API numbers
{{end}}`
	// helpScoutNoteText is an internal note for agents: every code with
	// how sure we are, agent API numbers apart.
	helpScoutNoteText = `{{if not (or .Codes .AgentAPI)}}triage: no ngrok error code found in this message.
{{else}}triage found:
{{range .Written}}
- {{.Name}} ({{.Category}}): {{.Summary}}
  How sure: {{if lt .Confidence 1.0}}loose, written as {{.Form}} rather than in full{{else}}written by the customer{{end}}
{{- if .Hint}}
  First step: {{.Hint}}{{end}}
  Docs: {{.DocsURL}}
{{end}}{{if .More.Written}}
- and {{.More.Written}} more written codes
{{end}}{{range .LooksLike}}
- looks like {{.Name}} ({{.Category}}): {{.Summary}}
  How sure: inferred from the words "{{.Phrase}}"; the customer did not write the code
{{- if .Hint}}
  First step: {{.Hint}}{{end}}
  Docs: {{.DocsURL}}
{{end}}{{if .More.LooksLike}}
- and {{.More.LooksLike}} more inferred codes
{{end}}{{range .Quoted}}
- {{.Name}} ({{.Category}}), only in quoted history: an earlier message, not taken as the problem reported now
  Docs: {{.DocsURL}}
{{end}}{{if .More.Quoted}}
- and {{.More.Quoted}} more quoted codes
{{end}}{{range .AgentAPI}}
- agent API error {{.Number}}, the ngrok agent's local API, not an ngrok error code: {{.Summary}}
{{- if .Hint}}
  First step: {{.Hint}}{{end}}{{if .QuotedOnly}}
  Only in quoted history.{{end}}
{{end}}{{if .More.AgentAPI}}
- and {{.More.AgentAPI}} more agent API numbers
{{end}}{{end}}`

	shortText = `{{if .Codes}}{{join ", " .Codes}}{{if .More.Codes}} and {{.More.Codes}} more{{end}}{{else}}no ngrok error code{{end}}`

	// helpdeskNoteText is the internal note on a helpdesk conversation,
	// for agents only: every code with its meaning, first step and docs
	// link, and how sure the bot is of it.
	helpdeskNoteText = `triage: {{if .Primary}}{{.Primary}}{{else}}no ngrok error code{{end}} (rule "{{.Rule}}")
{{range .Codes}}
{{.Name}} — {{if .Inferred}}looks like it, going by the words "{{.Phrase}}" (inferred, not written; ask for the code){{else if .QuotedOnly}}only in quoted history, not what the customer reports now{{else if lt .Confidence 1.0}}written loosely ({{.Form}}){{else}}written by the customer{{end}}
  {{if .Known}}{{.Summary}}{{else}}Not in our catalog yet: {{.Summary}}{{end}}
{{- if .Hint}}
  First step: {{.Hint}}{{end}}
  Docs: {{.DocsURL}}
{{else}}
No ngrok error code found.
{{end}}{{if .More.Codes}}
…and {{.More.Codes}} more codes (the ticket lists them all).
{{end}}{{range .AgentAPI}}
agent-api:{{.Number}} — a number of the ngrok agent's local API, not an ngrok error code{{if .QuotedOnly}} (only in quoted history){{end}}: {{.Summary}}
{{- if .Hint}}
  First step: {{.Hint}}{{end}}
{{end}}{{if .More.AgentAPI}}…and {{.More.AgentAPI}} more agent API numbers.
{{end}}`
)

// defaultTexts maps each kind to its default text.
var defaultTexts = map[string]string{
	ticket.KindSlackReply:   slackReplyText,
	ticket.KindSlackPost:    slackPostText,
	ticket.KindEmailReply:   emailReplyText,
	ticket.KindEmailForward: emailForwardText,
	ticket.KindWebhook:      plainText,
	ticket.KindJSONL:        plainText,
	ticket.KindAlert:        plainText,
	ticket.KindSlackReact:   shortText,
	ticket.KindIMAPFlag:     shortText,
	ticket.KindIMAPMove:     shortText,
	ticket.KindMaildirMove:  shortText,
	// Zendesk
	ticket.KindZendeskNote:   zendeskNoteText,
	ticket.KindZendeskTag:    shortText,
	ticket.KindZendeskAssign: shortText,
	// Freshdesk: the text is kept in the action for the dashboard; the
	// sinks build their notes and tags from the ticket view.
	ticket.KindFreshdeskNote:   plainText,
	ticket.KindFreshdeskTag:    plainText,
	ticket.KindFreshdeskAssign: plainText,
	// Front
	ticket.KindFrontNote:   helpdeskNoteText,
	ticket.KindFrontTag:    shortText,
	ticket.KindFrontAssign: shortText,

	// Help Scout
	ticket.KindHelpScoutNote:   helpScoutNoteText,
	ticket.KindHelpScoutTag:    shortText,
	ticket.KindHelpScoutAssign: shortText,
}

// defaultText returns the default text for kind.
func defaultText(kind string) string {
	if text, ok := defaultTexts[kind]; ok {
		return text
	}
	return plainText
}

// defaultTemplate returns the parsed default text for kind.
func defaultTemplate(kind string) *template.Template {
	return template.Must(newTemplate().Parse(defaultText(kind)))
}

// sampleData is a ticket to try templates on at compile time.
func sampleData() TemplateData {
	e := catalog.Entry{Code: 108, Summary: "Too many agent sessions.", Category: catalog.AgentAuth}
	tv := TicketView{
		ID: "file:sample#1", Source: "email", Channel: "INBOX", From: "ana@example.com", Subject: "tunnel down",
		PrimaryCategory: string(e.Category), Excerpt: "ERR_NGROK_108",
		Codes: []CodeView{{Code: e.Code, Name: e.Name(), Summary: e.Summary, Category: string(e.Category), DocsURL: e.DocsURL(), Known: true,
			Form: "canonical", Forms: []string{"canonical"}, Confidence: 1}},
		AgentAPI: []AgentAPIView{{Number: 103, Name: "agent-api:103", Summary: "The agent could not start the tunnel.", Known: true}},
	}
	d := newTemplateData(&tv, groupCodes(tv.Codes))
	d.Rule, d.Kind, d.Target = "sample", ticket.KindWebhook, "sample"
	return d
}

// inPlace reports whether actions of kind act on the message where it
// lies (a flag, a folder, a reaction) rather than send its content on.
func inPlace(kind string) bool {
	switch kind {
	case ticket.KindMaildirMove, ticket.KindIMAPFlag, ticket.KindIMAPMove, ticket.KindSlackReact,
		ticket.KindFrontTag, ticket.KindFrontAssign:
		return true
	case ticket.KindZendeskTag, ticket.KindZendeskAssign: // Zendesk
		return true
	case ticket.KindHelpScoutTag, ticket.KindHelpScoutAssign:
		return true
	}
	return false
}
