package annotate

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/triage-bot/triage/catalog"
	"github.com/triage-bot/triage/ticket"
)

func TestTicket(t *testing.T) {
	cat, err := catalog.Default()
	require.NoError(t, err)
	tk := &ticket.Ticket{Parts: []ticket.Part{
		{Kind: ticket.KindSubject, Text: "ERR_NGROK_3200 again"},
		{Kind: ticket.KindQuoted, Text: "> earlier: ERR_NGROK_108 and ERR_NGROK_3200"},
		{Kind: ticket.KindBody, Text: "now it says err_ngrok_8012 and ngrok error 99999"},
		{Kind: ticket.KindAttachment, Name: "agent.log", Text: "ERR_NGROK_8012\nERR_NGROK_8012"},
	}}
	ms, ann := Ticket(tk, cat)
	require.Len(t, ms, 7)
	assert.True(t, ms[1].Quoted)
	assert.Equal(t, "agent.log", ms[5].PartName)
	assert.Equal(t, "err_ngrok_8012", ms[3].Text)

	var order []int
	for _, c := range ann.Codes {
		order = append(order, c.Code)
	}
	assert.Equal(t, []int{3200, 8012, 99999, 108}, order, "new text first, in order of appearance; quoted-only last")
	assert.Equal(t, catalog.UpstreamGateway, ann.Primary)
	assert.Equal(t, []int{99999}, ann.Unknown)

	byCode := map[int]Code{}
	for _, c := range ann.Codes {
		byCode[c.Code] = c
	}
	assert.True(t, byCode[108].QuotedOnly)
	assert.False(t, byCode[3200].QuotedOnly, "seen in the subject too")
	assert.Equal(t, []string{"subject", "quoted"}, byCode[3200].Where)
	assert.Equal(t, 3, byCode[8012].Count)
	assert.Equal(t, []string{"body", "attachment:agent.log"}, byCode[8012].Where)
	assert.Equal(t, 0.6, byCode[99999].Confidence)
	assert.False(t, byCode[99999].Known)
	assert.Equal(t, catalog.Unknown, byCode[99999].Category)
	assert.Equal(t, "https://ngrok.com/docs/errors/err_ngrok_99999/", byCode[99999].DocsURL)
	assert.Equal(t, "ERR_NGROK_108", byCode[108].Name)
}

func TestNoCodes(t *testing.T) {
	cat, err := catalog.Default()
	require.NoError(t, err)
	ms, ann := Ticket(&ticket.Ticket{Parts: []ticket.Part{{Kind: ticket.KindBody, Text: "thanks!"}}}, cat)
	assert.Empty(t, ms)
	assert.False(t, ann.HasCodes())
	assert.Empty(t, ann.Primary)
	assert.Nil(t, ann.Codes)
}
