package redact

import (
	"strings"
	"testing"
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
