package catalog

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestOverlayApplies(t *testing.T) {
	base := New([]Entry{
		{Code: 108, Summary: "too many agents", Category: AgentAuth, Status: Current, Hint: "stop one"},
		{Code: 3200, Summary: "endpoint offline", Category: UpstreamGateway, Status: Current},
	})
	o, err := ParseOverlay("team.yaml", []byte(`
codes:
  - code: ERR_NGROK_108
    category: limits-billing
    runbook: https://wiki.example.com/ngrok/108
    owner: "@billing"
  - code: 99001
    summary: Our own gateway refused the tunnel.
    category: upstream-gateway
`))
	require.NoError(t, err)
	c, err := o.Apply(base)
	require.NoError(t, err)

	e := c.Lookup(108)
	assert.Equal(t, LimitsBilling, e.Category)
	assert.Equal(t, "too many agents", e.Summary, "fields left out keep their value")
	assert.Equal(t, "stop one", e.Hint)
	assert.Equal(t, "https://wiki.example.com/ngrok/108", e.Runbook)
	assert.Equal(t, "@billing", e.Owner)

	n := c.Lookup(99001)
	assert.True(t, n.Known)
	assert.Equal(t, UpstreamGateway, n.Category)
	assert.Equal(t, Current, n.Status)
	assert.Equal(t, 3, c.Len())
	assert.Equal(t, AgentAuth, base.Lookup(108).Category, "the base catalog is not changed")
}

func TestOverlayErrors(t *testing.T) {
	tests := []struct {
		name string
		data string
		want []string
	}{
		{"bad yaml", "codes: [", []string{"x.yaml: not valid YAML"}},
		{"unknown key", "codes:\n  - code: 108\n    colour: red\n", []string{"x.yaml:", "colour", "allowed keys"}},
		{"unknown top key", "entries: []\n", []string{"entries"}},
		{"several problems at once", `codes:
  - code: 108
    category: billing
  - code: abc
  - summary: no code
  - code: 108
    runbook: ftp://x
  - code: 3200
    hint: "two\tparts"
`, []string{
			`x.yaml:2: ERR_NGROK_108: unknown category "billing"`,
			`x.yaml:4: "abc" is not an ngrok error code`,
			`x.yaml:5: entry 3 has no code`,
			`x.yaml:6: ERR_NGROK_108 is already given at line 2`,
			`x.yaml:6: ERR_NGROK_108: runbook "ftp://x" is not an http(s) URL`,
			`x.yaml:8: ERR_NGROK_3200: hint must be one line`,
		}},
		{"bad status", "codes:\n  - code: 1\n    status: old\n", []string{`x.yaml:2: ERR_NGROK_1: status "old"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseOverlay("x.yaml", []byte(tt.data))
			require.Error(t, err)
			for _, w := range tt.want {
				assert.Contains(t, err.Error(), w)
			}
		})
	}
}

func TestOverlayNewCodeNeedsSummary(t *testing.T) {
	o, err := ParseOverlay("x.yaml", []byte("codes:\n  - code: 1\n    hint: h\n  - code: 99002\n    category: api-config\n"))
	require.NoError(t, err)
	_, err = o.Apply(New(nil))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "x.yaml:2: ERR_NGROK_1 is not in the catalog, so it needs a summary and a category")
	assert.Contains(t, err.Error(), "x.yaml:4: ERR_NGROK_99002")
}

func TestEmptyOverlay(t *testing.T) {
	o, err := ParseOverlay("x.yaml", nil)
	require.NoError(t, err)
	c, err := o.Apply(New(nil))
	require.NoError(t, err)
	assert.Zero(t, c.Len())
}

func TestLoadWithOverlayFiles(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.yaml")
	require.NoError(t, os.WriteFile(good, []byte("codes:\n  - code: 108\n    owner: agents\n"), 0o644))
	c, err := Load(LoadOptions{DataDir: dir, Overlays: []string{good}})
	require.NoError(t, err)
	assert.Equal(t, "agents", c.Lookup(108).Owner)

	_, err = Load(LoadOptions{Overlays: []string{filepath.Join(dir, "missing.yaml")}})
	assert.ErrorContains(t, err, "missing.yaml")
}

func TestOverlaySignatures(t *testing.T) {
	base := New([]Entry{{Code: 108, Summary: "too many agents", Category: AgentAuth, Status: Current}})
	sigs, err := ParseSignatures("embedded.tsv", "ERR_NGROK_108\tlimited to * simultaneous ngrok * session*\n")
	require.NoError(t, err)
	base = base.WithSignatures(sigs)
	o, err := ParseOverlay("team.yaml", []byte(`codes:
  - code: 108
    signatures:
      - seat limit * agent session*
      - "out of ngrok seats"
  - code: 99001
    summary: Our own gateway refused the tunnel.
    category: upstream-gateway
    signatures: [frobnicator refused the tunnel]
`))
	require.NoError(t, err)
	c, err := o.Apply(base)
	require.NoError(t, err)
	var got []string
	for _, s := range c.Signatures() {
		got = append(got, fmt.Sprintf("%d %s %s", s.Code, s.Phrase, s.Source))
		assert.NotEmpty(t, s.Tokens)
	}
	assert.Equal(t, []string{
		"108 limited to * simultaneous ngrok * session* embedded.tsv:1",
		"108 seat limit * agent session* team.yaml:4",
		"108 out of ngrok seats team.yaml:5",
		"99001 frobnicator refused the tunnel team.yaml:9",
	}, got, "overlay signatures come after the embedded ones, each naming its line")
	assert.Len(t, base.Signatures(), 1, "the base catalog is not changed")
}

func TestOverlaySignatureErrors(t *testing.T) {
	_, err := ParseOverlay("x.yaml", []byte(`codes:
  - code: 108
    signatures:
      - the tunnel is not found
      - "Seat limit reached today"
      - seat * * limit
      - seat limit reached
      - seat limit reached
  - code: 3200
    signatures: [gateway]
`))
	require.Error(t, err)
	for _, want := range []string{
		`x.yaml:4: ERR_NGROK_108: signature: phrase "the tunnel is not found": every word is common`,
		`x.yaml:5: ERR_NGROK_108: signature: phrase "Seat limit reached today": "Seat": write tokens in lower case`,
		`x.yaml:6: ERR_NGROK_108: signature: phrase "seat * * limit": two * in a row`,
		`x.yaml:8: ERR_NGROK_108: signature "seat limit reached" is given twice`,
		`x.yaml:10: ERR_NGROK_3200: signature: phrase "gateway" has 1 tokens`,
	} {
		assert.Contains(t, err.Error(), want)
	}

	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yaml")
	require.NoError(t, os.WriteFile(bad, []byte("codes:\n  - code: 108\n    signatures: [\"tunnel * found\"]\n"), 0o644))
	_, err = Load(LoadOptions{Overlays: []string{bad}})
	assert.ErrorContains(t, err, "bad.yaml:3: ERR_NGROK_108: signature: phrase \"tunnel * found\"", "a bad overlay phrase is a load error")
}

func TestLoadKeepsEmbeddedAndDerivedSignatures(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, OfficialFile), []byte(`{"messages":{"108":"Your quota of MAX frobnicators is exhausted for the ACCOUNT team."}}`), 0o644))
	over := filepath.Join(dir, "o.yaml")
	require.NoError(t, os.WriteFile(over, []byte("codes:\n  - code: 108\n    signatures: [frobnicator quota exhausted]\n"), 0o644))
	c, err := Load(LoadOptions{DataDir: dir, Overlays: []string{over}})
	require.NoError(t, err)
	def, err := Default()
	require.NoError(t, err)
	sigs := c.Signatures()
	require.Len(t, sigs, len(def.Signatures())+2)
	assert.Equal(t, def.Signatures(), sigs[:len(def.Signatures())])
	assert.Equal(t, "frobnicator quota exhausted", sigs[len(sigs)-2].Phrase)
	last := sigs[len(sigs)-1]
	assert.True(t, last.Derived)
	assert.Equal(t, "your quota of * frobnicators is exhausted for the * team", last.Phrase)
}
