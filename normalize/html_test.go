package normalize

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestHTMLToText(t *testing.T) {
	tests := []struct {
		name string
		html string
		want string
	}{
		{"inline split code", `<p>ERR_<span>NGROK</span>_<b>108</b></p>`, "ERR_NGROK_108"},
		{"font and code tags", `<font color=red>ERR_NGROK_</font><code>3200</code>`, "ERR_NGROK_3200"},
		{"entities", `ERR&#95;NGROK&#x5F;727 &amp; &lt;x&gt; &quot;q&quot;`, `ERR_NGROK_727 & <x> "q"`},
		{"nbsp and zero width kept", "a&nbsp;b\u200bc", "a\u00a0b\u200bc"},
		{"script style head dropped", `<head><title>T ERR_NGROK_1</title><style>x{}</style></head><body><script>ERR_NGROK_2</script>ok</body>`, "ok"},
		{"head left open ends at body", `<head><style>x{}</style><body>seen</body>`, "seen"},
		{"blocks break lines", `<div>a</div><div>b</div><p>c</p>d<br>e`, "a\nb\nc\nd\ne"},
		{"list items", `<ul><li>one</li><li>two</li></ul>`, "one\ntwo"},
		{"table rows and cells", `<table><tr><td>code</td><td>ERR_NGROK_8012</td></tr><tr><td>x</td></tr></table>`, "code ERR_NGROK_8012\nx"},
		{"whitespace collapsed", "a \n\t b", "a b"},
		{"pre kept", "<pre>\n  a\n    b</pre>after", "  a\n    b\nafter"},
		{"blank lines capped", `a<br><br><br><br>b`, "a\n\nb"},
		{"link text kept, ngrok href appended", `<a href="https://ngrok.com/docs/errors/err_ngrok_108">docs</a>`, "docs (https://ngrok.com/docs/errors/err_ngrok_108)"},
		{"link equal to text not repeated", `<a href="https://ngrok.com/docs/x/">ngrok.com/docs/x</a>`, "ngrok.com/docs/x"},
		{"other links not appended", `<a href="https://example.com/a">here</a>`, "here"},
		{"code as link text survives", `<a href="https://example.com">ERR_NGROK_3004</a>`, "ERR_NGROK_3004"},
		{"blockquote quoted", `new<blockquote>old<br>older</blockquote>after`, "new\n> old\n> older\nafter"},
		{"nested quotes", `<blockquote>a<blockquote>b</blockquote></blockquote>`, "> a\n> > b"},
		{"gmail quote class", `<div>new</div><div class="gmail_quote">On x wrote:<div>old</div></div>`, "new\n> On x wrote:\n> old"},
		{"outlook marker quotes the rest", `<div>new</div><div id="appendonsend"></div><div>From: a</div><div>old</div>`, "new\n> From: a\n> old"},
		{"outlook reply header id", `new<div id="divRplyFwdMsg">From: a</div><div>old</div>`, "new\n> From: a\n> old"},
		{"comments dropped", `a<!-- ERR_NGROK_1 -->b`, "ab"},
		{"unclosed tags", `<div><span>a<div>b`, "a\nb"},
		{"stray end tags", `</div></span>a</p>`, "a"},
		{"raw less-than", `a < b`, "a < b"},
		{"invalid utf8 replaced", "a\xffb", "a\ufffdb"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, truncated, err := HTMLToText(strings.NewReader(tt.html), 0)
			require.NoError(t, err)
			assert.False(t, truncated)
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestHTMLToTextTruncates(t *testing.T) {
	in := "<p>" + strings.Repeat("é", 100) + "</p>"
	got, truncated, err := HTMLToText(strings.NewReader(in), 51)
	require.NoError(t, err)
	assert.True(t, truncated)
	assert.True(t, utf8.ValidString(got))
	assert.Equal(t, strings.Repeat("é", 25), got)
}

func TestHTMLToTextLongTokens(t *testing.T) {
	// A text run and a tag each longer than the tokenizer's buffer cap.
	text := strings.Repeat("x", maxHTMLToken*2)
	img := `<img src="data:image/png;base64,` + strings.Repeat("A", maxHTMLToken*2) + `">`
	in := "<p>before " + text + " ERR_NGROK_108</p>" + img + "<p>after ERR_NGROK_120</p><style>" + strings.Repeat("s", maxHTMLToken*2) + "</style>end"
	got, truncated, err := HTMLToText(strings.NewReader(in), 0)
	require.NoError(t, err)
	assert.False(t, truncated)
	assert.Contains(t, got, "before xxx")
	assert.Contains(t, got, " ERR_NGROK_108\nafter ERR_NGROK_120\nend")
	assert.NotContains(t, got, "AAAA")
	assert.NotContains(t, got, "sss")
	assert.Len(t, got, len("before ")+len(text)+len(" ERR_NGROK_108\nafter ERR_NGROK_120\nend"))
}

func TestHTMLToTextDeepNesting(t *testing.T) {
	const depth = 100000
	in := strings.Repeat("<div><span>", depth) + "ERR_NGROK_108" + strings.Repeat("</span></div>", depth) + "<p>after</p>"
	got, _, err := HTMLToText(strings.NewReader(in), 0)
	require.NoError(t, err)
	assert.Equal(t, "ERR_NGROK_108\nafter", got)
}
