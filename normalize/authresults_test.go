package normalize

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestMessageKeepsAuthResults: the receiving server's verdicts travel
// with the ticket, topmost first, so that a reply can check them; a
// sender who adds many of their own cannot make the ticket grow.
func TestMessageKeepsAuthResults(t *testing.T) {
	tests := []struct {
		name  string
		extra int // Authentication-Results fields below the two on top
		want  int
	}{
		{"two", 0, 2},
		{"many are cut to the topmost", 40, MaxAuthResults},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b strings.Builder
			b.WriteString("Authentication-Results: mx.example.net;\r\n\tdmarc=pass header.from=customer.example\r\n")
			b.WriteString("Authentication-Results: mx.example.net; dkim=pass header.d=customer.example\r\n")
			for i := range tt.extra {
				fmt.Fprintf(&b, "Authentication-Results: forged%d.example; dmarc=pass\r\n", i)
			}
			b.WriteString("From: Ana <ana@customer.example>\r\nReply-To: Ana <help@customer.example>\r\nSubject: down\r\n\r\nERR_NGROK_108\r\n")
			tk, err := Message(strings.NewReader(b.String()), Limits{})
			require.NoError(t, err)
			got := strings.Split(tk.Headers[AuthResultsHeader], "\n")
			require.Len(t, got, tt.want)
			assert.Equal(t, "mx.example.net; dmarc=pass header.from=customer.example", got[0], "unfolded, topmost first")
			assert.Equal(t, "mx.example.net; dkim=pass header.d=customer.example", got[1])
			assert.Equal(t, "Ana <help@customer.example>", tk.Headers["Reply-To"])
		})
	}
}
