package normalize

import (
	"bytes"
	"strings"
	"testing"
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
