package redact

import (
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// adversarial is an input shape built to make a scanner go back over text
// it has passed: keywords, separators and credential runs repeated on one
// line with nothing in between.
type adversarial struct {
	name string
	unit string // repeated to the wanted size
}

var adversarials = []adversarial{
	{"key", "key"},
	{"token", "token"},
	{"dash_key", "-key"},
	{"password_eq", "password="},
	{"secret_colon", "secret:"},
	{"token_eq_quote", `token="`},
	{"flag_token", "--token "},
	{"base64", "QWxhZGRpbjpvcGVuIHNlc2FtZQ"},
	{"bearer_base64", "Bearer QWxhZGRpbjpvcGVuIHNlc2FtZQ "},
	{"equals", "="},
	{"colons", ":"},
	{"url_userinfo", "https://ana:hunter2@db.example/"},
	{"scheme_colon", "a://b:"},
	{"underscores", "1aaaaaaaaaaaaaaaaaaaa_"},
	{"authorization", "authorization:"},
	{"vendor_prefix", "xoxb-"},
	{"url_key_vendor", "://:pw@authtokenglpat-"}, // the most work per byte a random search found
}

// line returns a's unit repeated to n bytes on one line.
func (a adversarial) line(n int) string {
	return strings.Repeat(a.unit, n/len(a.unit)+1)[:n]
}

// BenchmarkStringAdversarial runs String on one megabyte of each
// adversarial shape: each must take about as long as ordinary text.
func BenchmarkStringAdversarial(b *testing.B) {
	for _, a := range adversarials {
		text := a.line(1 << 20)
		b.Run(a.name, func(b *testing.B) {
			b.SetBytes(int64(len(text)))
			for b.Loop() {
				String(text)
			}
		})
	}
}

// workPerByte bounds line.work per byte of input. A scanner that went
// back over the line from each keyword would need work growing with the
// line (a megabyte of "key" is 350,000 keywords); the rules as written
// stay between 2 and 40.
const workPerByte = 128

// TestStringWorkIsLinear counts the bytes the scanners step over on a
// megabyte of each adversarial line: at most workPerByte per byte, and
// no more per byte than on 64 KB of the same shape.
func TestStringWorkIsLinear(t *testing.T) {
	for _, a := range adversarials {
		t.Run(a.name, func(t *testing.T) {
			perByte := func(n int) float64 {
				s := a.line(n)
				l := line{s: s, lower: asciiLower(s)}
				l.redact(lookAt(s, l.lower).anchored)
				require.Positive(t, l.work)
				return float64(l.work) / float64(n)
			}
			small, large := perByte(64<<10), perByte(1<<20)
			assert.LessOrEqual(t, large, float64(workPerByte))
			assert.LessOrEqual(t, large, small*1.01, "work per byte grows with the line")
		})
	}
}

// TestAdversarialMatchesReference: on the adversarial shapes, and on
// random short units repeated, String gives what the regular-expression
// implementation gave.
func TestAdversarialMatchesReference(t *testing.T) {
	for _, a := range adversarials {
		for _, n := range []int{1 << 10, 3<<10 + 1} {
			in := a.line(n)
			require.Equal(t, refString(in), String(in), "%s × %d bytes", a.name, n)
		}
	}
	r := rand.New(rand.NewPCG(21, 22))
	for range 3000 {
		unit := randomLine(r, 6)
		if unit == "" {
			continue
		}
		in := strings.Repeat(unit, 300/len(unit)+1)
		require.Equal(t, refString(in), String(in), "%q repeated", unit)
	}
}
