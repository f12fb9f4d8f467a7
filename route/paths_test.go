package route

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestPathTargets(t *testing.T) {
	rules, err := Parse("rules.yaml", []byte(`
routes:
  rules:
    - name: by sender
      actions:
        - kind: jsonl
          target: "/var/lib/triage/by-sender/{{.Ticket.From}}.jsonl"
        - kind: webhook
          target: "{{.Ticket.Subject}}"
      continue: true
    - name: by category
      actions:
        - kind: jsonl
          target: "/var/lib/triage/{{.Primary}}/{{.Ticket.PrimaryCategory}}-{{range .Codes}}{{.Code}}{{end}}.jsonl"
    - name: sneaky
      actions:
        - kind: jsonl
          target: '{{with .Ticket}}{{lower .Subject}}{{end}}{{$.Ticket.Channel}}{{if .Ticket.Excerpt}}x{{end}}'
  default:
    actions:
      - kind: jsonl
        target: /var/lib/triage/unrouted.jsonl
`), Options{})
	require.NoError(t, err)
	got := rules.PathTargets()
	require.Len(t, got, 4, "webhook targets are not paths")
	assert.Equal(t, "by sender", got[0].Rule)
	assert.Equal(t, "rules.yaml", got[0].File)
	assert.Equal(t, 6, got[0].Line)
	assert.True(t, got[0].Template)
	assert.Equal(t, []string{".Ticket.From"}, got[0].CustomerFields)
	assert.Empty(t, got[1].CustomerFields, "codes and categories are not customer text")
	assert.Equal(t, []string{".Ticket", ".Ticket.Channel", ".Ticket.Excerpt"}, got[2].CustomerFields)
	assert.Equal(t, DefaultRule, got[3].Rule)
	assert.False(t, got[3].Template)
	assert.Equal(t, "/var/lib/triage/unrouted.jsonl", got[3].Target)
}
