package normalize

import (
	"bufio"
	"bytes"
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-message/textproto"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/triage-bot/triage/ticket"
)

// adversarialHeader is a message whose header is built to be expensive.
type adversarialHeader struct {
	name string
	msg  []byte
}

// adversarialHeaders are the header shapes of issue 16: an unclosed
// comment of size bytes in each parsed field, many fields, one long
// folded field. A size of 1,000,000 stays under go-message's 1 MiB
// header cap, so the same inputs ran before the header bounds existed.
func adversarialHeaders(size int) []adversarialHeader {
	base := map[string]string{
		"From": "ana@customer.example", "To": "support@triage.example",
		"Subject": "tunnel down", "Message-ID": "<m1@customer.example>",
	}
	order := []string{"From", "To", "Subject", "Message-ID"}
	msg := func(field, value string) []byte {
		var b bytes.Buffer
		for _, k := range order {
			if k != field {
				b.WriteString(k + ": " + base[k] + "\r\n")
			}
		}
		if field != "" {
			b.WriteString(field + ": " + value + "\r\n")
		}
		return b.Bytes()
	}
	body := "\r\nERR_NGROK_108 again\r\n"
	comment := "(" + strings.Repeat("a", size)
	var cases []adversarialHeader
	for _, f := range []string{"Message-ID", "In-Reply-To", "References", "From", "To", "Subject"} {
		cases = append(cases, adversarialHeader{strings.ToLower(f) + "-comment", append(msg(f, comment), body...)})
	}
	var many bytes.Buffer
	many.Write(msg("", ""))
	for many.Len() < size*4/5 {
		many.WriteString("X-F: v\r\n")
	}
	cases = append(cases, adversarialHeader{"many-fields", append(many.Bytes(), body...)})
	var folded bytes.Buffer
	folded.Write(msg("", ""))
	folded.WriteString("X-Folded: a\r\n")
	for folded.Len() < size*10 {
		folded.WriteString(" aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n")
	}
	cases = append(cases, adversarialHeader{"folded-10x", append(folded.Bytes(), body...)})
	return cases
}

// BenchmarkHeaders reads each adversarial header shape of 1 MB (10 MB for
// the folded field; 100,000 fields for many-fields).
func BenchmarkHeaders(b *testing.B) {
	for _, c := range adversarialHeaders(1_000_000) {
		b.Run(c.name, func(b *testing.B) {
			b.SetBytes(int64(len(c.msg)))
			b.ReportAllocs()
			for b.Loop() {
				_, _ = Message(bytes.NewReader(c.msg), Limits{})
			}
		})
	}
}

func TestMessageAdversarialHeaders(t *testing.T) {
	for _, c := range adversarialHeaders(1_000_000) {
		t.Run(c.name, func(t *testing.T) {
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			start := time.Now()
			tk, err := Message(bytes.NewReader(c.msg), Limits{})
			elapsed := time.Since(start)
			runtime.ReadMemStats(&after)
			require.NoError(t, err)
			allocated := after.TotalAlloc - before.TotalAlloc
			t.Logf("%d bytes of header: %s, %d KiB allocated", len(c.msg), elapsed, allocated>>10)
			// Bounded by the header limits, not by the 1-10 MB input; on
			// an idle machine this is a few milliseconds and under 2 MiB.
			assert.Less(t, allocated, uint64(16<<20), "allocation follows the header limits")

			for _, s := range append([]string{tk.From, tk.Subject}, tk.To...) {
				assert.LessOrEqual(t, len(s), DefaultMaxHeaderFieldBytes)
			}
			for _, id := range append([]string{tk.MessageID, tk.InReplyTo}, tk.References...) {
				assert.True(t, id == "" || validMsgID(id), "id %.80q", id)
			}
			assert.NotContains(t, tk.MessageID, "aaaa", "the comment is not stored as the Message-ID")
			if c.name != "message-id-comment" {
				assert.Equal(t, "m1@customer.example", tk.MessageID)
			}
			require.NotEmpty(t, tk.Parts)
			assert.Equal(t, "ERR_NGROK_108 again", tk.Parts[len(tk.Parts)-1].Text, "the body is read")
			assert.NotEmpty(t, tk.Problems, "what was cut is said")
		})
	}
}

func TestMessageHeaderBounds(t *testing.T) {
	tests := []struct {
		name     string
		msg      string
		lim      Limits
		check    func(t *testing.T, tk *ticket.Ticket)
		problems []string
	}{
		{
			name: "a header block of 2 MiB is read, not refused",
			msg:  hdr + "X-Big: " + strings.Repeat("a", 2<<20) + "\r\n\r\nERR_NGROK_108\r\n",
			check: func(t *testing.T, tk *ticket.Ticket) {
				assert.Equal(t, "ERR_NGROK_108", tk.Parts[len(tk.Parts)-1].Text)
			},
			problems: []string{"cut to that length: X-Big (2097159 bytes)"},
		},
		{
			name: "subject cut on a character boundary",
			msg:  "From: a@example.org\r\nSubject: " + strings.Repeat("é", 100) + "\r\n\r\nbody\r\n",
			lim:  Limits{MaxHeaderFieldBytes: 20},
			check: func(t *testing.T, tk *ticket.Ticket) {
				assert.Equal(t, strings.Repeat("é", 5), tk.Subject)
			},
			problems: []string{"longer than 20 bytes were cut to that length: Subject (209 bytes)"},
		},
		{
			name: "references keep their end",
			msg: "From: a@example.org\r\nReferences: <r1@x.example>\r\n <r2@x.example>\r\n\t<r3@x.example> <r4@x.example>\r\n" +
				"Subject: s\r\n\r\nbody\r\n",
			lim: Limits{MaxHeaderFieldBytes: 45},
			check: func(t *testing.T, tk *ticket.Ticket) {
				assert.Equal(t, []string{"r3@x.example", "r4@x.example"}, tk.References)
				assert.Equal(t, "s", tk.Subject)
			},
			problems: []string{"longer than 45 bytes were cut to that length: References (71 bytes)"},
		},
		{
			name: "fields past the budget are skipped, vital ones kept",
			msg: "From: a@example.org\r\nX-A: 1\r\nX-B: 2\r\nX-C: 3\r\nSubject: late\r\nList-Id: <l.example>\r\n" +
				"Subject: second\r\nX-D: 4\r\n\r\nbody\r\n",
			lim: Limits{MaxHeaderFields: 3},
			check: func(t *testing.T, tk *ticket.Ticket) {
				assert.Equal(t, "late", tk.Subject)
				assert.Equal(t, "<l.example>", tk.Headers["List-Id"])
			},
			problems: []string{"more than 3 fields or 262144 bytes; 3 later fields (27 bytes) were skipped"},
		},
		{
			name:     "many cut fields make one problem",
			msg:      "From: a@example.org\r\n" + strings.Repeat("X-Long: "+strings.Repeat("x", 30)+"\r\n", 7) + "\r\nbody\r\n",
			lim:      Limits{MaxHeaderFieldBytes: 20},
			check:    func(t *testing.T, tk *ticket.Ticket) { assert.Equal(t, "body", tk.Parts[0].Text) },
			problems: []string{"X-Long (38 bytes), X-Long (38 bytes), X-Long (38 bytes), X-Long (38 bytes), X-Long (38 bytes) and 2 more"},
		},
		{
			name: "a forwarded message's header is bounded too",
			msg: hdr + "Content-Type: message/rfc822\r\n\r\nSubject: inner\r\nMessage-ID: (" + strings.Repeat("a", 100) +
				"\r\nX-Pad: " + strings.Repeat("p", 100) + "\r\n\r\nERR_NGROK_334\r\n",
			lim: Limits{MaxHeaderFieldBytes: 64},
			check: func(t *testing.T, tk *ticket.Ticket) {
				assert.Equal(t, "ERR_NGROK_334", tk.Parts[len(tk.Parts)-1].Text)
			},
			problems: []string{"part 1 (forwarded message): header fields longer than 64 bytes were cut to that length: Message-ID (113 bytes), X-Pad (107 bytes)"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tk, err := Message(strings.NewReader(tt.msg), tt.lim)
			require.NoError(t, err)
			require.NotEmpty(t, tk.Parts)
			tt.check(t, tk)
			require.Len(t, tk.Problems, len(tt.problems), "%q", tk.Problems)
			for i, p := range tt.problems {
				assert.Contains(t, tk.Problems[i], p)
			}
		})
	}
}

// TestReadHeaderAsGoMessage reads ordinary header blocks through a tiny
// buffer, so that lines and CRLFs are split across reads, and checks
// that within the limits the result is exactly go-message's own.
func TestReadHeaderAsGoMessage(t *testing.T) {
	blocks := []string{
		"From: a@example.org\r\nSubject: one\r\n two\r\n\tthree\r\n\r\n",
		"From: a@example.org\nTo: b@example.org,\n c@example.org\n\n",
		"X-Empty:\r\nX-Spaces:    \r\nX-Cr: a\rb\r\nSubject: =?utf-8?q?caf=C3=A9?=\r\n =?utf-8?q?_ERR=5FNGROK=5F108?=\r\n\r\n",
		"Received: from x (" + strings.Repeat("y", 500) + ")\r\n\tby z\r\nSubject: s\r\n",
		"From: only@example.org",
	}
	for i, block := range blocks {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			want, err := textproto.ReadHeader(bufio.NewReader(strings.NewReader(block)))
			require.NoError(t, err)
			got, problems, err := readHeader(bufio.NewReaderSize(strings.NewReader(block), 16), Limits{}.withDefaults())
			require.NoError(t, err)
			assert.Empty(t, problems)
			assert.Equal(t, fieldsOf(want), fieldsOf(got))
		})
	}
}

func fieldsOf(h textproto.Header) [][2]string {
	var out [][2]string
	for f := h.Fields(); f.Next(); {
		out = append(out, [2]string{f.Key(), f.Value()})
	}
	return out
}

func TestParseMsgIDs(t *testing.T) {
	long := strings.Repeat("x", 240) + "@example.org"
	tests := []struct {
		in   string
		want []string
		bad  int
	}{
		{"<a@b.example>", []string{"a@b.example"}, 0},
		{"  (comment (nested) \\) ) <a@b.example> (after)", []string{"a@b.example"}, 0},
		{"a@b.example", []string{"a@b.example"}, 0},
		{"<a@b.example>, <c@d.example>\r\n\t<e@[192.0.2.1]>", []string{"a@b.example", "c@d.example", "e@[192.0.2.1]"}, 0},
		{"<a b@c.example>", nil, 1},
		{"(" + strings.Repeat("a", 1000), nil, 0},
		{"<" + long + ">", nil, 1},
		{"<a@b@c.example> <\"q\"@x.example> <no-at> <@x> <x@> <a@b.example", nil, 6},
		{"<ok@x.example> <caf\xc3\xa9@x.example> <ctl\x01@x.example>", []string{"ok@x.example"}, 2},
		{"<a(b)@x.example> <a,b@x.example> <a\\b@x.example>", nil, 3},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%.40q", tt.in), func(t *testing.T) {
			got, bad := parseMsgIDs(tt.in, 0)
			assert.Equal(t, tt.want, got)
			assert.Equal(t, tt.bad, bad)
		})
	}
	assert.Equal(t, "a@b.example", ParseMessageID("junk <a@b.example> <c@d.example>"))
	assert.Empty(t, ParseMessageID("("+strings.Repeat("a", 1<<20)))
	longest := strings.Repeat("x", 238) + "@example.org"
	require.Len(t, longest, maxMsgIDLen)
	assert.Equal(t, longest, ParseMessageID("<"+longest+">"))
	assert.Empty(t, ParseMessageID("<x"+longest+">"))
}
