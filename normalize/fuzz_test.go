package normalize

import (
	"bufio"
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fuzzLimits are small so that the fuzzer reaches every limit quickly.
var fuzzLimits = Limits{MaxMessageBytes: 1 << 20, MaxPartBytes: 4 << 10, MaxTextBytes: 16 << 10, MaxDepth: 8, MaxParts: 20}

func FuzzMessage(f *testing.F) {
	for _, path := range emlFiles(f) {
		b, err := os.ReadFile(path)
		require.NoError(f, err)
		f.Add(b)
	}
	f.Add([]byte(nestedMultipart(12)))
	f.Fuzz(func(t *testing.T, raw []byte) {
		tk, err := Message(bytes.NewReader(raw), fuzzLimits)
		if err != nil {
			assert.Nil(t, tk)
			return
		}
		require.NotNil(t, tk)
		assert.LessOrEqual(t, len(tk.Parts), fuzzLimits.MaxParts)
		var total int
		for _, p := range tk.Parts {
			total += len(p.Text)
			assert.LessOrEqual(t, int64(len(p.Text)), fuzzLimits.MaxPartBytes)
			assert.True(t, utf8.ValidString(p.Text), "part text is UTF-8")
			assert.NotContains(t, p.Text, "\r")
		}
		assert.LessOrEqual(t, int64(total), fuzzLimits.MaxTextBytes)
		assert.LessOrEqual(t, len(tk.Problems), maxProblems+1)
	})
}

func FuzzHTMLToText(f *testing.F) {
	f.Add("<p>ERR_<span>NGROK</span>_108</p>", int64(0))
	f.Add(`<div class="gmail_quote">On x wrote:<blockquote>a<br>b</blockquote></div><a href="https://ngrok.com/x">y</a>`, int64(20))
	f.Add("<pre>\r\n a\r\n</pre><table><tr><td>1<td>2</table>&#95;&amp", int64(7))
	f.Add("<script>x</script><style>y</style><head><title>t</title></head>\xff", int64(3))
	f.Fuzz(func(t *testing.T, in string, max int64) {
		if max > 1<<20 || max < 0 {
			max = 0
		}
		got, truncated, err := HTMLToText(strings.NewReader(in), max)
		require.NoError(t, err)
		limit := max
		if limit <= 0 {
			limit = DefaultMaxPartBytes
		}
		assert.LessOrEqual(t, int64(len(got)), limit)
		assert.True(t, utf8.ValidString(got))
		assert.NotContains(t, got, "\r")
		if !truncated {
			// Converting again what was not cut must not panic either.
			_, _, err = HTMLToText(strings.NewReader(got), max)
			require.NoError(t, err)
		}
	})
}

func FuzzSplitQuoted(f *testing.F) {
	f.Add("new\n> old\nOn Mon, 1 Jan 2026 Bob <b@x> wrote:\nolder")
	f.Add("a\n________________________________\nFrom: x\nSent: y\nTo: z\n\nold")
	f.Fuzz(func(t *testing.T, text string) {
		body, quoted := SplitQuoted(text)
		assert.LessOrEqual(t, len(body)+len(quoted), len(text))
	})
}

// headerFuzzLimits are small so that the fuzzer reaches every header
// bound quickly.
var headerFuzzLimits = Limits{MaxHeaderFieldBytes: 256, MaxHeaderBytes: 2 << 10, MaxHeaderFields: 16}

// FuzzHeaders checks the header bounds: whatever the header, no field
// that reaches go-message is longer than the field limit, the block keeps
// at most the field budget plus the vital fields, and the ticket's ids are
// well formed.
func FuzzHeaders(f *testing.F) {
	for _, c := range adversarialHeaders(2000) {
		f.Add(c.msg)
	}
	files, err := filepath.Glob(filepath.Join("testdata", "header-*.eml"))
	require.NoError(f, err)
	for _, path := range append(files, filepath.Join("testdata", "rfc2047-subject.eml"), filepath.Join("testdata", "plain.eml")) {
		b, err := os.ReadFile(path)
		require.NoError(f, err)
		f.Add(b)
	}
	f.Add([]byte("From: a@example.org\r\nReferences: <a@b>\r\n <c@d>\r\n\r\n"))
	f.Add([]byte("Subject: x\r\r\n \r\n\t\r\nMessage-ID: <a@b> (\\)\r\n\r\n"))
	f.Fuzz(func(t *testing.T, raw []byte) {
		lim := headerFuzzLimits.withDefaults()
		h, _, err := readHeader(bufio.NewReaderSize(bytes.NewReader(raw), 16), lim)
		if err == nil {
			n := 0
			for fs := h.Fields(); fs.Next(); n++ {
				assert.LessOrEqual(t, len(fs.Key())+len(fs.Value()), lim.MaxHeaderFieldBytes+1)
			}
			assert.LessOrEqual(t, n, lim.MaxHeaderFields+len(vitalFields))
		}
		tk, err := Message(bytes.NewReader(raw), headerFuzzLimits)
		if err != nil {
			return
		}
		for _, id := range append([]string{tk.MessageID, tk.InReplyTo}, tk.References...) {
			assert.True(t, id == "" || validMsgID(id), "id %q", id)
		}
		assert.LessOrEqual(t, len(tk.References), maxReferences)
		// Decoding may grow a field: an invalid byte becomes U+FFFD.
		for _, s := range append([]string{tk.From, tk.Subject}, tk.To...) {
			assert.LessOrEqual(t, len(s), 3*lim.MaxHeaderFieldBytes)
		}
	})
}
