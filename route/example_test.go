package route_test

import (
	"encoding/json"
	"fmt"

	"github.com/triage-bot/triage/annotate"
	"github.com/triage-bot/triage/catalog"
	"github.com/triage-bot/triage/route"
	"github.com/triage-bot/triage/ticket"
)

func ExampleRules_Decide() {
	rules, err := route.Parse("triage.yaml", []byte(`
routes:
  rules:
    - name: agent problems
      match:
        category: [agent-auth, upstream-gateway]
      actions:
        - kind: imap.move
          target: "Triage/{{.Primary}}"
  default:
    actions:
      - kind: jsonl
        target: triage-data/unrouted.jsonl
`), route.Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	cat, _ := catalog.Default()
	e := cat.Lookup(108)
	d, err := rules.Decide(route.Input{
		Ticket: &ticket.Ticket{ID: "imap:support/INBOX/1/42", Source: "email", Subject: "agent offline"},
		Annotation: annotate.Annotation{
			Codes:   []annotate.Code{{Entry: e, Name: e.Name(), DocsURL: e.DocsURL()}},
			Primary: e.Category,
		},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(d.Matched)
	for _, a := range d.Actions {
		fmt.Println(a.Kind, a.Target, a.State)
	}
	// Output:
	// [agent problems]
	// imap.move Triage/agent-auth pending
}

func ExampleParse_errors() {
	_, err := route.Parse("triage.yaml", []byte(`
routes:
  rules:
    - name: billing
      match:
        code: "799-700"
        category: billing
      actions:
        - kind: email.forward
`), route.Options{})
	fmt.Println(err)
	// Output:
	// triage.yaml:6: rule "billing": match.code: range "799-700" is reversed (write 700-799)
	// triage.yaml:7: rule "billing": match.category: unknown category "billing" (valid: agent-auth, upstream-gateway, limits-billing, abuse-trust, domains-tls, identity-login, api-config, platform-incident, unknown)
	// triage.yaml:9: rule "billing": action 1 (email.forward): missing target (the address to forward to, e.g. billing@example.com)
}

// Routing on how sure we are: a code written in the ticket goes to the
// team; one only named by the customer's wording gets a reply asking
// for the code.
func ExampleRules_Decide_minConfidence() {
	rules, err := route.Parse("triage.yaml", []byte(`
routes:
  rules:
    - name: sure
      match: {min_confidence: 0.9}
      actions:
        - {kind: imap.move, target: "Triage/{{.Primary}}"}
    - name: looks like
      match: {inferred: true}
      actions:
        - kind: email.reply
          template: "{{range .LooksLike}}This looks like {{.Name}}; if you saw an error code, please send it.{{end}}"
`), route.Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	cat, _ := catalog.Default()
	tk := &ticket.Ticket{ID: "imap:support/INBOX/1/43", Source: "email", From: "ana@example.com", Parts: []ticket.Part{
		{Kind: ticket.KindBody, Text: "The second agent says we are limited to 1 simultaneous ngrok agent session."}}}
	_, ann := annotate.Ticket(tk, cat)
	d, err := rules.Decide(route.Input{Ticket: tk, Annotation: ann})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(d.Matched, ann.Codes[0].Forms, ann.Codes[0].Confidence)
	var p route.Payload
	_ = json.Unmarshal(d.Actions[0].Payload, &p)
	fmt.Println(p.Text)
	// Output:
	// [looks like] [inferred] 0.5
	// This looks like ERR_NGROK_108; if you saw an error code, please send it.
}
