package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// scanInferred is what these tests read of a `scan --json` line.
type scanInferred struct {
	Matches []struct {
		Code       int     `json:"code"`
		Canonical  string  `json:"canonical"`
		Form       string  `json:"form"`
		Confidence float64 `json:"confidence"`
		Text       string  `json:"text"`
		Offset     int64   `json:"offset"`
	} `json:"matches"`
	Codes []struct {
		Code     int      `json:"code"`
		Inferred bool     `json:"inferred"`
		Phrase   string   `json:"phrase"`
		Forms    []string `json:"forms"`
	} `json:"codes"`
	AgentAPI []struct {
		Number int    `json:"number"`
		Name   string `json:"name"`
	} `json:"agent_api"`
	Problems []string `json:"problems"`
}

func scanOne(t *testing.T, stdin string, args ...string) scanInferred {
	t.Helper()
	stdout, stderr, code := triage(t, stdin, append([]string{"scan", "--json", "--data-dir", t.TempDir()}, args...)...)
	require.Equal(t, 0, code, stderr)
	var v scanInferred
	require.NoError(t, json.Unmarshal([]byte(strings.TrimSpace(stdout)), &v), stdout)
	return v
}

// An invented agent paste without its code, and an agent API answer.
const (
	inferText108 = "t=2026-12-01T10:00:00Z lvl=eror msg=\"session closed\" err=\"Your account is limited to 1 simultaneous ngrok agent sessions.\"\n"
	agentAPIText = "pyngrok: API returned 502: {\"error_code\":103,\"status_code\":502,\"msg\":\"failed to start tunnel\",\"details\":{\"err\":\"boom\"}}\n"
)

func TestScanTextNamesErrorsFromWording(t *testing.T) {
	f := filepath.Join(t.TempDir(), "agent.log")
	require.NoError(t, os.WriteFile(f, []byte("starting\n"+inferText108+agentAPIText+"gives ERR_NGROK_3200 too\n"), 0o644))
	v := scanOne(t, "", f)
	require.Len(t, v.Codes, 2, "%+v", v)
	assert.Equal(t, 3200, v.Codes[0].Code, "a written code first")
	assert.False(t, v.Codes[0].Inferred)
	assert.Equal(t, 108, v.Codes[1].Code)
	assert.True(t, v.Codes[1].Inferred)
	assert.Contains(t, v.Codes[1].Phrase, "simultaneous ngrok agent sessions")
	require.Len(t, v.AgentAPI, 1)
	assert.Equal(t, "agent-api:103", v.AgentAPI[0].Name, "the agent API's 103 is not ERR_NGROK_103")
	forms := map[string]string{}
	for _, m := range v.Matches {
		forms[m.Canonical] = m.Form
	}
	assert.Equal(t, map[string]string{"ERR_NGROK_3200": "canonical", "ERR_NGROK_108": "inferred", "agent-api:103": "agent-api"}, forms)

	none := scanOne(t, "", "--infer=never", f)
	require.Len(t, none.Codes, 1)
	assert.Equal(t, 3200, none.Codes[0].Code)

	stdin := scanOne(t, inferText108, "-")
	require.Len(t, stdin.Codes, 1, "read from standard input")
	assert.True(t, stdin.Codes[0].Inferred)
}

// TestScanLargeTextNamesErrorsFromWording: a log larger than a chunk is
// read by several workers, each reading its chunk's wording with its
// codes; a phrase across a chunk's edge is named once, and a written
// code elsewhere in the file settles nothing it should not.
func TestScanLargeTextNamesErrorsFromWording(t *testing.T) {
	f := filepath.Join(t.TempDir(), "big.log")
	line := "t=2026-12-01T10:00:00Z lvl=info msg=\"tunnel session started\" obj=tunnels.session\n"
	var sb strings.Builder
	for sb.Len() < 4<<20-40 {
		sb.WriteString(line)
	}
	sb.WriteString(inferText108) // across the first chunk's edge (4 MiB)
	for sb.Len() < 9<<20 {
		sb.WriteString(line)
	}
	sb.WriteString("and at the end: ERR_NGROK_3200\n")
	require.NoError(t, os.WriteFile(f, []byte(sb.String()), 0o644))
	for _, flags := range [][]string{nil, {"--infer=always"}, {"--workers=1"}} {
		v := scanOne(t, "", append(flags, f)...)
		assert.Empty(t, v.Problems, "%v", flags)
		require.Len(t, v.Codes, 2, "%v: %+v", flags, v.Codes)
		assert.Equal(t, 3200, v.Codes[0].Code)
		assert.Equal(t, 108, v.Codes[1].Code)
		assert.True(t, v.Codes[1].Inferred)
		inferred := 0
		for _, m := range v.Matches {
			if m.Form == "inferred" {
				inferred++
				assert.Equal(t, int64(strings.Index(sb.String(), "limited to")), m.Offset, "%v", flags)
			}
		}
		assert.Equal(t, 1, inferred, "%v: named once", flags)
	}
	none := scanOne(t, "", "--infer=never", f)
	require.Len(t, none.Codes, 1)
}

func TestScanInferBadFlag(t *testing.T) {
	_, stderr, code := triage(t, "", "scan", "--infer=maybe", "-")
	assert.Equal(t, 2, code)
	assert.Contains(t, stderr, "--infer must be auto, always or never")
}
