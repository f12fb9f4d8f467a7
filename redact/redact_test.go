package redact

import (
	"math/rand/v2"
	"strings"
	"testing"
	"unsafe"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Fake secrets of the real shapes. None of them is a real credential.
const (
	authtoken = "2abcDEFfakeTOKEN0000000000_1A2b3C4d5E6f7G8h9I0j"
	apiKey    = "1xYzFAKEapiKEY99999999999_9Z8y7X6w5V4u3T2s1R0q"
	jwt       = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0In0.c2lnbmF0dXJlMTIz"
)

func TestString(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want string
	}{
		// ngrok authtokens and API keys on their own.
		{"bare authtoken", "my token is " + authtoken + " thanks", "my token is [REDACTED] thanks"},
		{"bare api key", "key " + apiKey + ".", "key [REDACTED]."},
		{"authtoken in log line", `t=2024-05-01T10:00:00Z lvl=eror msg="session closed" tok=` + authtoken, `t=2024-05-01T10:00:00Z lvl=eror msg="session closed" tok=[REDACTED]`},
		{"two tokens", authtoken + "," + apiKey, "[REDACTED],[REDACTED]"},

		// Key-value forms.
		{"yaml authtoken", "agent:\n  authtoken: " + authtoken + "\n", "agent:\n  authtoken: [REDACTED]\n"},
		{"yaml quoted", `authtoken: "hunter2"`, `authtoken: "[REDACTED]"`},
		{"toml spaces", `authtoken = 'hunter2'`, `authtoken = '[REDACTED]'`},
		{"env authtoken", "NGROK_AUTHTOKEN=hunter2", "NGROK_AUTHTOKEN=[REDACTED]"},
		{"env export", `export NGROK_API_KEY="abc123"`, `export NGROK_API_KEY="[REDACTED]"`},
		{"api_key", "api_key: abc123", "api_key: [REDACTED]"},
		{"apikey", "apikey=abc123", "apikey=[REDACTED]"},
		{"api-key", "api-key: abc123", "api-key: [REDACTED]"},
		{"password", "password: correct-horse", "password: [REDACTED]"},
		{"db password env", "DB_PASSWORD=s3cr3t!", "DB_PASSWORD=[REDACTED]"},
		{"passwd", "passwd=abc", "passwd=[REDACTED]"},
		{"secret", "client_secret: abc.def", "client_secret: [REDACTED]"},
		{"token", "token: abcdef", "token: [REDACTED]"},
		{"slack bot token env", "SLACK_BOT_TOKEN=whatever", "SLACK_BOT_TOKEN=[REDACTED]"},
		{"aws secret key", "aws_secret_access_key = abc/def+ghi", "aws_secret_access_key = [REDACTED]"},
		{"json", `{"authtoken": "` + authtoken + `", "region": "eu"}`, `{"authtoken": "[REDACTED]", "region": "eu"}`},
		{"json no space", `{"password":"p\"w","user":"ana"}`, `{"password":"[REDACTED]","user":"ana"}`},
		{"json number", `{"token":12345}`, `{"token":[REDACTED]}`},
		{"query string", "GET /hook?token=abc123&page=2 HTTP/1.1", "GET /hook?token=[REDACTED]&page=2 HTTP/1.1"},
		{"go assignment", `token := "abc"`, `token := "[REDACTED]"`},
		{"value stops at comma", "password=abc, user=ana", "password=[REDACTED], user=ana"},
		{"several on a line", "user=ana password=pw1 token=tk2", "user=ana password=[REDACTED] token=[REDACTED]"},

		// Command lines.
		{"flag with space", "ngrok http 80 --authtoken " + authtoken, "ngrok http 80 --authtoken [REDACTED]"},
		{"flag with equals", "ngrok http 80 --authtoken=hunter2 --log=stdout", "ngrok http 80 --authtoken=[REDACTED] --log=stdout"},
		{"api key flag", "ngrok api --api-key abc123 endpoints list", "ngrok api --api-key [REDACTED] endpoints list"},
		{"add-authtoken", "ngrok config add-authtoken abc123", "ngrok config add-authtoken [REDACTED]"},
		{"add-api-key", "ngrok config add-api-key abc123", "ngrok config add-api-key [REDACTED]"},
		{"password flag", "psql --password hunter2", "psql --password [REDACTED]"},
		{"flag followed by flag", "run --token --verbose", "run --token --verbose"},

		// HTTP authorization.
		{"authorization bearer", "Authorization: Bearer " + jwt, "Authorization: Bearer [REDACTED]"},
		{"authorization basic", "authorization: Basic dXNlcjpwYXNz", "authorization: Basic [REDACTED]"},
		{"authorization curl", `curl -H "Authorization: Bearer abc123" https://api.ngrok.com`, `curl -H "Authorization: Bearer [REDACTED]" https://api.ngrok.com`},
		{"authorization json", `{"Authorization": "Bearer abc123"}`, `{"Authorization": "Bearer [REDACTED]"}`},
		{"bare bearer", "sent Bearer " + jwt + " to the API", "sent Bearer [REDACTED] to the API"},
		{"bare basic", "with Basic dXNlcjpwYXNzd29yZA==", "with Basic [REDACTED]"},

		// URLs.
		{"url password", "https://user:pass@host/", "https://user:[REDACTED]@host/"},
		{"postgres url", "DATABASE_URL=postgres://app:s3cr3t@db.internal:5432/app", "DATABASE_URL=postgres://app:[REDACTED]@db.internal:5432/app"},
		{"url password with symbols", "see redis://default:a%40b!c@cache:6379", "see redis://default:[REDACTED]@cache:6379"},

		// Slack and other vendors.
		{"slack bot", "xoxb-1234567890-0987654321-AbCdEfGhIjKlMnOpQrStUvWx", "xoxb-[REDACTED]"},
		{"slack user", "token xoxp-1234-5678-9012-abcdef0123456789 here", "token xoxp-[REDACTED] here"},
		{"slack app", "SLACK_APP_TOKEN xapp-1-A0123456789-1234567890123-abcdef", "SLACK_APP_TOKEN xapp-[REDACTED]"},
		{"stripe", "sk_live_51H8abcdefghijklmnop", "sk_live_[REDACTED]"},
		{"github", "ghp_abcdefghijklmnopqrstuvwxyz0123456789", "ghp_[REDACTED]"},
		{"slack incoming webhook", "posting to https://hooks.slack.com/services/T0FAKE0001/B0FAKE0002/fakeSecretXXXXXXXXXXXX now",
			"posting to https://hooks.slack.com/services/[REDACTED] now"},
		{"slack webhook in json", `{"url":"https://Hooks.Slack.com/services/T0FAKE0001/B0FAKE0002/abc123"}`, `{"url":"https://Hooks.Slack.com/services/[REDACTED]"}`},
		{"two slack webhooks", "hooks.slack.com/services/T1/B2/x, hooks.slack.com/services/T3/B4/y", "hooks.slack.com/services/[REDACTED], hooks.slack.com/services/[REDACTED]"},
		{"slack webhook without path", "see https://hooks.slack.com/services/ for the docs", "see https://hooks.slack.com/services/ for the docs"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := String(tt.in)
			assert.Equal(t, tt.want, got)
			assert.Equal(t, got, String(got), "idempotent")
			assert.Equal(t, tt.want, string(Bytes([]byte(tt.in))))
		})
	}
}

func TestStringLeavesOrdinaryTextAlone(t *testing.T) {
	tests := []struct {
		name string
		in   string
	}{
		{"prose", "Hi team, our tunnel stopped working this morning. Could you take a look?"},
		{"prose with secret words", "I rotated my authtoken and the API key yesterday; the password manager has them."},
		{"bearer prose", "We use Bearer authentication and basic authentication on the upstream."},
		{"ngrok codes", "ERR_NGROK_108 then ERR_NGROK_3200 and err_ngrok_4018 and ERR\\_NGROK\\_727"},
		{"code as a token value", "Invalid authtoken: ERR_NGROK_105"},
		{"code in quoted value", `{"token": "rejected with ERR_NGROK_107"}`},
		{"code after flag", "--authtoken ERR_NGROK_105"},
		{"code after bearer", "Bearer ERR_NGROK_123456"},
		{"docs url", "https://ngrok.com/docs/errors/err_ngrok_108/"},
		{"snake case", "error_code session_limit_exceeded ERR_NGROK_108 max_sessions_per_account_on_free_plan"},
		{"long snake case", "AVeryLongIdentifierName_WithAnotherLongPart"},
		{"url without password", "https://user@example.com/path?q=1 and http://example.com:8080/x"},
		{"ipv6 url", "http://[::1]:4040/api/tunnels"},
		{"git remote", "git@github.com:triage-bot/triage.git"},
		{"timestamps", "2024-05-01T10:00:00.000Z 2024/05/01 10:00:00 +0000 1714557600"},
		{"uuid", "request id 123e4567-e89b-12d3-a456-426614174000 failed"},
		{"yaml block key", "secret:\n  name: ngrok-secret\n"},
		{"empty values", `token: "" password=`},
		{"placeholders", "ngrok config add-authtoken <token>"},
		{"empty", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.in, String(tt.in))
		})
	}
}

func TestStringNeverRedactsErrorCodes(t *testing.T) {
	codes := []string{"ERR_NGROK_108", "err_ngrok_3200", "ERR\\_NGROK\\_8012", "ERR_NGROK_1234567"}
	contexts := []string{
		"%s", "authtoken: %s", "token=%s", `"token": "%s"`, "--authtoken %s", "Bearer %s",
		"Authorization: %s", "https://user:%s@host/", "password: %s please help", "NGROK_AUTHTOKEN=%s",
	}
	for _, c := range codes {
		for _, ctx := range contexts {
			in := strings.ReplaceAll(ctx, "%s", c)
			t.Run(in, func(t *testing.T) {
				assert.Contains(t, String(in), c)
			})
		}
	}
}

func TestStringUnchangedReturnsSameString(t *testing.T) {
	in := "nothing secret here\nERR_NGROK_108\n"
	out := String(in)
	require.Equal(t, in, out)
	assert.Same(t, unsafe.StringData(in), unsafe.StringData(out), "no copy when nothing changed")
}

func FuzzString(f *testing.F) {
	seeds := []string{
		"", "hello", "authtoken: x", "--authtoken ", "https://u:", "Bearer ", `"token": "`,
		"ERR_NGROK_108", "a_b", "xoxb-", "password=", "\n", "Authorization: Basic ",
		"1aaaaaaaaaaaaaaaaaaaa_", "_bbbbbbbbbbbbbbbbbbbb", "[REDACTED]", "token=[REDACTED]x",
	}
	for _, s := range seeds {
		f.Add(s, s, uint8(0))
	}
	// The adversarial shapes, long enough that a scanner going back over
	// the line would show, short enough to keep the seed run quick.
	for i, a := range adversarials {
		f.Add(a.line(4<<10), a.line(1<<10), uint8(i))
	}
	f.Fuzz(func(t *testing.T, prefix, suffix string, which uint8) {
		secrets := []string{authtoken, apiKey, "xoxb-1234567890-ABCDEFGHIJ-zyxwvu", "ghp_0123456789abcdefghijklmnopqrstuvwxyz"}
		secret := secrets[int(which)%len(secrets)]
		in := prefix + " " + secret + " " + suffix
		out := String(in)
		assert.NotContains(t, out, secret, "planted secret survives")
		assert.Equal(t, out, String(out), "not idempotent")

		code := "ERR_NGROK_108"
		in = prefix + " " + code + " " + suffix
		assert.Contains(t, String(in), code, "error code redacted")

		// Arbitrary input: no panic, idempotent, and what the regular
		// expressions gave (on short input: their cost is quadratic),
		// except where their case folding took the Kelvin sign for k or
		// the long s for s.
		out = String(prefix + suffix)
		assert.Equal(t, out, String(out), "not idempotent")
		if len(prefix+suffix) <= 512 && !strings.ContainsAny(prefix+suffix, "\u212a\u017f") {
			assert.Equal(t, refString(prefix+suffix), out, "not what the reference gives")
		}
	})
}

func BenchmarkString(b *testing.B) {
	text := mixedText(1 << 20)
	b.SetBytes(int64(len(text)))
	b.ResetTimer()
	for b.Loop() {
		String(text)
	}
}

// mixedText returns about n bytes of support-mail-like text: prose, logs,
// config snippets, codes, and now and then a secret.
func mixedText(n int) string {
	lines := []string{
		"Hi team, our tunnel stopped working this morning and customers see an error page.",
		"t=2024-05-01T10:00:00+0000 lvl=eror msg=\"failed to reconnect session\" obj=tunnels.session err=\"ERR_NGROK_108\"",
		"> On Tue, 30 Apr 2024 at 09:12, Support <support@example.com> wrote:",
		"version: 3",
		"agent:",
		"  authtoken: " + authtoken,
		"endpoints:",
		"  - name: web",
		"    url: https://example.ngrok.app",
		"    upstream: { url: 8080 }",
		"Visit https://ngrok.com/docs/errors/err_ngrok_3200/ for more information.",
		"We also tried the keyword monkey business and it was a basic setup.",
		"request_id=123e4567-e89b-12d3-a456-426614174000 status=502 duration=1.2s",
		"curl -H \"Authorization: Bearer " + jwt + "\" https://api.ngrok.com/endpoints",
		"Thanks, Ana",
		"",
	}
	r := rand.New(rand.NewPCG(1, 2))
	var b strings.Builder
	for b.Len() < n {
		b.WriteString(lines[r.IntN(len(lines))])
		b.WriteByte('\n')
	}
	return b.String()
}

func BenchmarkStringNoSecrets(b *testing.B) {
	text := strings.Repeat("Hi team, ERR_NGROK_108 appears when we start the agent on the build machine.\n", (1<<20)/78)
	b.SetBytes(int64(len(text)))
	for b.Loop() {
		String(text)
	}
}

// TestWholeTextPrecheckMatchesLineByLine: String looks at the whole text
// once before going line by line; that must never change a result.
func TestWholeTextPrecheckMatchesLineByLine(t *testing.T) {
	require.LessOrEqual(t, len(rules), 32, "look keeps one bit per rule")
	r := rand.New(rand.NewPCG(3, 4))
	pieces := []string{"token", "key", "xox", "://", "bearer ", "basic ", "authorization", "passw", "secret",
		authtoken, apiKey, "1aaaaaaaaaaaaaaaaaaaa_bbbbbbbbbbbbbbbbbbbb", "ERR_NGROK_108", "a_b", "=", ": ", "\n", " ", "x", "@", "u:p"}
	lines := strings.Split(mixedText(8<<10), "\n")
	for range 3000 {
		var b strings.Builder
		for range r.IntN(12) {
			if r.IntN(3) == 0 {
				b.WriteString(lines[r.IntN(len(lines))])
			} else {
				b.WriteString(pieces[r.IntN(len(pieces))])
			}
		}
		in := b.String()
		parts := strings.Split(in, "\n")
		for i := range parts {
			parts[i] = String(parts[i])
		}
		require.Equal(t, strings.Join(parts, "\n"), String(in), "%q", in)
	}
}
