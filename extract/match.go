package extract

import "encoding/binary"

// This file verifies the neighbourhood of one anchor (a k or K that ends
// "ngrok"). Everything here runs only at anchors, so clarity beats speed.

type sepKind uint8

const (
	sepNone sepKind = iota
	sepUnderscore
	sepEscaped // \_
	sepEntity  // &#95; &#x5f; &lowbar; &UnderBar;
	sepDash
	sepSpace // space, tab, no-break spaces
)

func (k sepKind) strict() bool { return k == sepUnderscore || k == sepEscaped || k == sepEntity }

// ignorableAt returns the length of an invisible character starting at
// b[i] (zero-width space, joiners, word joiner, BOM, soft hyphen,
// direction marks), or 0.
func ignorableAt(b []byte, i int) int {
	if i >= len(b) {
		return 0
	}
	switch b[i] {
	case 0xC2:
		if i+1 < len(b) && b[i+1] == 0xAD {
			return 2
		}
	case 0xE2:
		if i+2 < len(b) {
			c1, c2 := b[i+1], b[i+2]
			if c1 == 0x80 && (c2 >= 0x8B && c2 <= 0x8F) || c1 == 0x81 && c2 == 0xA0 {
				return 3
			}
		}
	case 0xEF:
		if i+2 < len(b) && b[i+1] == 0xBB && b[i+2] == 0xBF {
			return 3
		}
	}
	return 0
}

// ignorableBefore returns the length of an invisible character ending at
// b[e-1], or 0.
func ignorableBefore(b []byte, e int) int {
	if e >= 2 && ignorableAt(b, e-2) == 2 {
		return 2
	}
	if e >= 3 && ignorableAt(b, e-3) == 3 {
		return 3
	}
	return 0
}

// skipBack moves e back over invisible characters; skipped reports whether
// any were there.
func skipBack(b []byte, e int, skipped *bool) int {
	for {
		n := ignorableBefore(b, e)
		if n == 0 {
			return e
		}
		e -= n
		*skipped = true
	}
}

// skipFwd moves i forward over invisible characters.
func skipFwd(b []byte, i int, skipped *bool) int {
	for {
		n := ignorableAt(b, i)
		if n == 0 {
			return i
		}
		i += n
		*skipped = true
	}
}

func lower(c byte) byte { return c | 0x20 }

func isAlnum(c byte) bool {
	c2 := c | 0x20
	return c >= '0' && c <= '9' || c2 >= 'a' && c2 <= 'z'
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// wordBack matches the lower-case word w ending at b[e-1], in any case,
// with invisible characters allowed between its letters. It returns the
// index of the word's first byte and whether every letter was upper case.
func wordBack(b []byte, e int, w string, skipped *bool) (start int, upper, ok bool) {
	upper = true
	for j := len(w) - 1; j >= 0; j-- {
		e = skipBack(b, e, skipped)
		if e < 1 || lower(b[e-1]) != w[j] {
			return 0, false, false
		}
		if b[e-1] >= 'a' {
			upper = false
		}
		e--
	}
	return e, upper, true
}

// wordFwd matches the lower-case word w starting at b[i] in any case. It
// returns the index just past the word.
func wordFwd(b []byte, i int, w string, skipped *bool) (end int, ok bool) {
	for j := 0; j < len(w); j++ {
		i = skipFwd(b, i, skipped)
		if i >= len(b) || lower(b[i]) != w[j] {
			return 0, false
		}
		i++
	}
	return i, true
}

var entities = []string{"&#95;", "&#x5f;", "&lowbar;", "&underbar;"}

func hasPrefixFold(b []byte, i int, s string) bool {
	if i < 0 || i+len(s) > len(b) {
		return false
	}
	for j := 0; j < len(s); j++ {
		if lower(b[i+j]) != s[j] {
			return false
		}
	}
	return true
}

// sepBack recognises one separator ending at b[e-1].
func sepBack(b []byte, e int) (start int, k sepKind) {
	if e < 1 {
		return e, sepNone
	}
	switch c := b[e-1]; c {
	case '_':
		if e >= 2 && b[e-2] == '\\' {
			return e - 2, sepEscaped
		}
		return e - 1, sepUnderscore
	case ';':
		for _, ent := range entities {
			if hasPrefixFold(b, e-len(ent), ent) {
				return e - len(ent), sepEntity
			}
		}
	case '-':
		return e - 1, sepDash
	case ' ', '\t':
		return e - 1, sepSpace
	case 0xA0:
		if e >= 2 && b[e-2] == 0xC2 {
			return e - 2, sepSpace
		}
	case 0xAF, 0x87:
		if e >= 3 && b[e-3] == 0xE2 && b[e-2] == 0x80 {
			return e - 3, sepSpace
		}
	}
	return e, sepNone
}

// sepFwd recognises one separator starting at b[i].
func sepFwd(b []byte, i int) (end int, k sepKind) {
	if i >= len(b) {
		return i, sepNone
	}
	switch c := b[i]; c {
	case '_':
		return i + 1, sepUnderscore
	case '\\':
		if i+1 < len(b) && b[i+1] == '_' {
			return i + 2, sepEscaped
		}
	case '&':
		for _, ent := range entities {
			if hasPrefixFold(b, i, ent) {
				return i + len(ent), sepEntity
			}
		}
	case '-':
		return i + 1, sepDash
	case ' ', '\t':
		return i + 1, sepSpace
	case 0xC2:
		if i+1 < len(b) && b[i+1] == 0xA0 {
			return i + 2, sepSpace
		}
	case 0xE2:
		if i+2 < len(b) && b[i+1] == 0x80 && (b[i+2] == 0xAF || b[i+2] == 0x87) {
			return i + 3, sepSpace
		}
	}
	return i, sepNone
}

// number reads the code number starting at b[i]: 1 to 6 digits (invisible
// characters allowed between them) that do not run on into letters, more
// digits, or a version-like ".<digit>". One exception: digits glued to a
// capitalised word (ERR_NGROK_3200Tunnel, from a flattened table or web
// page) are read, and glued says so; the caller must confirm the code
// against a catalog, because only a known code makes that reading safe.
func number(b []byte, i int, skipped *bool) (n, end int, glued, ok bool) {
	digits := 0
	for {
		j := skipFwd(b, i, skipped)
		if j < len(b) && isDigit(b[j]) {
			if digits == 6 {
				return 0, 0, false, false
			}
			n = n*10 + int(b[j]-'0')
			digits++
			i = j + 1
			continue
		}
		break
	}
	if digits == 0 {
		return 0, 0, false, false
	}
	if i < len(b) {
		c := b[i]
		if isAlnum(c) {
			if c >= 'A' && c <= 'Z' && i+1 < len(b) && b[i+1] >= 'a' && b[i+1] <= 'z' || hasPrefixFold(b, i, "ngrok") {
				return n, i, true, true
			}
			return 0, 0, false, false
		}
		if c == '.' && i+1 < len(b) && isDigit(b[i+1]) {
			return 0, 0, false, false
		}
	}
	return n, i, false, true
}

// escapeTailBefore reports whether the letter at b[i-1] is the tail of a
// written-out escape rather than part of a word: the n of a literal \n or
// \r\n (any number of backslashes: JSON strings, double-escaped logs),
// the r or t of \r and \t, or the n of a markdown-mangled /r/n. Agent
// logs and SDK exceptions put codes right after such escapes
// (err="...\r\n\r\nERR_NGROK_108\r\n").
func escapeTailBefore(b []byte, i int) bool {
	if i < 2 {
		return false
	}
	switch b[i-1] {
	case 'n', 'r', 't':
		if b[i-2] == '\\' {
			return true
		}
		return b[i-1] == 'n' && b[i-2] == '/' && i >= 4 && b[i-4] == '/' && b[i-3] == 'r'
	}
	return false
}

type found struct {
	start, end int
	code       int
	form       Form
	glued      bool // digits glued to a capitalised word: confirm against a catalog
}

// ngrokAt reports whether the k at b[p] ends the word "ngrok" and returns
// the index of its n.
func ngrokAt(b []byte, p int) (n int, upper, skipped, ok bool) {
	// Fast path: the four bytes before p are "ngro" in some case.
	if p >= 4 && lower(b[p-4]) == 'n' && lower(b[p-3]) == 'g' && lower(b[p-2]) == 'r' && lower(b[p-1]) == 'o' {
		return p - 4, b[p-4] < 'a' && b[p-3] < 'a' && b[p-2] < 'a' && b[p-1] < 'a' && b[p] == 'K', false, true
	}
	// Slow path only when an invisible character may sit inside the word:
	// some byte of the 16 before p has its high bit set. Checked eight
	// bytes at a time; this runs at every k in the text.
	if p >= 16 {
		w := binary.LittleEndian.Uint64(b[p-16:]) | binary.LittleEndian.Uint64(b[p-8:])
		if w&0x8080808080808080 == 0 {
			return 0, false, false, false
		}
	} else {
		hasHigh := false
		for j := 0; j < p; j++ {
			if b[j] >= 0x80 {
				hasHigh = true
				break
			}
		}
		if !hasHigh {
			return 0, false, false, false
		}
	}
	n, upper, ok = wordBack(b, p, "ngro", &skipped)
	return n, upper && b[p] == 'K', skipped, ok
}

// matchAt tries every form at the anchor b[p] (a k or K) and returns the
// match that contains it.
func matchAt(b []byte, p int) (found, bool) {
	ng, upperNG, skipped, ok := ngrokAt(b, p)
	if !ok {
		return found{}, false
	}
	if f, ok := matchPrefixed(b, ng, p+1, upperNG, skipped); ok {
		return f, true
	}
	return matchPhrase(b, ng, p+1)
}

// matchPrefixed matches ERR<sep>NGROK<sep><digits> where b[ng:after] is NGROK.
func matchPrefixed(b []byte, ng, after int, upperNG, skipped bool) (found, bool) {
	e := skipBack(b, ng, &skipped)
	sepStart, sep1 := sepBack(b, e)
	if sep1 == sepNone {
		return found{}, false
	}
	start, upperERR, ok := wordBack(b, skipBack(b, sepStart, &skipped), "err", &skipped)
	if !ok {
		// "Error NGROK 3200": the whole word, with a loose separator only.
		if start, upperERR, ok = wordBack(b, skipBack(b, sepStart, &skipped), "error", &skipped); !ok || sep1.strict() {
			return found{}, false
		}
	}
	if start > 0 && isAlnum(b[start-1]) && !escapeTailBefore(b, start) {
		return found{}, false
	}
	i := skipFwd(b, after, &skipped)
	i, sep2 := sepFwd(b, i)
	if sep2 == sepNone {
		return found{}, false
	}
	if sep2 == sepSpace && i < len(b) && b[i] == ' ' {
		i++ // two spaces
	}
	code, end, glued, ok := number(b, i, &skipped)
	if !ok {
		return found{}, false
	}
	f := found{start: start, end: end, code: code, glued: glued}
	switch {
	case !sep1.strict() || !sep2.strict():
		if code < 100 {
			return found{}, false
		}
		f.form = FormSpaced
	case skipped:
		f.form = FormBroken
	case sep1 == sepEntity || sep2 == sepEntity:
		f.form = FormEntity
	case sep1 == sepEscaped || sep2 == sepEscaped:
		f.form = FormEscaped
	case hasPrefixFold(b, start-len("errors/"), "errors/"):
		f.form = FormURL
	case jsonValueBefore(b, start):
		f.form = FormJSON
	case upperNG && upperERR:
		f.form = FormCanonical
	default:
		f.form = FormLowercase
	}
	return f, true
}

// errorWords are "error" in the languages customers write to us in,
// for the prose form (ngrok エラー 108, ngrok Fehler 4018); lower case.
var errorWords = []string{"エラー", "fehler", "erreur", "errore", "erro", "fout", "błąd", "ошибка", "错误", "錯誤"}

// errorWordFwd matches one of errorWords at b[i] in any ASCII case.
func errorWordFwd(b []byte, i int) (int, bool) {
	if i >= len(b) {
		return 0, false
	}
	switch b[i] | 0x20 { // the first bytes of errorWords, any ASCII case
	case 0xE3, 'f', 'e', 'b', 0xF0, 0xE9:
	default:
		return 0, false
	}
next:
	for _, w := range errorWords {
		if i+len(w) > len(b) {
			continue
		}
		for j := 0; j < len(w); j++ {
			c := b[i+j]
			if c >= 'A' && c <= 'Z' {
				c += 'a' - 'A'
			}
			if c != w[j] {
				continue next
			}
		}
		return i + len(w), true
	}
	return 0, false
}

// jsonValueBefore reports whether b[start] opens a JSON string value of a
// key such as "error_code" or "code".
func jsonValueBefore(b []byte, start int) bool {
	i := start - 1
	if i < 0 || b[i] != '"' {
		return false
	}
	i--
	for i >= 0 && (b[i] == ' ' || b[i] == '\t') {
		i--
	}
	if i < 0 || b[i] != ':' {
		return false
	}
	i--
	for i >= 0 && (b[i] == ' ' || b[i] == '\t') {
		i--
	}
	if i < 0 || b[i] != '"' {
		return false
	}
	return hasPrefixFold(b, i-len("code"), "code") || hasPrefixFold(b, i-len("error"), "error")
}

// matchPhrase matches prose: ngrok error 4018, ngrok error: 4018,
// ngrok error code 4018, ngrok err #4018.
func matchPhrase(b []byte, ng, after int) (found, bool) {
	if ng > 0 && (isAlnum(b[ng-1]) && !escapeTailBefore(b, ng) || b[ng-1] == '_') {
		return found{}, false
	}
	var skipped bool
	i, sep := sepFwd(b, after)
	if sep != sepSpace && sep != sepDash {
		return found{}, false
	}
	j, ok := wordFwd(b, i, "err", &skipped)
	if ok {
		if k, ok := wordFwd(b, j, "or", &skipped); ok {
			j = k
		}
	} else if j, ok = errorWordFwd(b, i); !ok {
		return found{}, false
	}
	// Optional " code", then ":" or "#" and spaces.
	if k, s := sepFwd(b, j); s == sepSpace {
		if k2, ok := wordFwd(b, k, "code", &skipped); ok {
			j = k2
		}
	}
	for n := 0; n < 3 && j < len(b) && (b[j] == ':' || b[j] == '#' || b[j] == ' '); n++ {
		j++
	}
	if j < len(b) && !isDigit(b[j]) {
		return found{}, false
	}
	code, end, glued, ok := number(b, j, &skipped)
	if !ok || glued || code < 100 || end-j > 5 {
		return found{}, false
	}
	return found{start: ng, end: end, code: code, form: FormPhrase}, true
}

// Agent API numbers. The ngrok agent's local API (127.0.0.1:4040/api)
// and the SDK wrappers that surface it answer errors as
// {"error_code":103,"status_code":502,"msg":"failed to start tunnel",
// "details":{"err":"..."}}. Its error_code is a small number of the agent
// API's own, NOT ERR_NGROK_103 (which means a suspended account): reading
// it as an ngrok code is the most harmful mistake the bot can make. So a
// numeric error_code is never an ngrok code; it is an agent API number
// when the agent API's shape is around it (a status_code or msg key, or
// one of its messages), and nothing otherwise (Cloudflare Tunnel's
// "error_code": 1033 and other vendors' numbers).
const (
	// agentAPIMin and agentAPIMax bound the agent API's numbers.
	agentAPIMin, agentAPIMax = 100, 199
	// agentAPIWindow is how far (in bytes) from the key the shape's other
	// parts may be.
	agentAPIWindow = 256
)

// agentAPIEvidence are the parts of the agent API's error shape: its two
// other keys, then its messages.
var agentAPIEvidence = []string{"status_code", "msg", "failed to start tunnel", "invalid tunnel configuration", "not yet ready to start tunnels"}

// agentAPIAt parses a numeric error_code whose key starts at b[q]
// ("error_code" without quotes), in any of the shapes the wrappers print:
// JSON ("error_code": 103), Node's inspect (error_code: 103), Python's
// repr ('error_code': 103), Ruby ("error_code"=>103), logfmt
// (error_code=103) and prose (error_code 102). It reports the number as
// FormAgentAPI when the agent API's shape is within agentAPIWindow.
func agentAPIAt(b []byte, q int) (found, bool) {
	if q > 0 && (isAlnum(b[q-1]) || b[q-1] == '_') {
		return found{}, false
	}
	i := q + len("error_code")
	if i < len(b) && (b[i] == '"' || b[i] == '\'') {
		i++
	}
	j := i
	for j < len(b) && j-i < 4 && (b[j] == ' ' || b[j] == '\t' || b[j] == ':' || b[j] == '=' || b[j] == '>' || b[j] == '\n' || b[j] == '\r') {
		j++
	}
	if j == i {
		return found{}, false
	}
	quoted := j < len(b) && (b[j] == '"' || b[j] == '\'')
	if quoted {
		j++
	}
	start := j
	var skipped bool
	code, end, glued, ok := number(b, j, &skipped)
	if !ok || glued || skipped || code < agentAPIMin || code > agentAPIMax || end-start > 3 {
		return found{}, false
	}
	if quoted && (end >= len(b) || b[end] != b[start-1]) {
		return found{}, false
	}
	lo, hi := max(0, q-agentAPIWindow), min(len(b), end+agentAPIWindow)
	near := b[lo:hi]
	for _, ev := range agentAPIEvidence {
		if indexFold(near, ev) >= 0 {
			return found{start: start, end: end, code: code, form: FormAgentAPI}, true
		}
	}
	return found{}, false
}

// indexFold returns the index of the lower-case ASCII string s in b in any
// letter case, or -1. It is for short windows only.
func indexFold(b []byte, s string) int {
next:
	for i := 0; i+len(s) <= len(b); i++ {
		for j := 0; j < len(s); j++ {
			c := b[i+j]
			if c >= 'A' && c <= 'Z' {
				c += 'a' - 'A'
			}
			if c != s[j] {
				continue next
			}
		}
		return i
	}
	return -1
}

// FindAgentAPIProse finds agent API numbers written in prose beside the
// agent API's message, as some wrappers print them: "not yet ready to
// start tunnels (error code: 104)", "error code 102: invalid tunnel
// configuration". The JSON-like shapes are found by Find; this is for
// whole texts of modest size (a ticket's part), not for streams.
func FindAgentAPIProse(b []byte) []Match {
	var out []Match
	for i := 0; i < len(b); {
		k := indexFold(b[i:], "error code")
		if k < 0 {
			break
		}
		q := i + k
		i = q + len("error code")
		j := i
		for j < len(b) && j-i < 3 && (b[j] == ' ' || b[j] == ':' || b[j] == '=' || b[j] == '#') {
			j++
		}
		var skipped bool
		code, end, glued, ok := number(b, j, &skipped)
		if !ok || glued || skipped || end-j != 3 || code < agentAPIMin || code > agentAPIMax {
			continue
		}
		near := b[max(0, q-agentAPIWindow):min(len(b), end+agentAPIWindow)]
		for _, ev := range agentAPIEvidence[2:] { // the messages, not the keys
			if indexFold(near, ev) >= 0 {
				out = append(out, Match{Code: code, Offset: int64(j), Len: end - j, Form: FormAgentAPI})
				break
			}
		}
	}
	return out
}
