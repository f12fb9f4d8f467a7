package route_test

import (
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
