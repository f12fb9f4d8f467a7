package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestRulesTestBoundsFanout runs `triage rules test --json` on a mail
// naming 5,000 codes: every planned payload stays small and its text
// names the first codes and says how many more.
func TestRulesTestBoundsFanout(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "triage.yaml")
	require.NoError(t, os.WriteFile(cfg, []byte(fmt.Sprintf(`data_dir: %s
http: {listen: "off"}
log: {level: error}
webhooks: [{name: helpdesk, url: "https://helpdesk.example.com/hook"}]
routes:
  rules:
    - name: everything
      actions:
        - {kind: webhook, target: helpdesk}
        - {kind: jsonl, target: out.jsonl}
        - {kind: email.reply}
        - {kind: imap.flag, target: "$triage {{range .Codes}}$ngrok-{{.Code}} {{end}}"}
`, filepath.Join(dir, "data"))), 0o644))
	stdout, stderr, code := triage(t, "", "rules", "test", "--json", "--config", cfg, "../../route/testdata/fanout-5000-codes.eml")
	require.Equal(t, 0, code, stderr)
	var out struct {
		Codes   []int `json:"codes"`
		Actions []struct {
			Kind    string          `json:"kind"`
			Target  string          `json:"target"`
			Payload json.RawMessage `json:"payload"`
		} `json:"actions"`
	}
	require.NoError(t, json.Unmarshal([]byte(stdout), &out))
	assert.Len(t, out.Codes, 5000, "the ticket keeps every code")
	require.Len(t, out.Actions, 4)
	for _, a := range out.Actions {
		assert.Less(t, len(a.Payload), 64<<10, "%s payload: %d bytes", a.Kind, len(a.Payload))
		var p struct{ Text string }
		require.NoError(t, json.Unmarshal(a.Payload, &p))
		assert.Contains(t, p.Text, "4995 more", a.Kind)
	}
	assert.Len(t, strings.Fields(out.Actions[3].Target), 6, "$triage and the five codes named")
}

// TestConfigCheckRefusesTargets: `config check` reports a system flag the
// bot never sets and a folder named by the customer, with file and line.
func TestConfigCheckRefusesTargets(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "triage.yaml")
	require.NoError(t, os.WriteFile(cfg, []byte(fmt.Sprintf(`data_dir: %s
http: {listen: "off"}
routes:
  rules:
    - name: delete
      actions:
        - kind: imap.flag
          target: '\Deleted'
    - name: by subject
      actions:
        - kind: imap.move
          target: 'Triage/{{.Ticket.Subject}}'
`, filepath.Join(dir, "data"))), 0o644))
	_, stderr, code := triage(t, "", "config", "check", "--config", cfg)
	assert.NotEqual(t, 0, code)
	assert.Contains(t, stderr, cfg+`:8: rule "delete": action 1 (imap.flag): target: \Deleted is a system flag the bot never sets`)
	assert.Contains(t, stderr, cfg+`:12: rule "by subject": action 1 (imap.move): target uses .Ticket.Subject, which the customer writes`)
}
