package extract

import (
	"fmt"
	"math/rand/v2"
	"slices"
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

// benchPhrases times find over 4 MiB of the test corpus.
func benchPhrases(b *testing.B, find func(*Phrases, []byte, func(PhraseMatch))) {
	list := []string{"tunnel * not found", "limited to * simultaneous ngrok * session*", "ngrok gateway error", "authtoken * does not look like * proper"}
	p, err := CompilePhrases(list)
	require.NoError(b, err)
	text, _ := corpus(7, 4<<20)
	buf := []byte(text)
	b.SetBytes(int64(len(buf)))
	for b.Loop() {
		find(p, buf, func(PhraseMatch) {})
	}
}

func BenchmarkPhrases(b *testing.B) { benchPhrases(b, (*Phrases).Find) }

// BenchmarkPhrasesFindAll is the same reading every word, for comparison.
func BenchmarkPhrasesFindAll(b *testing.B) { benchPhrases(b, (*Phrases).findAll) }

func TestFindBare(t *testing.T) {
	known := func(n int) bool {
		return n == 3200 || n == 3208 || n == 802 || n == 1020 || n == 5000 || n == 8000 || n == 2222 || n == 108
	}
	tests := []struct {
		in   string
		want []int
	}{
		{"clicking the link gives error 3200", []int{3200}},
		{"Error: 3208 on our demo link", []int{3208}},
		{"error code 3200 again", []int{3200}},
		{"we see 3200 errors since 22:00", []int{3200}},
		{"Ngronk Error 802 again today", []int{802}},
		{"ngrok error 802", nil}, // the phrase form's, not bare
		{"error 108", nil},       // three digits: an HTTP status or a port as often as not
		{"error 9999", nil},      // not a known code
		{"Cloudflare error 1020 access denied", nil},
		{"HTTP error 5000", nil},
		{"port 8000 error", nil},
		{"error 2222 on line 5", []int{2222}},
		{"line 2222 error", nil},
		{"error 1020ms", nil},
		{"error 3200.5", nil},
		{"error 03200", nil},
		{"terror 3200", nil},
		{"errors: 3200", []int{3200}},
		{"", nil},
	}
	for _, tt := range tests {
		var got []int
		for _, m := range FindBare([]byte(tt.in), known) {
			assert.Equal(t, FormBare, m.Form)
			got = append(got, m.Code)
		}
		assert.Equal(t, tt.want, got, "%q", tt.in)
	}
}

// FuzzInfer runs the ticket-level finders that Find does not: phrases,
// bare numbers and the agent API's prose form. Each must stay inside the
// text, never panic, and report bare and agent API numbers only where
// their digits are.
func FuzzInfer(f *testing.F) {
	for _, s := range []string{"Tunnel foo.ngrok.io not found", "gives error 3200", "3200 errors", "Ngronk Error 802",
		"not yet ready to start tunnels (error code: 104)", "error code 102: invalid tunnel configuration", "you’re", "error", "error code"} {
		f.Add([]byte(s))
	}
	p, err := CompilePhrases([]string{"tunnel * not found", "limited to * simultaneous ngrok * session*", "certif* verif* fail*"})
	require.NoError(f, err)
	known := func(n int) bool { return n%7 != 0 }
	f.Fuzz(func(t *testing.T, b []byte) {
		p.Find(b, func(m PhraseMatch) {
			if m.Start < 0 || m.End > len(b) || m.Start >= m.End {
				t.Fatalf("bad span %+v in %d bytes", m, len(b))
			}
		})
		for _, ms := range [][]Match{FindBare(b, known), FindAgentAPIProse(b)} {
			for _, m := range ms {
				if m.Offset < 0 || m.Offset+int64(m.Len) > int64(len(b)) || m.Len <= 0 {
					t.Fatalf("match out of range: %+v in %d bytes", m, len(b))
				}
				for _, c := range b[m.Offset : m.Offset+int64(m.Len)] {
					if !isDigit(c) {
						t.Fatalf("non-digit in %+v: %q", m, b[m.Offset:m.Offset+int64(m.Len)])
					}
				}
			}
		}
	})
}

// agreeList and agreeVocab make the random texts on which Find must
// agree with findAll: the phrases' own words, in every case, next to
// apostrophes, curly quotes, letters >= 0x80 and digits, so that runs
// the word rules split (you're, “tunnel, Größe) and plain runs both
// turn up, across 64-byte blocks and classMasks' 4 KiB stretches.
var (
	agreeList = []string{"tunnel * ngrok * not found", "limited to * simultaneous ngrok * session*", "ngrok gateway error",
		"you are about to visit", "version * is too old", "youre not allowed here", "größe * zu groß", "port 4040 * busy",
		"the server refused our connection"}
	agreeVocab = []string{"tunnel", "ngrok", "not", "found", "limited", "to", "simultaneous", "agent", "sessions", "gateway", "error", "you", "are",
		"about", "visit", "version", "is", "too", "old", "x", "Tunnel", "NGROK", "you're", "’", "“", "”", "\n", ".", strings.Repeat("long", 10),
		"youre", "allowed", "here", "You’re", "Größe", "zu", "groß", "4040", "port", "busy", "'", "sus'pended", "“Tunnel", "visit”", "é",
		"server", "refused", "our", "connection", "Connection", "refused.", "found'", "'found", "ngrok’s", "\xe2\x80", "\xff", "0visit",
		strings.Repeat("a", 70), "simultaneous" + strings.Repeat("x", 50)}
)

func randomAgreeText(r *rand.Rand, words int) []byte {
	var sb strings.Builder
	for range words {
		sb.WriteString(agreeVocab[r.IntN(len(agreeVocab))])
		sb.WriteString([]string{" ", " ", "  ", "\n", ", ", "", "\t", "-"}[r.IntN(8)])
	}
	return []byte(sb.String())
}

func findBoth(p *Phrases, text []byte) (fast, all []PhraseMatch) {
	p.Find(text, func(m PhraseMatch) { fast = append(fast, m) })
	p.findAll(text, func(m PhraseMatch) { all = append(all, m) })
	return fast, all
}

// TestFindAgreesWithFindAll checks the hashed search against reading
// every word, on random texts made of the phrases' own words (short
// enough that every phrase lies within findWindow of its anchor).
func TestFindAgreesWithFindAll(t *testing.T) {
	p, err := CompilePhrases(agreeList)
	require.NoError(t, err)
	require.Empty(t, p.slow, "every phrase has a word to hash")
	require.False(t, p.asciiAnchors)
	ascii, err := CompilePhrases(asciiAgreeList())
	require.NoError(t, err)
	require.True(t, ascii.asciiAnchors, "runs with bytes >= 0x80 that nothing splits are passed over")
	r := rand.New(rand.NewPCG(3, 4))
	found := 0
	for n := range 3000 {
		text := randomAgreeText(r, 1+r.IntN([]int{40, 400, 1500}[n%3]))
		for _, p := range []*Phrases{p, ascii} {
			fast, all := findBoth(p, text)
			require.Equal(t, all, fast, "text %d: %q", n, text)
			found += len(all)
		}
	}
	assert.Greater(t, found, 100, "the texts hold phrases to find")
}

// asciiAgreeList is agreeList without its phrase in German.
func asciiAgreeList() []string {
	return slices.DeleteFunc(slices.Clone(agreeList), func(s string) bool { return strings.Contains(s, "ö") })
}

// FuzzPhrasesAgree is TestFindAgreesWithFindAll on any bytes short
// enough to lie in one window.
func FuzzPhrasesAgree(f *testing.F) {
	r := rand.New(rand.NewPCG(5, 6))
	for range 20 {
		f.Add(randomAgreeText(r, 1+r.IntN(60)))
	}
	f.Add([]byte("Your account is limited to 1 simultaneous ngrok agent session."))
	f.Add([]byte("“Tunnel x.ngrok.io not found” you’re not allowed here"))
	p, err := CompilePhrases(agreeList)
	require.NoError(f, err)
	ascii, err := CompilePhrases(asciiAgreeList())
	require.NoError(f, err)
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) > findWindow {
			b = b[:findWindow]
		}
		for _, p := range []*Phrases{p, ascii} {
			fast, all := findBoth(p, b)
			if !slices.Equal(fast, all) {
				t.Fatalf("Find %v, findAll %v on %q", fast, all, b)
			}
		}
	})
}

// TestClassMasks checks the vector classifier against the byte loop on
// every byte value at every place of a block.
func TestClassMasks(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	for n := range 200 {
		b := make([]byte, r.IntN(700))
		for i := range b {
			b[i] = byte(r.IntN(256))
			if n%2 == 0 {
				const pick = "aZ09'’x- .\x80\xff"
				b[i] = pick[r.IntN(len(pick))]
			}
		}
		blocks := (len(b)+63)/64 + 1
		w, s := make([]uint64, blocks), make([]uint64, blocks)
		classMasks(b, w, s)
		for i := range blocks * 64 {
			var c byte
			in := i < len(b)
			if in {
				c = b[i]
			}
			require.Equal(t, in && runClass[c], w[i/64]>>(i%64)&1 == 1, "byte %d (%#x) run", i, c)
			require.Equal(t, in && (c >= 0x80 || c == '\''), s[i/64]>>(i%64)&1 == 1, "byte %d (%#x) special", i, c)
		}
	}
}

// TestPhrasesLongWords: a word far longer than any literal costs no more
// than its bytes, and a phrase after it is still found.
func TestPhrasesLongWords(t *testing.T) {
	p, err := CompilePhrases([]string{"tunnel * not found", "simultaneous ngrok agent"})
	require.NoError(t, err)
	for _, long := range []string{strings.Repeat("a", 1<<20), strings.Repeat("é", 1<<19), strings.Repeat("ab'", 1<<18)} {
		text := []byte(long + " simultaneous ngrok agent " + long + " tunnel x not found")
		var got []int
		allocs := testing.AllocsPerRun(3, func() {
			got = got[:0]
			p.Find(text, func(m PhraseMatch) { got = append(got, m.ID) })
		})
		assert.Equal(t, []int{1, 0}, got)
		if !raceOn {
			assert.LessOrEqual(t, allocs, 2.0)
		}
	}
}

// TestSlotScan checks the assembly loop against slotScanGo on random
// texts whose words are often an anchor's length and first bytes.
func TestSlotScan(t *testing.T) {
	p, err := CompilePhrases(agreeList)
	require.NoError(t, err)
	r := rand.New(rand.NewPCG(9, 10))
	s := new(phraseScratch)
	total := 0
	for n := range 500 {
		text := randomAgreeText(r, 1+r.IntN(700))
		blocks := min(maskBlocks, (len(text)+63)/64)
		w, sp := s.w[:blocks+1], s.s[:blocks+1]
		classMasks(text, w, sp)
		carry := uint64(r.IntN(2))
		long := 4 + n%4
		want := make([]int32, maskBlocks*maxBlockHits)
		got := make([]int32, maskBlocks*maxBlockHits)
		kw, cw := slotScanGo(w, carry, long, p.maxAnchor, text, &p.present, want)
		kg, cg := slotScan(w, carry, long, p.maxAnchor, text, &p.present, got)
		require.Equal(t, want[:kw], got[:kg], "text %d: %q", n, text)
		require.Equal(t, cw, cg)
		total += kg
	}
	assert.Greater(t, total, 1000, "anchors were hashed and found")
}

// TestRetune: anchors move to the literal the text repeats least, and
// the retuned phrases find what the reference finds.
func TestRetune(t *testing.T) {
	p, err := CompilePhrases(agreeList)
	require.NoError(t, err)
	anchorOf := func(p *Phrases, id int) string { return p.phrases[id].toks[p.phrases[id].anchor].lit }
	const refused = 8 // "the server refused our connection"
	require.Equal(t, "the server refused our connection", agreeList[refused])
	require.Equal(t, "refused", anchorOf(p, refused))
	busy := []byte(strings.Repeat("curl: (7) Failed to connect: Connection refused\n", 500))
	q := p.Retune(busy)
	assert.Equal(t, "server", anchorOf(q, refused), "the only literal the text lacks")
	assert.Same(t, p, p.Retune(nil))

	r := rand.New(rand.NewPCG(11, 12))
	for n := range 1000 {
		text := randomAgreeText(r, 1+r.IntN([]int{40, 400, 1500}[n%3]))
		q := p.Retune(text[:len(text)/2])
		var fast, all []PhraseMatch
		q.Find(text, func(m PhraseMatch) { fast = append(fast, m) })
		p.findAll(text, func(m PhraseMatch) { all = append(all, m) })
		require.Equal(t, all, fast, "text %d: %q", n, text)
	}
}

// hostilePhrases share a word, as ngrok's messages share "provider";
// hostileText repeats their words so that every anchor stands and
// almost every phrase nearly matches.
func hostilePhrases() ([]string, []byte) {
	var list []string
	for i := range 60 {
		list = append(list, fmt.Sprintf("oauth provider * widget%02d has vanished", i))
	}
	unit := "oauth provider x widget07 has gone "
	return list, []byte(strings.Repeat(unit, (1<<20)/len(unit)))
}

// TestAnchorsSpread: a word that many phrases share anchors only some of
// them, so an occurrence of it verifies a few phrases, not all.
func TestAnchorsSpread(t *testing.T) {
	list, text := hostilePhrases()
	p, err := CompilePhrases(list)
	require.NoError(t, err)
	for w, set := range p.anchors {
		assert.LessOrEqual(t, len(set.ids), shareFree, "%q anchors %d phrases", w, len(set.ids))
	}
	fast, all := findBoth(p, text[:8<<10])
	assert.Equal(t, all, fast)
	assert.Empty(t, all)
}

// BenchmarkPhrasesHostile times Find on text built to make it work hard.
func BenchmarkPhrasesHostile(b *testing.B) {
	list, text := hostilePhrases()
	p, err := CompilePhrases(list)
	require.NoError(b, err)
	b.SetBytes(int64(len(text)))
	for b.Loop() {
		p.Find(text, func(PhraseMatch) {})
	}
}

// findWindowRef is Find the plain way, the reference for its window: at
// every anchor word it reads every word within findWindow bytes of it
// (the window's edges moved off any word they cut) and verifies there.
func (p *Phrases) findWindowRef(b []byte, fn func(PhraseMatch)) {
	type tok struct {
		start, end int
		fold       string
	}
	var all []tok
	words(b, func(start, end int, f []byte) { all = append(all, tok{start, end, string(f)}) })
	for _, a := range all {
		set := p.anchors[a.fold]
		if set == nil {
			continue
		}
		w0 := safeStart(b, max(0, a.start-findWindow), a.start)
		w1 := safeEnd(b, min(len(b), a.end+findWindow), a.end)
		src := &sliceWords{}
		words(b[w0:w1], func(start, end int, f []byte) {
			if w0+start == a.start {
				src.i = len(src.words)
			}
			f0 := len(src.fold)
			src.fold = append(src.fold, f...)
			src.words = append(src.words, word{start: w0 + start, end: w0 + end, f0: f0, f1: len(src.fold)})
		})
		m := &matcher{src: src}
		for _, id := range set.ids {
			if pm, ok := p.verify(int(id), m); ok {
				fn(pm)
			}
		}
	}
}

// TestFindWindow: on texts with words of hundreds of bytes, whose
// phrases reach past findWindow, Find reads exactly the words of its
// window.
func TestFindWindow(t *testing.T) {
	p, err := CompilePhrases(agreeList)
	require.NoError(t, err)
	r := rand.New(rand.NewPCG(13, 14))
	longs := []string{strings.Repeat("q", 300), strings.Repeat("Zé", 200), strings.Repeat("w'", 250), strings.Repeat(" ", 700), strings.Repeat("”", 150)}
	whole := []string{"Tunnel x.ngrok.io not found", "limited to 1 simultaneous ngrok agent sessions", "you are about to visit",
		"the server refused our connection", "Tunnel " + strings.Repeat("y", 900) + " ngrok " + strings.Repeat("z", 900) + " not found"}
	found := 0
	for n := range 400 {
		var sb strings.Builder
		for range 50 + r.IntN(400) {
			switch r.IntN(8) {
			case 0:
				sb.WriteString(longs[r.IntN(len(longs))])
			case 1:
				sb.WriteString(whole[r.IntN(len(whole))])
			default:
				sb.WriteString(agreeVocab[r.IntN(len(agreeVocab))])
			}
			sb.WriteString([]string{" ", "\n", ", ", ""}[r.IntN(4)])
		}
		text := []byte(sb.String())
		var fast, ref []PhraseMatch
		p.Find(text, func(m PhraseMatch) { fast = append(fast, m) })
		p.findWindowRef(text, func(m PhraseMatch) { ref = append(ref, m) })
		require.Equal(t, ref, fast, "text %d (%d bytes)", n, len(text))
		found += len(ref)
	}
	assert.Greater(t, found, 200)
}

// TestLazyWordsWindow: around any word, lazyWords reads exactly the
// words of the window findWindowRef reads, in both directions, however
// long the words at its edges.
func TestLazyWordsWindow(t *testing.T) {
	r := rand.New(rand.NewPCG(15, 16))
	pieces := []string{"tunnel", "x", "You're", "“quoted”", "Größe", "a'", "'b", strings.Repeat("q", 300), strings.Repeat("Zé", 150),
		strings.Repeat("w'x", 90), strings.Repeat("k", 1500), strings.Repeat(" ", 500), strings.Repeat("”", 100), "ok"}
	var l lazyWords
	for n := range 300 {
		var sb strings.Builder
		for range 20 + r.IntN(200) {
			sb.WriteString(pieces[r.IntN(len(pieces))])
			sb.WriteString([]string{" ", "\n", ", ", ""}[r.IntN(4)])
		}
		b := []byte(sb.String())
		type tok struct{ start, end int }
		var all []tok
		words(b, func(start, end int, _ []byte) { all = append(all, tok{start, end}) })
		for _, a := range all {
			var folded []byte
			words(b[a.start:a.end], func(_, _ int, f []byte) { folded = append(folded[:0], f...) })
			w0 := safeStart(b, max(0, a.start-findWindow), a.start)
			w1 := safeEnd(b, min(len(b), a.end+findWindow), a.end)
			var want []tok
			idx := 0
			words(b[w0:w1], func(start, end int, _ []byte) {
				if w0+start == a.start {
					idx = len(want)
				}
				want = append(want, tok{w0 + start, w0 + end})
			})
			l.reset(b, a.start, a.end, folded)
			var got []tok
			for k := -1; ; k-- {
				w, _, ok := l.at(k)
				if !ok {
					break
				}
				got = append([]tok{{w.start, w.end}}, got...)
			}
			for k := 0; ; k++ {
				w, _, ok := l.at(k)
				if !ok {
					break
				}
				got = append(got, tok{w.start, w.end})
			}
			require.Equal(t, want, got, "text %d, anchor at %d (index %d)", n, a.start, idx)
		}
	}
}

// TestProbedOut: a phrase that probedOut rules out at an anchor never
// verifies there, on texts with long words and spaces at the window's
// edges; and most ruled-out phrases are ruled out by it.
func TestProbedOut(t *testing.T) {
	p, err := CompilePhrases(agreeList)
	require.NoError(t, err)
	r := rand.New(rand.NewPCG(17, 18))
	longs := []string{strings.Repeat("q", 300), strings.Repeat("Zé", 200), strings.Repeat(" ", 700), strings.Repeat("k", 1900)}
	var l lazyWords
	var m matcher
	probed, failed := 0, 0
	for n := range 300 {
		var sb strings.Builder
		for range 50 + r.IntN(300) {
			if r.IntN(10) == 0 {
				sb.WriteString(longs[r.IntN(len(longs))])
			} else {
				sb.WriteString(agreeVocab[r.IntN(len(agreeVocab))])
			}
			sb.WriteString([]string{" ", "\n", ", ", ""}[r.IntN(4)])
		}
		b := []byte(sb.String())
		words(b, func(start, end int, f []byte) {
			set := p.anchors[string(f)]
			if set == nil {
				return
			}
			l.reset(b, start, end, f)
			m.src = &l
			for _, id := range set.ids {
				_, ok := p.verify(int(id), &m)
				if p.probedOut(id, b, start, end) {
					probed++
					require.False(t, ok, "text %d: phrase %q probed out at %d but matches", n, agreeList[id], start)
				}
				if !ok {
					failed++
				}
			}
		})
	}
	t.Logf("probedOut ruled out %d of the %d failed verifications", probed, failed)
	assert.Greater(t, probed, failed/2, "probedOut rules out most phrases that fail")
}
