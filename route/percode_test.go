package route

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/triage-bot/triage/ticket"
)

// TestIMAPFlagPerCode: "{code}" in an imap.flag target sets one keyword
// per code written in the new text; quoted-only codes get none; with
// nothing left to set, no action is planned (and nothing fails).
func TestIMAPFlagPerCode(t *testing.T) {
	r := mustParse(t, `routes:
  rules:
    - name: keywords
      continue: true
      actions:
        - {kind: imap.flag, target: "$ngrok-{code}"}
        - {kind: imap.flag, target: "$ngrok-{code} $triage-{{.Primary}}"}
        - {kind: imap.flag, target: "$a-{code} $b-{code}"}
`)
	tests := []struct {
		name  string
		codes []code
		want  []string // targets, in action order
	}{
		{"two written codes", []code{{n: 3200}, {n: 108}}, []string{
			"$ngrok-3200 $ngrok-108",
			"$ngrok-3200 $ngrok-108 $triage-upstream-gateway",
			"$a-3200 $a-108 $b-3200 $b-108",
		}},
		{"a quoted-only code is left out", []code{{n: 108}, {n: 3200, quoted: true}}, []string{
			"$ngrok-108",
			"$ngrok-108 $triage-agent-auth",
			"$a-108 $b-108",
		}},
		{"only quoted codes: only the fixed keyword", []code{{n: 3200, quoted: true}}, []string{
			"$triage-upstream-gateway",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tk := emailTicket("ana@example.com", "down", "the agent says so", "")
			d, err := r.Decide(Input{Ticket: tk, Annotation: annotation(t, tt.codes...)})
			require.NoError(t, err)
			var got []string
			for _, a := range d.Actions {
				assert.Equal(t, ticket.KindIMAPFlag, a.Kind)
				got = append(got, a.Target)
			}
			assert.Equal(t, tt.want, got)
		})
	}
}
