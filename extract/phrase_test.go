package extract

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestWords(t *testing.T) {
	assert.Equal(t, []string{"tunnel", "foo", "ngrok", "io", "not", "found"}, Words("Tunnel foo.ngrok.io not found."))
	assert.Equal(t, []string{"youre", "cant", "o", "x"}, Words("You're can’t 'o' x"))
	assert.Equal(t, []string{"err", "ngrok", "108"}, Words(`ERR\_NGROK\_108`))
	assert.Equal(t, []string{"größe", "ok"}, Words("Größe: ok"))
	assert.Equal(t, []string{"tunnel", "x", "not", "found"}, Words("“Tunnel x not found”"))
}

func TestParsePhrase(t *testing.T) {
	for _, bad := range []string{"", "* not found", "tunnel *", "tunnel  found", "tunnel * * found", "Tunnel found x", "tu* found x", "tunnel not-found x",
		"a * b * c * d * e"} {
		_, err := CompilePhrases([]string{bad})
		assert.ErrorIs(t, err, ErrPhrase, "%q", bad)
	}
	_, err := CompilePhrases([]string{"tunnel * not found", "session* * limit", "limited to * simultaneous ngrok * session*"})
	require.NoError(t, err)
}

func TestPhrasesFind(t *testing.T) {
	list := []string{
		"tunnel * not found",                         // 0
		"limited to * simultaneous ngrok * session*", // 1
		"ngrok gateway error",                        // 2
		"sign* up * tcp tunnels",                     // 3: prefix-only anchor is not needed, tcp anchors
		"certif* verif* fail*",                       // 4: only prefixes
	}
	p, err := CompilePhrases(list)
	require.NoError(t, err)
	tests := []struct {
		in   string
		want []int
		text []string
	}{
		{"Tunnel abc123.ngrok.io not found", []int{0}, []string{"Tunnel abc123.ngrok.io not found"}},
		{"Your account 'x' is limited to 1 simultaneous ngrok client session.", []int{1}, []string{"limited to 1 simultaneous ngrok client session"}},
		{"is LIMITED TO 3 SIMULTANEOUS NGROK AGENT SESSIONS", []int{1}, []string{"LIMITED TO 3 SIMULTANEOUS NGROK AGENT SESSIONS"}},
		{"The ngrok gateway error page", []int{2}, []string{"ngrok gateway error"}},
		{"you must sign up before using tcp tunnels", []int{3}, []string{"sign up before using tcp tunnels"}},
		{"certificate verification failed", []int{4}, []string{"certificate verification failed"}},
		// Too far apart for the wildcard, or words in between.
		{"tunnel a b c d e f g h i not found", nil, nil},
		{"tunnel not found", nil, nil},
		{"not found: tunnel", nil, nil},
		{"gateway error from ngrok", nil, nil},
		{"", nil, nil},
	}
	for _, tt := range tests {
		var ids []int
		var texts []string
		p.Find([]byte(tt.in), func(m PhraseMatch) {
			ids = append(ids, m.ID)
			texts = append(texts, tt.in[m.Start:m.End])
		})
		assert.Equal(t, tt.want, ids, "%q", tt.in)
		assert.Equal(t, tt.text, texts, "%q", tt.in)
	}
}

// TestPhrasesLinear feeds adversarial repeats: work stays linear (this
// would take minutes if wildcards backtracked without bound).
func TestPhrasesLinear(t *testing.T) {
	_, err := CompilePhrases([]string{"tunnel * * not found", "a * b * c * d"})
	require.Error(t, err) // two wildcards in a row
	p, err := CompilePhrases([]string{"tunnel * x * not found", "aa * bb * cc * dd"})
	require.NoError(t, err)
	n := 0
	p.Find([]byte(strings.Repeat("tunnel x ", 200_000)+strings.Repeat("aa bb cc ", 200_000)), func(PhraseMatch) { n++ })
	assert.Zero(t, n)
}

func FuzzPhrases(f *testing.F) {
	for _, s := range []string{"Tunnel foo.ngrok.io not found", "limited to 1 simultaneous ngrok agent session", "you're", "\xe2\x80\x99x", "x'", "'"} {
		f.Add([]byte(s))
	}
	p, err := CompilePhrases([]string{"tunnel * not found", "limited to * simultaneous ngrok * session*", "certif* verif* fail*"})
	require.NoError(f, err)
	f.Fuzz(func(t *testing.T, b []byte) {
		p.Find(b, func(m PhraseMatch) {
			if m.Start < 0 || m.End > len(b) || m.Start >= m.End {
				t.Fatalf("bad span %+v in %d bytes", m, len(b))
			}
		})
	})
}

func BenchmarkPhrases(b *testing.B) {
	list := []string{"tunnel * not found", "limited to * simultaneous ngrok * session*", "ngrok gateway error", "authtoken * does not look like * proper"}
	p, err := CompilePhrases(list)
	require.NoError(b, err)
	text, _ := corpus(7, 4<<20)
	b.SetBytes(int64(len(text)))
	for b.Loop() {
		p.Find([]byte(text), func(PhraseMatch) {})
	}
}
