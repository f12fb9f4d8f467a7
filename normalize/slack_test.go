package normalize

import (
	"strings"
	"testing"

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
