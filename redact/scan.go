// The scanners behind the rules in redact.go: byte classes, the value
// shapes the key-value rules share, and one finder per rule.

package redact

import "strings"

// Byte classes of the scanners, one bit each. Go's \s is [\t\n\f\r ].
const (
	cWord      = 1 << iota // \w: [0-9A-Za-z_]
	cName                  // a key name: [A-Za-z0-9_.-]
	cFlag                  // a flag word: [A-Za-z0-9-]
	cScheme                // after a URL scheme's first letter: [A-Za-z0-9+.-]
	cUser                  // a URL user name: [^\s:/@\[\]]
	cPass                  // a URL password: [^\s@/]
	cValue                 // an unquoted value after its first byte: [^\s"'&,;)\]}]
	cValueHead             // an unquoted value's first byte: [^\s"'&,;<>()\[\]{}]
	cBearer                // a bearer token: [A-Za-z0-9\-._~+/]
	cBasic                 // base64: [A-Za-z0-9+/]
	cToken                 // a token's body: [A-Za-z0-9_-]
	cBlank                 // [ \t]
	cSpace                 // \s
)

var class = func() (t [256]uint16) {
	for c := range 256 {
		b := byte(c)
		alnum := b >= '0' && b <= '9' || b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z'
		space := strings.IndexByte("\t\n\f\r ", b) >= 0
		set := func(bit uint16, on bool) {
			if on {
				t[c] |= bit
			}
		}
		set(cWord, alnum || b == '_')
		set(cName, alnum || strings.IndexByte("_.-", b) >= 0)
		set(cFlag, alnum || b == '-')
		set(cScheme, alnum || strings.IndexByte("+.-", b) >= 0)
		set(cUser, !space && strings.IndexByte(":/@[]", b) < 0)
		set(cPass, !space && b != '@' && b != '/')
		set(cValue, !space && strings.IndexByte(`"'&,;)]}`, b) < 0)
		set(cValueHead, !space && strings.IndexByte(`"'&,;<>()[]{}`, b) < 0)
		set(cBearer, alnum || strings.IndexByte("-._~+/", b) >= 0)
		set(cBasic, alnum || b == '+' || b == '/')
		set(cToken, alnum || b == '_' || b == '-')
		set(cBlank, b == ' ' || b == '\t')
		set(cSpace, space)
	}
	return t
}()

func is(c byte, bits uint16) bool { return class[c]&bits != 0 }

// skip returns the first index at or after i whose byte is not in bits.
func (l *line) skip(i int, bits uint16) int {
	j := i
	for j < len(l.s) && class[l.s[j]]&bits != 0 {
		j++
	}
	l.work += j - i + 1
	return j
}

// index returns the first index at or after i where lower holds word, or -1.
func (l *line) index(i int, word string) int {
	j := strings.Index(l.lower[i:], word)
	if j < 0 {
		l.work += len(l.lower) - i
		return -1
	}
	l.work += j + 1
	return i + j
}

// value matches a value at i and returns where it ends: Mask (in any case),
// a double-quoted string with backslash escapes, a single-quoted string,
// or an unquoted run that stops at white space or one of " ' & , ; ) ] }
// (and does not start with < > ( [ {).
func (l *line) value(i int) (end int, ok bool) {
	if i >= len(l.s) {
		return 0, false
	}
	if strings.HasPrefix(l.lower[i:], maskLower) {
		return i + len(Mask), true
	}
	switch c := l.s[i]; {
	case c == '"':
		return l.closeDouble(i)
	case c == '\'':
		return l.closeSingle(i)
	case !is(c, cValueHead):
		return 0, false
	}
	return l.skip(i+1, cValue), true
}

// closeDouble returns the end of the double-quoted string that opens at i.
// A quote that an earlier scan passed as escaped closes where that scan
// closed, or nowhere if it found no close: the escapes pair up the same way
// from both.
func (l *line) closeDouble(i int) (end int, ok bool) {
	if i > l.dq.open && (l.dq.close < 0 || i < l.dq.close) {
		return l.dq.close + 1, l.dq.close >= 0
	}
	j := i + 1
	for ; j < len(l.s); j++ {
		if c := l.s[j]; c == '"' {
			break
		} else if c == '\\' {
			j++
		}
	}
	l.work += j - i
	if j >= len(l.s) {
		j = -1
	}
	l.dq = quoted{i, j}
	return j + 1, j >= 0
}

// closeSingle returns the end of the single-quoted string that opens at i.
func (l *line) closeSingle(i int) (end int, ok bool) {
	if i > l.sq.open && l.sq.close < 0 {
		return 0, false
	}
	j := strings.IndexByte(l.s[i+1:], '\'')
	if j >= 0 {
		j += i + 1
		l.work += j - i
	} else {
		l.work += len(l.s) - i
	}
	l.sq = quoted{i, j}
	return j + 1, j >= 0
}

// findVendor finds Slack and other vendors' tokens with a fixed prefix at
// the start of a word, followed by at least ten characters of
// [A-Za-z0-9_-] starting with a letter or digit; the span is all but the
// prefix.
func findVendor(l *line, spans []span) []span {
	s := l.s
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case 'x', 's', 'r', 'g':
		default:
			continue
		}
		if i > 0 && is(s[i-1], cWord) {
			continue
		}
		p := vendorPrefix(s[i:])
		if p == 0 {
			continue
		}
		j := i + p
		if j >= len(s) || !isAlnum(s[j]) {
			continue
		}
		k := l.skip(j+1, cToken)
		if k-j < 10 {
			continue
		}
		spans = append(spans, span{j, k})
		i = k - 1
	}
	l.work += len(s)
	return spans
}

// vendorPrefix returns the length of the vendor token prefix s starts
// with, or 0.
func vendorPrefix(s string) int {
	switch {
	case len(s) >= 5 && s[:3] == "xox" && strings.IndexByte("abposr", s[3]) >= 0 && s[4] == '-':
		return 5
	case len(s) >= 4 && s[:2] == "gh" && strings.IndexByte("pousr", s[2]) >= 0 && s[3] == '_':
		return 4
	}
	for _, p := range []string{"xapp-", "sk_live_", "sk_test_", "rk_live_", "rk_test_", "github_pat_", "glpat-"} {
		if strings.HasPrefix(s, p) {
			return len(p)
		}
	}
	return 0
}

// findURLPassword finds the password in scheme://user:password@. Each
// "://" is looked at once; the scans around it stop at the next one.
func findURLPassword(l *line, spans []span) []span {
	s := l.s
	for i, m := 0, 0; ; {
		c := l.index(i, "://")
		if c < 0 {
			return spans
		}
		i = c + 1
		// The scheme: the leftmost letter starting a word from which
		// scheme characters run up to "://".
		lo := c
		for lo > m && is(s[lo-1], cScheme) {
			lo--
		}
		l.work += c - lo
		start := -1
		for j := lo; j < c; j++ {
			if isLetter(s[j]) && (j == 0 || !is(s[j-1], cWord)) {
				start = j
				break
			}
		}
		if start < 0 {
			continue
		}
		k := l.skip(c+3, cUser)
		if k == len(s) || s[k] != ':' {
			continue
		}
		p := l.skip(k+1, cPass)
		if p == k+1 || p == len(s) || s[p] != '@' {
			continue
		}
		spans = append(spans, span{k + 1, p})
		i, m = p+1, p+1
	}
}

// authSchemes may stand between an Authorization header and its value.
var authSchemes = []string{"bearer", "basic", "token", "digest", "negotiate", "ntlm", "apikey", "key"}

// findAuthHeader finds the value of Authorization: <scheme> <credentials>
// in headers, JSON and curl -H arguments: "authorization" at the start of
// a word, an optional quote, ':' or '=' between blanks, an optional quote,
// an optional scheme with blanks after it, then a value.
func findAuthHeader(l *line, spans []span) []span {
	s := l.s
	for i := 0; ; {
		a := l.index(i, "authorization")
		if a < 0 {
			return spans
		}
		i = a + 1
		if a > 0 && is(s[a-1], cWord) {
			continue
		}
		p := a + len("authorization")
		if p < len(s) && (s[p] == '"' || s[p] == '\'') {
			p++
		}
		p = l.skip(p, cBlank)
		if p == len(s) || s[p] != ':' && s[p] != '=' {
			continue
		}
		p = l.skip(p+1, cBlank)
		start, end, ok := 0, 0, false
		if p < len(s) && (s[p] == '"' || s[p] == '\'') {
			start, end, ok = l.authValue(p + 1)
		}
		if !ok {
			start, end, ok = l.authValue(p)
		}
		if !ok {
			continue
		}
		spans = append(spans, span{start, end})
		i = end
	}
}

// authValue matches an optional scheme with blanks after it, then a
// value, at p; without the scheme if the value after it does not match.
func (l *line) authValue(p int) (start, end int, ok bool) {
	for _, w := range authSchemes {
		if !strings.HasPrefix(l.lower[p:], w) {
			continue
		}
		q := p + len(w)
		if q < len(l.s) && is(l.s[q], cBlank) {
			q = l.skip(q, cBlank)
			if end, ok := l.value(q); ok {
				return q, end, true
			}
		}
		break
	}
	end, ok = l.value(p)
	return p, end, ok
}

// findBearer finds "bearer" at the start of a word, blanks, then Mask or
// a run of at least 8 token characters with any '=' padding.
func findBearer(l *line, spans []span) []span {
	return l.findSchemeValue(spans, "bearer", cBearer, -1)
}

// findBasic finds "basic" at the start of a word, blanks, then Mask or a
// run of at least 8 base64 characters with up to two '=' of padding.
func findBasic(l *line, spans []span) []span {
	return l.findSchemeValue(spans, "basic", cBasic, 2)
}

// findSchemeValue finds word, blanks, then Mask or a run of at least 8
// bytes of class run followed by at most maxPad '=' (any number if
// negative).
func (l *line) findSchemeValue(spans []span, word string, run uint16, maxPad int) []span {
	s := l.s
	for i := 0; ; {
		a := l.index(i, word)
		if a < 0 {
			return spans
		}
		i = a + 1
		if a > 0 && is(s[a-1], cWord) {
			continue
		}
		p := a + len(word)
		if p == len(s) || !is(s[p], cBlank) {
			continue
		}
		p = l.skip(p, cBlank)
		end := p + len(Mask)
		if !strings.HasPrefix(l.lower[p:], maskLower) {
			end = l.skip(p, run)
			if end-p < 8 {
				continue
			}
			pad := end
			for pad < len(s) && s[pad] == '=' && (maxPad < 0 || pad-end < maxPad) {
				pad++
			}
			l.work += pad - end
			end = pad
		}
		spans = append(spans, span{p, end})
		i = end
	}
}

// flagWords are the secret flags ending a flag word, after "-" or "--"
// and any dash-separated words.
var flagWords = []string{"authtoken", "auth-token", "api-key", "apikey", "password", "passwd", "secret", "token"}

// findFlag finds a secret flag or ngrok command with its value after
// blanks: a word of letters, digits and dashes that starts the line or
// follows white space or a quote, such as --authtoken, --db-password or
// add-api-key (the --flag=value form is a key-value pair).
func findFlag(l *line, spans []span) []span {
	s := l.s
	for i, m := 0, 0; i < len(s); {
		if !is(s[i], cFlag) {
			i++
			continue
		}
		w := i
		i = l.skip(i, cFlag)
		if w == 0 && m > 0 || w > 0 && (w-1 < m || !is(s[w-1], cSpace) && s[w-1] != '"' && s[w-1] != '\'') {
			continue
		}
		if i == len(s) || !is(s[i], cBlank) || !isFlagWord(l.lower[w:i]) {
			continue
		}
		p := l.skip(i, cBlank)
		end, ok := l.value(p)
		if !ok {
			continue
		}
		spans = append(spans, span{p, end})
		i, m = end, end
	}
	l.work += len(s)
	return spans
}

// isFlagWord reports whether the lower-cased word w is a secret flag:
// add-authtoken, add-api-key, or "-" or "--", then words each followed by
// a dash, then one of flagWords.
func isFlagWord(w string) bool {
	if w == "add-authtoken" || w == "add-api-key" {
		return true
	}
	for _, x := range []string{strings.TrimPrefix(w, "--"), strings.TrimPrefix(w, "-")} {
		if len(x) == len(w) {
			continue
		}
		for _, f := range flagWords {
			words, ok := strings.CutSuffix(x, f)
			if ok && (words == "" || words[0] != '-' && words[len(words)-1] == '-' && !strings.Contains(words, "--")) {
				return true
			}
		}
	}
	return false
}

// findKeyValue finds key = value, key: value, "key": "value" and the like:
// a key name ([A-Za-z0-9_.-]) ending in a secret word, starting the line
// or after a byte that cannot be in a name (or a dot inside it), then an
// optional quote, ":=", "==", ':' or '=' between blanks, then a value.
//
// A key ends where its run of name bytes ends, since what follows a key
// cannot be in a name; so each run is looked at once.
func findKeyValue(l *line, spans []span) []span {
	s := l.s
	for i, m := 0, 0; i < len(s); {
		if !is(s[i], cName) {
			i++
			continue
		}
		r := i
		i = l.skip(i, cName)
		kw := secretKeyLen(l.lower[r:i])
		if kw == 0 || i == len(s) {
			continue
		}
		// The byte before the key: the one before the run, unless an
		// earlier match took it; then a dot inside the run.
		if !(r == 0 && m == 0) && !(r > 0 && r-1 >= m) {
			from := max(r, m)
			if from >= i-kw || strings.IndexByte(s[from:i-kw], '.') < 0 {
				continue
			}
		}
		p := i
		if s[p] == '"' || s[p] == '\'' {
			p++
		}
		p = l.skip(p, cBlank)
		if p == len(s) || s[p] != ':' && s[p] != '=' {
			continue
		}
		start, end, ok := 0, 0, false
		if p+1 < len(s) && (s[p:p+2] == ":=" || s[p:p+2] == "==") {
			start = l.skip(p+2, cBlank)
			end, ok = l.value(start)
		}
		if !ok {
			start = l.skip(p+1, cBlank)
			end, ok = l.value(start)
		}
		if !ok {
			continue
		}
		spans = append(spans, span{start, end})
		i, m = end, end
	}
	l.work += len(s)
	return spans
}

// secretKeyLen returns the length of the shortest secret word that the
// lower-cased key name k ends with, or 0: authtoken, token,
// api[_-]?key, password, passwd, secret, (secret|access|signing|private)[_-]?key.
func secretKeyLen(k string) int {
	switch {
	case strings.HasSuffix(k, "token"):
		return len("token")
	case strings.HasSuffix(k, "passwd"), strings.HasSuffix(k, "secret"):
		return 6
	case strings.HasSuffix(k, "password"):
		return len("password")
	case !strings.HasSuffix(k, "key"):
		return 0
	}
	k = k[:len(k)-len("key")]
	sep := 0
	if strings.HasSuffix(k, "_") || strings.HasSuffix(k, "-") {
		k, sep = k[:len(k)-1], 1
	}
	for _, w := range []string{"api", "secret", "access", "signing", "private"} {
		if strings.HasSuffix(k, w) {
			return len(w) + sep + len("key")
		}
	}
	return 0
}

// findAuthtokens finds every ngrok authtoken and API key.
func findAuthtokens(l *line, spans []span) []span {
	for from := 0; ; {
		start, end, ok := l.findAuthtoken(from)
		if !ok {
			break
		}
		spans = append(spans, span{start, end})
		from = end
	}
	return spans
}

// containsCode reports whether lower holds an ngrok error code
// (err_ngrok_ and a digit, the underscores maybe escaped with a backslash
// as Markdown does). The K may be the Kelvin sign, which Go's
// case-insensitive expressions take for a k.
func containsCode(lower string) bool {
	for i := 0; ; {
		j := strings.Index(lower[i:], "err")
		if j < 0 {
			return false
		}
		i += j + 1
		p := i + 2
		if p < len(lower) && lower[p] == '\\' {
			p++
		}
		if p == len(lower) || lower[p] != '_' || !strings.HasPrefix(lower[p+1:], "ngro") {
			continue
		}
		p += 5
		switch {
		case strings.HasPrefix(lower[p:], "k"):
			p++
		case strings.HasPrefix(lower[p:], "\u212a"):
			p += len("\u212a")
		default:
			continue
		}
		if p < len(lower) && lower[p] == '\\' {
			p++
		}
		if p+1 < len(lower) && lower[p] == '_' && lower[p+1] >= '0' && lower[p+1] <= '9' {
			return true
		}
	}
}

// looksLikeBearer tells a bearer token from a word of prose ("Bearer
// authentication"): it has a digit or is long.
func looksLikeBearer(v string) bool {
	return hasDigit(v) || len(v) >= 20
}

// looksLikeBasic tells base64 credentials from a word of prose ("Basic
// authentication"): a digit, base64 symbols, or an upper-case letter inside
// a long enough run.
func looksLikeBasic(v string) bool {
	if hasDigit(v) || strings.ContainsAny(v, "+/=") {
		return true
	}
	return len(v) >= 12 && strings.ContainsAny(v[1:], "ABCDEFGHIJKLMNOPQRSTUVWXYZ")
}

func hasDigit(s string) bool { return strings.ContainsAny(s, "0123456789") }

// Bounds of the ngrok authtoken and API key shape.
const (
	tokenLeftMin, tokenLeftMax   = 20, 40
	tokenRightMin, tokenRightMax = 15, 45
)

// findAuthtoken finds the first ngrok authtoken or API key in l at or
// after from. See the package comment for the shape. It looks at most
// tokenLeftMax+tokenRightMax bytes around each '_'.
func (t *line) findAuthtoken(from int) (start, end int, ok bool) {
	s := t.s
	for i := from; i < len(s); {
		u := strings.IndexByte(s[i:], '_')
		if u < 0 {
			t.work += len(s) - i
			return 0, 0, false
		}
		u += i
		t.work += u - i + 1
		i = u + 1
		l := u
		for l > 0 && u-l <= tokenLeftMax && isAlnum(s[l-1]) {
			l--
		}
		r := u + 1
		for r < len(s) && r-u-1 <= tokenRightMax && isAlnum(s[r]) {
			r++
		}
		t.work += r - l
		left, right := s[l:u], s[u+1:r]
		if len(left) < tokenLeftMin || len(left) > tokenLeftMax || len(right) < tokenRightMin || len(right) > tokenRightMax {
			continue
		}
		if l > 0 && (isAlnum(s[l-1]) || s[l-1] == '_') || r < len(s) && (isAlnum(s[r]) || s[r] == '_') {
			continue
		}
		if left[0] < '1' || left[0] > '9' || !hasLetter(left) || !hasLetter(right) {
			continue
		}
		return l, r, true
	}
	return 0, 0, false
}

func isAlnum(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

func isLetter(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }

func hasLetter(s string) bool {
	for i := range len(s) {
		if c := s[i]; c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' {
			return true
		}
	}
	return false
}

// asciiLower lower-cases ASCII letters only, so byte offsets stay the same.
func asciiLower(s string) string {
	b := make([]byte, len(s))
	for i := range len(s) {
		c := s[i]
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		b[i] = c
	}
	return string(b)
}

// slackHookPrefix starts the secret part of a Slack incoming-webhook URL
// (hooks.slack.com/services/T…/B…/secret).
const slackHookPrefix = "hooks.slack.com/services/"

// findSlackHook marks the run of [A-Za-z0-9/] after each
// hooks.slack.com/services/ (any case): a literal search and one scan,
// linear in the line. The host and path prefix are kept.
func findSlackHook(l *line, spans []span) []span {
	for i := 0; i < len(l.s); {
		j := strings.Index(l.lower[i:], slackHookPrefix)
		if j < 0 {
			break
		}
		start := i + j + len(slackHookPrefix)
		end := start
		for end < len(l.s) && (isAlnum(l.s[end]) || l.s[end] == '/') {
			end++
		}
		if end > start {
			spans = append(spans, span{start, end})
		}
		i = max(end, start)
	}
	l.work += len(l.s)
	return spans
}
