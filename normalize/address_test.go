package normalize

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestSender(t *testing.T) {
	tests := []struct {
		name, from, want string
	}{
		{"plain", "Ana <ana@example.org>", "ana@example.org"},
		{"quoted local part with spaces", `"Jane Q Doe"@example.com`, `"Jane Q Doe"@example.com`},
		{"quoted local part in brackets", `Jane <"Jane Q Doe"@example.com>`, `"Jane Q Doe"@example.com`},
		{"quoted local part that does not parse", `Jane "Jane Q Doe"@example.com (x`, `"Jane Q Doe"@example.com`},
		{"comment only", "MAILER-DAEMON (Mail Delivery System)", "MAILER-DAEMON"},
		{"nested comment", "MAILER-DAEMON (Mail (Delivery) \\) System)", "MAILER-DAEMON"},
		{"address with a comment", "mailer-daemon@relay.example (Mail Delivery System)", "mailer-daemon@relay.example"},
		{"bare name and address", "Tomas Berg tomas@berg.example", "tomas@berg.example"},
		{"empty", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tk, err := Message(strings.NewReader("From: "+tt.from+"\r\nSubject: x\r\n\r\nhi\r\n"), Limits{})
			require.NoError(t, err)
			assert.Equal(t, tt.want, tk.From)
		})
	}
}
