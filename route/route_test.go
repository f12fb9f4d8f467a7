package route

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"

	"github.com/triage-bot/triage/annotate"
	"github.com/triage-bot/triage/catalog"
	"github.com/triage-bot/triage/ticket"
)

// Fake secret of the ngrok authtoken shape; not a real credential.
const plantedToken = "2abcDEFfakeTOKEN0000000000_1A2b3C4d5E6f7G8h9I0j"

// code describes one code of a hand-built annotation.
type code struct {
	n      int
	quoted bool
}

// annotation builds an annotation by hand from real catalog entries, codes
// in the order given (callers put quoted-only codes last, as annotate does).
func annotation(t *testing.T, codes ...code) annotate.Annotation {
	t.Helper()
	cat, err := catalog.Default()
	require.NoError(t, err)
	var a annotate.Annotation
	for _, c := range codes {
		e := cat.Lookup(c.n)
		a.Codes = append(a.Codes, annotate.Code{Entry: e, Name: e.Name(), DocsURL: e.DocsURL(), Count: 1, QuotedOnly: c.quoted, Confidence: 1})
		if !e.Known {
			a.Unknown = append(a.Unknown, c.n)
		}
	}
	if len(a.Codes) > 0 {
		a.Primary = a.Codes[0].Category
	}
	return a
}

// mail builds an e-mail ticket with a subject, new body text and optional
// quoted history.
func emailTicket(from, subject, body, quoted string) *ticket.Ticket {
	t := &ticket.Ticket{
		ID: "imap:support/INBOX/1/42", Source: "email", Channel: "INBOX", From: from, Subject: subject,
		Date:  time.Date(2026, 11, 2, 9, 30, 0, 0, time.UTC),
		Parts: []ticket.Part{{Kind: ticket.KindSubject, Text: subject}, {Kind: ticket.KindBody, Text: body}},
	}
	if quoted != "" {
		t.Parts = append(t.Parts, ticket.Part{Kind: ticket.KindQuoted, Text: quoted})
	}
	return t
}

func mustParse(t *testing.T, src string) *Rules {
	t.Helper()
	r, err := Parse("triage.yaml", []byte(src), Options{})
	require.NoError(t, err)
	return r
}

// oneRule returns rules with a single rule "r" with the given match: body.
func oneRule(t *testing.T, match string) *Rules {
	t.Helper()
	return mustParse(t, "routes:\n  rules:\n    - name: r\n      match: "+match+"\n      actions: [{kind: jsonl, target: out.jsonl}]\n")
}

func TestMatchers(t *testing.T) {
	agent := annotation(t, code{n: 108})
	gateway := annotation(t, code{n: 3200})
	quotedOnly := annotation(t, code{n: 108, quoted: true})
	mixed := annotation(t, code{n: 3200}, code{n: 108, quoted: true})
	none := annotation(t)
	plain := emailTicket("ana@example.com", "tunnel down", "ERR_NGROK_108 again", "")
	robot := func(h map[string]string) *ticket.Ticket {
		tk := emailTicket("noreply@example.com", "newsletter", "hello", "")
		tk.Headers = h
		return tk
	}
	slack := &ticket.Ticket{ID: "slack:T1/C1/1.2", Source: "slack", Channel: "#support-eu", From: "U0123ABC"}

	tests := []struct {
		name  string
		match string
		tk    *ticket.Ticket
		ann   annotate.Annotation
		want  bool
	}{
		{"empty match matches all", "{}", plain, none, true},

		{"category primary", "{category: agent-auth}", plain, agent, true},
		{"category any of", "{category: [domains-tls, upstream-gateway]}", plain, gateway, true},
		{"category other", "{category: [limits-billing]}", plain, agent, false},
		{"category no code", "{category: unknown}", plain, none, false},
		{"category is the primary only", "{category: agent-auth}", plain, mixed, false},

		{"code number", "{code: 108}", plain, agent, true},
		{"code canonical", `{code: "ERR_NGROK_108"}`, plain, agent, true},
		{"code lower case", `{code: err_ngrok_108}`, plain, agent, true},
		{"code docs url", `{code: "https://ngrok.com/docs/errors/err_ngrok_108/"}`, plain, agent, true},
		{"code range", `{code: "3000-3999"}`, plain, gateway, true},
		{"code range bounds inclusive", `{code: ["3200-3201"]}`, plain, gateway, true},
		{"code range of names", `{code: "ERR_NGROK_3100-ERR_NGROK_3200"}`, plain, gateway, true},
		{"code outside range", `{code: "8000-8099"}`, plain, gateway, false},
		{"code any of", `{code: [1, 2, 3200]}`, plain, gateway, true},
		{"code also quoted ones", `{code: 108}`, plain, mixed, true},
		{"code no codes", `{code: 108}`, plain, none, false},

		{"source", "{source: email}", plain, none, true},
		{"source other", "{source: [slack, api]}", plain, none, false},
		{"source slack", "{source: slack}", slack, none, true},

		{"sender exact", `{sender: ana@example.com}`, plain, none, true},
		{"sender case-insensitive", `{sender: ANA@Example.COM}`, plain, none, true},
		{"sender glob", `{sender: "*@example.com"}`, plain, none, true},
		{"sender glob other", `{sender: "*@bigcorp.example"}`, plain, none, false},
		{"sender display name", `{sender: "*@bigcorp.example"}`, emailTicket("Bob Smith <Bob@BigCorp.example>", "", "", ""), none, true},
		{"sender slack user", `{sender: "U0123*"}`, slack, none, true},
		{"sender glob set", `{sender: "[ab]na@example.com"}`, plain, none, true},

		{"domain exact", `{sender_domain: example.com}`, plain, none, true},
		{"domain subdomain", `{sender_domain: example.com}`, emailTicket("ops@eu.mail.example.com", "", "", ""), none, true},
		{"domain suffix is not a subdomain", `{sender_domain: example.com}`, emailTicket("x@badexample.com", "", "", ""), none, false},
		{"domain other", `{sender_domain: [bigcorp.example]}`, plain, none, false},
		{"domain no address", `{sender_domain: example.com}`, slack, none, false},

		{"channel exact case-insensitive", `{channel: inbox}`, plain, none, true},
		{"channel glob", `{channel: "#support-*"}`, slack, none, true},
		{"channel glob other", `{channel: "#sales-*"}`, slack, none, false},
		{"channel question mark", `{channel: "INBO?"}`, plain, none, true},

		{"keyword in subject", `{keyword: urgent}`, emailTicket("a@b.c", "URGENT: tunnel", "hi", ""), none, true},
		{"keyword in body", `{keyword: [urgent, "production down"]}`, emailTicket("a@b.c", "hi", "our Production\n  Down since 9", ""), none, true},
		{"keyword only in quoted history", `{keyword: urgent}`, emailTicket("a@b.c", "re: hi", "thanks", "> this is urgent"), none, false},
		{"keyword absent", `{keyword: urgent}`, plain, none, false},

		{"has_code true", `{has_code: true}`, plain, agent, true},
		{"has_code true no code", `{has_code: true}`, plain, none, false},
		{"has_code false", `{has_code: false}`, plain, none, true},
		{"has_code false with code", `{has_code: false}`, plain, agent, false},

		{"quoted_only true", `{quoted_only: true}`, plain, quotedOnly, true},
		{"quoted_only true mixed", `{quoted_only: true}`, plain, mixed, false},
		{"quoted_only true no code", `{quoted_only: true}`, plain, none, false},
		{"quoted_only false", `{quoted_only: false}`, plain, mixed, true},
		{"quoted_only false quoted", `{quoted_only: false}`, plain, quotedOnly, false},

		{"auto_submitted true", `{auto_submitted: true}`, robot(map[string]string{"Auto-Submitted": "auto-generated"}), none, true},
		{"auto_submitted no", `{auto_submitted: true}`, robot(map[string]string{"Auto-Submitted": "No"}), none, false},
		{"auto_submitted precedence bulk", `{auto_submitted: true}`, robot(map[string]string{"Precedence": "bulk"}), none, true},
		{"auto_submitted precedence list", `{auto_submitted: true}`, robot(map[string]string{"Precedence": "list"}), none, true},
		{"auto_submitted precedence first-class", `{auto_submitted: true}`, robot(map[string]string{"Precedence": "first-class"}), none, false},
		{"auto_submitted list-id", `{auto_submitted: true}`, robot(map[string]string{"List-Id": "<news.example.com>"}), none, true},
		{"auto_submitted header case", `{auto_submitted: true}`, robot(map[string]string{"list-id": "<news.example.com>"}), none, true},
		{"auto_submitted delivery report", `{auto_submitted: true}`, robot(map[string]string{"Content-Type": `multipart/report; report-type=delivery-status; boundary="b"`}), none, true},
		{"auto_submitted null return path", `{auto_submitted: true}`, robot(map[string]string{"Return-Path": "<>"}), none, true},
		{"auto_submitted mailer-daemon", `{auto_submitted: true}`, emailTicket("MAILER-DAEMON@mx.example.com", "Undelivered Mail", "x", ""), none, true},
		{"auto_submitted multipart mixed", `{auto_submitted: true}`, robot(map[string]string{"Content-Type": "multipart/mixed; boundary=b", "Return-Path": "<ana@example.com>"}), none, false},
		{"auto_submitted false human", `{auto_submitted: false}`, plain, none, true},
		{"auto_submitted false robot", `{auto_submitted: false}`, robot(map[string]string{"Precedence": "junk"}), none, false},

		{"all conditions hold", `{category: agent-auth, code: 108, source: email, sender_domain: example.com, keyword: again, has_code: true}`, plain, agent, true},
		{"one condition fails", `{category: agent-auth, code: 108, source: slack}`, plain, agent, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := oneRule(t, tt.match)
			d, err := r.Decide(Input{Ticket: tt.tk, Annotation: tt.ann})
			require.NoError(t, err)
			require.NotEmpty(t, d.Matched)
			assert.Equal(t, tt.want, d.Matched[0] == "r", "matched %v", d.Matched)
		})
	}
}

func TestDecideOrder(t *testing.T) {
	const src = `
routes:
  rules:
    - name: watch everything
      shadow: true
      actions: [{kind: jsonl, target: shadow.jsonl}]
    - name: newsletters
      match: {auto_submitted: true}
      actions: [{kind: imap.move, target: Newsletters}]
    - name: agent
      match: {category: agent-auth}
      continue: true
      actions:
        - {kind: slack.post, target: "#support-agent"}
        - {kind: imap.flag, target: $Agent}
    - name: gateway
      match: {category: upstream-gateway}
      actions: [{kind: webhook, target: helpdesk}]
    - name: also log codes
      match: {has_code: true}
      actions: [{kind: jsonl, target: codes.jsonl}]
    - name: shadow after stop
      shadow: true
      continue: true
      actions: [{kind: alert, target: on-call}]
  default:
    actions: [{kind: jsonl, target: unrouted.jsonl}]
`
	r := mustParse(t, src)
	assert.Equal(t, []string{"watch everything", "newsletters", "agent", "gateway", "also log codes", "shadow after stop"}, r.Names())

	robot := emailTicket("news@example.com", "news", "hi", "")
	robot.Headers = map[string]string{"Precedence": "bulk"}

	tests := []struct {
		name        string
		tk          *ticket.Ticket
		ann         annotate.Annotation
		wantMatched []string
		wantActions []string // kind target state
	}{
		{
			name:        "stop at first match",
			tk:          emailTicket("a@b.c", "s", "b", ""),
			ann:         annotation(t, code{n: 3200}),
			wantMatched: []string{"shadow:watch everything", "gateway"},
			wantActions: []string{"jsonl shadow.jsonl shadow", "webhook helpdesk pending"},
		},
		{
			name:        "continue goes on to later rules",
			tk:          emailTicket("a@b.c", "s", "b", ""),
			ann:         annotation(t, code{n: 108}),
			wantMatched: []string{"shadow:watch everything", "agent", "also log codes"},
			wantActions: []string{"jsonl shadow.jsonl shadow", "slack.post #support-agent pending", "imap.flag $Agent pending", "jsonl codes.jsonl pending"},
		},
		{
			name:        "first match wins over later ones",
			tk:          robot,
			ann:         annotation(t, code{n: 108}),
			wantMatched: []string{"shadow:watch everything", "newsletters"},
			wantActions: []string{"jsonl shadow.jsonl shadow", "imap.move Newsletters pending"},
		},
		{
			name:        "shadow matches do not stop the default",
			tk:          emailTicket("a@b.c", "s", "b", ""),
			ann:         annotation(t),
			wantMatched: []string{"shadow:watch everything", "shadow:shadow after stop", "default"},
			wantActions: []string{"jsonl shadow.jsonl shadow", "alert on-call shadow", "jsonl unrouted.jsonl pending"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := r.Decide(Input{Ticket: tt.tk, Annotation: tt.ann})
			require.NoError(t, err)
			assert.Equal(t, tt.wantMatched, d.Matched)
			var got []string
			for _, a := range d.Actions {
				got = append(got, fmt.Sprintf("%s %s %s", a.Kind, a.Target, a.State))
				assert.Equal(t, tt.tk.ID, a.TicketID)
				assert.NotEmpty(t, a.Key)
				assert.True(t, json.Valid(a.Payload))
			}
			assert.Equal(t, tt.wantActions, got)
		})
	}
}

func TestDecideActionRule(t *testing.T) {
	r := mustParse(t, `
routes:
  rules:
    - {name: s, shadow: true, actions: [{kind: jsonl, target: a}]}
  default:
    actions: [{kind: jsonl, target: b}]
`)
	d, err := r.Decide(Input{Ticket: emailTicket("a@b.c", "", "", "")})
	require.NoError(t, err)
	require.Len(t, d.Actions, 2)
	assert.Equal(t, "s", d.Actions[0].Rule)
	assert.Equal(t, ticket.StateShadow, d.Actions[0].State)
	assert.Equal(t, DefaultRule, d.Actions[1].Rule)
	assert.Equal(t, ticket.StatePending, d.Actions[1].State)
}

func TestCompileEmpty(t *testing.T) {
	tests := []struct {
		name string
		src  string
	}{
		{"no routes key", "catalog: {}\n"},
		{"empty file", ""},
		{"null routes", "routes:\n"},
		{"empty mapping", "routes: {}\n"},
		{"default without actions", "routes:\n  default:\n    actions: []\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := mustParse(t, tt.src)
			assert.Empty(t, r.Names())
			d, err := r.Decide(Input{Ticket: emailTicket("a@b.c", "", "", "")})
			require.NoError(t, err)
			assert.Equal(t, []string{"default"}, d.Matched)
			assert.Empty(t, d.Actions)
		})
	}
	r, err := Compile("x.yaml", nil, Options{})
	require.NoError(t, err)
	d, err := r.Decide(Input{})
	require.NoError(t, err, "a nil ticket is an empty one")
	assert.Equal(t, []string{"default"}, d.Matched)
}

func TestCompileNode(t *testing.T) {
	var doc yaml.Node
	require.NoError(t, yaml.Unmarshal([]byte("log: info\nroutes:\n  rules:\n    - name: a\n      actions: [{kind: webhok, target: x}]\n"), &doc))
	routes := doc.Content[0].Content[3]
	_, err := Compile("triage.yaml", routes, Options{})
	require.Error(t, err)
	assert.Contains(t, err.Error(), `triage.yaml:5: rule "a": action 1: unknown action kind "webhok"`)
}

func TestCompileErrors(t *testing.T) {
	const src = `routes:
  rules:
    - name: agent
      match:
        category: [agent-auth, agent]
        code: [108, "3299-3200", ERR_NGROK_x]
        source: fax
        sender: ["[a"]
        sender_domain: "@example.com"
        colour: red
        has_code: maybe
        keyword: []
      actions:
        - kind: webhok
          target: helpdesk
        - kind: slack.post
          target: "#x"
          template: |
            Codes:
            {{range .Codes}}{{.Name}}
    - name: agent
      actions: []
    - match: {}
      actions: [{kind: jsonl}]
    - name: typo
      shadow: true
      continue: true
      actions:
        - kind: imap.move
          target: "Triage/{{.Primry}}"
  default:
    actions:
      - kind: carrier-pigeon
  extra: 1
`
	_, err := Parse("triage.yaml", []byte(src), Options{})
	require.Error(t, err)
	var problems []*ConfigError
	for _, e := range err.(interface{ Unwrap() []error }).Unwrap() {
		var ce *ConfigError
		require.True(t, errors.As(e, &ce), "%v is a ConfigError", e)
		problems = append(problems, ce)
	}
	want := []struct {
		line  int
		where string
		msg   string
	}{
		{5, `rule "agent"`, `match.category: unknown category "agent" (valid: agent-auth, upstream-gateway`},
		{6, `rule "agent"`, `match.code: range "3299-3200" is reversed (write 3200-3299)`},
		{6, `rule "agent"`, `match.code: "ERR_NGROK_x" is not an ngrok error code`},
		{7, `rule "agent"`, `match.source: unknown source "fax" (valid: email, slack, api, file, zendesk, freshdesk, front, helpscout)`},
		{8, `rule "agent"`, `match.sender: bad pattern "[a": unclosed [`},
		{9, `rule "agent"`, `match.sender_domain: "@example.com" is not a domain`},
		{10, `rule "agent"`, `match: unknown key "colour" (valid keys: category, code`},
		{11, `rule "agent"`, `match.has_code: want true or false, got "maybe"`},
		{12, `rule "agent"`, `match.keyword: empty list`},
		{14, `rule "agent"`, `action 1: unknown action kind "webhok" (valid: webhook, jsonl`},
		{21, `rule "agent"`, `action 2 (slack.post): template: line 3 of the template: unexpected EOF`},
		{21, `rule "agent"`, `duplicate rule name (first used at line 3)`},
		{22, `rule "agent"`, `no actions`},
		{23, `rule #3`, `missing name`},
		{24, `rule #3`, `action 1 (jsonl): missing target (the path of a JSON Lines file`},
		{30, `rule "typo"`, `action 1 (imap.move): target: line 1 of the template: executing "t" at <.Primry>: can't evaluate field Primry`},
		{33, `default`, `action 1: unknown action kind "carrier-pigeon"`},
		{34, `routes`, `unknown key "extra" (valid keys: rules, default, limits)`},
	}
	require.Len(t, problems, len(want), "%v", err)
	for i, w := range want {
		p := problems[i]
		assert.Equal(t, "triage.yaml", p.File)
		assert.Equal(t, w.line, p.Line, "problem %d: %v", i, p)
		assert.Equal(t, w.where, p.Where, "problem %d: %v", i, p)
		assert.Contains(t, p.Msg, w.msg, "problem %d", i)
		assert.True(t, strings.HasPrefix(p.Error(), fmt.Sprintf("triage.yaml:%d: %s: ", w.line, w.where)), p.Error())
	}
}

func TestCompileErrorsMore(t *testing.T) {
	tests := []struct {
		name string
		src  string
		opts Options
		want string
	}{
		{"reserved name", "routes:\n  rules:\n    - name: default\n      actions: [{kind: jsonl, target: x}]\n", Options{}, `triage.yaml:3: rule "default": the name "default" is reserved`},
		{"actions missing", "routes:\n  rules:\n    - name: a\n", Options{}, `triage.yaml:3: rule "a": no actions`},
		{"kind not enabled", "routes:\n  rules:\n    - name: a\n      actions: [{kind: slack.post, target: x}]\n", Options{Kinds: []string{"jsonl"}}, `triage.yaml:4: rule "a": action 1: action kind "slack.post" is not enabled here (enabled: jsonl)`},
		{"rules not a list", "routes:\n  rules: {name: a}\n", Options{}, `triage.yaml:2: routes: rules: want a list, got a mapping`},
		{"name is a list", "routes:\n  rules:\n    - name: [a]\n      actions: [{kind: jsonl, target: x}]\n", Options{}, `triage.yaml:3: rule #1: name: want a single value, not a list`},
		{"rule key unknown", "routes:\n  rules:\n    - name: a\n      stop: true\n      actions: [{kind: jsonl, target: x}]\n", Options{}, `triage.yaml:4: rule "a": unknown key "stop" (valid keys: name, match, actions, continue, shadow)`},
		{"action key unknown", "routes:\n  rules:\n    - name: a\n      actions: [{kind: jsonl, target: x, body: y}]\n", Options{}, `triage.yaml:4: rule "a": action 1: unknown key "body" (valid keys: kind, target, template, allow_customer_folders)`},
		{"key twice", "routes:\n  rules:\n    - name: a\n      name: b\n      actions: [{kind: jsonl, target: x}]\n", Options{}, `key "name" given twice`},
		{"unknown function", "routes:\n  rules:\n    - name: a\n      actions:\n        - kind: jsonl\n          target: x\n          template: \"{{shout .Rule}}\"\n", Options{}, `triage.yaml:7: rule "a": action 1 (jsonl): template: line 1 of the template: function "shout" not defined`},
		{"bad glob range", "routes:\n  rules:\n    - name: a\n      match: {channel: \"[z-a]\"}\n      actions: [{kind: jsonl, target: x}]\n", Options{}, `triage.yaml:4: rule "a": match.channel: bad pattern "[z-a]"`},
		{"not yaml", "routes: [\n", Options{}, `triage.yaml: yaml:`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("triage.yaml", []byte(tt.src), tt.opts)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
		})
	}
}

func TestParseCodeRange(t *testing.T) {
	tests := []struct {
		in      string
		want    codeRange
		wantErr string
	}{
		{"108", codeRange{108, 108}, ""},
		{" ERR_NGROK_3200 ", codeRange{3200, 3200}, ""},
		{"err_ngrok_3200", codeRange{3200, 3200}, ""},
		{"https://ngrok.com/docs/errors/err_ngrok_8012/", codeRange{8012, 8012}, ""},
		{"8000-8099", codeRange{8000, 8099}, ""},
		{"8000 - 8099", codeRange{8000, 8099}, ""},
		{"8000–8099", codeRange{8000, 8099}, ""},
		{"ERR_NGROK_100-ERR_NGROK_199", codeRange{100, 199}, ""},
		{"3200-3200", codeRange{3200, 3200}, ""},
		{"3299-3200", codeRange{}, "reversed"},
		{"abc", codeRange{}, "not an ngrok error code"},
		{"1-x", codeRange{}, "not a code range"},
		{"-5", codeRange{}, "not a code range"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := parseCodeRange(tt.in)
			if tt.wantErr != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tt.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestCompileGlob(t *testing.T) {
	tests := []struct {
		pattern string
		in      string
		want    bool
		wantErr bool
	}{
		{"*@bigcorp.example", "ana@BigCorp.Example", true, false},
		{"*@bigcorp.example", "ana@bigcorp.example.org", false, false},
		{"INBOX", "inbox", true, false},
		{"INBOX/*", "INBOX/Support/EU", true, false},
		{"#support-?", "#support-1", true, false},
		{"#support-?", "#support-12", false, false},
		{"[!a]na@x", "bna@x", true, false},
		{"[!a]na@x", "ana@x", false, false},
		{"a.b", "axb", false, false},
		{`\*star`, "*star", true, false},
		{`\*star`, "xstar", false, false},
		{"é*", "ÉCOLE", true, false},
		{"[a", "", false, true},
		{"a\\", "", false, true},
		{"", "", false, true},
		{"[]", "", false, true},
	}
	for _, tt := range tests {
		t.Run(tt.pattern+" "+tt.in, func(t *testing.T) {
			re, err := compileGlob(tt.pattern)
			if tt.wantErr {
				assert.Error(t, err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, re.MatchString(tt.in))
		})
	}
}

func TestTemplates(t *testing.T) {
	ann := annotation(t, code{n: 108}, code{n: 3200}, code{n: 99999})
	tk := emailTicket("Ana <ana@example.com>", "tunnel & agent down", "We see ERR_NGROK_108.", "")

	t.Run("defaults per kind", func(t *testing.T) {
		for _, kind := range Kinds() {
			t.Run(kind, func(t *testing.T) {
				r := mustParse(t, fmt.Sprintf("routes:\n  default:\n    actions: [{kind: %s, target: x}]\n", kind))
				d, err := r.Decide(Input{Ticket: tk, Annotation: ann})
				require.NoError(t, err)
				require.Len(t, d.Actions, 1)
				p := payload(t, d.Actions[0])
				assert.Contains(t, p.Text, "ERR_NGROK_108")
				assert.Contains(t, p.Text, "ERR_NGROK_3200")
				assert.Contains(t, p.Text, "ERR_NGROK_99999")
				if !inPlace(kind) {
					assert.Contains(t, p.Text, "https://ngrok.com/docs/errors/err_ngrok_108/", "docs link")
					assert.Contains(t, p.Text, ann.Codes[0].Summary, "summary")
				}
				if kind == ticket.KindEmailReply {
					assert.NotContains(t, p.Text, "overlay", "no internal notes to customers")
				}
				noCode, err := r.Decide(Input{Ticket: tk, Annotation: annotation(t)})
				require.NoError(t, err)
				assert.NotEmpty(t, payload(t, noCode.Actions[0]).Text)
			})
		}
	})

	t.Run("slack default", func(t *testing.T) {
		r := mustParse(t, "routes:\n  default:\n    actions: [{kind: slack.post, target: \"#support\"}]\n")
		d, err := r.Decide(Input{Ticket: tk, Annotation: annotation(t, code{n: 108})})
		require.NoError(t, err)
		text := payload(t, d.Actions[0]).Text
		assert.Contains(t, text, "*tunnel &amp; agent down* from Ana &lt;ana@example.com&gt; (email, INBOX)")
		assert.Contains(t, text, "• <https://ngrok.com/docs/errors/err_ngrok_108/|ERR_NGROK_108> — ")
		assert.Contains(t, string(d.Actions[0].Payload), "<https://", "payload JSON does not HTML-escape")
	})

	t.Run("custom text and target", func(t *testing.T) {
		r := mustParse(t, `
routes:
  rules:
    - name: team
      actions:
        - kind: imap.move
          target: "Triage/{{.Primary}}"
          template: |
            {{.Rule}} {{.Kind}} {{.Target}}: {{join ", " .Codes}} unknown={{join "," .Unknown}}
            {{.Ticket.Subject | upper}} / {{lower "ABC"}} / {{truncate 6 .Ticket.Subject}}
            {{range .Codes}}{{if .QuotedOnly}}q{{end}}{{.Category}} {{end}}
`)
		d, err := r.Decide(Input{Ticket: tk, Annotation: ann})
		require.NoError(t, err)
		require.Len(t, d.Actions, 1)
		assert.Equal(t, "Triage/agent-auth", d.Actions[0].Target)
		p := payload(t, d.Actions[0])
		assert.Equal(t, "Triage/agent-auth", p.Target)
		assert.Equal(t, "team imap.move Triage/agent-auth: ERR_NGROK_108, ERR_NGROK_3200, ERR_NGROK_99999 unknown=99999\n"+
			"TUNNEL & AGENT DOWN / abc / tunne…\n"+
			"agent-auth upstream-gateway unknown \n", p.Text)
	})

	t.Run("runtime error names the rule", func(t *testing.T) {
		r := mustParse(t, `
routes:
  rules:
    - name: first code
      actions:
        - {kind: jsonl, target: ok.jsonl}
        - kind: webhook
          target: helpdesk
          template: "{{(index .Codes 0).Name}}"
`)
		d, err := r.Decide(Input{Ticket: tk, Annotation: annotation(t)})
		require.Error(t, err)
		assert.Contains(t, err.Error(), `route: rule "first code": action 2 (webhook): template:`)
		assert.Contains(t, err.Error(), "index out of range")
		require.Len(t, d.Actions, 2, "what rendered is still planned, what failed is parked")
		assert.Equal(t, "ok.jsonl", d.Actions[0].Target)
		assert.Equal(t, ticket.StatePending, d.Actions[0].State)
		assert.False(t, Parked(d.Actions[0]))
		parked := d.Actions[1]
		assert.True(t, Parked(parked))
		assert.Equal(t, ticket.StateFailed, parked.State)
		assert.Equal(t, "webhook", parked.Kind)
		assert.Equal(t, "helpdesk", parked.Target)
		assert.Equal(t, "first code", parked.Rule)
		assert.Empty(t, parked.Payload, "nothing rendered, nothing to send")
		assert.Zero(t, parked.Attempts)
		assert.NotEmpty(t, parked.Key)
		assert.Contains(t, parked.LastError, "index out of range")

		d, err = r.Decide(Input{Ticket: tk, Annotation: ann})
		require.NoError(t, err)
		assert.Equal(t, "ERR_NGROK_108", payload(t, d.Actions[1]).Text)
	})

	t.Run("target renders empty", func(t *testing.T) {
		r := mustParse(t, "routes:\n  default:\n    actions: [{kind: imap.move, target: \"{{.Primary}}\"}]\n")
		d, err := r.Decide(Input{Ticket: tk, Annotation: annotation(t)})
		require.Error(t, err)
		assert.Contains(t, err.Error(), `route: rule "default": action 1 (imap.move): target: "{{.Primary}}" rendered empty`)
		require.Len(t, d.Actions, 1)
		assert.True(t, Parked(d.Actions[0]))
		assert.Equal(t, "{{.Primary}}", d.Actions[0].Target, "the target as written")
	})

	t.Run("a shadow rule's failed action stays shadow", func(t *testing.T) {
		r := mustParse(t, "routes:\n  rules:\n    - {name: s, shadow: true, actions: [{kind: imap.move, target: \"{{.Primary}}\"}]}\n")
		d, err := r.Decide(Input{Ticket: tk, Annotation: annotation(t)})
		require.Error(t, err)
		require.Len(t, d.Actions, 1)
		assert.Equal(t, ticket.StateShadow, d.Actions[0].State)
		assert.True(t, Parked(d.Actions[0]))
	})
}

func payload(t *testing.T, a ticket.Action) Payload {
	t.Helper()
	var p Payload
	require.NoError(t, json.Unmarshal(a.Payload, &p))
	return p
}

func TestPayload(t *testing.T) {
	r := mustParse(t, "routes:\n  rules:\n    - name: hook\n      actions: [{kind: webhook, target: helpdesk}]\n")
	tk := emailTicket("ana@example.com", "tunnel down", strings.Repeat("x", 2000), "")
	tk.Parts = append(tk.Parts, ticket.Part{Kind: ticket.KindQuoted, Text: "old"}, ticket.Part{Kind: ticket.KindAttachment, Name: "a.log", Text: "log"})
	d, err := r.Decide(Input{Ticket: tk, Annotation: annotation(t, code{n: 3200}, code{n: 108, quoted: true}, code{n: 99999, quoted: true})})
	require.NoError(t, err)
	require.Len(t, d.Actions, 1)

	var raw map[string]any
	require.NoError(t, json.Unmarshal(d.Actions[0].Payload, &raw))
	assert.ElementsMatch(t, []string{"ticket", "rule", "kind", "target", "text"}, keys(raw))
	tkRaw := raw["ticket"].(map[string]any)
	assert.ElementsMatch(t, []string{"id", "source", "channel", "from", "subject", "date", "primary_category", "codes", "unknown", "excerpt"}, keys(tkRaw))
	c0 := tkRaw["codes"].([]any)[0].(map[string]any)
	assert.Subset(t, keys(c0), []string{"code", "name", "summary", "category", "docs_url", "quoted_only", "known"})

	p := payload(t, d.Actions[0])
	assert.Equal(t, "hook", p.Rule)
	assert.Equal(t, "webhook", p.Kind)
	assert.Equal(t, "helpdesk", p.Target)
	assert.Equal(t, "imap:support/INBOX/1/42", p.Ticket.ID)
	assert.Equal(t, "upstream-gateway", p.Ticket.PrimaryCategory)
	assert.Equal(t, tk.Date, p.Ticket.Date)
	assert.Equal(t, []int{99999}, p.Ticket.Unknown)
	require.Len(t, p.Ticket.Codes, 3)
	assert.Equal(t, CodeView{Code: 3200, Name: "ERR_NGROK_3200", Summary: p.Ticket.Codes[0].Summary, Category: "upstream-gateway",
		DocsURL: "https://ngrok.com/docs/errors/err_ngrok_3200/", Hint: p.Ticket.Codes[0].Hint, Known: true, Confidence: 1}, p.Ticket.Codes[0])
	assert.NotEmpty(t, p.Ticket.Codes[0].Summary)
	assert.True(t, p.Ticket.Codes[1].QuotedOnly)
	assert.Equal(t, ExcerptRunes, len([]rune(p.Ticket.Excerpt)))
	assert.True(t, strings.HasSuffix(p.Ticket.Excerpt, "…"))
	assert.NotContains(t, p.Ticket.Excerpt, "old", "quoted history is not in the excerpt")

	d, err = r.Decide(Input{Ticket: emailTicket("a@b.c", "", "", ""), Annotation: annotation(t)})
	require.NoError(t, err)
	assert.Contains(t, string(d.Actions[0].Payload), `"codes":[]`, "codes is a list even when empty")
}

func keys(m map[string]any) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

func TestRedactionInPayloads(t *testing.T) {
	r := mustParse(t, `
routes:
  rules:
    - name: everything
      shadow: true
      actions:
        - {kind: slack.post, target: "#s"}
        - {kind: email.forward, target: "a@b.c"}
        - {kind: webhook, target: "{{.Ticket.Subject}}", template: "{{.Ticket.Subject}} {{.Ticket.Excerpt}}"}
  default:
    actions:
      - {kind: jsonl, target: x}
      - {kind: slack.reply}
      - {kind: email.reply}
      - {kind: alert, target: y, template: "{{range .Codes}}{{.Name}}{{end}} {{.Ticket.Excerpt | truncate 40}}"}
`)
	tk := emailTicket("ana@example.com", "help, my authtoken "+plantedToken+" fails",
		"config:\n  authtoken: hunter2-secret\nngrok http 80 --authtoken "+plantedToken+"\nERR_NGROK_108", "")
	d, err := r.Decide(Input{Ticket: tk, Annotation: annotation(t, code{n: 108})})
	require.NoError(t, err)
	require.Len(t, d.Actions, 7)
	for _, a := range d.Actions {
		t.Run(a.Kind, func(t *testing.T) {
			assert.NotContains(t, string(a.Payload), plantedToken)
			assert.NotContains(t, string(a.Payload), "hunter2-secret")
			assert.NotContains(t, a.Target, plantedToken)
			assert.Contains(t, string(a.Payload), "[REDACTED]")
		})
	}
	p := payload(t, d.Actions[2])
	assert.Equal(t, "help, my authtoken [REDACTED] fails", p.Ticket.Subject)
	assert.Contains(t, p.Ticket.Excerpt, "authtoken: [REDACTED]\nngrok http 80 --authtoken [REDACTED]\nERR_NGROK_108")
}

func TestInPlaceActionsCarryNoTextOrCatalogWords(t *testing.T) {
	r := mustParse(t, `routes:
  rules:
    - name: all
      actions:
        - {kind: maildir.move, target: "{{.Primary}}"}
        - {kind: imap.flag, target: "$triage-{{.Primary}}"}
        - {kind: imap.move, target: "{{.Primary}}"}
        - {kind: slack.react, target: eyes}
        - {kind: jsonl, target: /tmp/t.jsonl}
`)
	tk := emailTicket("ana@example.com", "tunnel down", "the agent says ERR_NGROK_3200", "")
	d, err := r.Decide(Input{Ticket: tk, Annotation: annotation(t, code{n: 3200})})
	require.NoError(t, err)
	require.Len(t, d.Actions, 5)
	for _, a := range d.Actions {
		p := payload(t, a)
		assert.Equal(t, "upstream-gateway", p.Ticket.PrimaryCategory, a.Kind)
		require.Len(t, p.Ticket.Codes, 1, a.Kind)
		c := p.Ticket.Codes[0]
		assert.Equal(t, 3200, c.Code, a.Kind)
		assert.Equal(t, "ERR_NGROK_3200", c.Name, a.Kind)
		assert.Equal(t, "upstream-gateway", c.Category, a.Kind)
		assert.True(t, c.Known, a.Kind)
		if a.Kind == ticket.KindJSONL {
			assert.Contains(t, p.Ticket.Excerpt, "ERR_NGROK_3200", "content-carrying actions keep the excerpt")
			assert.NotEmpty(t, c.Summary, "and the catalog's words")
			assert.Equal(t, "https://ngrok.com/docs/errors/err_ngrok_3200/", c.DocsURL)
			continue
		}
		assert.Empty(t, p.Ticket.Excerpt, "%s acts on the message where it lies: no copy of the text", a.Kind)
		assert.Empty(t, c.Summary+c.DocsURL+c.Hint+c.Official, "%s: nor of the catalog's words", a.Kind)
		assert.NotContains(t, string(a.Payload), `"summary"`, a.Kind)
	}
	// The jsonl action, after the in-place ones, has every code's words
	// (checked in the loop): the view they share was not changed.
	assert.Equal(t, ticket.KindJSONL, d.Actions[4].Kind)
}

func TestExcerptRedactsBeforeCutting(t *testing.T) {
	// The token straddles the cut: redacting after cutting would leave its
	// first part in the excerpt.
	body := strings.Repeat("a", ExcerptRunes-20) + " " + plantedToken + "\n" + strings.Repeat("b", 10<<10)
	got := excerpt(body)
	assert.NotContains(t, got, plantedToken[:15])
	assert.Equal(t, ExcerptRunes, len([]rune(got)))
}

func TestKeys(t *testing.T) {
	const src = `
routes:
  rules:
    - name: a
      continue: true
      actions:
        - {kind: jsonl, target: x}
        - {kind: jsonl, target: x}
        - {kind: imap.move, target: "T/{{.Primary}}"}
    - name: b
      actions:
        - {kind: jsonl, target: x}
`
	r := mustParse(t, src)
	in := Input{Ticket: emailTicket("a@b.c", "s", "b", ""), Annotation: annotation(t, code{n: 108})}
	d1, err := r.Decide(in)
	require.NoError(t, err)
	d2, err := mustParse(t, src).Decide(in)
	require.NoError(t, err)
	require.Len(t, d1.Actions, 4)

	keysOf := func(d Decision) []string {
		var out []string
		for _, a := range d.Actions {
			assert.Regexp(t, "^[0-9a-f]{32}$", a.Key)
			out = append(out, a.Key)
		}
		return out
	}
	k1 := keysOf(d1)
	assert.Equal(t, k1, keysOf(d2), "same ticket, same keys")
	assert.Len(t, uniq(k1), 4, "index, rule and target tell actions apart: %v", k1)

	other := in
	other.Ticket = emailTicket("a@b.c", "s", "b", "")
	other.Ticket.ID = "imap:support/INBOX/1/43"
	d3, err := r.Decide(other)
	require.NoError(t, err)
	for i, k := range keysOf(d3) {
		assert.NotEqual(t, k1[i], k, "other ticket, other key")
	}

	gw := in
	gw.Annotation = annotation(t, code{n: 3200})
	d4, err := r.Decide(gw)
	require.NoError(t, err)
	assert.Equal(t, k1[0], d4.Actions[0].Key, "same rule, kind, target and index")
	assert.NotEqual(t, k1[2], d4.Actions[2].Key, "the rendered target counts")

	assert.Equal(t, Key("t", "r", "jsonl", "x", 0), Key("t", "r", "jsonl", "x", 0))
	assert.NotEqual(t, Key("t", "r", "jsonl", "x", 0), Key("t", "rj", "sonl", "x", 0), "fields do not run together")
}

func uniq(s []string) map[string]bool {
	m := map[string]bool{}
	for _, v := range s {
		m[v] = true
	}
	return m
}

func TestTruncate(t *testing.T) {
	tests := []struct {
		n    int
		in   string
		want string
	}{
		{5, "abc", "abc"},
		{5, "abcde", "abcde"},
		{5, "abcdef", "abcd…"},
		{3, "añbc", "añ…"},
		{4, "ab  cd", "ab…"},
		{0, "abc", ""},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%d %s", tt.n, tt.in), func(t *testing.T) {
			assert.Equal(t, tt.want, truncate(tt.n, tt.in))
		})
	}
}

// TestReferenceMentionsEveryMatcher keeps REFERENCE.md in step with the
// schema: every key and every action kind must be documented.
func TestReferenceMentionsEveryMatcher(t *testing.T) {
	data, err := os.ReadFile("REFERENCE.md")
	require.NoError(t, err)
	ref := string(data)
	for _, typ := range []reflect.Type{
		reflect.TypeFor[matchSpec](), reflect.TypeFor[ruleSpec](), reflect.TypeFor[actionSpec](),
		reflect.TypeFor[routesSpec](), reflect.TypeFor[defaultSpec](), reflect.TypeFor[limitsSpec](),
	} {
		for _, k := range yamlKeys(typ) {
			assert.Contains(t, ref, "`"+k+"`", "REFERENCE.md does not document key %q of %s", k, typ.Name())
		}
	}
	require.NotEmpty(t, yamlKeys(reflect.TypeFor[matchSpec]()))
	for _, k := range Kinds() {
		assert.Contains(t, ref, "`"+k+"`", "REFERENCE.md does not document kind %q", k)
	}
	for _, s := range Sources() {
		assert.Contains(t, ref, "`"+s+"`", "REFERENCE.md does not document source %q", s)
	}
	for name := range funcs() {
		assert.Contains(t, ref, "`"+name+"`", "REFERENCE.md does not document template function %q", name)
	}
	for _, typ := range []reflect.Type{reflect.TypeFor[TemplateData](), reflect.TypeFor[TicketView](), reflect.TypeFor[CodeView](), reflect.TypeFor[AgentAPIView]()} {
		for i := range typ.NumField() {
			f := typ.Field(i)
			assert.Contains(t, ref, "."+f.Name, "REFERENCE.md does not document template field %s.%s", typ.Name(), f.Name)
			if tag, _, _ := strings.Cut(f.Tag.Get("json"), ","); tag != "" {
				assert.Contains(t, ref, `"`+tag+`"`, "REFERENCE.md does not document payload field %q", tag)
			}
		}
	}
}

func TestKinds(t *testing.T) {
	assert.Len(t, Kinds(), len(defaultTexts), "every kind has a default text")
	assert.Len(t, Kinds(), len(targetHelp), "every kind says what its target is")
	for _, k := range Kinds() {
		assert.Contains(t, defaultTexts, k)
		assert.Contains(t, targetHelp, k)
	}
}

func BenchmarkDecide(b *testing.B) {
	r, err := Parse("triage.yaml", []byte(`
routes:
  rules:
    - {name: robots, match: {auto_submitted: true}, actions: [{kind: imap.move, target: Robots}]}
    - {name: vip, match: {sender_domain: bigcorp.example, keyword: [urgent, production down]}, continue: true, actions: [{kind: alert, target: on-call}]}
    - {name: agent, match: {category: [agent-auth, upstream-gateway]}, actions: [{kind: slack.post, target: "#agent"}, {kind: imap.move, target: "Triage/{{.Primary}}"}]}
  default:
    actions: [{kind: jsonl, target: unrouted.jsonl}]
`), Options{})
	require.NoError(b, err)
	cat, err := catalog.Default()
	require.NoError(b, err)
	e := cat.Lookup(108)
	in := Input{
		Ticket:     emailTicket("ops@eu.bigcorp.example", "URGENT: agent offline", strings.Repeat("our agent keeps failing with ERR_NGROK_108\n", 100), "> earlier"),
		Annotation: annotate.Annotation{Codes: []annotate.Code{{Entry: e, Name: e.Name(), DocsURL: e.DocsURL()}}, Primary: e.Category},
	}
	for b.Loop() {
		if _, err := r.Decide(in); err != nil {
			b.Fatal(err)
		}
	}
}
