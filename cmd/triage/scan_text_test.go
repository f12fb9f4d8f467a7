package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// scannedParts is what TestScanShowsPartText reads of a `scan --json` line.
type scannedParts struct {
	Subject string `json:"subject"`
	From    string `json:"from"`
	Parts   []struct {
		Kind    string `json:"kind"`
		Name    string `json:"name"`
		Text    string `json:"text"`
		TextCut bool   `json:"text_cut"`
	} `json:"parts"`
	Problems []string `json:"problems"`
}

func scanParts(t *testing.T, stdin string, args ...string) []scannedParts {
	t.Helper()
	stdout, stderr, code := triage(t, stdin, append([]string{"scan", "--json", "--data-dir", t.TempDir()}, args...)...)
	require.Equal(t, 0, code, stderr)
	var out []scannedParts
	for _, l := range strings.Split(strings.TrimSpace(stdout), "\n") {
		var v scannedParts
		require.NoError(t, json.Unmarshal([]byte(l), &v), l)
		out = append(out, v)
	}
	return out
}

// TestScanShowsPartText: scan --json shows what the bot read of each part,
// bounded and redacted, so a person can see why a code was or was not
// found; and mail that real clients read (a header folded without its
// blank, a header line over 4 KB) is read as mail, not as text.
func TestScanShowsPartText(t *testing.T) {
	t.Run("mail parts, redacted", func(t *testing.T) {
		tk := scanParts(t, "From: c@example.com\nSubject: help\n\nmy authtoken is 2abcDEFghijklmnopqrstuvwx_1234567890ABCDEFGHIJ\nERR_NGROK_8012\n", "-")
		require.Len(t, tk, 1)
		require.Len(t, tk[0].Parts, 2)
		assert.Equal(t, "help", tk[0].Parts[0].Text)
		assert.Contains(t, tk[0].Parts[1].Text, "ERR_NGROK_8012")
		assert.NotContains(t, tk[0].Parts[1].Text, "2abcDEFghijklmnopqrstuvwx_1234567890ABCDEFGHIJ")
		assert.False(t, tk[0].Parts[1].TextCut)
	})
	t.Run("long part is cut", func(t *testing.T) {
		body := strings.Repeat("a line of the agent log without a code\n", 500) + "ERR_NGROK_108\n"
		tk := scanParts(t, "From: c@example.com\nSubject: long\n\n"+body, "-")
		require.Len(t, tk, 1)
		p := tk[0].Parts[1]
		assert.True(t, p.TextCut)
		assert.LessOrEqual(t, len(p.Text), partTextBytes)
		assert.NotContains(t, p.Text, "ERR_NGROK_108")
	})
	t.Run("plain text shows its start", func(t *testing.T) {
		tk := scanParts(t, "agent log\r\nERR_NGROK_108\r\n", "-")
		require.Len(t, tk, 1)
		require.Len(t, tk[0].Parts, 1)
		assert.Equal(t, "agent log\nERR_NGROK_108", tk[0].Parts[0].Text)
	})
	for _, file := range []string{"header-bad-fold", "header-long-line", "uuencode-inline"} {
		t.Run(file+" is mail", func(t *testing.T) {
			tk := scanParts(t, "", "../../normalize/testdata/"+file+".eml")
			require.Len(t, tk, 1)
			assert.NotEmpty(t, tk[0].Subject)
			assert.NotEmpty(t, tk[0].From)
		})
	}
}
