package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestConfigCheckReportsEveryStageAtOnce: five mistakes of five stages
// (an unset variable, a value of the wrong type, a value Validate
// refuses, a broken catalog overlay, a bad route) come out of one
// `config check`, each at its file:line with its key.
func TestConfigCheckReportsEveryStageAtOnce(t *testing.T) {
	dir := t.TempDir()
	overlay := filepath.Join(dir, "our-codes.yaml")
	require.NoError(t, os.WriteFile(overlay, []byte("codes:\n  - code: 108\n    category: not-a-category\n"), 0o644))
	cfg := filepath.Join(dir, "triage.yaml")
	require.NoError(t, os.WriteFile(cfg, []byte(`data_dir: `+dir+`
store:
  driver: postgres
  dsn: ${TRIAGE_TEST_UNSET_VARIABLE_13}   # a ${TRIAGE_TEST_COMMENTED_13} in a comment is never read
catalog:
  files: [`+overlay+`]
outbox:
  workers: many
log:
  level: loud
routes:
  rules:
    - name: x
      match: {category: [nope]}
      actions: [{kind: webhook, target: h}]
`), 0o644))
	_, stderr, code := triage(t, "", "config", "check", "--config", cfg)
	assert.Equal(t, 1, code)
	assert.Contains(t, stderr, "5 problems:")
	for _, want := range []string{
		cfg + ":4: store.dsn: environment variable TRIAGE_TEST_UNSET_VARIABLE_13 is not set",
		cfg + `:8: outbox.workers: "many" is not a whole number`,
		cfg + `:10: log.level: "loud" is not debug, info, warn or error`,
		cfg + ":6: catalog.files[0]: " + overlay + `:2: ERR_NGROK_108: unknown category "not-a-category"`,
		cfg + `:14: rule "x": match.category: unknown category "nope"`,
	} {
		assert.Contains(t, stderr, want)
	}
	assert.NotContains(t, stderr, "TRIAGE_TEST_COMMENTED_13")
	assert.NotContains(t, stderr, "config.Config")

	// run stops at the same problems.
	_, runErr, code := triage(t, "", "run", "--once", "--config", cfg)
	assert.Equal(t, 1, code)
	assert.Contains(t, runErr, cfg+":4: store.dsn: environment variable TRIAGE_TEST_UNSET_VARIABLE_13 is not set")
}

// TestConfigCheckRefusesWhatRunRefuses: a listen address other machines
// reach with only an empty API token (a variable set to nothing) passed
// check while run refused to start; both refuse it now.
func TestConfigCheckRefusesWhatRunRefuses(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "triage.yaml")
	require.NoError(t, os.WriteFile(cfg, []byte(`data_dir: `+dir+`
sources:
  maildir: [{name: support, path: `+filepath.Join(dir, "inbox")+`}]
http:
  listen: 0.0.0.0:0
  api_tokens: ["${TRIAGE_TEST_EMPTY_TOKEN_13:-}"]
`), 0o644))
	for _, args := range [][]string{{"config", "check"}, {"run", "--once"}} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			_, stderr, code := triage(t, "", append(args, "--config", cfg)...)
			assert.Equal(t, 1, code)
			assert.Contains(t, stderr, cfg+":6: http.api_tokens[0]: is empty")
			assert.Contains(t, stderr, cfg+`:5: http.listen: "0.0.0.0:0" is reachable from other machines, so http.api_tokens (or api_token_file) must be set`)
		})
	}
}
