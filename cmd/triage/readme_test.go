package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// readme returns the repository's README.
func readme(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	require.NoError(t, err)
	return string(b)
}

// TestREADMEConfigExamplePasses checks the README's configuration
// example with `config check`, as the README says it passes.
func TestREADMEConfigExamplePasses(t *testing.T) {
	text := readme(t)
	_, rest, ok := strings.Cut(text, "\n## Configuration\n")
	require.True(t, ok, "the README has a Configuration section")
	_, rest, ok = strings.Cut(rest, "```yaml\n")
	require.True(t, ok)
	example, _, ok := strings.Cut(rest, "```")
	require.True(t, ok)
	path := filepath.Join(t.TempDir(), "triage.yaml")
	require.NoError(t, os.WriteFile(path, []byte(example), 0o600))
	t.Setenv("TRIAGE_API_TOKEN", "example-token")
	t.Setenv("HELPDESK_SECRET", "example-secret")
	stdout, stderr, code := triage(t, "", "config", "check", "--config", path)
	require.Equal(t, 0, code, stderr)
	assert.Contains(t, stdout, "OK")
}

// TestREADMEScanExamplesUseFilesWeHave checks that the files the README's
// scan examples name are in the repository.
func TestREADMEScanExamplesUseFilesWeHave(t *testing.T) {
	re := regexp.MustCompile(`(?m)^triage scan (?:--json )?([^\s\[]\S*)\s+#`)
	ms := re.FindAllStringSubmatch(readme(t), -1)
	require.NotEmpty(t, ms)
	for _, m := range ms {
		_, err := os.Stat(filepath.Join("..", "..", m[1]))
		assert.NoError(t, err, "README example: triage scan %s", m[1])
	}
}
