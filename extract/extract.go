// Package extract finds ngrok error codes in text.
//
// It recognises every way a customer writes a code: the canonical
// ERR_NGROK_108, any letter case, markdown-escaped ERR\_NGROK\_108, HTML
// entities (ERR&#95;NGROK&#95;108), docs URLs (ngrok.com/docs/errors/err_ngrok_3200),
// JSON fields ("error_code":"ERR_NGROK_225"), codes right after a
// written-out escape (err="...\r\nERR_NGROK_108\r\n" in agent logs and SDK
// exceptions), codes broken by zero-width or non-breaking characters, and
// loose forms a person reads as a code ("ngrok error 4018", "ERR NGROK
// 3200", "ERR-NGROK-3200"), which get a lower confidence. Digits glued to a
// capitalised word (ERR_NGROK_3200Tunnel, a flattened table) are reported
// with Glued set, for the caller to confirm against a catalog.
//
// The agent's local API has numbers of its own ({"error_code":103,
// "status_code":502,"msg":"failed to start tunnel"}): those are reported
// in their own namespace (FormAgentAPI), never as an ERR_NGROK_ code.
//
// It never reports ERR_NGROK_ without digits, a prefix of a longer number
// (ERR_NGROK_1080 is 1080, never 108), other vendors' codes, version strings
// ("ngrok 3.18.4"), digits that run on into lower-case letters
// (ERR_NGROK_108abc) or a numeric error_code as an ngrok code.
//
// Phrases (phrase.go) names an error from its wording alone, for text
// where no code was written.
//
// Search is fast by construction: the only byte every form contains is the
// k of "ngrok", so the scanner looks only at a k or K after an o, O or an
// invisible character's last byte (on amd64 an AVX2 pass finds them 32
// bytes at a time, anchor_amd64.s; elsewhere IndexByte jumps between k
// and K) and verifies the few bytes around each one by hand. Memory is
// bounded: Scan streams an io.Reader through a fixed buffer and still
// finds a code split across two reads.
package extract

import (
	"strconv"
)

// Form says how a code was written.
type Form uint8

// The forms a code is written in.
const (
	// FormCanonical is ERR_NGROK_<n> in upper case.
	FormCanonical Form = iota
	// FormLowercase is the strict form in lower or mixed case: err_ngrok_8012.
	FormLowercase
	// FormEscaped is markdown-escaped: ERR\_NGROK\_108.
	FormEscaped
	// FormEntity has HTML entities for the underscores: ERR&#95;NGROK&#95;108.
	FormEntity
	// FormURL is a docs link: https://ngrok.com/docs/errors/err_ngrok_3200.
	FormURL
	// FormJSON is a JSON field value: "error_code":"ERR_NGROK_225".
	FormJSON
	// FormAgentAPI is a number of the ngrok agent's local API
	// ({"error_code":103,"status_code":502,"msg":"failed to start tunnel"}):
	// its own namespace, never an ERR_NGROK_ code.
	FormAgentAPI
	// FormBroken is a strict form with zero-width or other invisible characters
	// inside it.
	FormBroken
	// FormSpaced is ERR NGROK 3200 or ERR-NGROK-3200: spaces or dashes for the
	// underscores.
	FormSpaced
	// FormPhrase is prose such as "ngrok error 4018" or "ngrok error code 4018".
	FormPhrase
	// FormBare is a known code's number written alone beside "error"
	// ("gives error 3200", "3200 errors"); see FindBare.
	FormBare
	// FormInferred is no written code at all: the error named by its
	// wording (see Phrases).
	FormInferred
)

var formNames = [...]string{
	FormCanonical: "canonical",
	FormLowercase: "lowercase",
	FormEscaped:   "escaped",
	FormEntity:    "html-entity",
	FormURL:       "docs-url",
	FormJSON:      "json",
	FormAgentAPI:  "agent-api",
	FormBroken:    "broken",
	FormSpaced:    "spaced",
	FormPhrase:    "phrase",
	FormBare:      "bare",
	FormInferred:  "inferred",
}

// ParseForm returns the form whose String is name; an unknown name is
// FormCanonical. It runs once per match when annotating a stream, so it
// is a switch, not a search.
func ParseForm(name string) Form {
	switch name {
	case "lowercase":
		return FormLowercase
	case "escaped":
		return FormEscaped
	case "html-entity":
		return FormEntity
	case "docs-url":
		return FormURL
	case "json":
		return FormJSON
	case "agent-api":
		return FormAgentAPI
	case "broken":
		return FormBroken
	case "spaced":
		return FormSpaced
	case "phrase":
		return FormPhrase
	case "bare":
		return FormBare
	case "inferred":
		return FormInferred
	}
	return FormCanonical
}

// String returns the form's stable name, as used in JSON output.
func (f Form) String() string {
	if int(f) < len(formNames) {
		return formNames[f]
	}
	return "form(" + strconv.Itoa(int(f)) + ")"
}

// Confidence is how sure the extractor is that a match is what its form
// says: 1 for the strict forms, less for loose ones, and for an inferred
// code less than for any written form. For FormAgentAPI it is how sure we
// are that the number is the agent API's.
func (f Form) Confidence() float64 {
	switch f {
	case FormBroken:
		return 0.9
	case FormAgentAPI:
		return 0.9
	case FormSpaced:
		return 0.8
	case FormPhrase:
		return 0.6
	case FormBare:
		return 0.55
	case FormInferred:
		return InferredConfidence
	default:
		return 1
	}
}

// InferredConfidence is the confidence of a code named by its wording
// alone: below every written form.
const InferredConfidence = 0.5

// GluedConfidence caps the confidence of a code glued to the next word.
const GluedConfidence = 0.9

// Written reports whether the form is a written ngrok code (strict or
// loose), as opposed to an agent API number or an inferred code.
func (f Form) Written() bool { return f != FormAgentAPI && f != FormInferred }

// Match is one code found in text.
type Match struct {
	// Code is n in ERR_NGROK_n.
	Code int
	// Offset is the byte offset of the first byte of the match in the
	// scanned text (for Scan, from the start of the stream).
	Offset int64
	// Len is the match's length in bytes.
	Len int
	// Form says how it was written.
	Form Form
	// Glued is true when the digits run on into a capitalised word
	// (ERR_NGROK_3200Tunnel): the match stands only if a catalog knows
	// the code.
	Glued bool
}

// Canonical returns "ERR_NGROK_<n>", or "agent-api:<n>" for an agent API
// number, which is never an ngrok code.
func (m Match) Canonical() string {
	if m.Form == FormAgentAPI {
		return AgentAPIString(m.Code)
	}
	return CodeString(m.Code)
}

// AgentAPIString returns the canonical name of agent API number n:
// "agent-api:<n>".
func AgentAPIString(n int) string { return "agent-api:" + strconv.Itoa(n) }

// Confidence returns the confidence of the match's form.
func (m Match) Confidence() float64 {
	if m.Glued {
		return min(m.Form.Confidence(), GluedConfidence)
	}
	return m.Form.Confidence()
}

// CodeString returns the canonical spelling of code n: "ERR_NGROK_<n>".
func CodeString(n int) string { return "ERR_NGROK_" + strconv.Itoa(n) }
