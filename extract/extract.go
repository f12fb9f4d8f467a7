// Package extract finds ngrok error codes in text.
//
// It recognises every way a customer writes a code: the canonical
// ERR_NGROK_108, any letter case, markdown-escaped ERR\_NGROK\_108, HTML
// entities (ERR&#95;NGROK&#95;108), docs URLs (ngrok.com/docs/errors/err_ngrok_3200),
// JSON fields ("error_code":"ERR_NGROK_225", and a numeric "error_code": 102
// near an ngrok mention), codes broken by zero-width or non-breaking
// characters, and loose forms a person reads as a code ("ngrok error 4018",
// "ERR NGROK 3200", "ERR-NGROK-3200"), which get a lower confidence.
//
// It never reports ERR_NGROK_ without digits, a prefix of a longer number
// (ERR_NGROK_1080 is 1080, never 108), other vendors' codes, version strings
// ("ngrok 3.18.4") or digits that run on into letters (ERR_NGROK_108abc).
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
	// FormJSONNumber is a numeric JSON error code near an ngrok mention:
	// "error_code": 102.
	FormJSONNumber
	// FormBroken is a strict form with zero-width or other invisible characters
	// inside it.
	FormBroken
	// FormSpaced is ERR NGROK 3200 or ERR-NGROK-3200: spaces or dashes for the
	// underscores.
	FormSpaced
	// FormPhrase is prose such as "ngrok error 4018" or "ngrok error code 4018".
	FormPhrase
)

var formNames = [...]string{
	FormCanonical:  "canonical",
	FormLowercase:  "lowercase",
	FormEscaped:    "escaped",
	FormEntity:     "html-entity",
	FormURL:        "docs-url",
	FormJSON:       "json",
	FormJSONNumber: "json-number",
	FormBroken:     "broken",
	FormSpaced:     "spaced",
	FormPhrase:     "phrase",
}

// String returns the form's stable name, as used in JSON output.
func (f Form) String() string {
	if int(f) < len(formNames) {
		return formNames[f]
	}
	return "form(" + strconv.Itoa(int(f)) + ")"
}

// Confidence is how sure the extractor is that a match is an ngrok error
// code: 1 for the strict forms, less for loose ones.
func (f Form) Confidence() float64 {
	switch f {
	case FormBroken:
		return 0.9
	case FormSpaced:
		return 0.8
	case FormJSONNumber:
		return 0.7
	case FormPhrase:
		return 0.6
	default:
		return 1
	}
}

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
}

// Canonical returns "ERR_NGROK_<n>".
func (m Match) Canonical() string { return CodeString(m.Code) }

// Confidence returns the confidence of the match's form.
func (m Match) Confidence() float64 { return m.Form.Confidence() }

// CodeString returns the canonical spelling of code n: "ERR_NGROK_<n>".
func CodeString(n int) string { return "ERR_NGROK_" + strconv.Itoa(n) }
