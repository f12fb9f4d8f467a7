package normalize

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"io"
	"runtime"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/triage-bot/triage/ticket"
)

// genReader streams head, then body repeated up to n bytes, then tail,
// without holding the whole message in memory.
type genReader struct {
	head, body, tail []byte
	n                int64 // body bytes still to give
	off              int
	stage            int
}

func newGen(head, body, tail string, n int64) *genReader {
	return &genReader{head: []byte(head), body: []byte(body), tail: []byte(tail), n: n}
}

func (g *genReader) Read(p []byte) (int, error) {
	for {
		switch g.stage {
		case 0:
			if g.off < len(g.head) {
				n := copy(p, g.head[g.off:])
				g.off += n
				return n, nil
			}
			g.stage, g.off = 1, 0
		case 1:
			if g.n > 0 {
				chunk := g.body[g.off:]
				if int64(len(chunk)) > g.n {
					chunk = chunk[:g.n]
				}
				n := copy(p, chunk)
				g.n -= int64(n)
				g.off = (g.off + n) % len(g.body)
				return n, nil
			}
			g.stage, g.off = 2, 0
		case 2:
			if g.off < len(g.tail) {
				n := copy(p, g.tail[g.off:])
				g.off += n
				return n, nil
			}
			return 0, io.EOF
		}
	}
}

const hdr = "From: big@example.org\r\nTo: support@triage.example\r\nSubject: big\r\nMIME-Version: 1.0\r\n"

func TestMessageHugeBoundedMemory(t *testing.T) {
	const size = 50 << 20
	const partLimit = 1 << 20
	line := "2026-11-24 10:00:00 INFO agent heartbeat ok ERR_NGROK_108 seen\r\n"
	b64line := base64.StdEncoding.EncodeToString([]byte(strings.Repeat("log line with ERR_NGROK_727 in it\n", 2)[:57])) + "\r\n"
	tests := []struct {
		name            string
		msg             func() io.Reader
		wantKind        ticket.PartKind
		wantAfterBinary bool
	}{
		{
			name: "plain body",
			msg: func() io.Reader {
				return newGen(hdr+"Content-Type: text/plain\r\n\r\n", line, "", size)
			},
			wantKind: ticket.KindBody,
		},
		{
			name: "html body",
			msg: func() io.Reader {
				return newGen(hdr+"Content-Type: text/html\r\n\r\n", "<div><span>ERR_</span>NGROK_108 row</div>\r\n", "", size)
			},
			wantKind: ticket.KindBody,
		},
		{
			name: "base64 log attachment",
			msg: func() io.Reader {
				return newGen(hdr+"Content-Type: multipart/mixed; boundary=B\r\n\r\n--B\r\nContent-Type: text/plain\r\n\r\nsee log\r\n--B\r\n"+
					"Content-Type: application/octet-stream\r\nContent-Disposition: attachment; filename=agent.log\r\nContent-Transfer-Encoding: base64\r\n\r\n",
					b64line, "\r\n--B--\r\n", size)
			},
			wantKind: ticket.KindAttachment,
		},
		{
			name: "binary attachment then text",
			msg: func() io.Reader {
				return newGen(hdr+"Content-Type: multipart/mixed; boundary=B\r\n\r\n--B\r\n"+
					"Content-Type: image/png\r\nContent-Transfer-Encoding: base64\r\n\r\n",
					"iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==\r\n",
					"\r\n--B\r\nContent-Type: text/plain\r\n\r\nafter the image: ERR_NGROK_3200\r\n--B--\r\n", size)
			},
			wantKind:        ticket.KindBody,
			wantAfterBinary: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			lim := Limits{MaxPartBytes: partLimit}
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			tk, err := Message(tt.msg(), lim)
			runtime.ReadMemStats(&after)
			require.NoError(t, err)

			allocated := after.TotalAlloc - before.TotalAlloc
			t.Logf("allocated %d KiB for a %d MiB message", allocated>>10, size>>20)
			// Allocation (an upper bound of the peak heap) follows the part limit,
			// not the 50 MiB input.
			assert.Less(t, allocated, uint64(6*partLimit), "allocation must depend on the part limit, not the message size")

			var found bool
			for _, p := range tk.Parts {
				assert.LessOrEqual(t, len(p.Text), partLimit)
				if p.Kind == tt.wantKind {
					found = true
					if !tt.wantAfterBinary {
						assert.True(t, p.Truncated, "part %q", p.Name)
					}
				}
			}
			assert.True(t, found, "a %s part", tt.wantKind)
			if tt.wantAfterBinary {
				require.Len(t, tk.Parts, 2)
				assert.Equal(t, "after the image: ERR_NGROK_3200", tk.Parts[1].Text)
			} else {
				assert.NotEmpty(t, tk.Problems)
			}
		})
	}
}

// nestedMultipart builds a message with depth nested multipart/mixed
// levels, each with a text part before the next level.
func nestedMultipart(depth int) string {
	var b strings.Builder
	b.WriteString(hdr)
	for i := 0; i < depth; i++ {
		fmt.Fprintf(&b, "Content-Type: multipart/mixed; boundary=b%d\r\n\r\n--b%d\r\nContent-Type: text/plain\r\n\r\nlevel %d ERR_NGROK_%d\r\n--b%d\r\n", i, i, i, 100+i, i)
	}
	b.WriteString("Content-Type: text/plain\r\n\r\nbottom\r\n")
	for i := depth - 1; i >= 0; i-- {
		fmt.Fprintf(&b, "--b%d--\r\n", i)
	}
	return b.String()
}

func TestMessageDeepNesting(t *testing.T) {
	for _, depth := range []int{1000, 50000} {
		t.Run(fmt.Sprint(depth), func(t *testing.T) {
			tk, err := Message(strings.NewReader(nestedMultipart(depth)), Limits{})
			require.NoError(t, err)
			var bodies []string
			for _, p := range tk.Parts {
				if p.Kind == ticket.KindBody {
					bodies = append(bodies, p.Text)
				}
			}
			require.Len(t, bodies, DefaultMaxDepth)
			assert.Equal(t, "level 0 ERR_NGROK_100", bodies[0])
			assert.Equal(t, fmt.Sprintf("level %d ERR_NGROK_%d", DefaultMaxDepth-1, 100+DefaultMaxDepth-1), bodies[DefaultMaxDepth-1])
			require.Len(t, tk.Problems, 1)
			assert.Contains(t, tk.Problems[0], "nested deeper than 32 levels")
		})
	}
}

func TestMessageLimits(t *testing.T) {
	manyParts := func(n int) string {
		var b strings.Builder
		b.WriteString(hdr + "Content-Type: multipart/mixed; boundary=B\r\n\r\n")
		for i := 0; i < n; i++ {
			fmt.Fprintf(&b, "--B\r\nContent-Type: text/plain\r\n\r\npart %d\r\n", i)
		}
		b.WriteString("--B--\r\n")
		return b.String()
	}
	tests := []struct {
		name      string
		msg       string
		lim       Limits
		wantParts int
		problem   string
	}{
		{
			name:      "max parts",
			msg:       manyParts(50),
			lim:       Limits{MaxParts: 10},
			wantParts: 10,
			problem:   "more than 10",
		},
		{
			name:      "max text bytes",
			msg:       manyParts(50),
			lim:       Limits{MaxTextBytes: 40},
			wantParts: 8, // "big" + 6 × "part n" = 39 bytes, then 1 byte of "part 6", truncated
			problem:   "text limit of 40 bytes",
		},
		{
			name:      "max message bytes",
			msg:       hdr + "\r\n" + strings.Repeat("x", 1000),
			lim:       Limits{MaxMessageBytes: 200},
			wantParts: 2,
			problem:   "larger than 200 bytes",
		},
		{
			name:      "max part bytes",
			msg:       hdr + "\r\n" + strings.Repeat("é", 100),
			lim:       Limits{MaxPartBytes: 51},
			wantParts: 2,
			problem:   "longer than 51 bytes",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tk, err := Message(strings.NewReader(tt.msg), tt.lim)
			require.NoError(t, err)
			assert.Len(t, tk.Parts, tt.wantParts)
			require.NotEmpty(t, tk.Problems)
			assert.Contains(t, strings.Join(tk.Problems, "\n"), tt.problem)
			lim := tt.lim.withDefaults()
			var total int64
			for _, p := range tk.Parts {
				total += int64(len(p.Text))
				assert.LessOrEqual(t, int64(len(p.Text)), lim.MaxPartBytes)
			}
			assert.LessOrEqual(t, total, lim.MaxTextBytes)
		})
	}
}

func TestMessagePartTruncatedOnCharBoundary(t *testing.T) {
	tk, err := Message(strings.NewReader(hdr+"\r\n"+strings.Repeat("é", 100)), Limits{MaxPartBytes: 51})
	require.NoError(t, err)
	require.Len(t, tk.Parts, 2)
	assert.Equal(t, strings.Repeat("é", 25), tk.Parts[1].Text)
	assert.True(t, tk.Parts[1].Truncated)
}

func TestMessageErrors(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want string
	}{
		{"empty", "", "empty"},
		{"only a bom", "\xef\xbb\xbf", "empty"},
		{"not a header", "just some text\nmore text\n", "header block"},
		{"blank first line", "\nFrom: x@example.org\n", "no header fields"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tk, err := Message(strings.NewReader(tt.in), Limits{})
			require.Error(t, err)
			assert.Nil(t, tk)
			assert.Contains(t, err.Error(), tt.want)
			assert.True(t, strings.HasPrefix(err.Error(), "normalize: "))
		})
	}
}

func TestMessageReadError(t *testing.T) {
	r := io.MultiReader(strings.NewReader(hdr+"\r\nfirst line ERR_NGROK_108\r\n"), errReader{})
	tk, err := Message(r, Limits{})
	require.NoError(t, err)
	require.Len(t, tk.Parts, 2)
	assert.Equal(t, "first line ERR_NGROK_108", tk.Parts[1].Text)
	assert.Contains(t, strings.Join(tk.Problems, "\n"), "disk on fire")
}

type errReader struct{}

func (errReader) Read([]byte) (int, error) { return 0, fmt.Errorf("disk on fire") }

func TestMessageMalformedShapes(t *testing.T) {
	tests := []struct {
		name     string
		msg      string
		want     []string // texts of the non-subject parts
		problems []string // substrings, in order
	}{
		{
			name:     "missing closing boundary",
			msg:      hdr + "Content-Type: multipart/mixed; boundary=B\r\n\r\n--B\r\nContent-Type: text/plain\r\n\r\nERR_NGROK_108 cut off",
			want:     []string{"ERR_NGROK_108 cut off"},
			problems: []string{"ends before this part is complete"},
		},
		{
			name:     "multipart without boundary",
			msg:      hdr + "Content-Type: multipart/mixed\r\n\r\nERR_NGROK_120 anyway\r\n",
			want:     []string{"ERR_NGROK_120 anyway"},
			problems: []string{"without a boundary"},
		},
		{
			name: "bad content-type parameters keep the charset",
			msg:  hdr + "Content-Type: text/plain; charset=iso-8859-1; format=flowed;;; =x\r\n\r\ncaf\xe9 ERR_NGROK_4018\r\n",
			want: []string{"café ERR_NGROK_4018"},
		},
		{
			name:     "unknown transfer encoding",
			msg:      hdr + "Content-Type: text/plain\r\nContent-Transfer-Encoding: x-made-up\r\n\r\nERR_NGROK_334\r\n",
			want:     []string{"ERR_NGROK_334"},
			problems: []string{`unknown transfer encoding "x-made-up"`},
		},
		{
			name:     "labelled x-uuencode but not uuencoded",
			msg:      hdr + "Content-Type: text/plain\r\nContent-Transfer-Encoding: x-uuencode\r\n\r\nERR_NGROK_334\r\n",
			want:     []string{"ERR_NGROK_334"},
			problems: []string{`labelled "x-uuencode" but not uuencoded`},
		},
		{
			name: "charset on a json attachment",
			msg: hdr + "Content-Type: multipart/mixed; boundary=B\r\n\r\n--B\r\nContent-Type: application/json; charset=windows-1252\r\n" +
				"Content-Disposition: attachment; filename=e.json\r\n\r\n{\"msg\": \"\x93ERR_NGROK_225\x94\"}\r\n--B--\r\n",
			want: []string{"{\"msg\": \"“ERR_NGROK_225”\"}"},
		},
		{
			name: "text file that is binary",
			msg: hdr + "Content-Type: multipart/mixed; boundary=B\r\n\r\n--B\r\nContent-Type: application/octet-stream\r\n" +
				"Content-Disposition: attachment; filename=dump.log\r\n\r\n\x00\x01\x02ERR_NGROK_1\r\n--B--\r\n",
			problems: []string{"looks like binary data"},
		},
		{
			name: "digest parts default to rfc822",
			msg:  hdr + "Content-Type: multipart/digest; boundary=D\r\n\r\n--D\r\n\r\nSubject: inner one\r\n\r\nERR_NGROK_6022\r\n--D--\r\n",
			want: []string{"inner one", "ERR_NGROK_6022"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tk, err := Message(strings.NewReader(tt.msg), Limits{})
			require.NoError(t, err)
			var got []string
			for _, p := range tk.Parts {
				if p.Kind != ticket.KindSubject {
					got = append(got, p.Text)
				}
			}
			assert.Equal(t, tt.want, got)
			require.Len(t, tk.Problems, len(tt.problems), "%q", tk.Problems)
			for i, p := range tt.problems {
				assert.Contains(t, tk.Problems[i], p)
			}
		})
	}
}

func TestText(t *testing.T) {
	tests := []struct {
		name     string
		in       string
		lim      Limits
		parts    []ticket.Part
		problems int
	}{
		{
			name:  "plain log",
			in:    "\xef\xbb\xbf2026-11-24 ERROR: ERR_NGROK_108\r\nline 2\r\n",
			parts: []ticket.Part{{Kind: ticket.KindBody, ContentType: "text/plain", Text: "2026-11-24 ERROR: ERR_NGROK_108\nline 2"}},
		},
		{
			name: "pasted reply",
			in:   "new ERR_NGROK_120\n> old ERR_NGROK_108\n",
			parts: []ticket.Part{
				{Kind: ticket.KindBody, ContentType: "text/plain", Text: "new ERR_NGROK_120"},
				{Kind: ticket.KindQuoted, ContentType: "text/plain", Text: "> old ERR_NGROK_108"},
			},
		},
		{
			name:     "truncated",
			in:       strings.Repeat("a", 100),
			lim:      Limits{MaxPartBytes: 10},
			parts:    []ticket.Part{{Kind: ticket.KindBody, ContentType: "text/plain", Text: "aaaaaaaaaa", Truncated: true}},
			problems: 1,
		},
		{
			name:     "invalid utf8",
			in:       "a\xffb",
			parts:    []ticket.Part{{Kind: ticket.KindBody, ContentType: "text/plain", Text: "a\ufffdb"}},
			problems: 1,
		},
		{name: "empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tk, err := Text("notes.txt", strings.NewReader(tt.in), tt.lim)
			require.NoError(t, err)
			assert.Equal(t, "file", tk.Source)
			assert.Equal(t, "notes.txt", tk.Channel)
			assert.Empty(t, tk.Subject)
			assert.Equal(t, tt.parts, tk.Parts)
			assert.Len(t, tk.Problems, tt.problems)
		})
	}
}

func TestTextReadError(t *testing.T) {
	_, err := Text("broken.txt", errReader{}, Limits{})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "broken.txt")

	tk, err := Text("half.txt", io.MultiReader(bytes.NewReader([]byte("ERR_NGROK_108\n")), errReader{}), Limits{})
	require.NoError(t, err)
	require.Len(t, tk.Parts, 1)
	assert.Equal(t, "ERR_NGROK_108", tk.Parts[0].Text)
	assert.Len(t, tk.Problems, 1)
}
