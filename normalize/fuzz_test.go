package normalize

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strconv"
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
	var files []string
	for _, pattern := range []string{"header-*.eml", "address-*.eml", "charset-*.eml"} {
		fs, err := filepath.Glob(filepath.Join("testdata", pattern))
		require.NoError(f, err)
		files = append(files, fs...)
	}
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

// fuzzSlackEvent is what FuzzSlack reads of an Events API envelope, as
// the Slack integration does: the message, or the new message of a
// message_changed, and a thread_broadcast's root.
type fuzzSlackEvent struct {
	Event *fuzzSlackMessage `json:"event"`
}

type fuzzSlackMessage struct {
	Text        string            `json:"text"`
	Blocks      json.RawMessage   `json:"blocks"`
	Attachments json.RawMessage   `json:"attachments"`
	Files       []json.RawMessage `json:"files"`
	Message     *fuzzSlackMessage `json:"message"`
	Root        *fuzzSlackMessage `json:"root"`
}

// slackSeeds are the envelopes of the Slack integration's fixtures (real
// shapes: rich text, lists, quotes, code, sections, attachments, files,
// edits, broadcasts, bots, mentions) and a few hostile ones.
func slackSeeds(f *testing.F) [][]byte {
	paths, err := filepath.Glob(filepath.Join("..", "integrations", "slack", "testdata", "*.json"))
	require.NoError(f, err)
	require.NotEmpty(f, paths)
	var seeds [][]byte
	for _, p := range paths {
		b, err := os.ReadFile(p)
		require.NoError(f, err)
		seeds = append(seeds, b)
	}
	wrap := func(blocks string) []byte {
		return []byte(`{"type":"event_callback","event":{"type":"message","text":"t","blocks":` + blocks + `}}`)
	}
	return append(seeds,
		wrap(slackList("ordered", "8", "3", 3)),
		wrap(slackList("bullet", "-1", "-1", 1)),
		wrap(slackNested(12)),
		wrap(slackMany(`{"type":"broadcast","range":"here"},{"type":"channel","channel_id":"C1"},{"type":"usergroup","usergroup_id":"S1"},{"type":"date","text":"today"}`, 3)),
		wrap(`[{"type":"section","text":{"type":"mrkdwn","text":"&gt; quoted\n`+"```"+`code`+"```"+`"},"fields":[{"type":"mrkdwn","text":"<https://x|y>"}]}]`),
	)
}

// slackListsOutOfRange reports whether a top-level rich_text block of
// blocks holds a list whose indent or offset is not a number in range,
// read as SlackMessage reads it. Such a list is always reached, so the
// ticket must say what was wrong with it.
func slackListsOutOfRange(blocks []byte) bool {
	var top []json.RawMessage
	if json.Unmarshal(blocks, &top) != nil {
		return false
	}
	inRange := func(raw json.RawMessage, hi float64) bool {
		s := strings.TrimSpace(string(raw))
		if s == "" || s == "null" {
			return true
		}
		f, err := strconv.ParseFloat(s, 64)
		return err == nil && f >= 0 && f <= hi
	}
	for _, b := range top {
		var n slackNode
		if json.Unmarshal(b, &n) != nil || n.Type != "rich_text" {
			continue
		}
		var els []json.RawMessage
		if json.Unmarshal(n.Elements, &els) != nil {
			continue
		}
		for _, e := range els {
			var l slackNode
			if json.Unmarshal(e, &l) == nil && l.Type == "rich_text_list" &&
				(!inRange(l.Indent, slackMaxIndent) || !inRange(l.Offset, slackMaxOffset)) {
				return true
			}
		}
	}
	return false
}

func FuzzSlack(f *testing.F) {
	for _, s := range slackSeeds(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		var env fuzzSlackEvent
		var te *json.UnmarshalTypeError
		if err := json.Unmarshal(raw, &env); err != nil && !errors.As(err, &te) {
			return // not JSON: the integration drops it before normalizing
		}
		for _, m := range []*fuzzSlackMessage{env.Event, fuzzInner(env.Event, "message"), fuzzInner(env.Event, "root")} {
			if m == nil {
				continue
			}
			var files []SlackFile
			for _, fr := range m.Files {
				files = append(files, SlackFile{Name: string(fr), Text: string(fr), Truncated: len(fr)%2 == 0})
			}
			tk := SlackMessage(SlackInput{Text: m.Text, Blocks: m.Blocks, Attachments: m.Attachments, Files: files}, fuzzLimits)
			require.NotNil(t, tk)
			assert.LessOrEqual(t, len(tk.Parts), fuzzLimits.MaxParts)
			var total int
			for _, p := range tk.Parts {
				total += len(p.Text)
				assert.LessOrEqual(t, int64(len(p.Text)), fuzzLimits.MaxPartBytes)
				assert.True(t, utf8.ValidString(p.Text), "part text is UTF-8")
				assert.True(t, utf8.ValidString(p.Name), "part name is UTF-8")
			}
			assert.LessOrEqual(t, int64(total), fuzzLimits.MaxTextBytes)
			assert.LessOrEqual(t, total, 10*len(raw)+1024, "output is linear in the input")
			assert.LessOrEqual(t, len(tk.Problems), maxProblems+1)
			for _, p := range tk.Problems {
				assert.True(t, utf8.ValidString(p), "problem is UTF-8")
				assert.LessOrEqual(t, len(p), 400, "problem is short")
			}
			if slackListsOutOfRange(m.Blocks) && (hasRichText(m.Blocks) || strings.TrimSpace(m.Text) == "") {
				assert.NotEmpty(t, tk.Problems, "a list out of range is named in Problems")
			}
			if a := bytes.TrimSpace(m.Attachments); len(a) > 0 && a[0] != '[' && string(a) != "null" {
				assert.NotEmpty(t, tk.Problems, "attachments that are not a list are named in Problems")
			}
		}
	})
}

// fuzzInner returns the message's edited message or broadcast root.
func fuzzInner(m *fuzzSlackMessage, which string) *fuzzSlackMessage {
	switch {
	case m == nil:
		return nil
	case which == "message":
		return m.Message
	}
	return m.Root
}
