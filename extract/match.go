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
// digits, or a version-like ".<digit>".
func number(b []byte, i int, skipped *bool) (n, end int, ok bool) {
	digits := 0
	for {
		j := skipFwd(b, i, skipped)
		if j < len(b) && isDigit(b[j]) {
			if digits == 6 {
				return 0, 0, false
			}
			n = n*10 + int(b[j]-'0')
			digits++
			i = j + 1
			continue
		}
		break
	}
	if digits == 0 {
		return 0, 0, false
	}
	if i < len(b) {
		c := b[i]
		if isAlnum(c) {
			return 0, 0, false
		}
		if (c == '.' || c == ',') && i+1 < len(b) && isDigit(b[i+1]) && c == '.' {
			return 0, 0, false
		}
	}
	return n, i, true
}

type found struct {
	start, end int
	code       int
	form       Form
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
		return found{}, false
	}
	if start > 0 && isAlnum(b[start-1]) {
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
	code, end, ok := number(b, i, &skipped)
	if !ok {
		return found{}, false
	}
	f := found{start: start, end: end, code: code}
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
	if ng > 0 && (isAlnum(b[ng-1]) || b[ng-1] == '_') {
		return found{}, false
	}
	var skipped bool
	i, sep := sepFwd(b, after)
	if sep != sepSpace && sep != sepDash {
		return found{}, false
	}
	j, ok := wordFwd(b, i, "err", &skipped)
	if !ok {
		return found{}, false
	}
	if k, ok := wordFwd(b, j, "or", &skipped); ok {
		j = k
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
	code, end, ok := number(b, j, &skipped)
	if !ok || code < 100 || end-j > 5 {
		return found{}, false
	}
	return found{start: ng, end: end, code: code, form: FormPhrase}, true
}

// jsonNumberAt parses a numeric "error_code": <n> whose key starts at
// b[q] ("error_code" without the quotes).
func jsonNumberAt(b []byte, q int) (found, bool) {
	if q < 1 || b[q-1] != '"' {
		return found{}, false
	}
	i := q + len("error_code")
	if i >= len(b) || b[i] != '"' {
		return found{}, false
	}
	i++
	for i < len(b) && (b[i] == ' ' || b[i] == '\t') {
		i++
	}
	if i >= len(b) || b[i] != ':' {
		return found{}, false
	}
	i++
	for i < len(b) && (b[i] == ' ' || b[i] == '\t') {
		i++
	}
	quoted := i < len(b) && b[i] == '"'
	if quoted {
		i++
	}
	start := i
	var skipped bool
	code, end, ok := number(b, i, &skipped)
	if !ok || skipped || code < 100 || end-start > 5 {
		return found{}, false
	}
	if quoted && (end >= len(b) || b[end] != '"') {
		return found{}, false
	}
	return found{start: start, end: end, code: code, form: FormJSONNumber}, true
}
