package catalog

import (
	"bufio"
	"encoding/json"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/triage-bot/triage/internal/sharedtest"
)

type refRow struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Status  string `json:"status"`
	Common  bool   `json:"common"`
}

func readReference(t *testing.T) []refRow {
	t.Helper()
	f, err := os.Open(sharedtest.Path(t, "errors.jsonl"))
	require.NoError(t, err)
	defer f.Close()
	var rows []refRow
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var r refRow
		require.NoError(t, json.Unmarshal(sc.Bytes(), &r))
		rows = append(rows, r)
	}
	require.NoError(t, sc.Err())
	require.NotEmpty(t, rows)
	return rows
}

func TestEveryReferenceCodeIsInTheCatalog(t *testing.T) {
	rows := readReference(t)
	cat, err := Default()
	require.NoError(t, err)
	for _, r := range rows {
		n, err := ParseCode(r.Code)
		require.NoError(t, err)
		e := cat.Lookup(n)
		if !assert.True(t, e.Known, "%s is missing from the catalog", r.Code) {
			continue
		}
		assert.NotEmpty(t, strings.TrimSpace(e.Summary), "%s has no summary", r.Code)
		assert.NotEqual(t, Unknown, e.Category, "%s has no category", r.Code)
		assert.True(t, e.Category.Valid(), "%s: category %q", r.Code, e.Category)
		assert.Equal(t, Status(r.Status), e.Status, "%s status", r.Code)
	}
	assert.Equal(t, len(rows), cat.Len(), "the catalog holds codes the reference does not know")
}

var wordRE = regexp.MustCompile(`[a-z0-9']+`)

// ngrams returns the set of n consecutive lower-case words of s.
func ngrams(s string, n int) map[string]bool {
	w := wordRE.FindAllString(strings.ToLower(s), -1)
	out := map[string]bool{}
	for i := 0; i+n <= len(w); i++ {
		out[strings.Join(w[i:i+n], " ")] = true
	}
	return out
}

// TestNoSummaryCopiesNgrokText enforces the rule that the catalog says
// things in our own words: no summary or hint shares 8 or more
// consecutive words with ngrok's message for the same code, or with any
// long message anywhere in the reference.
func TestNoSummaryCopiesNgrokText(t *testing.T) {
	rows := readReference(t)
	cat, err := Default()
	require.NoError(t, err)
	all := map[string]string{}
	for _, r := range rows {
		for g := range ngrams(r.Message, 8) {
			all[g] = r.Code
		}
	}
	for _, e := range cat.All() {
		for _, text := range []string{e.Summary, e.Hint} {
			for g := range ngrams(text, 8) {
				if code, ok := all[g]; ok {
					t.Errorf("%s: %q copies ngrok's message for %s (%q)", e.Name(), text, code, g)
				}
			}
		}
	}
}

func TestHintsForCommonCodes(t *testing.T) {
	rows := readReference(t)
	cat, err := Default()
	require.NoError(t, err)
	hints := 0
	for _, e := range cat.All() {
		if e.Hint != "" {
			hints++
		}
	}
	assert.GreaterOrEqual(t, hints, 120, "the codes customers write about need hints")
	for _, r := range rows {
		if !r.Common {
			continue
		}
		n, _ := ParseCode(r.Code)
		assert.NotEmpty(t, cat.Lookup(n).Hint, "%s is one of ngrok's common errors and needs a hint", r.Code)
	}
	for _, n := range []int{108, 3200, 8012, 4018, 3004, 727, 725, 103, 6022, 6024, 120, 121, 105, 107} {
		assert.NotEmpty(t, cat.Lookup(n).Hint, "ERR_NGROK_%d needs a hint", n)
	}
}

func TestLookup(t *testing.T) {
	cat, err := Default()
	require.NoError(t, err)
	e := cat.Lookup(108)
	assert.True(t, e.Known)
	assert.Equal(t, AgentAuth, e.Category)
	assert.Equal(t, "ERR_NGROK_108", e.Name())
	assert.Equal(t, "https://ngrok.com/docs/errors/err_ngrok_108/", e.DocsURL())

	u := cat.Lookup(99999)
	assert.False(t, u.Known)
	assert.Equal(t, Unknown, u.Category)
	assert.Equal(t, "https://ngrok.com/docs/errors/err_ngrok_99999/", u.DocsURL())
	assert.NotEmpty(t, u.Summary)
	assert.False(t, cat.Has(99999))
	assert.False(t, cat.Lookup(-1).Known)
	assert.False(t, cat.Lookup(1<<20).Known)

	big := New([]Entry{{Code: 1 << 20, Summary: "big", Category: APIConfig, Status: Current}})
	assert.True(t, big.Lookup(1<<20).Known)
}

func TestParseCode(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want int
		ok   bool
	}{
		{"ERR_NGROK_108", 108, true},
		{"err_ngrok_8012", 8012, true},
		{"108", 108, true},
		{" 3200 ", 3200, true},
		{"https://ngrok.com/docs/errors/err_ngrok_3200/", 3200, true},
		{"ERR_NGROK_", 0, false},
		{"abc", 0, false},
		{"-5", 0, false},
		{"+5", 0, false},
		{"", 0, false},
		{"ERR_NGROK_108abc", 0, false},
	} {
		n, err := ParseCode(tt.in)
		if !tt.ok {
			assert.Error(t, err, tt.in)
			continue
		}
		require.NoError(t, err, tt.in)
		assert.Equal(t, tt.want, n, tt.in)
	}
}

func TestParseTSVErrors(t *testing.T) {
	for _, tt := range []struct{ name, data, want string }{
		{"fields", "ERR_NGROK_1\tcurrent\tagent-auth\tx\n", "x.tsv:1: want 5"},
		{"status", "# c\nERR_NGROK_1\tgone\tagent-auth\tx\t\n", "x.tsv:2: ERR_NGROK_1: status"},
		{"category", "ERR_NGROK_1\tcurrent\tnope\tx\t\n", `unknown category "nope"`},
		{"summary", "ERR_NGROK_1\tcurrent\tagent-auth\t \t\n", "empty summary"},
		{"code", "ERR_NGROK_x\tcurrent\tagent-auth\ts\t\n", "not an ngrok error code"},
	} {
		_, err := ParseTSV("x.tsv", tt.data)
		assert.ErrorContains(t, err, tt.want, tt.name)
	}
}

func TestCategoriesDocumented(t *testing.T) {
	doc, err := os.ReadFile("../docs/categories.md")
	require.NoError(t, err)
	cat, err := Default()
	require.NoError(t, err)
	counts := map[Category]int{}
	for _, e := range cat.All() {
		counts[e.Category]++
	}
	for _, c := range Categories() {
		assert.Contains(t, string(doc), "`"+string(c)+"`", "docs/categories.md must describe %s", c)
		if c != Unknown {
			assert.Positive(t, counts[c], "no code is in %s", c)
		}
	}
}

func BenchmarkLookup(b *testing.B) {
	cat, err := Default()
	require.NoError(b, err)
	codes := []int{108, 3200, 8012, 99999, 27001, 1}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		_ = cat.Lookup(codes[i%len(codes)])
		i++
	}
}

func TestLookupDoesNotAllocate(t *testing.T) {
	cat, err := Default()
	require.NoError(t, err)
	cat = cat.WithOfficial(map[int]string{108: "x"})
	allocs := testing.AllocsPerRun(100, func() {
		_ = cat.Lookup(108)
		_ = cat.Lookup(99999)
	})
	assert.Zero(t, allocs)
}
