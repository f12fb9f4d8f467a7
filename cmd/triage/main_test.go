package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/triage-bot/triage/catalog"
	"github.com/triage-bot/triage/internal/sharedtest"
)

// triage runs the CLI in-process and returns stdout, stderr and the exit
// status main would use.
func triage(t *testing.T, stdin string, args ...string) (string, string, int) {
	t.Helper()
	var out, errb bytes.Buffer
	err := run(context.Background(), args, strings.NewReader(stdin), &out, &errb)
	code := exitCode(err, &errb)
	return out.String(), errb.String(), code
}

type scanned struct {
	ID      string `json:"id"`
	File    string `json:"file"`
	Subject string `json:"subject"`
	From    string `json:"from"`
	Codes   []struct {
		Code       int      `json:"code"`
		QuotedOnly bool     `json:"quoted_only"`
		Category   string   `json:"category"`
		Summary    string   `json:"summary"`
		DocsURL    string   `json:"docs_url"`
		Known      bool     `json:"known"`
		Where      []string `json:"where"`
	} `json:"codes"`
	Primary string `json:"primary_category"`
	Matches []struct {
		Code   int    `json:"code"`
		Where  string `json:"where"`
		Text   string `json:"text"`
		Form   string `json:"form"`
		Quoted bool   `json:"quoted"`
	} `json:"matches"`
}

func parseJSONL(t *testing.T, s string) []scanned {
	t.Helper()
	var out []scanned
	sc := bufio.NewScanner(strings.NewReader(s))
	sc.Buffer(nil, 64<<20)
	for sc.Scan() {
		var v scanned
		require.NoError(t, json.Unmarshal(sc.Bytes(), &v), sc.Text())
		out = append(out, v)
	}
	return out
}

func codeList(field string) []int {
	var out []int
	for _, f := range strings.Split(field, ",") {
		if f = strings.TrimSpace(f); f != "" {
			n, _ := strconv.Atoi(f)
			out = append(out, n)
		}
	}
	return out
}

// TestScanSampleInbox checks every mail of the sample inbox against the
// codes its author planted (examples/inbox-expected.tsv): codes in new
// text, and codes only in quoted history.
func TestScanSampleInbox(t *testing.T) {
	stdout, stderr, code := triage(t, "", "scan", "--json", "--data-dir", t.TempDir(), "../../examples/inbox")
	require.Equal(t, 0, code, stderr)
	tickets := parseJSONL(t, stdout)
	byName := map[string]scanned{}
	for _, tk := range tickets {
		byName[filepath.Base(tk.File)] = tk
	}
	exp, err := os.ReadFile("../../examples/inbox-expected.tsv")
	require.NoError(t, err)
	n := 0
	for _, line := range strings.Split(strings.TrimSpace(string(exp)), "\n") {
		f := strings.Split(line, "\t")
		require.GreaterOrEqual(t, len(f), 3, line)
		n++
		tk, ok := byName[f[0]]
		if !assert.True(t, ok, "%s was not scanned", f[0]) {
			continue
		}
		var gotNew, gotQuoted []int
		for _, c := range tk.Codes {
			if c.QuotedOnly {
				gotQuoted = append(gotQuoted, c.Code)
			} else {
				gotNew = append(gotNew, c.Code)
			}
			assert.Equal(t, catalog.DocsURL(c.Code), c.DocsURL)
			assert.NotEmpty(t, c.Summary)
			assert.NotEmpty(t, c.Category)
		}
		slices.Sort(gotNew)
		slices.Sort(gotQuoted)
		assert.Equal(t, codeList(f[1]), gotNew, "new codes in %s (%s)", f[0], f[len(f)-1])
		assert.Equal(t, codeList(f[2]), gotQuoted, "quoted-only codes in %s (%s)", f[0], f[len(f)-1])
		if len(tk.Codes) > 0 {
			assert.Equal(t, tk.Codes[0].Category, tk.Primary)
			assert.False(t, tk.Codes[0].QuotedOnly && len(gotNew) > 0, "new codes come first in %s", f[0])
		}
	}
	assert.Equal(t, n, len(tickets), "one ticket per mail")
	assert.GreaterOrEqual(t, n, 20)
}

func TestScanTable(t *testing.T) {
	stdout, stderr, code := triage(t, "", "scan", "--data-dir", t.TempDir(), "../../examples/inbox")
	require.Equal(t, 0, code, stderr)
	assert.Contains(t, stdout, "ERR_NGROK_108")
	assert.Contains(t, stdout, "https://ngrok.com/docs/errors/err_ngrok_108/")
	assert.Contains(t, stdout, "agent-auth")
	assert.Contains(t, stdout, "only in quoted history")
	assert.Contains(t, stdout, "no ngrok error codes")
	assert.Regexp(t, `\n\d+ ticket\(s\), \d+ with ngrok error codes, \d+ match\(es\)\n$`, stdout)
}

func TestScanInputsAndExitStatus(t *testing.T) {
	dir := t.TempDir()
	logf := filepath.Join(dir, "agent.log")
	require.NoError(t, os.WriteFile(logf, []byte("t=1 lvl=eror err=\"ERR_NGROK_108\"\nsee err\\_ngrok\\_3200\n"), 0o644))
	mbox := filepath.Join(dir, "support.mbox")
	require.NoError(t, os.WriteFile(mbox, []byte("From a@example.com Mon Nov 23 10:00:00 2026\nFrom: a@example.com\nSubject: one\n\nERR_NGROK_727 here\n\nFrom b@example.com Mon Nov 23 11:00:00 2026\nFrom: b@example.com\nSubject: two\n\n>From the docs: ERR_NGROK_4018\n"), 0o644))
	missing := filepath.Join(dir, "missing.eml")

	t.Run("text, mbox and a missing file", func(t *testing.T) {
		stdout, stderr, code := triage(t, "", "scan", "--json", "--data-dir", dir, logf, missing, mbox)
		assert.Equal(t, 1, code, "an unreadable input gives exit status 1")
		assert.Contains(t, stderr, "missing.eml")
		assert.Contains(t, stderr, "no such file or directory")
		tickets := parseJSONL(t, stdout)
		require.Len(t, tickets, 3, "the other inputs are still scanned")
		assert.Equal(t, []int{108, 3200}, []int{tickets[0].Codes[0].Code, tickets[0].Codes[1].Code})
		assert.Equal(t, "escaped", tickets[0].Matches[1].Form)
		assert.Equal(t, "one", tickets[1].Subject)
		assert.Equal(t, 727, tickets[1].Codes[0].Code)
		assert.Equal(t, "two", tickets[2].Subject)
		assert.Equal(t, 4018, tickets[2].Codes[0].Code)
		assert.True(t, strings.HasSuffix(tickets[2].ID, "#2"))
	})
	t.Run("stdin text", func(t *testing.T) {
		stdout, _, code := triage(t, "I get ngrok error 4018 and ERR-NGROK-3200", "scan", "--json", "--data-dir", dir, "-")
		require.Equal(t, 0, code)
		tk := parseJSONL(t, stdout)
		require.Len(t, tk, 1)
		require.Len(t, tk[0].Matches, 2)
		assert.Equal(t, "phrase", tk[0].Matches[0].Form)
		assert.Equal(t, "spaced", tk[0].Matches[1].Form)
	})
	t.Run("stdin mail", func(t *testing.T) {
		stdout, _, code := triage(t, "From: c@example.com\nSubject: help\nMessage-ID: <x@example.com>\n\nERR_NGROK_8012\n", "scan", "--json", "--data-dir", dir, "-")
		require.Equal(t, 0, code)
		tk := parseJSONL(t, stdout)
		require.Len(t, tk, 1)
		assert.Equal(t, "help", tk[0].Subject)
		assert.Equal(t, 8012, tk[0].Codes[0].Code)
	})
	t.Run("no codes is still success", func(t *testing.T) {
		_, _, code := triage(t, "nothing to see", "scan", "--data-dir", dir, "-")
		assert.Equal(t, 0, code)
	})
	t.Run("usage errors", func(t *testing.T) {
		for _, args := range [][]string{{"scan"}, {"scan", "--bogus", "x"}, {}, {"frobnicate"}, {"explain"}, {"explain", "hello"}, {"catalog"}, {"catalog", "list", "--category", "nope"}, {"catalog", "frob"}} {
			_, stderr, code := triage(t, "", args...)
			assert.Equal(t, 2, code, "%q: %s", args, stderr)
			assert.NotEmpty(t, stderr)
		}
	})
}

func TestExplain(t *testing.T) {
	dir := t.TempDir()
	for _, form := range []string{"ERR_NGROK_108", "err_ngrok_108", "108", "https://ngrok.com/docs/errors/err_ngrok_108/", `ERR\_NGROK\_108`} {
		stdout, stderr, code := triage(t, "", "explain", "--data-dir", dir, form)
		require.Equal(t, 0, code, stderr)
		assert.Contains(t, stdout, "ERR_NGROK_108  [agent-auth]", form)
		assert.Contains(t, stdout, "docs:     https://ngrok.com/docs/errors/err_ngrok_108/")
		assert.Contains(t, stdout, "hint:")
	}
	// A word that is no code among codes: the codes are explained, the
	// word named, and the command fails.
	stdout, stderr, code := triage(t, "", "explain", "--data-dir", dir, "108", "garbage", "3200")
	assert.Equal(t, 1, code)
	assert.Contains(t, stdout, "ERR_NGROK_108  [agent-auth]")
	assert.Contains(t, stdout, "ERR_NGROK_3200  [upstream-gateway]")
	assert.Contains(t, stderr, `"garbage" is not an ngrok error code`)
	assert.NotContains(t, stderr, "3200")

	stdout, _, code = triage(t, "", "explain", "--data-dir", dir, "99999")
	require.Equal(t, 0, code)
	assert.Contains(t, stdout, "ERR_NGROK_99999  [unknown]  (unknown to the catalog)")
	assert.Contains(t, stdout, "https://ngrok.com/docs/errors/err_ngrok_99999/")

	stdout, _, code = triage(t, "", "explain", "--json", "--data-dir", dir, "3200", "8012")
	require.Equal(t, 0, code)
	lines := strings.Split(strings.TrimSpace(stdout), "\n")
	require.Len(t, lines, 2)
	var e struct {
		Name    string `json:"name"`
		DocsURL string `json:"docs_url"`
		Known   bool   `json:"known"`
	}
	require.NoError(t, json.Unmarshal([]byte(lines[1]), &e))
	assert.Equal(t, "ERR_NGROK_8012", e.Name)
	assert.True(t, e.Known)
}

func TestCatalogCommands(t *testing.T) {
	dir := t.TempDir()
	stdout, _, code := triage(t, "", "catalog", "list", "--data-dir", dir, "--category", "abuse-trust")
	require.Equal(t, 0, code)
	for _, l := range strings.Split(strings.TrimSpace(stdout), "\n") {
		assert.Contains(t, l, "abuse-trust")
	}
	stdout, _, code = triage(t, "", "catalog", "export", "--data-dir", dir)
	require.Equal(t, 0, code)
	cat, err := catalog.Default()
	require.NoError(t, err)
	assert.Len(t, strings.Split(strings.TrimSpace(stdout), "\n"), cat.Len())

	overlay := filepath.Join(dir, "team.yaml")
	require.NoError(t, os.WriteFile(overlay, []byte("codes:\n  - code: 108\n    owner: \"@agents\"\n    runbook: https://wiki.example.com/108\n"), 0o644))
	stdout, _, code = triage(t, "", "explain", "--data-dir", dir, "--overlay", overlay, "108")
	require.Equal(t, 0, code)
	assert.Contains(t, stdout, "owner:    @agents")
	assert.Contains(t, stdout, "runbook:  https://wiki.example.com/108")

	require.NoError(t, os.WriteFile(overlay, []byte("codes:\n  - code: 108\n    category: nope\n"), 0o644))
	_, stderr, code := triage(t, "", "explain", "--data-dir", dir, "--overlay", overlay, "108")
	assert.Equal(t, 1, code)
	assert.Contains(t, stderr, "team.yaml:2")
}

func TestCatalogSyncCommand(t *testing.T) {
	ref, err := os.ReadFile(sharedtest.Path(t, "_err_ngrok_list.mdx"))
	require.NoError(t, err)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write(ref) }))
	defer srv.Close()
	dir := t.TempDir()
	stdout, stderr, code := triage(t, "", "catalog", "sync", "--data-dir", dir, "--from", srv.URL+"/list.mdx")
	require.Equal(t, 0, code, stderr)
	assert.Contains(t, stdout, "synced 1582 codes")
	assert.Contains(t, stdout, "first sync")

	stdout, _, code = triage(t, "", "explain", "--data-dir", dir, "108")
	require.Equal(t, 0, code)
	assert.Contains(t, stdout, "ngrok:    ", "explain shows the official message after a sync")

	srv404 := httptest.NewServer(http.NotFoundHandler())
	defer srv404.Close()
	_, stderr, code = triage(t, "", "catalog", "sync", "--data-dir", dir, "--from", srv404.URL)
	assert.Equal(t, 1, code)
	assert.Contains(t, stderr, "404")
}

// TestScanLargeTextFile covers the parallel, memory-mapped path taken by
// plain-text files over 4 MiB: every planted code is found, in order.
func TestScanLargeTextFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "agent.log")
	var b strings.Builder
	var want []int
	line := "t=2026-11-24T09:12:01+0000 lvl=info msg=\"heartbeat received\" obj=csess id=a1b2c3d4e5f6 latency=31ms\n"
	for i := 0; b.Len() < 9<<20; i++ {
		if i%97 == 0 {
			code := 100 + i%27000
			want = append(want, code)
			fmt.Fprintf(&b, "lvl=eror msg=\"session closed\" err=\"ERR_NGROK_%d\"\n", code)
			continue
		}
		b.WriteString(line)
	}
	require.NoError(t, os.WriteFile(path, []byte(b.String()), 0o644))
	stdout, stderr, code := triage(t, "", "scan", "--json", "--workers", "3", "--data-dir", dir, path)
	require.Equal(t, 0, code, stderr)
	tk := parseJSONL(t, stdout)
	require.Len(t, tk, 1)
	got := make([]int, len(tk[0].Matches))
	for i, m := range tk[0].Matches {
		got[i] = m.Code
		assert.Equal(t, fmt.Sprintf("ERR_NGROK_%d", m.Code), m.Text, "each match says how it was written")
	}
	assert.Equal(t, want, got)
}

// TestScanTextFillsMatchText checks that plain text read as a stream
// (stdin, a small file) gives each match its text as written.
func TestScanTextFillsMatchText(t *testing.T) {
	dir := t.TempDir()
	text := "tunnel failed: ERR_NGROK_3200\nlater err\\_ngrok\\_108, then ngrok error 4018\n"
	path := filepath.Join(dir, "short.log")
	require.NoError(t, os.WriteFile(path, []byte(text), 0o644))
	for _, args := range [][]string{{path}, {"-"}} {
		stdout, stderr, code := triage(t, text, append([]string{"scan", "--json", "--data-dir", dir}, args...)...)
		require.Equal(t, 0, code, stderr)
		tk := parseJSONL(t, stdout)
		require.Len(t, tk, 1)
		var got []string
		for _, m := range tk[0].Matches {
			got = append(got, m.Text)
		}
		assert.Equal(t, []string{"ERR_NGROK_3200", `err\_ngrok\_108`, "ngrok error 4018"}, got, args)
	}
}
