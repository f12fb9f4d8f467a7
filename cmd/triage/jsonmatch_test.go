package main

import (
	"encoding/json"
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
