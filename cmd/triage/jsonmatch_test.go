package main

import (
	"encoding/json"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/triage-bot/triage/annotate"
	"github.com/triage-bot/triage/catalog"
	"github.com/triage-bot/triage/ticket"
)

func TestAppendMatchJSONMatchesEncodingJSON(t *testing.T) {
	for _, m := range []ticket.Match{
		{Code: 108, Canonical: "ERR_NGROK_108", PartKind: ticket.KindBody, Offset: 12, Text: "ERR_NGROK_108", Form: "canonical", Confidence: 1},
		{Code: 3200, Canonical: "ERR_NGROK_3200", Part: 3, PartKind: ticket.KindAttachment, PartName: "agent \"x\".log", Offset: 1 << 40, Text: `ERR\_NGROK\_3200`, Form: "escaped", Confidence: 0.9, Quoted: true},
		{Code: 1, Canonical: "ERR_NGROK_1", PartKind: ticket.KindQuoted, Text: "ERR_NG\u200bROK_1 <&>", Form: "broken", Confidence: 0.6},
	} {
		want, err := json.Marshal(m)
		require.NoError(t, err)
		assert.JSONEq(t, string(want), string(appendMatchJSON(nil, m)))
	}
}

func TestAppendCodeJSONMatchesEncodingJSON(t *testing.T) {
	cat, err := catalog.Default()
	require.NoError(t, err)
	e := cat.Lookup(108)
	e.Runbook, e.Owner, e.Official = "https://wiki.example.com/108", "@agents <team>", "ngrok said \"so\""
	for _, c := range []annotate.Code{
		{Entry: e, Name: e.Name(), DocsURL: e.DocsURL(), Count: 3, Where: []string{"body", "attachment:agent \"1\".log"}, Confidence: 0.9},
		{Entry: cat.Lookup(99999), Name: "ERR_NGROK_99999", DocsURL: catalog.DocsURL(99999), Count: 1, QuotedOnly: true, Confidence: 1},
	} {
		want, err := json.Marshal(c)
		require.NoError(t, err)
		assert.JSONEq(t, string(want), string(appendCodeJSON(nil, c)))
	}
}

// TestAppendJSONStringMatchesEncodingJSON compares the hand-written
// escaper with encoding/json on awkward and random strings.
func TestAppendJSONStringMatchesEncodingJSON(t *testing.T) {
	cases := []string{"", "plain", `ERR\_NGROK\_108`, "a\"b", "<b>&amp;</b>", "\x00\x01\x1f\x7f", "tab\there\nnl\rcr\b\f",
		"é ü 日本", "\u2028\u2029", "\xff\xfe bad", "\xe2\x80", "x\xed\xa0\x80y", "emoji 😀"}
	r := rand.New(rand.NewPCG(5, 6))
	for range 2000 {
		b := make([]byte, r.IntN(24))
		for i := range b {
			b[i] = byte(r.IntN(256))
		}
		cases = append(cases, string(b))
	}
	for _, s := range cases {
		want, err := json.Marshal(s)
		require.NoError(t, err)
		assert.Equal(t, string(want), string(appendJSONString(nil, s)), "%q", s)
	}
}
