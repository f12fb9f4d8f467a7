package annotate

import (
	"encoding/json"
	"os"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/triage-bot/triage/catalog"
	"github.com/triage-bot/triage/internal/sharedtest"
)

// TestSignaturesAnchorOnHashedWords: the catalog's phrases, with those
// derived from ngrok's own messages (as after `catalog sync`), each have
// a word of four letters or more to anchor on, so the wording pass never
// falls back to reading every word of a large log.
func TestSignaturesAnchorOnHashedWords(t *testing.T) {
	f, err := os.Open(sharedtest.Path(t, "errors.jsonl"))
	require.NoError(t, err)
	defer f.Close()
	msgs := map[int]string{}
	dec := json.NewDecoder(f)
	for dec.More() {
		var r struct{ Code, Message string }
		require.NoError(t, dec.Decode(&r))
		if n, err := catalog.ParseCode(r.Code); err == nil {
			msgs[n] = r.Message
		}
	}
	require.NotEmpty(t, msgs)
	cat, err := catalog.Default()
	require.NoError(t, err)
	synced := cat.WithOfficial(msgs)
	for _, c := range []*catalog.Catalog{cat, synced} {
		sigs := CompiledSignatures(c)
		require.NotNil(t, sigs.phrases)
		assert.False(t, sigs.phrases.ReadsEveryWord(), "%d phrases", sigs.phrases.Len())
	}
	assert.Greater(t, CompiledSignatures(synced).phrases.Len(), CompiledSignatures(cat).phrases.Len())
}
