package route

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/triage-bot/triage/annotate"
	"github.com/triage-bot/triage/catalog"
)

// found describes one code of a hand-built annotation with how it was
// found.
type found struct {
	n      int
	quoted bool
	forms  []string // strongest first; "inferred" alone makes it inferred
	conf   float64
}

// annotationOf builds an annotation from real catalog entries in the
// order given (callers follow annotate's order) with agent API numbers.
func annotationOf(t *testing.T, codes []found, agent ...int) annotate.Annotation {
	t.Helper()
	cat, err := catalog.Default()
	require.NoError(t, err)
	var a annotate.Annotation
	for _, c := range codes {
		e := cat.Lookup(c.n)
		inferred := len(c.forms) == 1 && c.forms[0] == "inferred"
		a.Codes = append(a.Codes, annotate.Code{Entry: e, Name: e.Name(), DocsURL: e.DocsURL(), Count: 1, QuotedOnly: c.quoted,
			Confidence: c.conf, Forms: c.forms, Inferred: inferred})
	}
	if len(a.Codes) > 0 {
		a.Primary = a.Codes[0].Category
	}
	for _, n := range agent {
		a.AgentAPI = append(a.AgentAPI, annotate.AgentAPICode{AgentAPIEntry: catalog.AgentAPI(n), Count: 1})
	}
	return a
}

func TestConfidenceAndFormMatchers(t *testing.T) {
	written108 := found{n: 108, forms: []string{"canonical"}, conf: 1}
	spaced108 := found{n: 108, forms: []string{"spaced"}, conf: 0.8}
	inferred3200 := found{n: 3200, forms: []string{"inferred"}, conf: 0.5}
	inferred108 := found{n: 108, forms: []string{"inferred"}, conf: 0.5}
	both108 := found{n: 108, forms: []string{"escaped", "inferred"}, conf: 1}
	quoted8012 := found{n: 8012, quoted: true, forms: []string{"canonical"}, conf: 1}
	quoted108 := found{n: 108, quoted: true, forms: []string{"canonical"}, conf: 1}
	glued3200 := found{n: 3200, forms: []string{"canonical"}, conf: 0.9}

	var (
		writtenOnly      = annotationOf(t, []found{written108})
		inferredOnly     = annotationOf(t, []found{inferred3200})
		writtenAndOther  = annotationOf(t, []found{written108, inferred3200})
		inferredAndQuote = annotationOf(t, []found{inferred3200, quoted8012})
		inferredAndQ108  = annotationOf(t, []found{inferred3200, quoted108})
		spacedOnly       = annotationOf(t, []found{spaced108})
		writtenInferred  = annotationOf(t, []found{both108})
		gluedOnly        = annotationOf(t, []found{glued3200})
		inferredSame     = annotationOf(t, []found{inferred108})
		none             = annotationOf(t, nil)
		agentOnly        = annotationOf(t, nil, 103)
		agentAndCode     = annotationOf(t, []found{written108}, 103)
		handBuilt        = annotation(t, code{n: 108}) // no forms recorded
	)
	tk := emailTicket("ana@example.com", "tunnel", "text", "")
	tests := []struct {
		name  string
		match string
		ann   annotate.Annotation
		want  bool
	}{
		{"min_confidence alone needs a sure code", "{min_confidence: 0.9}", writtenOnly, true},
		{"min_confidence alone inferred only", "{min_confidence: 0.9}", inferredOnly, false},
		{"min_confidence alone no code", "{min_confidence: 0.9}", none, false},
		{"min_confidence 1 glued code", "{min_confidence: 1}", gluedOnly, false},
		{"min_confidence 0.9 glued code", "{min_confidence: 0.9}", gluedOnly, true},
		{"min_confidence 0.5 inferred counts", "{min_confidence: 0.5}", inferredOnly, true},
		{"min_confidence 0.8 spaced", "{min_confidence: 0.8}", spacedOnly, true},
		{"min_confidence 0.9 spaced", "{min_confidence: 0.9}", spacedOnly, false},
		{"min_confidence integer", "{min_confidence: 1}", writtenOnly, true},

		{"category primary may be inferred", "{category: upstream-gateway}", inferredOnly, true},
		{"category written wins primary", "{category: upstream-gateway}", writtenAndOther, false},
		{"category sure codes only", "{category: upstream-gateway, min_confidence: 0.9}", inferredAndQuote, true},
		{"category sure codes skip inferred primary", "{category: upstream-gateway, min_confidence: 0.9}", inferredAndQ108, false},
		{"category sure codes: the quoted written one", "{category: agent-auth, min_confidence: 0.9}", inferredAndQ108, true},
		{"category all codes: the inferred one", "{category: agent-auth}", inferredAndQ108, false},
		{"category inferred only sure", "{category: upstream-gateway, min_confidence: 0.9}", inferredOnly, false},

		{"code inferred counts by default", "{code: 3200}", writtenAndOther, true},
		{"code inferred excluded", "{code: 3200, exclude_forms: [inferred]}", writtenAndOther, false},
		{"code written and inferred stays", "{code: 108, exclude_forms: [inferred]}", writtenInferred, true},
		{"code forms listed", "{code: 108, forms: [escaped]}", writtenInferred, true},
		{"code forms not listed", "{code: 108, forms: [canonical, docs-url]}", writtenInferred, false},
		{"code min_confidence", "{code: 3200, min_confidence: 0.9}", writtenAndOther, false},
		{"code hand-built counts as written", "{code: 108, forms: [canonical]}", handBuilt, true},
		{"code hand-built not inferred", "{code: 108, forms: [inferred]}", handBuilt, false},

		{"forms alone", "{forms: [inferred]}", inferredOnly, true},
		{"forms alone no such code", "{forms: [inferred]}", writtenOnly, false},
		{"exclude_forms alone", "{exclude_forms: [inferred, phrase]}", inferredOnly, false},
		{"forms with spaced", "{forms: [spaced]}", spacedOnly, true},

		{"has_code false with min_confidence", "{has_code: false, min_confidence: 0.9}", inferredOnly, true},
		{"has_code false with min_confidence nothing", "{has_code: false, min_confidence: 0.9}", none, true},
		{"has_code false with min_confidence written", "{has_code: false, min_confidence: 0.9}", writtenOnly, false},
		{"has_code true inferred", "{has_code: true}", inferredOnly, true},

		{"quoted_only among sure codes", "{quoted_only: true, exclude_forms: [inferred]}", inferredAndQuote, true},
		{"quoted_only among all codes", "{quoted_only: true}", inferredAndQuote, false},

		{"inferred true", "{inferred: true}", inferredOnly, true},
		{"inferred true same code", "{inferred: true}", inferredSame, true},
		{"inferred true written", "{inferred: true}", writtenAndOther, false},
		{"inferred true written and inferred code", "{inferred: true}", writtenInferred, false},
		{"inferred true no code", "{inferred: true}", none, false},
		{"inferred false", "{inferred: false}", writtenAndOther, true},
		{"inferred false no code", "{inferred: false}", none, true},
		{"inferred false inferred only", "{inferred: false}", inferredOnly, false},
		{"inferred with quoted written", "{inferred: true}", inferredAndQuote, false},

		{"agent_api true", "{agent_api: true}", agentOnly, true},
		{"agent_api true none", "{agent_api: true}", writtenOnly, false},
		{"agent_api false", "{agent_api: false}", writtenOnly, true},
		{"agent_api is not a code", "{has_code: true}", agentOnly, false},
		{"agent_api and code", "{agent_api: true, code: 108, min_confidence: 0.9}", agentAndCode, true},
		{"agent_api no category", "{category: agent-auth}", agentOnly, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := oneRule(t, tt.match)
			d, err := r.Decide(Input{Ticket: tk, Annotation: tt.ann})
			require.NoError(t, err)
			require.NotEmpty(t, d.Matched)
			assert.Equal(t, tt.want, d.Matched[0] == "r", "matched %v", d.Matched)
		})
	}
}

func TestConfidenceMatcherErrors(t *testing.T) {
	const src = `routes:
  rules:
    - name: sure
      match:
        min_confidence: 1.5
        forms: [canonical, agent-api, typed]
        exclude_forms: [canonical]
        inferred: perhaps
        agent_api: 103
      actions: [{kind: jsonl, target: x}]
    - name: words
      match:
        min_confidence: high
        forms: []
      actions: [{kind: jsonl, target: x}]
    - name: zero
      match: {min_confidence: 0}
      actions: [{kind: jsonl, target: x}]
`
	_, err := Parse("triage.yaml", []byte(src), Options{})
	require.Error(t, err)
	for _, want := range []string{
		`triage.yaml:5: rule "sure": match.min_confidence: 1.5 is out of range (write a number above 0 and at most 1, e.g. 0.9`,
		`triage.yaml:6: rule "sure": match.forms: "agent-api" numbers are the agent's local API's, not ngrok codes`,
		`triage.yaml:6: rule "sure": match.forms: unknown form "typed" (valid: canonical, lowercase, escaped, html-entity, docs-url, json, broken, spaced, phrase, bare, inferred)`,
		`triage.yaml:7: rule "sure": match.exclude_forms: canonical also listed in forms`,
		`triage.yaml:8: rule "sure": match.inferred: want true or false, got "perhaps"`,
		`triage.yaml:9: rule "sure": match.agent_api: want true or false, got "103"`,
		`triage.yaml:13: rule "words": match.min_confidence: want a number, got "high"`,
		`triage.yaml:14: rule "words": match.forms: empty list`,
		`triage.yaml:17: rule "zero": match.min_confidence: 0 is out of range`,
	} {
		assert.Contains(t, err.Error(), want)
	}
}

func TestCodeFormsAreExtractForms(t *testing.T) {
	forms := CodeForms()
	assert.Equal(t, "canonical", forms[0])
	assert.Equal(t, "inferred", forms[len(forms)-1])
	assert.NotContains(t, forms, "agent-api")
	for _, f := range forms {
		got, ok := codeForm(f)
		require.True(t, ok, f)
		assert.Equal(t, f, got.String())
	}
}
