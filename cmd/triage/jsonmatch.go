package main

import (
	"strconv"
	"unicode/utf8"

	"github.com/triage-bot/triage/annotate"
	"github.com/triage-bot/triage/ticket"
)

// appendMatchJSON appends m as encoding/json would encode it, without
// reflection: `scan --json` writes one per match, and a large log holds
// hundreds of thousands. m.Canonical is not read (see below).
func appendMatchJSON(b []byte, m ticket.Match) []byte {
	b = append(b, `{"code":`...)
	b = strconv.AppendInt(b, int64(m.Code), 10)
	// Canonical is ERR_NGROK_<code> (agent-api:<code> for the agent
	// API's numbers): spelled from the code, so a caller need not
	// allocate it per match.
	if m.Form == "agent-api" {
		b = append(b, `,"canonical":"agent-api:`...)
	} else {
		b = append(b, `,"canonical":"ERR_NGROK_`...)
	}
	b = strconv.AppendInt(b, int64(m.Code), 10)
	b = append(b, '"')
	b = append(b, `,"part":`...)
	b = strconv.AppendInt(b, int64(m.Part), 10)
	b = append(b, `,"where":`...)
	b = appendJSONString(b, string(m.PartKind))
	if m.PartName != "" {
		b = append(b, `,"name":`...)
		b = appendJSONString(b, m.PartName)
	}
	b = append(b, `,"offset":`...)
	b = strconv.AppendInt(b, m.Offset, 10)
	b = append(b, `,"text":`...)
	b = appendJSONString(b, m.Text)
	b = append(b, `,"form":`...)
	b = appendJSONString(b, m.Form)
	b = append(b, `,"confidence":`...)
	b = strconv.AppendFloat(b, m.Confidence, 'f', -1, 64)
	if m.Quoted {
		b = append(b, `,"quoted":true`...)
	}
	return append(b, '}')
}

// appendJSONString appends s as a JSON string exactly as encoding/json
// writes it (HTML-safe: <, > and & escaped; invalid UTF-8 as \ufffd;
// U+2028 and U+2029 escaped), without its reflection or allocation:
// `scan --json` writes one per match.
func appendJSONString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			default:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hex[r&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// appendCodeJSON appends c as encoding/json would encode it, without
// reflection: a large log can hold thousands of distinct codes.
func appendCodeJSON(b []byte, c annotate.Code) []byte {
	b = append(b, `{"code":`...)
	b = strconv.AppendInt(b, int64(c.Code), 10)
	b = append(b, `,"summary":`...)
	b = appendJSONString(b, c.Summary)
	b = append(b, `,"category":`...)
	b = appendJSONString(b, string(c.Category))
	for _, f := range []struct{ name, v string }{
		{"status", string(c.Status)}, {"hint", c.Hint}, {"runbook", c.Runbook}, {"owner", c.Owner}, {"official", c.Official},
	} {
		if f.v != "" {
			b = append(b, `,"`...)
			b = append(b, f.name...)
			b = append(b, `":`...)
			b = appendJSONString(b, f.v)
		}
	}
	b = append(b, `,"known":`...)
	b = strconv.AppendBool(b, c.Known)
	b = append(b, `,"name":`...)
	b = appendJSONString(b, c.Name)
	b = append(b, `,"docs_url":`...)
	b = appendJSONString(b, c.DocsURL)
	b = append(b, `,"count":`...)
	b = strconv.AppendInt(b, int64(c.Count), 10)
	if c.QuotedOnly {
		b = append(b, `,"quoted_only":true`...)
	}
	b = append(b, `,"where":`...)
	if c.Where == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, '[')
		for i, w := range c.Where {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendJSONString(b, w)
		}
		b = append(b, ']')
	}
	b = append(b, `,"confidence":`...)
	b = strconv.AppendFloat(b, c.Confidence, 'f', -1, 64)
	if c.Inferred {
		b = append(b, `,"inferred":true`...)
	}
	if c.Phrase != "" {
		b = append(b, `,"phrase":`...)
		b = appendJSONString(b, c.Phrase)
	}
	if len(c.Forms) > 0 {
		b = append(b, `,"forms":[`...)
		for i, f := range c.Forms {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendJSONString(b, f)
		}
		b = append(b, ']')
	}
	return append(b, '}')
}
