package normalize

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/triage-bot/triage/ticket"
)

func TestSlackMrkdwn(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"plain", "agent says ERR_NGROK_108", "agent says ERR_NGROK_108"},
		{"labelled link", "see <https://ngrok.com/docs/errors/err_ngrok_3200/|the docs>", "see the docs (https://ngrok.com/docs/errors/err_ngrok_3200/)"},
		{"link label repeats url", "<https://example.com|example.com>", "https://example.com"},
		{"bare link", "<https://example.com/a?b=1&amp;c=2>", "https://example.com/a?b=1&c=2"},
		{"code as label", "<https://ngrok.com/docs/errors/err_ngrok_108/|ERR_NGROK_108>", "ERR_NGROK_108 (https://ngrok.com/docs/errors/err_ngrok_108/)"},
		{"mentions", "<@U123> in <#C42|support> <!here> <!subteam^S1|@oncall>", "@U123 in #support @here @oncall"},
		{"mailto", "<mailto:ana@example.com|ana@example.com>", "ana@example.com"},
		{"escapes", "a &lt;b&gt; &amp;&amp; c &amp;lt;", "a <b> && c &lt;"},
		{"escaped lt does not open a link", "&lt;not a link&gt;", "<not a link>"},
		{"code span", "run `ngrok http 80` got `ERR_NGROK_8012`", "run ngrok http 80 got ERR_NGROK_8012"},
		{"fence", "log:\n```\nERROR ERR_NGROK_3200 &gt; x\n```\nthanks", "log:\nERROR ERR_NGROK_3200 > x\nthanks"},
		{"inline fence", "see ```ERR_NGROK_108``` ok", "see \nERR_NGROK_108\n ok"},
		{"unclosed backtick", "a ` b", "a ` b"},
		{"quote", "&gt; ERR_NGROK_108 yesterday\nnow ERR_NGROK_3200", "> ERR_NGROK_108 yesterday\nnow ERR_NGROK_3200"},
		{"quote without space", "&gt;old", "> old"},
		{"unclosed angle", "a < b", "a < b"},
		{"underscores kept", "_err_ngrok_108_", "_err_ngrok_108_"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, SlackMrkdwn(tt.in))
		})
	}
}

func TestSlackBlocks(t *testing.T) {
	tests := []struct {
		name, in, want string
		wantErr        bool
	}{
		{name: "empty", in: "", want: ""},
		{name: "not an array", in: `{"type":"rich_text"}`, wantErr: true},
		{
			name: "rich text sections, links, preformatted, quote",
			in: `[{"type":"rich_text","block_id":"x","elements":[
			  {"type":"rich_text_section","elements":[{"type":"text","text":"Hi "},{"type":"user","user_id":"U1"},{"type":"text","text":", tunnel fails with "},{"type":"text","text":"ERR_NGROK_3200","style":{"code":true}}]},
			  {"type":"rich_text_preformatted","elements":[{"type":"text","text":"t=1 lvl=eror err=ERR_NGROK_8012\nline 2"}]},
			  {"type":"rich_text_quote","elements":[{"type":"text","text":"last week: ERR_NGROK_108\nsecond line"}]},
			  {"type":"rich_text_section","elements":[{"type":"link","url":"https://ngrok.com/docs/errors/err_ngrok_3200/","text":"docs"},{"type":"text","text":" "},{"type":"emoji","name":"pray"}]}
			]}]`,
			want: "Hi @U1, tunnel fails with ERR_NGROK_3200\nt=1 lvl=eror err=ERR_NGROK_8012\nline 2\n> last week: ERR_NGROK_108\n> second line\ndocs (https://ngrok.com/docs/errors/err_ngrok_3200/) :pray:",
		},
		{
			name: "list",
			in:   `[{"type":"rich_text","elements":[{"type":"rich_text_list","style":"ordered","indent":0,"elements":[{"type":"rich_text_section","elements":[{"type":"text","text":"one"}]},{"type":"rich_text_section","elements":[{"type":"text","text":"two"}]}]}]}]`,
			want: "1. one\n2. two",
		},
		{
			name: "section with mrkdwn",
			in:   `[{"type":"section","text":{"type":"mrkdwn","text":"*alert* &lt;ERR_NGROK_727&gt;"}}]`,
			want: "*alert* <ERR_NGROK_727>",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := SlackBlocks([]byte(tt.in))
			if tt.wantErr {
				require.Error(t, err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestSlackMessage(t *testing.T) {
	t.Run("quote becomes quoted part", func(t *testing.T) {
		tk := SlackMessage(SlackInput{Text: "&gt; ERR_NGROK_108 before\nnow ERR_NGROK_3200"}, Limits{})
		require.Len(t, tk.Parts, 2)
		assert.Equal(t, ticket.KindBody, tk.Parts[0].Kind)
		assert.Equal(t, "now ERR_NGROK_3200", tk.Parts[0].Text)
		assert.Equal(t, ticket.KindQuoted, tk.Parts[1].Kind)
		assert.Equal(t, "> ERR_NGROK_108 before", tk.Parts[1].Text)
	})
	t.Run("blocks win over text", func(t *testing.T) {
		blocks := `[{"type":"rich_text","elements":[{"type":"rich_text_section","elements":[{"type":"text","text":"from blocks ERR_NGROK_1"}]}]}]`
		tk := SlackMessage(SlackInput{Text: "from text", Blocks: []byte(blocks)}, Limits{})
		require.Len(t, tk.Parts, 1)
		assert.Equal(t, "from blocks ERR_NGROK_1", tk.Parts[0].Text)
	})
	t.Run("bad blocks fall back to text", func(t *testing.T) {
		tk := SlackMessage(SlackInput{Text: "ERR_NGROK_2", Blocks: []byte(`[{"type":"rich_text","elements":7}]`)}, Limits{})
		require.Len(t, tk.Parts, 1)
		assert.Equal(t, "ERR_NGROK_2", tk.Parts[0].Text)
		assert.NotEmpty(t, tk.Problems)
	})
	t.Run("files and limits", func(t *testing.T) {
		tk := SlackMessage(SlackInput{Text: "see log", Files: []SlackFile{{Name: "ngrok.log", Text: strings.Repeat("x", 100), Truncated: true}}}, Limits{MaxPartBytes: 50})
		require.Len(t, tk.Parts, 2)
		assert.Equal(t, ticket.KindAttachment, tk.Parts[1].Kind)
		assert.Equal(t, "ngrok.log", tk.Parts[1].Name)
		assert.Len(t, tk.Parts[1].Text, 50)
		assert.True(t, tk.Parts[1].Truncated)
	})
}

func FuzzSlackMrkdwn(f *testing.F) {
	for _, s := range []string{"<https://x|y>", "&lt;&gt;&amp;", "```a```", "`b`", "&gt; q\nx", "<@U1|", "<!subteam^S|@t>", "&", "<"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		out := SlackMrkdwn(s)
		if len(out) > 2*len(s)+16 {
			t.Fatalf("output grew from %d to %d bytes", len(s), len(out))
		}
	})
}

func FuzzSlackBlocks(f *testing.F) {
	f.Add(`[{"type":"rich_text","elements":[{"type":"rich_text_quote","elements":[{"type":"text","text":"a\nb"}]}]}]`)
	f.Add(`[{"type":"section","text":{"type":"mrkdwn","text":"<x|y>"},"fields":[{"type":"plain_text","text":"z"}]}]`)
	f.Fuzz(func(t *testing.T, s string) {
		_, _ = SlackBlocks([]byte(s))
		_ = SlackMessage(SlackInput{Text: s, Blocks: []byte(s), Attachments: []byte(s)}, Limits{MaxPartBytes: 64})
	})
}

// slackList is a rich_text block holding one list of n items; past the
// tenth, items are empty objects, to keep a long list small.
func slackList(style, indent, offset string, n int) string {
	var b strings.Builder
	b.WriteString(`[{"type":"rich_text","elements":[{"type":"rich_text_section","elements":[{"type":"text","text":"list:"}]},{"type":"rich_text_list","style":"` + style + `"`)
	if indent != "" {
		b.WriteString(`,"indent":` + indent)
	}
	if offset != "" {
		b.WriteString(`,"offset":` + offset)
	}
	b.WriteString(`,"elements":[`)
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		if i >= 10 {
			b.WriteString("{}")
			continue
		}
		fmt.Fprintf(&b, `{"type":"rich_text_section","elements":[{"type":"text","text":"item %d"}]}`, i+1)
	}
	b.WriteString(`]}]}]`)
	return b.String()
}

// slackNested is a rich_text_section whose elements nest depth levels
// deep, with text at the bottom and at the top.
func slackNested(depth int) string {
	inner := `{"type":"text","text":"deep ERR_NGROK_108"}`
	for range depth {
		inner = `{"type":"rich_text_section","elements":[` + inner + `]}`
	}
	return `[{"type":"rich_text","elements":[{"type":"rich_text_section","elements":[{"type":"text","text":"top ERR_NGROK_3200 "},` + inner + `]}]}]`
}

// slackMany is one section with n elements of elem.
func slackMany(elem string, n int) string {
	return `[{"type":"rich_text","elements":[{"type":"rich_text_section","elements":[` +
		strings.TrimSuffix(strings.Repeat(elem+",", n), ",") + `]}]}]`
}

func TestSlackMessageHostileBlocks(t *testing.T) {
	tests := []struct {
		name     string
		in       SlackInput
		lim      Limits
		wantBody string // exact body text; "" means not checked
		wantIn   string // text the body contains
		wantOut  string // text the body must not contain
		problem  string // a problem contains this; "" means none expected
		maxBody  int    // the body's size bound; 0 means 4 KiB
	}{
		{
			name:     "indent 1e11 is clamped to 8",
			in:       SlackInput{Blocks: []byte(slackList("bullet", "100000000000", "", 2))},
			wantBody: "list:\n                - item 1\n                - item 2",
			problem:  "indent of 100000000000 is out of range (0 to 8); 8 was used",
		},
		{
			name:     "indent -1 is 0",
			in:       SlackInput{Blocks: []byte(slackList("bullet", "-1", "", 2))},
			wantBody: "list:\n- item 1\n- item 2",
			problem:  "indent of -1 is out of range (0 to 8); 0 was used",
		},
		{
			name:     "indent beyond float64",
			in:       SlackInput{Blocks: []byte(slackList("bullet", "1e400", "", 1))},
			wantBody: "list:\n                - item 1",
			problem:  "indent of 1e400 is out of range",
		},
		{
			name:     "indent not a number",
			in:       SlackInput{Blocks: []byte(slackList("bullet", `"3"`, "", 1))},
			wantBody: "list:\n- item 1",
			problem:  `indent ("3") is not a number`,
		},
		{
			name:     "offset 1e11 is clamped",
			in:       SlackInput{Blocks: []byte(slackList("ordered", "", "100000000000", 2))},
			wantBody: "list:\n100000. item 1\n100001. item 2",
			problem:  "offset of 100000000000 is out of range (0 to 99999); 99999 was used",
		},
		{
			name:     "negative offset is 0",
			in:       SlackInput{Blocks: []byte(slackList("ordered", "", "-3", 2))},
			wantBody: "list:\n1. item 1\n2. item 2",
			problem:  "offset of -3 is out of range",
		},
		{
			name:     "indent and offset in range",
			in:       SlackInput{Blocks: []byte(slackList("ordered", "2", "4", 2))},
			wantBody: "list:\n    5. item 1\n    6. item 2",
		},
		{
			name:    "deeply nested elements are skipped below the bound",
			in:      SlackInput{Blocks: []byte(slackNested(2000))},
			wantIn:  "top ERR_NGROK_3200",
			wantOut: "ERR_NGROK_108",
			problem: "nest more than 8 deep",
		},
		{
			name:     "nesting beyond the JSON decoder's limit falls back to the text",
			in:       SlackInput{Text: "fallback ERR_NGROK_727", Blocks: []byte(slackNested(6000))},
			wantBody: "fallback ERR_NGROK_727",
			problem:  "its text is used",
		},
		{
			name:    "100k list items stop at the node bound",
			in:      SlackInput{Blocks: []byte(slackList("ordered", "8", "99999", 100_000))},
			wantIn:  "                100000. item 1\n",
			wantOut: "109999. ",
			problem: "more than 10000 blocks, elements and attachments",
			maxBody: slackMaxNodes * 64,
		},
		{
			name:    "100k inline elements stop at the node bound",
			in:      SlackInput{Blocks: []byte(slackMany(`{"type":"user"}`, 100_000))},
			wantIn:  "@@@@",
			problem: "more than 10000 blocks, elements and attachments",
			maxBody: slackMaxNodes * 4,
		},
		{
			name:    "100k attachments stop at the attachment bound",
			in:      SlackInput{Text: "alerts", Attachments: []byte("[" + strings.TrimSuffix(strings.Repeat(`{"text":"ERR_NGROK_3200"},`, 100_000), ",") + "]")},
			wantIn:  "alerts\nERR_NGROK_3200\n",
			problem: "more than 50 attachments",
		},
		{
			name:    "a huge text element is cut at the ticket's text budget",
			in:      SlackInput{Blocks: []byte(slackMany(`{"type":"text","text":"`+strings.Repeat("x", 64<<10)+`"}`, 1))},
			lim:     Limits{MaxTextBytes: 1000},
			problem: "more than 1000 bytes of text",
			maxBody: 1000,
		},
		{
			name:     "fields of the wrong type are skipped, the rest is read",
			in:       SlackInput{Blocks: []byte(slackMany(`{"type":"text","text":"kept ERR_NGROK_108 "},{"type":"text","text":5},{"type":"link","url":["x"]},7,{"type":"emoji","name":"ok"}`, 1))},
			wantBody: "kept ERR_NGROK_108 :ok:",
			problem:  `its "url" is an array`,
		},
		{
			name:     "blocks that are not a list fall back to the text",
			in:       SlackInput{Text: "ERR_NGROK_2", Blocks: []byte(`{"type":"rich_text"}`)},
			wantBody: "ERR_NGROK_2",
			problem:  "the message's blocks is not a list",
		},
		{
			name:     "attachments that are not a list",
			in:       SlackInput{Text: "ERR_NGROK_2", Attachments: []byte(`{"text":"x"}`)},
			wantBody: "ERR_NGROK_2",
			problem:  "the message's attachments is not a list",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tk := SlackMessage(tt.in, tt.lim)
			require.NotNil(t, tk)
			var body strings.Builder
			for _, p := range tk.Parts {
				assert.True(t, utf8.ValidString(p.Text))
				if p.Kind == ticket.KindBody {
					body.WriteString(p.Text)
				}
			}
			if tt.wantBody != "" {
				assert.Equal(t, tt.wantBody, body.String())
			}
			if tt.wantIn != "" {
				assert.True(t, strings.Contains(body.String(), tt.wantIn), "the body lacks %q", tt.wantIn)
			}
			if tt.wantOut != "" {
				assert.False(t, strings.Contains(body.String(), tt.wantOut), "the body has %q", tt.wantOut)
			}
			bound := tt.maxBody
			if bound == 0 {
				bound = 4 << 10
			}
			assert.LessOrEqual(t, body.Len(), bound)
			if tt.problem == "" {
				assert.Empty(t, tk.Problems)
				return
			}
			assert.True(t, slices.ContainsFunc(tk.Problems, func(p string) bool { return strings.Contains(p, tt.problem) }),
				"no problem says %q: %q", tt.problem, tk.Problems)
			assert.LessOrEqual(t, len(tk.Problems), maxProblems+1)
		})
	}
}

func TestSlackMessageAttachments(t *testing.T) {
	atts := `[{"pretext":"Health check failed","title":"edge api.example.com","text":"agent said ` + "`ERR_NGROK_3200`" + ` &amp; retried","fallback":"not used",
	  "fields":[{"title":"Region","value":"eu","short":true},{"title":"","value":"ERR_NGROK_8012"}]},
	  {"fallback":"only a fallback: ERR_NGROK_727"},
	  {"from_url":"https://ngrok.com/docs/errors/err_ngrok_108/","title":"unfurl ERR_NGROK_108"},
	  {"blocks":[{"type":"section","text":{"type":"mrkdwn","text":"in blocks: ERR_NGROK_121"}}]}]`
	tk := SlackMessage(SlackInput{Text: "monitor says", Attachments: []byte(atts)}, Limits{})
	require.Len(t, tk.Parts, 1)
	assert.Equal(t, "monitor says\nHealth check failed\nedge api.example.com\nagent said ERR_NGROK_3200 & retried\nRegion: eu\nERR_NGROK_8012\nonly a fallback: ERR_NGROK_727\nin blocks: ERR_NGROK_121", tk.Parts[0].Text)
	assert.Empty(t, tk.Problems)
}
