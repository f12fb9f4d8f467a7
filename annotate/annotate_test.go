package annotate

import (
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/triage-bot/triage/catalog"
	"github.com/triage-bot/triage/extract"
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

// TestBuilderManyCodes crosses the point where the Builder switches to an
// array index, with codes on both sides of its bound, and checks that
// every code keeps its own count in order of first appearance.
func TestBuilderManyCodes(t *testing.T) {
	cat, err := catalog.Default()
	require.NoError(t, err)
	b := NewBuilder(cat)
	var codes []int
	for i := range 300 {
		codes = append(codes, i*7+1, 70000+i) // small and beyond the array
	}
	for round := range 3 {
		for i, c := range codes {
			kind := ticket.KindBody
			if i%2 == 1 && round < 2 {
				kind = ticket.KindQuoted // the large ones appear in new text only in the last round
			}
			b.Add(ticket.Match{Code: c, PartKind: kind, Quoted: kind == ticket.KindQuoted, Confidence: float64(round+1) / 4})
		}
	}
	ann := b.Annotation()
	require.Len(t, ann.Codes, len(codes))
	for i, c := range ann.Codes {
		assert.Equal(t, codes[i], c.Code, "order")
		assert.Equal(t, 3, c.Count, "count of %d", c.Code)
		assert.False(t, c.QuotedOnly, "%d was in new text", c.Code)
		assert.Equal(t, 0.75, c.Confidence)
	}
	assert.Equal(t, []string{"quoted", "body"}, ann.Codes[1].Where)

	quoted := NewBuilder(cat)
	quoted.Add(ticket.Match{Code: 108, PartKind: ticket.KindQuoted, Quoted: true})
	quoted.Add(ticket.Match{Code: 3200, PartKind: ticket.KindBody})
	got := quoted.Annotation()
	require.Len(t, got.Codes, 2)
	assert.Equal(t, 3200, got.Codes[0].Code, "codes in new text come first")
	assert.True(t, got.Codes[1].QuotedOnly)
	assert.Equal(t, got.Codes[0].Category, got.Primary)
}

// TestBuilderAnnotationInHalves has enough codes for Annotation to fill
// its result in two halves at once; order and contents must not change.
func TestBuilderAnnotationInHalves(t *testing.T) {
	cat, err := catalog.Default()
	require.NoError(t, err)
	b := NewBuilder(cat)
	n := parallelCodes + 1001
	var want []int
	for i := range n {
		quoted := i%3 == 0
		b.Add(ticket.Match{Code: 100000 + i, PartKind: ticket.KindBody, Quoted: quoted})
		if !quoted {
			want = append(want, 100000+i)
		}
	}
	for i := 0; i < n; i += 3 {
		want = append(want, 100000+i) // quoted-only codes come last
	}
	ann := b.Annotation()
	require.Len(t, ann.Codes, n)
	for k, c := range ann.Codes {
		require.Equal(t, want[k], c.Code, "position %d", k)
		require.Equal(t, "ERR_NGROK_"+strconv.Itoa(c.Code), c.Name)
		require.Equal(t, (c.Code-100000)%3 != 0, !c.QuotedOnly, "code %d", c.Code)
	}
	assert.Len(t, ann.Unknown, n)
}

func TestBounded(t *testing.T) {
	codes := func(n int) []Code {
		out := make([]Code, n)
		for i := range out {
			out[i] = Code{Entry: catalog.Entry{Code: 100 + i, Category: catalog.AgentAuth}}
		}
		return out
	}
	tests := []struct {
		name                   string
		in                     Annotation
		n                      int
		codes, unknown, agent  int
		more, moreUnk, moreAPI int
	}{
		{"empty", Annotation{}, 3, 0, 0, 0, 0, 0, 0},
		{"within", Annotation{Codes: codes(3), Unknown: []int{1, 2}}, 3, 3, 2, 0, 0, 0, 0},
		{"over", Annotation{Codes: codes(10), Unknown: []int{1, 2, 3, 4}, AgentAPI: make([]AgentAPICode, 5)}, 3, 3, 3, 3, 7, 1, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.in.Primary = catalog.AgentAuth
			before := len(tt.in.Codes)
			b := tt.in.Bounded(tt.n)
			assert.Len(t, b.Codes, tt.codes)
			assert.Len(t, b.Unknown, tt.unknown)
			assert.Len(t, b.AgentAPI, tt.agent)
			assert.Equal(t, []int{tt.more, tt.moreUnk, tt.moreAPI}, []int{b.MoreCodes, b.MoreUnknown, b.MoreAgentAPI})
			assert.Equal(t, catalog.AgentAuth, b.Primary)
			assert.Len(t, tt.in.Codes, before, "the input is left alone")
			if tt.codes > 0 {
				assert.Equal(t, tt.in.Codes[0].Code, b.Codes[0].Code, "the first ones are kept")
			}
		})
	}
}

// TestAddStreamIsAdd: AddStream annotates a single-part text as Add does.
func TestAddStreamIsAdd(t *testing.T) {
	cat, err := catalog.Default()
	require.NoError(t, err)
	forms := []extract.Form{extract.FormCanonical, extract.FormLowercase, extract.FormEscaped, extract.FormSpaced, extract.FormPhrase, extract.FormAgentAPI}
	a, b := NewBuilder(cat), NewBuilder(cat)
	where := []string{string(ticket.KindBody)}
	for i := range 5000 {
		code := 100 + (i*7919)%300
		f := forms[i%len(forms)]
		conf := f.Confidence()
		a.Add(ticket.Match{Code: code, PartKind: ticket.KindBody, Form: f.String(), Confidence: conf})
		b.AddStream(code, f, conf, where)
	}
	assert.Equal(t, a.Annotation(), b.Annotation())
	assert.Equal(t, []string{"body"}, where, "the shared slice is never written")
}

// TestManyCodesAndBareNumbers: a part naming tens of thousands of codes
// both written and bare is read in one pass (this was quadratic).
func TestManyCodesAndBareNumbers(t *testing.T) {
	cat, err := catalog.Default()
	require.NoError(t, err)
	text := strings.Repeat("ERR_NGROK_3200 and then error 8012, ", 20000)
	ms := Find(&ticket.Ticket{Parts: []ticket.Part{{Kind: ticket.KindBody, Text: text}}}, cat, Options{NoInfer: true})
	forms := map[string]int{}
	for _, m := range ms {
		forms[m.Form]++
	}
	assert.Equal(t, map[string]int{"canonical": 20000, "bare": 20000}, forms)
}

// TestInferredPhraseIsBounded: the words kept for an inferred code stay
// short however long the words a wildcard spans.
func TestInferredPhraseIsBounded(t *testing.T) {
	cat, err := catalog.Default()
	require.NoError(t, err)
	long := strings.Repeat("é", 900)
	text := "Your account is limited to " + long + " simultaneous ngrok agent sessions."
	_, ann := Ticket(&ticket.Ticket{Parts: []ticket.Part{{Kind: ticket.KindBody, Text: text}}}, cat)
	require.Len(t, ann.Codes, 1)
	assert.True(t, ann.Codes[0].Inferred)
	assert.LessOrEqual(t, len(ann.Codes[0].Phrase), maxPhraseText+len("…"))
	assert.True(t, utf8.ValidString(ann.Codes[0].Phrase))
}
