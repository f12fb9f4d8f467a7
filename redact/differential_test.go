package redact

import (
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// diffPieces are what random lines are made of: the words, separators,
// quotes and shapes each rule looks for, in several cases, and bytes that
// end or break them.
var diffPieces = []string{
	"token", "TOKEN", "Token", "auth", "authtoken", "passw", "ord", "d", "passwd", "secret", "key", "KEY", "api", "access", "signing", "private",
	"_", "-", "--", "add-", "add-authtoken", "add-api-key", ".", `"`, "'", `\`, `\"`, " ", "  ", "\t", ":", "=", "==", ":=",
	"value", "x1", "abc", "é", ",", "&", ";", ")", "(", "]", "[", "}", "{", "<", ">", "@", "/", "//", "://", "https://", "a://",
	"u", "user:", ":pw@", "host", "+", "~", "authorization", "Authorization", "bearer ", "Bearer", "basic ", "BASIC", "digest ",
	"ntlm", "negotiate", "apikey ", "dXNlcjpwYXNz", "QWxhZGRpbjpvcGVuIHNlc2FtZQ==", "=", "12345678", "abcdefghijklmnopqrstu",
	"[REDACTED]", "[redacted]", "ERR_NGROK_108", "err\\_ngrok\\_3", "ERR_NGROK_", "xoxb-", "xapp-", "sk_live_", "rk_test_", "ghp_",
	"gho_", "github_pat_", "glpat-", "0123456789", "AbCdEfGhIjKl", "1aaaaaaaaaaaaaaaaaaaa", "_bbbbbbbbbbbbbbbbbbbb",
	authtoken, apiKey, jwt, "\r", "\f", "\x00", "\xff",
}

func randomLine(r *rand.Rand, n int) string {
	var b strings.Builder
	for range r.IntN(n) {
		b.WriteString(diffPieces[r.IntN(len(diffPieces))])
	}
	return b.String()
}

func pick(r *rand.Rand, xs ...string) string { return xs[r.IntN(len(xs))] }

// nearMatch returns a random line of one to four segments, each close to
// what one rule looks for: the parts of its shape, some of them changed or
// left out.
func nearMatch(r *rand.Rand) string {
	val := func() string {
		return pick(r, "", "abc", "x1", `"q\"w"`, `"open`, "'s q'", "'open", "[REDACTED]", "[redacted]", "-v", "ERR_NGROK_4", "a,b", "(x", "<x", "=y", ":z", "é", "a b", `\`, "\"\\\\\"")
	}
	blank := func() string { return pick(r, "", " ", "\t", "  ") }
	seg := func() string {
		switch r.IntN(6) {
		case 0:
			return pick(r, "", " ", `"`, "'", "x", "\t") + pick(r, "-", "--", "---", "", "add-", "x-") + pick(r, "", "a-", "db-", "a--", "-a-") + pick(r, "token", "authtoken", "auth-token", "api-key", "apikey", "password", "passwd", "secret", "authtoken", "api-key", "tok") + blank() + val()
		case 1:
			return pick(r, "", " ", "x", "1", ".", "_", "+") + pick(r, "https", "a", "1a", "a.b", "a+b-c", "") + pick(r, "://", ":/", "://") + pick(r, "", "u", "u s", "[", "u/") + pick(r, ":", "", "::") + pick(r, "", "p", "p:q", "p/q", "p q", "p@") + pick(r, "@", "", "@@") + pick(r, "", "h", "/x")
		case 2:
			return pick(r, "", " ", "x", ".", "_", "-", `"`, "(") + pick(r, "", "a.", "my_", "a-", "x", ".") + pick(r, "token", "api_key", "apikey", "api-key", "secret_key", "accesskey", "signing-key", "private_key", "password", "passwd", "secret", "key", "tok") + pick(r, "", `"`, "'") + blank() + pick(r, ":", "=", ":=", "==", "=:", "", "===") + blank() + val()
		case 3:
			return pick(r, "", " ", "x", "{\"", "-H '") + pick(r, "authorization", "Authorization", "AUTHORIZATIONx") + pick(r, "", `"`, "'") + blank() + pick(r, ":", "=", "") + blank() + pick(r, "", `"`, "'") + pick(r, "", "Bearer", "basic", "key", "apikey", "ntlm", "digest") + blank() + val()
		case 4:
			return pick(r, "", " ", "x", "_") + pick(r, "bearer", "Basic", "BEARER", "basic") + blank() + pick(r, "abcdefgh", "abc", "dXNlcjpwYXNz", "a-b.c~d+e/f", "[REDACTED]", "1234567", "ERR_NGROK_108", "abcdefgh===", "ab+/cdef=") + pick(r, "", "=", "==", "===", " ")
		default:
			return pick(r, "", " ", "a", "_", "-") + pick(r, "xoxb-", "xoxz-", "xapp-", "ghp_", "ghx_", "sk_live_", "rk_test_", "github_pat_", "glpat-") + pick(r, "a", "1", "_", "-", "") + pick(r, "bcdefghij", "bcd", "bcdefgh-_", "") + pick(r, "", " ", ".", "x")
		}
	}
	var b strings.Builder
	for range 1 + r.IntN(4) {
		b.WriteString(seg())
	}
	return b.String()
}

// TestRulesMatchReference: each scanner finds what the regular expression
// it replaced found, on random lines.
func TestRulesMatchReference(t *testing.T) {
	require.Equal(t, len(refRules), len(rules))
	r := rand.New(rand.NewPCG(7, 8))
	for n := range 80000 {
		in := randomLine(r, 14)
		if n%2 == 0 {
			in = nearMatch(r)
		}
		for i, rl := range rules {
			want := refRules[i].apply(in)
			l := line{s: in, lower: asciiLower(in)}
			l.spans = rl.find(&l, nil)
			l.replace(rl)
			require.Equal(t, want, l.s, "rule %d on %q", i, in)
		}
	}
}

// TestStringMatchesReference: String gives what the regular-expression
// implementation gave, on random texts of several lines.
func TestStringMatchesReference(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	for n := range 20000 {
		in := randomLine(r, 24)
		if n%2 == 0 {
			in = nearMatch(r)
		}
		if r.IntN(4) == 0 {
			in += "\n" + randomLine(r, 12)
		}
		require.Equal(t, refString(in), String(in), "%q", in)
	}
}
