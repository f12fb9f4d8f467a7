package store

import (
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestWriteSearchIsCleanToLower: the search column is written in one
// pass; it must equal Clean(strings.ToLower(s)) on any input.
func TestWriteSearchIsCleanToLower(t *testing.T) {
	pieces := []string{"A", "z", "ERR_NGROK_108", "\x00", "\xff", "\xe2\x82", "€", "Ü", "İ", "Σ", "ſ", "\u212a", "ǅ",
		"トンネル", "\n", " ", "Ⅻ", "\U0001F600", "ẞ"}
	r := rand.New(rand.NewPCG(7, 8))
	for range 20000 {
		var in strings.Builder
		for range r.IntN(10) {
			in.WriteString(pieces[r.IntN(len(pieces))])
		}
		s := in.String()
		var got strings.Builder
		writeSearch(&got, s)
		require.Equal(t, Clean(strings.ToLower(s)), got.String(), "%q", s)
	}
}
