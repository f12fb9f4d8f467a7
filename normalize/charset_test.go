package normalize

import (
	"io"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/text/encoding"
	"golang.org/x/text/encoding/charmap"
	"golang.org/x/text/encoding/japanese"
	"golang.org/x/text/encoding/korean"
	"golang.org/x/text/encoding/simplifiedchinese"
	"golang.org/x/text/transform"
)

func TestUTF7(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"ascii", "Hi Mom -", "Hi Mom -"},
		{"rfc 2152 example", "Hi Mom -+Jjo--!", "Hi Mom -☺-!"},
		{"japanese", "+ZeVnLIqe-", "日本語"},
		{"plus sign", "1 +- 1 = 2", "1 + 1 = 2"},
		{"ended by a non-base64 character", "+AKM-1 and +AKM 2", "£1 and £ 2"},
		{"surrogate pair", "+2D3eAA-", "\U0001F600"},
		{"lone high surrogate", "+2D0-x", "\uFFFDx"},
		{"lone low surrogate", "+3gA-", "\uFFFD"},
		{"8-bit byte", "a\xe9b", "a\uFFFDb"},
		{"plus at the end", "a+", "a+"},
		{"code", "ERR+AF8-NGROK+AF8-108", "ERR_NGROK_108"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, _, err := transform.String(&utf7Decoder{}, tt.in)
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
	t.Run("streamed one byte at a time", func(t *testing.T) {
		r := transform.NewReader(io.LimitReader(&oneByteReader{s: "x +ZeVnLIqe- +AF8-y"}, 100), &utf7Decoder{})
		b, err := io.ReadAll(r)
		require.NoError(t, err)
		assert.Equal(t, "x 日本語 _y", string(b))
	})
}

// oneByteReader returns s one byte per Read.
type oneByteReader struct{ s string }

func (o *oneByteReader) Read(p []byte) (int, error) {
	if o.s == "" {
		return 0, io.EOF
	}
	p[0] = o.s[0]
	o.s = o.s[1:]
	return 1, nil
}

func TestCleanCharset(t *testing.T) {
	tests := []struct {
		raw, want string
		guessed   bool
	}{
		{"UTF-8", "utf-8", false},
		{`"utf8"`, "utf8", false},
		{"iso-gb2312", "gb2312", true},
		{"iso-8859-1Content-Transfer-Encoding: quoted-printable", "iso-8859-1", true},
		{`"windows-1252"content-transfer-encoding:`, "windows-1252", true},
		{"utf-8 format=flowed", "utf-8", true},
		{"unicode-1-1-utf-7", "unicode-1-1-utf-7", false},
		{"", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.raw, func(t *testing.T) {
			got, guessed := cleanCharset(tt.raw)
			assert.Equal(t, tt.want, got)
			assert.Equal(t, tt.guessed, guessed)
		})
	}
}

func TestDetectCharset(t *testing.T) {
	enc := func(e encoding.Encoding, s string) string {
		b, _, err := transform.String(e.NewEncoder(), s)
		require.NoError(t, err)
		return b
	}
	tests := []struct {
		name, raw, want, text string
	}{
		{"latin-1 umlaut", enc(charmap.Windows1252, "Grüße, Fehler ERR_NGROK_108"), "windows-1252", "Grüße, Fehler ERR_NGROK_108"},
		{"latin-1 single accent", enc(charmap.Windows1252, "Problème"), "windows-1252", "Problème"},
		{"shift_jis", enc(japanese.ShiftJIS, "トンネルが切れます"), "shift_jis", "トンネルが切れます"},
		{"gb2312", enc(simplifiedchinese.GBK, "隧道无法连接"), "gbk", "隧道无法连接"},
		{"euc-kr", enc(korean.EUCKR, "터널 연결 오류"), "euc-kr", "터널 연결 오류"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, detectCharset(tt.raw))
			got, how := rawHeaderText(tt.raw, "")
			assert.Equal(t, tt.text, got)
			assert.Contains(t, how, "guessed")
		})
	}
	t.Run("utf-8 is kept", func(t *testing.T) {
		got, how := rawHeaderText("Grüße", "iso-8859-1")
		assert.Equal(t, "Grüße", got)
		assert.Empty(t, how)
	})
	t.Run("the first part's charset wins", func(t *testing.T) {
		got, how := rawHeaderText(enc(charmap.ISO8859_2, "Błąd tunelu"), "iso-8859-2")
		assert.Equal(t, "Błąd tunelu", got)
		assert.Contains(t, how, "first text part")
	})
	t.Run("a hint that does not read the bytes is passed over", func(t *testing.T) {
		got, how := rawHeaderText(enc(japanese.ShiftJIS, "エラーです"), "iso-2022-jp")
		assert.Equal(t, "エラーです", got)
		assert.Contains(t, how, "guessed")
	})
	assert.True(t, strings.HasPrefix(enc(charmap.Windows1252, "é"), "\xe9"))
}
