package imap

import (
	"strings"
	"testing"

	goimap "github.com/emersion/go-imap/v2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/triage-bot/triage/outbox"
)

// TestFlagsOf checks the imap.flag targets the sink accepts: keywords and
// the harmless system flags, each once, never \Deleted, never more than
// maxFlags.
func TestFlagsOf(t *testing.T) {
	many := make([]string, maxFlags+1)
	for i := range many {
		many[i] = "$k" + strings.Repeat("x", i%7) + string(rune('a'+i%26)) + string(rune('a'+i/26))
	}
	tests := []struct {
		name   string
		target string
		want   []goimap.Flag
		err    string
	}{
		{"one keyword", "$triage", []goimap.Flag{"$triage"}, ""},
		{"keyword and flag", `$triage \Flagged`, []goimap.Flag{"$triage", `\Flagged`}, ""},
		{"repeats once", "$a $A $b $a", []goimap.Flag{"$a", "$b"}, ""},
		{"deleted", `$a \Deleted`, nil, `"\\Deleted" is not a valid IMAP keyword`},
		{"bracket", `$a (b)`, nil, `"(b)" is not a valid IMAP keyword`},
		{"empty", "  ", nil, "names no keyword"},
		{"too many", strings.Join(many, " "), nil, "names 101 keywords, more than the 100"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := flagsOf(tt.target)
			if tt.err != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tt.err)
				assert.True(t, outbox.IsPermanent(err), "a bad target never succeeds on retry")
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}
