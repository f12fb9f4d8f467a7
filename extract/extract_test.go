package extract

import (
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

type want struct {
	code int
	form Form
	text string // the matched text as written
}

func TestFind(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []want
	}{
		{"canonical", "agent said ERR_NGROK_108 and quit", []want{{108, FormCanonical, "ERR_NGROK_108"}}},
		{"lower case", "err_ngrok_8012: upstream refused", []want{{8012, FormLowercase, "err_ngrok_8012"}}},
		{"mixed case", "Err_Ngrok_3200", []want{{3200, FormLowercase, "Err_Ngrok_3200"}}},
		{"markdown escaped", `see ERR\_NGROK\_108 in the log`, []want{{108, FormEscaped, `ERR\_NGROK\_108`}}},
		{"html entity", "ERR&#95;NGROK&#95;3004 again", []want{{3004, FormEntity, "ERR&#95;NGROK&#95;3004"}}},
		{"html hex entity", "ERR&#x5F;NGROK&#x5f;3004", []want{{3004, FormEntity, "ERR&#x5F;NGROK&#x5f;3004"}}},
		{"html named entity", "ERR&lowbar;NGROK&lowbar;727.", []want{{727, FormEntity, "ERR&lowbar;NGROK&lowbar;727"}}},
		{"docs url", "https://ngrok.com/docs/errors/err_ngrok_3200", []want{{3200, FormURL, "err_ngrok_3200"}}},
		{"docs url slash", "<https://ngrok.com/docs/errors/err_ngrok_3200/>", []want{{3200, FormURL, "err_ngrok_3200"}}},
		{"json string", `{"error_code":"ERR_NGROK_225","status_code":400}`, []want{{225, FormJSON, "ERR_NGROK_225"}}},
		{"json string spaced", `{"error_code": "ERR_NGROK_225"}`, []want{{225, FormJSON, "ERR_NGROK_225"}}},
		// The agent's local API has numbers of its own: never ERR_NGROK_103.
		{"agent api json", `{"error_code":103,"status_code":502,"msg":"failed to start tunnel","details":{"err":"session closed"}}`, []want{{103, FormAgentAPI, "103"}}},
		{"agent api after status", `ngrok api answered {"status_code":400,"error_code":102}`, []want{{102, FormAgentAPI, "102"}}},
		{"agent api node inspect", "{ error_code: 103,\n  status_code: 502,\n  msg: 'failed to start tunnel' }", []want{{103, FormAgentAPI, "103"}}},
		{"agent api python repr", `{'error_code': 104, 'status_code': 503, 'msg': 'x'}`, []want{{104, FormAgentAPI, "104"}}},
		{"agent api ruby", `{"error_code"=>102, "status_code"=>400, "msg"=>"invalid tunnel configuration"}`, []want{{102, FormAgentAPI, "102"}}},
		{"agent api prose", "error_code 102 - invalid tunnel configuration", []want{{102, FormAgentAPI, "102"}}},
		{"agent api with real code inside", `{"error_code":103,"status_code":502,"msg":"failed to start tunnel","details":{"err":"limited to 1 session

ERR_NGROK_108
"}}`,
			[]want{{103, FormAgentAPI, "103"}, {108, FormCanonical, "ERR_NGROK_108"}}},
		{"numeric error_code alone", `{"error_code": 102}`, nil},
		{"cloudflare tunnel", `{"error_code": 1033, "status_code": 530, "msg": "tunnel error"}`, nil},
		{"numeric error_code near ngrok", `ngrok said {"error_code": 108}`, nil},
		// Codes right after written-out escapes.
		{"after escaped crlf", `err="Your account is limited

ERR_NGROK_108
"`, []want{{108, FormCanonical, "ERR_NGROK_108"}}},
		{"after escaped lf", `failed
ERR_NGROK_4018`, []want{{4018, FormCanonical, "ERR_NGROK_4018"}}},
		{"after double escaped", `\r\nERR_NGROK_121\r\n`, []want{{121, FormCanonical, "ERR_NGROK_121"}}},
		{"after escaped tab", `	ERR_NGROK_334`, []want{{334, FormCanonical, "ERR_NGROK_334"}}},
		{"after mangled crlf", `too old./r/n/r/nERR_NGROK_121/r/n`, []want{{121, FormCanonical, "ERR_NGROK_121"}}},
		{"phrase after escape", `boom
ngrok error 4018`, []want{{4018, FormPhrase, "ngrok error 4018"}}},
		{"not an escape", `wnERR_NGROK_108`, nil},
		{"slash n alone", `a/nERR_NGROK_108`, nil},
		// Glued to a capitalised word: reported, flagged for the catalog.
		{"glued", "ERR_NGROK_3200Tunnel abc.ngrok.io not found", []want{{3200, FormCanonical, "ERR_NGROK_3200"}}},
		{"glued lower case word", "ERR_NGROK_3200tunnel", nil},
		{"glued to ngrok", "ERR_NGROK_3004ngrok gateway error", []want{{3004, FormCanonical, "ERR_NGROK_3004"}}},
		{"error ngrok spaced", "Error NGROK 3200 when", []want{{3200, FormSpaced, "Error NGROK 3200"}}},
		{"error_ngrok is not strict", "Error_NGROK_3200", nil},
		{"phrase japanese", "Ngrok エラー 108 が出ます", []want{{108, FormPhrase, "Ngrok エラー 108"}}},
		{"phrase german", "ngrok Fehler 4018", []want{{4018, FormPhrase, "ngrok Fehler 4018"}}},
		{"agent api on the next line", "> err.error_code\n103\n> err.msg\n'failed to start tunnel'", []want{{103, FormAgentAPI, "103"}}},
		{"glued upper run", "ERR_NGROK_108ABC", nil},
		{"agent api msg only", `{"error_code": 102, "msg": "payment failed"}`, []want{{102, FormAgentAPI, "102"}}},
		{"backticks", "got `ERR_NGROK_4018` today", []want{{4018, FormCanonical, "ERR_NGROK_4018"}}},
		{"fence", "```\nERROR ERR_NGROK_334\n```", []want{{334, FormCanonical, "ERR_NGROK_334"}}},
		{"markdown italic", "_ERR_NGROK_108_", []want{{108, FormCanonical, "ERR_NGROK_108"}}},
		{"zero width inside number", "ERR_NGROK_\u200b3200", []want{{3200, FormBroken, "ERR_NGROK_\u200b3200"}}},
		{"zero width inside word", "ERR_NG\u200bROK_3200", []want{{3200, FormBroken, "ERR_NG\u200bROK_3200"}}},
		{"soft hyphen", "ERR_\u00adNGROK_3200", []want{{3200, FormBroken, "ERR_\u00adNGROK_3200"}}},
		{"word joiner", "ERR\u2060_NGROK_3200", []want{{3200, FormBroken, "ERR\u2060_NGROK_3200"}}},
		{"nbsp separators", "ERR\u00a0NGROK\u00a03200", []want{{3200, FormSpaced, "ERR\u00a0NGROK\u00a03200"}}},
		{"spaces", "ERR NGROK 3200 on my side", []want{{3200, FormSpaced, "ERR NGROK 3200"}}},
		{"dashes", "ERR-NGROK-3200", []want{{3200, FormSpaced, "ERR-NGROK-3200"}}},
		{"phrase", "I keep getting ngrok error 4018 when starting", []want{{4018, FormPhrase, "ngrok error 4018"}}},
		{"phrase colon", "Ngrok error: 727", []want{{727, FormPhrase, "Ngrok error: 727"}}},
		{"phrase code", "ngrok error code 108", []want{{108, FormPhrase, "ngrok error code 108"}}},
		{"phrase hash", "ngrok err #3200", []want{{3200, FormPhrase, "ngrok err #3200"}}},
		{"two codes", "ERR_NGROK_120 then ERR_NGROK_121", []want{{120, FormCanonical, "ERR_NGROK_120"}, {121, FormCanonical, "ERR_NGROK_121"}}},
		{"end of text", "ERR_NGROK_8012", []want{{8012, FormCanonical, "ERR_NGROK_8012"}}},
		{"sentence end", "It says ERR_NGROK_8012.", []want{{8012, FormCanonical, "ERR_NGROK_8012"}}},
		{"crlf", "line\r\nERR_NGROK_8012\r\n", []want{{8012, FormCanonical, "ERR_NGROK_8012"}}},
		{"1080 is not 108", "ERR_NGROK_1080", []want{{1080, FormCanonical, "ERR_NGROK_1080"}}},
		{"in url path segment", "/errors/ERR_NGROK_108?x=1", []want{{108, FormURL, "ERR_NGROK_108"}}},
		// Never matched.
		{"no digits", "ERR_NGROK_ and nothing", nil},
		{"no digits end", "ERR_NGROK_", nil},
		{"other vendor", "net::ERR_CONNECTION_REFUSED", nil},
		{"digits into letters", "ERR_NGROK_108abc", nil},
		{"too many digits", "ERR_NGROK_1234567", nil},
		{"version string", "ngrok version 3.18.4", nil},
		{"version with err", "ngrok error 3.18", nil},
		{"version after code", "ERR_NGROK_3.18", nil},
		{"prefix word", "XERR_NGROK_108", nil},
		{"phrase small number", "ngrok error 2 times", nil},
		{"ngrok alone", "ngrok 3200", nil},
		{"ngroks", "ngroks error 3200", nil},
		{"plain ngrok", "ngrok http 8080 works fine", nil},
		{"empty", "", nil},
		{"k only", "kkkkKKKK", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := FindString(tt.in)
			require.Len(t, got, len(tt.want), "matches in %q: %+v", tt.in, got)
			for i, w := range tt.want {
				m := got[i]
				assert.Equal(t, w.code, m.Code)
				assert.Equal(t, w.form, m.Form, "form %s", m.Form)
				assert.Equal(t, w.text, tt.in[m.Offset:m.Offset+int64(m.Len)])
				if w.form == FormAgentAPI {
					assert.Equal(t, fmt.Sprintf("agent-api:%d", w.code), m.Canonical())
				} else {
					assert.Equal(t, fmt.Sprintf("ERR_NGROK_%d", w.code), m.Canonical())
				}
				if m.Glued {
					assert.Equal(t, GluedConfidence, m.Confidence())
				} else {
					assert.Equal(t, w.form.Confidence(), m.Confidence())
				}
			}
		})
	}
}

func TestFormNames(t *testing.T) {
	seen := map[string]bool{}
	for f := FormCanonical; f <= FormInferred; f++ {
		name := f.String()
		assert.NotContains(t, name, "form(")
		assert.NotEmpty(t, name)
		assert.Equal(t, f, ParseForm(name))
		assert.False(t, seen[name], "duplicate name %q", name)
		seen[name] = true
		assert.Greater(t, f.Confidence(), 0.0)
	}
	assert.Equal(t, "form(200)", Form(200).String())
}

// corpus builds text with codes at random places, including right at
// buffer boundaries when read in small pieces.
func corpus(seed uint64, size int) (string, []int) {
	rng := rand.New(rand.NewPCG(seed, 1))
	forms := []string{"ERR_NGROK_%d", "err_ngrok_%d", `ERR\_NGROK\_%d`, "https://ngrok.com/docs/errors/err_ngrok_%d/", `{"error_code":"ERR_NGROK_%d"}`, "ngrok error %d", "ERR-NGROK-%d", "ERR_NGROK_\u200b%d"}
	filler := []string{"the quick brown fox ", "token=abc ok ", "2026-11-24T10:00:00Z lvl=info msg=\"kept alive\" ", "Kubernetes pod ", "\n", "ngrok http 80 ", "ERR_CONNECTION_REFUSED ", "ERR_NGROK_ ", "ngrok 3.18.4 "}
	var sb strings.Builder
	var codes []int
	for sb.Len() < size {
		if rng.IntN(8) == 0 {
			code := 100 + rng.IntN(30000)
			codes = append(codes, code)
			fmt.Fprintf(&sb, forms[rng.IntN(len(forms))], code)
			sb.WriteByte(' ')
		} else {
			sb.WriteString(filler[rng.IntN(len(filler))])
		}
	}
	return sb.String(), codes
}

func codesOf(ms []Match) []int {
	out := make([]int, len(ms))
	for i, m := range ms {
		out[i] = m.Code
	}
	return out
}

func TestFindCorpus(t *testing.T) {
	text, codes := corpus(1, 200_000)
	assert.Equal(t, codes, codesOf(FindString(text)))
}

func TestScanMatchesFindAcrossBuffers(t *testing.T) {
	text, codes := corpus(2, 300_000)
	for _, size := range []int{4 * 1024, 5*1024 + 7, 64 * 1024, DefaultBufferSize} {
		for _, oneByte := range []bool{false, true} {
			t.Run(fmt.Sprintf("buf=%d/onebyte=%v", size, oneByte), func(t *testing.T) {
				var r io.Reader = strings.NewReader(text)
				if oneByte {
					r = iotest.OneByteReader(r)
				}
				var got []Match
				require.NoError(t, ScanBuffer(r, make([]byte, size), func(m Match) error {
					got = append(got, m)
					return nil
				}))
				assert.Equal(t, codes, codesOf(got))
				assert.Equal(t, FindString(text), got)
			})
		}
	}
}

func TestScanSplitAtEveryOffset(t *testing.T) {
	// A code placed at every position around the boundary of the first
	// read must be found exactly once.
	const buf = 4096
	for pos := buf - 2*margin - 40; pos < buf-margin+40; pos++ {
		text := strings.Repeat("x", pos) + `{"error_code": 102, "msg": "x"} ngrok ERR\_NGROK\_8012 ` + strings.Repeat("y", 3*buf)
		var got []Match
		require.NoError(t, ScanBuffer(strings.NewReader(text), make([]byte, buf), func(m Match) error {
			got = append(got, m)
			return nil
		}))
		require.Equal(t, []int{102, 8012}, codesOf(got), "pos %d", pos)
	}
}

func TestScanAt(t *testing.T) {
	text, codes := corpus(3, 5<<20+12345)
	for _, workers := range []int{1, 2, 5} {
		var got []Match
		require.NoError(t, ScanAt(strings.NewReader(text), int64(len(text)), workers, func(m Match) error {
			got = append(got, m)
			return nil
		}))
		assert.Equal(t, codes, codesOf(got), "workers %d", workers)
		assert.Equal(t, FindString(text), got)
	}
}

func TestScanStopAndErrors(t *testing.T) {
	text := strings.Repeat("ERR_NGROK_108 ", 1000)
	n := 0
	require.NoError(t, Scan(strings.NewReader(text), func(Match) error { n++; return ErrStop }))
	assert.Equal(t, 1, n)

	boom := fmt.Errorf("boom")
	assert.ErrorIs(t, Scan(strings.NewReader(text), func(Match) error { return boom }), boom)
	assert.ErrorIs(t, ScanAt(strings.NewReader(text), int64(len(text)), 2, func(Match) error { return boom }), boom)

	err := Scan(iotest.ErrReader(io.ErrUnexpectedEOF), func(Match) error { return nil })
	assert.ErrorIs(t, err, io.ErrUnexpectedEOF)
	assert.ErrorContains(t, ScanBuffer(strings.NewReader(""), make([]byte, 10), nil), "too small")
}

func TestScanBoundedMemory(t *testing.T) {
	// 64 MiB through Scan allocates no more than the buffer.
	r := io.LimitReader(repeatReader("lvl=info msg=\"kept alive\" ERR_NGROK_3200 "), 64<<20)
	allocs := testing.AllocsPerRun(1, func() {
		_ = Scan(r, func(Match) error { return nil })
	})
	assert.Less(t, allocs, 100.0)
}

type repeatReader string

func (s repeatReader) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		n += copy(p[n:], s)
	}
	return n, nil
}

func FuzzFind(f *testing.F) {
	for _, s := range []string{"ERR_NGROK_108", `ERR\_NGROK\_3200`, "err_ngrok_8012.", "ERR&#95;NGROK&#95;1", "ngrok error code: 4018",
		"ERR_NG\u200bROK_3200", `{"error_code": 102} ngrok`, "ERR\u00a0NGROK\u00a03200", "https://ngrok.com/docs/errors/err_ngrok_3200/", "\xe2\x80", "k", "ngrok\xc2"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		ms := Find(b)
		last := int64(-1)
		for _, m := range ms {
			if m.Offset < 0 || m.Offset+int64(m.Len) > int64(len(b)) || m.Len <= 0 {
				t.Fatalf("match out of range: %+v in %d bytes", m, len(b))
			}
			if m.Offset < last {
				t.Fatalf("matches out of order: %+v", ms)
			}
			last = m.Offset
			if m.Code < 0 || m.Code > 999999 {
				t.Fatalf("bad code %d", m.Code)
			}
			if m.Form != FormAgentAPI && !bytes.ContainsAny(b[max(0, m.Offset-600):min(int64(len(b)), m.Offset+int64(m.Len)+600)], "kK") {
				t.Fatalf("match without ngrok nearby: %+v", m)
			}
		}
		// The vector search must agree with the portable one, and the
		// numeric JSON form must be found exactly where an ngrok word is
		// near enough.
		portable := region{portable: true}
		portable.scan(b, 0, len(b))
		if want := foundMatches(portable.found); !slices.Equal(ms, want) {
			t.Fatalf("vector search found %+v, portable %+v", ms, want)
		}
		if got, want := jsonNumbers(ms), referenceJSONNumbers(b); !slices.Equal(got, want) {
			t.Fatalf("numeric JSON codes at %v, want %v", got, want)
		}
		// Streaming must agree with Find whatever the buffer boundaries.
		var got []Match
		if err := ScanBuffer(iotest.HalfReader(bytes.NewReader(b)), make([]byte, 4096), func(m Match) error {
			got = append(got, m)
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		if len(got) != len(ms) {
			t.Fatalf("Scan found %d, Find %d", len(got), len(ms))
		}
	})
}

func BenchmarkFind(b *testing.B) {
	text, _ := corpus(4, 8<<20)
	data := []byte(text)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		_ = Find(data)
	}
}

func BenchmarkScan(b *testing.B) {
	text, _ := corpus(5, 8<<20)
	b.SetBytes(int64(len(text)))
	b.ReportAllocs()
	buf := make([]byte, DefaultBufferSize)
	for b.Loop() {
		_ = ScanBuffer(strings.NewReader(text), buf, func(Match) error { return nil })
	}
}

// slowStart delays reads of the first chunk so later chunks finish first.
type slowStart struct{ r io.ReaderAt }

func (s slowStart) ReadAt(p []byte, off int64) (int, error) {
	if off < 1<<20 {
		time.Sleep(50 * time.Millisecond)
	}
	return s.r.ReadAt(p, off)
}

// TestScanAtChunkBoundary puts a code at every position around the end
// of the first chunk: each worker sees the other's margin, and the code
// must be found exactly once.
func TestScanAtChunkBoundary(t *testing.T) {
	const code = `ERR\_NGROK\_8012 {"error_code": 102, "msg": "x"} ngrok `
	base := []byte(strings.Repeat(" ", scanChunk+margin+len(code)+64))
	for pos := scanChunk - len(code) - 8; pos <= scanChunk+8; pos++ {
		text := slices.Clone(base)
		copy(text[pos:], code)
		var got []Match
		require.NoError(t, ScanAt(bytes.NewReader(text), int64(len(text)), 2, func(m Match) error {
			got = append(got, m)
			return nil
		}))
		require.Equal(t, []int{8012, 102}, codesOf(got), "code at %d", pos)
	}
}

func TestScanAtKeepsOrderWhenChunksFinishOutOfOrder(t *testing.T) {
	text, codes := corpus(6, 9<<20)
	var got []Match
	require.NoError(t, ScanAt(slowStart{strings.NewReader(text)}, int64(len(text)), 4, func(m Match) error {
		got = append(got, m)
		return nil
	}))
	assert.Equal(t, codes, codesOf(got))
}

func foundMatches(fs []found) []Match {
	var out []Match
	for _, f := range fs {
		out = append(out, Match{Code: f.code, Offset: int64(f.start), Len: f.end - f.start, Form: f.form, Glued: f.glued})
	}
	return out
}

func jsonNumbers(ms []Match) []int64 {
	var out []int64
	for _, m := range ms {
		if m.Form == FormAgentAPI {
			out = append(out, m.Offset)
		}
	}
	return out
}

// referenceJSONNumbers finds agent API numbers the slow way: every
// "error_code" key, tried in place.
func referenceJSONNumbers(b []byte) []int64 {
	var out []int64
	for q := range b {
		if !bytes.HasPrefix(b[q:], errorCodeKey) {
			continue
		}
		if f, ok := agentAPIAt(b, q); ok {
			out = append(out, int64(f.start))
		}
	}
	return out
}

func TestVectorSearchAgreesWithPortable(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	pieces := []string{"ngrok", "NGROK", "k", "K", "ok", "OK", "ERR_NGROK_108 ", "err\\_ngrok\\_3200", "ngro\u200bk", "\u00a0", "\xc2\xad",
		`"error_code": 102`, " ", "x", "\n", "ngrok error 4018", "ERR_NG\u200bROK_3200", "book", "token"}
	for i := 0; i < 2000; i++ {
		var sb strings.Builder
		for sb.Len() < rng.IntN(3000) {
			sb.WriteString(pieces[rng.IntN(len(pieces))])
			sb.WriteString(strings.Repeat("a", rng.IntN(40)))
		}
		b := []byte(sb.String())
		portable := region{portable: true}
		portable.scan(b, 0, len(b))
		ms := Find(b)
		require.Equal(t, foundMatches(portable.found), ms, "input %q", b)
		require.Equal(t, referenceJSONNumbers(b), jsonNumbers(ms), "input %q", b)
	}
}

// TestScanTextGivesTheWrittenBytes checks that ScanText and
// ScanChunksText hand over each match's bytes as written, across reads
// and chunk borders alike.
func TestScanTextGivesTheWrittenBytes(t *testing.T) {
	forms := []string{"ERR_NGROK_108", `err\_ngrok\_3200`, "ngrok error 4018", "https://ngrok.com/docs/errors/err_ngrok_8012/"}
	var b strings.Builder
	for i := 0; b.Len() < 9<<20; i++ {
		fmt.Fprintf(&b, "line %d of filler text; ", i)
		if i%5000 == 0 {
			b.WriteString(forms[(i/5000)%len(forms)] + "\n")
		}
	}
	text := b.String()
	want := Find([]byte(text))
	require.NotEmpty(t, want)
	check := func(t *testing.T, m Match, got []byte) {
		t.Helper()
		assert.Equal(t, text[m.Offset:m.Offset+int64(m.Len)], string(got))
	}
	t.Run("stream", func(t *testing.T) {
		n := 0
		require.NoError(t, ScanText(iotest.HalfReader(strings.NewReader(text)), func(m Match, got []byte) error {
			check(t, m, got)
			n++
			return nil
		}))
		assert.Equal(t, len(want), n)
	})
	t.Run("chunks", func(t *testing.T) {
		n := 0
		require.NoError(t, ScanChunksText(strings.NewReader(text), int64(len(text)), 3, func(ms []Match, at func(Match) []byte) []string {
			var out []string
			for _, m := range ms {
				check(t, m, at(m))
				out = append(out, string(at(m)))
			}
			return out
		}, func(got []string) error { n += len(got); return nil }))
		assert.Equal(t, len(want), n)
	})
}
