package catalog

import (
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// refMatch is the reference matcher for signature phrases, written for
// clarity, not speed: does phrase p occur anywhere in text? A literal
// matches one equal token, a prefix one token starting with it, and a
// wildcard 1 to MaxGap tokens; otherwise tokens must be consecutive.
// The fast matcher in extract must agree with it.
func refMatch(p Phrase, text []string) bool {
	for start := range text {
		if matchAt(p, text, start) {
			return true
		}
	}
	return false
}

// matchAt reports whether p matches text starting exactly at text[i].
func matchAt(p Phrase, text []string, i int) bool {
	if len(p) == 0 {
		return true
	}
	t, rest := p[0], p[1:]
	switch t.Kind {
	case Wildcard:
		for n := 1; n <= MaxGap && i+n <= len(text); n++ {
			if matchAt(rest, text, i+n) {
				return true
			}
		}
		return false
	case Prefix:
		return i < len(text) && strings.HasPrefix(text[i], t.Text) && matchAt(rest, text, i+1)
	default:
		return i < len(text) && text[i] == t.Text && matchAt(rest, text, i+1)
	}
}

func mustPhrase(t *testing.T, s string) Phrase {
	t.Helper()
	p, err := ParsePhrase(s)
	require.NoError(t, err, s)
	return p
}

func TestTokens(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want []string
	}{
		{"Tunnel foo.ngrok.io not found.", []string{"tunnel", "foo", "ngrok", "io", "not", "found"}},
		{"ERR_NGROK_108", []string{"err", "ngrok", "108"}},
		{"you're can't", []string{"youre", "cant"}},
		{"you’re can’t", []string{"youre", "cant"}},
		{"'quoted' x' 'y 9'9", []string{"quoted", "x", "y", "9", "9"}},
		{"café’ ‘x", []string{"café’", "‘x"}},
		{"a\\r\\nb\tC--D", []string{"a", "r", "nb", "c", "d"}},
		{"", nil},
		{" ,. ", nil},
		{"trailing’", []string{"trailing’"}},
		{"it'", []string{"it"}},
	} {
		assert.Equal(t, tt.want, Tokens(tt.in), "%q", tt.in)
	}
}

func TestParsePhrase(t *testing.T) {
	good := []struct {
		in   string
		want Phrase
	}{
		{"limited to * simultaneous ngrok * session*", Phrase{
			{Literal, "limited"}, {Literal, "to"}, {Wildcard, ""}, {Literal, "simultaneous"},
			{Literal, "ngrok"}, {Wildcard, ""}, {Prefix, "session"},
		}},
		{"ngrok gateway error", Phrase{{Literal, "ngrok"}, {Literal, "gateway"}, {Literal, "error"}}},
		{"authtoken* is invalid", Phrase{{Prefix, "authtoken"}, {Literal, "is"}, {Literal, "invalid"}}},
	}
	for _, tt := range good {
		p, err := ParsePhrase(tt.in)
		require.NoError(t, err, tt.in)
		assert.Equal(t, tt.want, p, tt.in)
		assert.Equal(t, tt.in, p.String())
	}
	bad := []struct{ in, want string }{
		{"", "empty phrase"},
		{"ngrok  gateway error", "single spaces"},
		{" ngrok gateway error", "single spaces"},
		{"ngrok\tgateway error", "single spaces"},
		{"Ngrok gateway error", "lower case"},
		{"you're limited simultaneous", "not one text token"},
		{"foo.bar gateway error", "not one text token"},
		{"se* gateway error", "at least 3 characters"},
		{"gateway error", "has 2 tokens; want 3 to 7"},
		{"a b c d e f gateway h", "has 8 tokens"},
		{"* gateway error", "must start and end with a word"},
		{"gateway error *", "must start and end with a word"},
		{"gateway * * error", "two * in a row"},
		{"gateway * error", "has 2 words besides *"},
		{"the tunnel is not found", "every word is common"},
		{"my account * limit*", "every word is common"},
	}
	for _, tt := range bad {
		_, err := ParsePhrase(tt.in)
		assert.ErrorContains(t, err, tt.want, "%q", tt.in)
	}
}

func TestReferenceMatcher(t *testing.T) {
	for _, tt := range []struct {
		phrase, text string
		want         bool
	}{
		{"limited to * simultaneous ngrok * session*", "Your account is limited to 1 simultaneous ngrok client session.", true},
		{"limited to * simultaneous ngrok * session*", "limited to simultaneous ngrok client session", false},
		{"limited to * simultaneous ngrok * session*", "limited to 1 2 3 4 5 6 7 8 simultaneous ngrok agent sessions", true},
		{"limited to * simultaneous ngrok * session*", "limited to 1 2 3 4 5 6 7 8 9 simultaneous ngrok agent sessions", false},
		{"limited to * simultaneous ngrok * session*", "limited to one simultaneous ngrok agent sess", false},
		{"tunnel * ngrok io not found", "Tunnel 796f-103-251-56-150.ngrok.io not found", true},
		{"tunnel * ngrok io not found", "my tunnel on ngrok.io was not found", false},
		{"ngrok gateway error", "NGROK gateway-error", true},
		{"ngrok gateway error", "ngrok, the gateway; error", false},
		{"invalid or incomplete http response", "invalid or incomplete", false},
	} {
		assert.Equal(t, tt.want, refMatch(mustPhrase(t, tt.phrase), Tokens(tt.text)), "%q in %q", tt.phrase, tt.text)
	}
}

// olderWording maps the line of each tsv row to the URL given by an
// "# older wording: URL" comment in the comment block right above it.
func olderWording(data string) map[int]string {
	out := map[int]string{}
	url := ""
	for i, l := range strings.Split(data, "\n") {
		switch {
		case strings.HasPrefix(l, "#"):
			if _, u, ok := strings.Cut(l, "# older wording:"); ok {
				url = strings.TrimSpace(u)
			}
		case strings.TrimSpace(l) == "":
			url = ""
		default:
			if url != "" {
				out[i+1] = url
			}
			url = ""
		}
	}
	return out
}

func sourceLine(t *testing.T, s Signature) int {
	t.Helper()
	_, l, ok := strings.Cut(s.Source, ".tsv:")
	require.True(t, ok, s.Source)
	n, err := strconv.Atoi(l)
	require.NoError(t, err)
	return n
}

func TestEmbeddedSignatures(t *testing.T) {
	cat, err := Default()
	require.NoError(t, err, "the embedded signatures must load")
	sigs := cat.Signatures()
	codes := map[int]bool{}
	for _, s := range sigs {
		assert.False(t, s.Derived)
		assert.True(t, cat.Has(s.Code), s.Source)
		p, err := ParsePhrase(s.Phrase)
		if assert.NoError(t, err, s.Source) {
			assert.Equal(t, p, s.Tokens)
		}
		assert.LessOrEqual(t, len(s.Tokens), MaxPhraseTokens, "a written phrase is at most 7 tokens, so it can never hold 8 of ngrok's words")
		codes[s.Code] = true
	}
	assert.GreaterOrEqual(t, len(codes), 60, "codes with a signature")
	for _, n := range []int{100, 105, 107, 108, 120, 121, 302, 313, 314, 315, 334, 725, 727, 1226, 3004, 3200, 4018, 6022, 6024, 8012, 9009} {
		assert.True(t, codes[n], "ERR_NGROK_%d needs a signature", n)
	}
	data, err := os.ReadFile("data/signatures.tsv")
	require.NoError(t, err)
	for line, url := range olderWording(string(data)) {
		assert.True(t, strings.HasPrefix(url, "https://"), "data/signatures.tsv:%d: older wording needs the URL it was seen at", line)
	}
}

// TestSignaturesFitTheReference holds each embedded phrase against ngrok's
// messages: it must match its own code's message (or be marked as an
// older wording seen at a URL), and must not match another code's message
// unless it is deliberately listed under that code too.
func TestSignaturesFitTheReference(t *testing.T) {
	rows := readReference(t)
	msgs := map[int][]string{}
	common := map[int]bool{}
	for _, r := range rows {
		n, err := ParseCode(r.Code)
		require.NoError(t, err)
		msgs[n] = Tokens(r.Message)
		common[n] = r.Common
	}
	cat, err := Default()
	require.NoError(t, err)
	data, err := os.ReadFile("data/signatures.tsv")
	require.NoError(t, err)
	older := olderWording(string(data))
	listed := map[string][]int{}
	covered := map[int]bool{}
	for _, s := range cat.Signatures() {
		listed[s.Phrase] = append(listed[s.Phrase], s.Code)
		covered[s.Code] = true
	}
	codes := slices.Sorted(func(yield func(int) bool) {
		for n := range msgs {
			if !yield(n) {
				return
			}
		}
	})
	for _, s := range cat.Signatures() {
		own := refMatch(s.Tokens, msgs[s.Code])
		if url := older[sourceLine(t, s)]; !own && url == "" {
			t.Errorf("%s: ERR_NGROK_%d %q does not match the code's message; fix it or mark it \"# older wording: <URL>\"", s.Source, s.Code, s.Phrase)
		}
		for _, n := range codes {
			if n != s.Code && !slices.Contains(listed[s.Phrase], n) && refMatch(s.Tokens, msgs[n]) {
				t.Errorf("%s: ERR_NGROK_%d %q also matches ERR_NGROK_%d's message; make it more particular or list it under both", s.Source, s.Code, s.Phrase, n)
			}
		}
	}
	for n, c := range common {
		if c {
			assert.True(t, covered[n], "ERR_NGROK_%d is one of ngrok's common errors and needs a signature", n)
		}
	}
}

// TestSignaturesIgnoreProse: invented support prose that talks about
// ngrok, tunnels and limits without quoting an error matches nothing.
func TestSignaturesIgnoreProse(t *testing.T) {
	cat, err := Default()
	require.NoError(t, err)
	prose := []string{
		"My tunnel was not found in the dashboard, is that expected?",
		"I am limited to one session? The pricing page says otherwise.",
		"The tunnel on ngrok.io was not found after I restarted my laptop.",
		"Is the endpoint offline? I cannot reach my app on ngrok right now.",
		"Our account has been charged twice this month, please refund.",
		"How many simultaneous sessions does the paid plan allow for ngrok agents?",
		"The agent failed to start because the config file has a typo.",
		"We hit the bandwidth limit on our other provider, so we moved to ngrok.",
		"Can I use a custom subdomain on the free plan?",
		"My authtoken is in the config file but the agent says nothing.",
		"The server returned a 500 and the gateway logged an error.",
		"TCP tunnels would be great for our SSH use case; are they available?",
		"The HTTP request limit for the month resets when exactly?",
		"Cloudflare Tunnel error 1033: the tunnel is not connected.",
		"localtunnel says your tunnel is unavailable; is ngrok the same?",
	}
	for _, text := range prose {
		toks := Tokens(text)
		for _, s := range cat.Signatures() {
			assert.False(t, refMatch(s.Tokens, toks), "%s: %q matches prose %q", s.Source, s.Phrase, text)
		}
	}
}

// TestSignaturesNameOlderAgents: invented pastes in the shapes older
// agents and wrappers printed, without their codes, each naming one code.
func TestSignaturesNameOlderAgents(t *testing.T) {
	cat, err := Default()
	require.NoError(t, err)
	for _, tt := range []struct {
		text string
		want int
	}{
		{`Tunnel session failed: Your account 'kim' is limited to 1 simultaneous ngrok client session.`, 108},
		{`err="limited to 1 simultaneous ngrok client session.\nActive ngrok client sessions in region 'eu'"`, 108},
		{"Tunnel a1b2-10-0-0-1.ngrok.io not found", 3200},
		{"The endpoint demo-app.ngrok-free.app is offline.", 3200},
		{`err="TCP tunnels … only available after you sign up.\nSign up at: https://example.invalid"`, 302},
		{"Failed to complete tunnel connection", 8012},
		{"Usage of ngrok requires a verified account and authtoken.", 4018},
		{"ngrok-agent 2.3.40 is too old. The minimum supported agent", 121},
		{"502 Bad Gateway: the server returned an invalid or incomplete response", 3004},
	} {
		toks := Tokens(tt.text)
		var got []int
		for _, s := range cat.Signatures() {
			if refMatch(s.Tokens, toks) && !slices.Contains(got, s.Code) {
				got = append(got, s.Code)
			}
		}
		assert.Equal(t, []int{tt.want}, got, "%q", tt.text)
	}
}

// TestNoNgrokSentencesInData enforces "facts, not sentences": no file
// under catalog/data, in the catalog's tests, or in the report corpora
// holds 8 or more consecutive words of any of ngrok's messages
// (case-insensitive, punctuation ignored).
func TestNoNgrokSentencesInData(t *testing.T) {
	const n = 8
	runs := map[string]string{}
	for _, r := range readReference(t) {
		w := Tokens(r.Message)
		for i := 0; i+n <= len(w); i++ {
			runs[strings.Join(w[i:i+n], " ")] = r.Code
		}
	}
	var files []string
	for _, dir := range []string{"data", "../annotate/testdata/reports", "../extract/testdata/reports"} {
		err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if !d.IsDir() {
				files = append(files, path)
			}
			return nil
		})
		if dir != "data" && os.IsNotExist(err) {
			continue
		}
		require.NoError(t, err)
	}
	tests, err := filepath.Glob("*_test.go")
	require.NoError(t, err)
	files = append(files, tests...)
	require.Contains(t, files, filepath.Join("data", "signatures.tsv"))
	for _, path := range files {
		data, err := os.ReadFile(path)
		require.NoError(t, err)
		w := Tokens(string(data))
		for i := 0; i+n <= len(w); i++ {
			if code, ok := runs[strings.Join(w[i:i+n], " ")]; ok {
				t.Errorf("%s copies %d words of ngrok's message for %s: %q", path, n, code, strings.Join(w[i:i+n], " "))
			}
		}
	}
}

func TestDeriveSignatures(t *testing.T) {
	// Invented messages in the shape of ngrok's, placeholders in capitals.
	sigs := DeriveSignatures(map[int]string{
		901: "Your widget WIDGET_NAME exceeded its flux capacity of MAX units. Call the lab.",
		902: "MAX sprockets are allowed per gizmo on the ACCOUNT plan",
		903: "The quantum frobnicator on your desk hums loudly whenever the moon is full and the tide is out",
		904: "Bad thing.",
		905: "The gizmo ACCOUNT was sprocketed.",
		906: "The gizmo ACCOUNT was sprocketed.",
		907: "Fetch https://example.invalid/a.b for help. Then retry.",
		908: "",
		909: "VAL VAL VAL",
		910: "The tunnel is not found",
	})
	got := map[int]string{}
	for _, s := range sigs {
		assert.True(t, s.Derived)
		assert.Equal(t, "official ERR_NGROK_"+strconv.Itoa(s.Code), s.Source)
		assert.Equal(t, s.Phrase, s.Tokens.String())
		got[s.Code] = s.Phrase
	}
	assert.Equal(t, map[int]string{
		901: "your widget * exceeded its flux capacity of * units",
		902: "sprockets are allowed per gizmo on the * plan",
		903: "the quantum frobnicator on your desk hums loudly whenever the moon is",
		907: "fetch https example invalid a b for help",
	}, got, "904 is too short, 905/906 share a phrase, 908/909 have no words, 910 is all common words")
	assert.True(t, slices.IsSortedFunc(sigs, func(a, b Signature) int { return a.Code - b.Code }))
}

func TestWithOfficialAddsDerivedSignatures(t *testing.T) {
	base := New([]Entry{{Code: 901, Summary: "s", Category: APIConfig, Status: Current}})
	sigs, err := ParseSignatures("x.tsv", "ERR_NGROK_901\tflux capacity exceeded\n")
	require.NoError(t, err)
	c := base.WithSignatures(sigs).WithOfficial(map[int]string{901: "Widget WIDGET has no flux capacity left today."})
	all := c.Signatures()
	require.Len(t, all, 2)
	assert.Equal(t, Signature{Code: 901, Phrase: "flux capacity exceeded", Tokens: sigs[0].Tokens, Source: "x.tsv:1"}, all[0])
	assert.Equal(t, "widget * has no flux capacity left today", all[1].Phrase)
	assert.True(t, all[1].Derived)
	assert.Empty(t, base.Signatures(), "the base catalog is not changed")
}

// TestDerivedFromReference derives phrases from ngrok's real messages: each
// matches its own message and stays within the derived limits.
func TestDerivedFromReference(t *testing.T) {
	msgs := map[int]string{}
	for _, r := range readReference(t) {
		n, err := ParseCode(r.Code)
		require.NoError(t, err)
		msgs[n] = r.Message
	}
	sigs := DeriveSignatures(msgs)
	assert.Greater(t, len(sigs), len(msgs)/2, "most messages give a phrase")
	seen := map[string]bool{}
	for _, s := range sigs {
		assert.True(t, refMatch(s.Tokens, Tokens(msgs[s.Code])), "ERR_NGROK_%d: %q must match its own message", s.Code, s.Phrase)
		assert.LessOrEqual(t, len(s.Tokens), MaxDerivedTokens)
		assert.GreaterOrEqual(t, s.Tokens.Literals(), MinDerivedLiterals)
		assert.False(t, seen[s.Phrase], "%q is derived twice", s.Phrase)
		seen[s.Phrase] = true
	}
	by := map[int]string{}
	for _, s := range sigs {
		by[s.Code] = s.Phrase
	}
	assert.Equal(t, "your account is limited to * simultaneous ngrok agent sessions", by[108])
	assert.NotContains(t, by, 102, "102 and 337 share their message")
}

func TestParseSignaturesErrors(t *testing.T) {
	_, err := ParseSignatures("x.tsv", strings.Join([]string{
		"# comment",
		"ERR_NGROK_1\tngrok gateway error",
		"ERR_NGROK_1 ngrok gateway error",
		"ERR_NGROK_x\tngrok gateway error",
		"ERR_NGROK_2\tthe tunnel is not found",
		"ERR_NGROK_1\tngrok gateway error",
		"ERR_NGROK_3\tngrok gateway error\textra",
		"",
	}, "\n"))
	require.Error(t, err)
	for _, want := range []string{
		"x.tsv:3: want 2 tab-separated fields",
		`x.tsv:4: "ERR_NGROK_x" is not an ngrok error code`,
		"x.tsv:5: ERR_NGROK_2: phrase \"the tunnel is not found\": every word is common",
		`x.tsv:6: ERR_NGROK_1: phrase "ngrok gateway error" is already given at line 2`,
		"x.tsv:7: want 2 tab-separated fields",
	} {
		assert.Contains(t, err.Error(), want)
	}
	sigs, err := ParseSignatures("y.tsv", "ERR_NGROK_1\tngrok gateway error\r\nERR_NGROK_2\tngrok gateway error\n")
	require.NoError(t, err, "one phrase under two codes is allowed")
	assert.Len(t, sigs, 2)
}
