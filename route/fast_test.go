package route

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/triage-bot/triage/catalog"
	"github.com/triage-bot/triage/ticket"
)

// TestRenderersMatchTemplates checks each native renderer against the
// template it stands for, on hand-picked and random tickets.
func TestRenderersMatchTemplates(t *testing.T) {
	base := sampleData()
	tests := map[string]func(d *TemplateData){
		"sample":      func(*TemplateData) {},
		"no codes":    func(d *TemplateData) { d.Codes, d.Ticket.Codes, d.Primary = nil, nil, "" },
		"empty codes": func(d *TemplateData) { d.Codes = []CodeView{} },
		"no sender":   func(d *TemplateData) { d.Ticket.From = "" },
		"no subject":  func(d *TemplateData) { d.Ticket.Subject = "" },
		"no primary":  func(d *TemplateData) { d.Primary = "" },
		"odd text": func(d *TemplateData) {
			d.Ticket.Subject = "Re: {{.Primary}} <b>&amp; ümlaut\n\tnext line \\ \"q\""
			d.Ticket.From = "Ana <ana@example.com>"
		},
		"inferred, quoted and agent API": func(d *TemplateData) {
			d.Codes = []CodeView{{Code: 3200, Name: "ERR_NGROK_3200", Summary: "offline", Inferred: true, Phrase: "tunnel x not found", Form: "inferred", Confidence: 0.5},
				{Code: 108, Name: "ERR_NGROK_108", Summary: "sessions", QuotedOnly: true, Inferred: true, Form: "inferred", Confidence: 0.5},
				{Code: 8012, Name: "ERR_NGROK_8012", Summary: "upstream", QuotedOnly: true, Form: "canonical", Confidence: 1}}
			d.AgentAPI = []AgentAPIView{{Number: 103, Name: "agent-api:103", Summary: "could not start"}, {Number: 7, Name: "agent-api:7"}}
		},
		"codes left out": func(d *TemplateData) { d.More = Omitted{Codes: 4995, Written: 4995, AgentAPI: 3, Unknown: 7} },
		"only the rest counted": func(d *TemplateData) {
			d.Codes, d.Primary = nil, ""
			d.More = Omitted{Codes: 2}
		},
		"agent API only": func(d *TemplateData) {
			d.Codes, d.Primary = nil, ""
			d.AgentAPI = []AgentAPIView{{Number: 102, Name: "agent-api:102", Summary: "bad tunnel definition"}}
		},
		"three codes": func(d *TemplateData) {
			d.Codes = []CodeView{d.Codes[0], {Code: 3200, Name: "ERR_NGROK_3200", Summary: "offline", DocsURL: "https://x/3200"},
				{Code: 99999, Name: "ERR_NGROK_99999", Summary: "unknown to the catalog", Known: false}}
		},
	}
	rng := rand.New(rand.NewPCG(1, 2))
	cat, err := catalog.Default()
	require.NoError(t, err)
	entries := cat.All()
	require.NotEmpty(t, entries)
	for i := range 200 {
		tests[fmt.Sprintf("random %d", i)] = func(d *TemplateData) {
			d.Codes, d.AgentAPI = nil, nil
			for range rng.IntN(4) {
				e := entries[rng.IntN(len(entries))]
				c := CodeView{Code: e.Code, Name: e.Name(), Summary: e.Summary, Category: string(e.Category), DocsURL: e.DocsURL(), Known: true,
					Form: "canonical", Confidence: 1, QuotedOnly: rng.IntN(3) == 0}
				if rng.IntN(3) == 0 {
					c.Inferred, c.Form, c.Confidence, c.Phrase = true, "inferred", 0.5, "words of the customer"
				}
				d.Codes = append(d.Codes, c)
			}
			for range rng.IntN(3) {
				n := []int{102, 103, 104, 999}[rng.IntN(4)]
				e := catalog.AgentAPI(n)
				d.AgentAPI = append(d.AgentAPI, AgentAPIView{Number: n, Name: e.Name, Summary: e.Summary, Hint: e.Hint, Known: e.Known})
			}
			d.Primary = ""
			if len(d.Codes) > 0 {
				d.Primary = d.Codes[0].Category
			}
			d.Ticket.Subject = strings.Repeat("x€ ", rng.IntN(5))
			if rng.IntN(2) == 0 {
				d.Ticket.From = ""
			}
		}
	}
	for text, fn := range renderers {
		tmpl, err := newTemplate().Parse(text)
		require.NoError(t, err)
		for name, change := range tests {
			d := base
			d.Codes = append([]CodeView(nil), base.Codes...)
			change(&d)
			var want strings.Builder
			require.NoError(t, tmpl.Execute(&want, d))
			assert.Equal(t, want.String(), fn(&d), "%s on %s", text, name)
		}
	}
}

func TestDefaultTextsUseRenderers(t *testing.T) {
	for _, kind := range []string{ticket.KindJSONL, ticket.KindWebhook, ticket.KindMaildirMove, ticket.KindIMAPFlag} {
		assert.NotNil(t, renderers[defaultText(kind)], kind)
	}
}
