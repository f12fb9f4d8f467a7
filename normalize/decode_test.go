package normalize

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/triage-bot/triage/ticket"
)

// TestMessageFindsCodes checks, beside the golden files, the one thing each
// fixture is about: where its code ends up, whole.
func TestMessageFindsCodes(t *testing.T) {
	tests := []struct {
		file      string
		code      string
		kind      ticket.PartKind
		forwarded bool
	}{
		{"qp-soft-break", "ERR_NGROK_727", ticket.KindBody, false},
		{"base64", "ERR_NGROK_3200", ticket.KindBody, false},
		{"html-only", "ERR_NGROK_3004", ticket.KindBody, false},
		{"html-entities", "ERR_NGROK_3202", ticket.KindBody, false},
		{"iso-2022-jp", "ERR_NGROK_121", ticket.KindBody, false},
		{"utf16-base64", "ERR_NGROK_4017", ticket.KindBody, false},
		{"windows-1252", "“ERR_NGROK_1042”", ticket.KindBody, false},
		{"rfc2047-subject", "ERR_NGROK_108", ticket.KindSubject, false},
		{"mixed-attachments", "ERR_NGROK_3208", ticket.KindAttachment, false},
		{"malformed-boundary", "ERR_NGROK_6022", ticket.KindBody, false},
		{"gmail-reply", "ERR_NGROK_120", ticket.KindBody, false},
		{"gmail-reply", "ERR_NGROK_108", ticket.KindQuoted, false},
		{"html-gmail-quote", "ERR_NGROK_121", ticket.KindBody, false},
		{"html-gmail-quote", "ERR_NGROK_120", ticket.KindQuoted, false},
		{"outlook-reply", "ERR_NGROK_3200", ticket.KindQuoted, false},
		{"outlook-reply-html", "ERR_NGROK_3200", ticket.KindQuoted, false},
		{"forward-rfc822", "ERR_NGROK_4108", ticket.KindBody, true},
		{"forward-rfc822", "ERR_NGROK_3117", ticket.KindAttachment, true},
		{"gmail-forward-inline", "ERR_NGROK_334", ticket.KindBody, false},
		{"nested-5", "ERR_NGROK_1226", ticket.KindBody, false},
	}
	for _, tt := range tests {
		t.Run(tt.file+"/"+tt.code, func(t *testing.T) {
			f, err := os.Open(filepath.Join("testdata", tt.file+".eml"))
			require.NoError(t, err)
			defer f.Close()
			tk, err := Message(f, Limits{})
			require.NoError(t, err)
			var where []string
			for _, p := range tk.Parts {
				if strings.Contains(p.Text, tt.code) {
					where = append(where, string(p.Kind))
					if p.Kind == tt.kind {
						assert.Equal(t, tt.forwarded, p.Forwarded)
						return
					}
				}
			}
			t.Errorf("%s not found in a %s part (found in %v)", tt.code, tt.kind, where)
		})
	}
}
