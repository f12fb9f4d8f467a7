package route

import (
	"strconv"
	"strings"
)

// renderer writes what one template writes, without text/template's
// reflection: the default texts of the kinds used most (a JSON Lines log,
// a webhook, a folder or flag) and one-field targets such as
// "{{.Primary}}" ran once or twice per ticket, and executing them was a
// tenth of routing's time. Each renderer is checked against its template
// on many tickets (TestRenderersMatchTemplates); any other template is
// executed as written.
type renderer func(*TemplateData) string

// renderers maps a template's exact text to its renderer.
var renderers = map[string]renderer{
	plainText:      renderPlain,
	shortText:      renderShort,
	"{{.Primary}}": func(d *TemplateData) string { return d.Primary },
	"{{.Rule}}":    func(d *TemplateData) string { return d.Rule },
	"{{.Kind}}":    func(d *TemplateData) string { return d.Kind },
}

// renderPlain is plainText.
func renderPlain(d *TemplateData) string {
	var b strings.Builder
	n := 64 + len(d.Primary) + len(d.Ticket.Subject) + len(d.Ticket.From)
	for i := range d.Codes {
		n += 24 + len(d.Codes[i].Name) + len(d.Codes[i].Summary) + len(d.Codes[i].DocsURL)
	}
	for i := range d.AgentAPI {
		n += 40 + len(d.AgentAPI[i].Name) + len(d.AgentAPI[i].Summary)
	}
	b.Grow(n)
	b.WriteByte('[')
	if d.Primary != "" {
		b.WriteString(d.Primary)
	} else {
		b.WriteString("no code")
	}
	b.WriteString("] ")
	b.WriteString(d.Ticket.Subject)
	if d.Ticket.From != "" {
		b.WriteString(" (from ")
		b.WriteString(d.Ticket.From)
		b.WriteByte(')')
	}
	b.WriteByte('\n')
	for i := range d.Codes {
		c := &d.Codes[i]
		b.WriteString("- ")
		b.WriteString(c.Name)
		if c.Inferred {
			b.WriteString(" (inferred)")
		}
		if c.QuotedOnly {
			b.WriteString(" (quoted only)")
		}
		b.WriteString(": ")
		b.WriteString(c.Summary)
		b.WriteByte(' ')
		b.WriteString(c.DocsURL)
		b.WriteByte('\n')
	}
	if len(d.Codes) == 0 {
		b.WriteString("No ngrok error code found.\n")
	}
	if d.More.Codes > 0 {
		b.WriteString("- and ")
		b.WriteString(strconv.Itoa(d.More.Codes))
		b.WriteString(" more\n")
	}
	for i := range d.AgentAPI {
		b.WriteString("- ")
		b.WriteString(d.AgentAPI[i].Name)
		b.WriteString(" (agent API, not an ngrok code): ")
		b.WriteString(d.AgentAPI[i].Summary)
		b.WriteByte('\n')
	}
	if d.More.AgentAPI > 0 {
		b.WriteString("- and ")
		b.WriteString(strconv.Itoa(d.More.AgentAPI))
		b.WriteString(" more agent API numbers\n")
	}
	return b.String()
}

// renderShort is shortText.
func renderShort(d *TemplateData) string {
	if len(d.Codes) == 0 {
		return "no ngrok error code"
	}
	var b strings.Builder
	for i := range d.Codes {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(d.Codes[i].Name)
	}
	if d.More.Codes > 0 {
		b.WriteString(" and ")
		b.WriteString(strconv.Itoa(d.More.Codes))
		b.WriteString(" more")
	}
	return b.String()
}
