// Package redact is the one redaction step for customer text that leaves
// the bot: Slack posts, webhook payloads, e-mail bodies, logs.
//
// String replaces secrets a customer may paste with Mask while keeping the
// text around them, so a human still sees what was there:
//
//	authtoken: 2abcDEF…_1A2b…        → authtoken: [REDACTED]
//	ngrok config add-authtoken 2ab…  → ngrok config add-authtoken [REDACTED]
//	https://ana:hunter2@db.example/  → https://ana:[REDACTED]@db.example/
//	Authorization: Bearer eyJhbGc…   → Authorization: Bearer [REDACTED]
//	xoxb-1234-5678-abcdef…           → xoxb-[REDACTED]
//
// What is recognised:
//
//   - ngrok authtokens and API keys anywhere in the text: an alphanumeric
//     run of 20–40 characters starting with a digit, "_", an alphanumeric
//     run of 15–45 characters, standing alone (not part of a longer
//     identifier). Ordinary snake_case names and ngrok error codes such as
//     ERR_NGROK_108 have neither shape.
//   - key-value forms in YAML, env files, TOML, JSON, query strings and
//     logs, where the key ends in authtoken, token, api_key/apikey/api-key,
//     password, passwd, secret, or secret_key/access_key/private_key
//     (NGROK_AUTHTOKEN=…, "authtoken": "…", client_secret: …, ?token=…).
//     Only the value is replaced; a quoted value keeps its quotes; an
//     unquoted value ends at white space or one of " ' & , ; ) ] }.
//   - command-line flags with a separate value: --authtoken X, --api-key X,
//     --password X, --token X, --secret X, and ngrok's
//     "config add-authtoken X" / "config add-api-key X".
//   - Authorization headers (every scheme), and free-standing
//     "Bearer X" / "Basic X" when X looks like a credential (has a digit,
//     base64 padding, or is long/mixed case) rather than a word of prose.
//   - passwords in URLs: scheme://user:password@host.
//   - Slack tokens (xoxb-, xoxp-, xoxa-, xoxr-, xoxs-, xoxo-, xapp-) and a few
//     well-known vendor token shapes (sk_live_/sk_test_/rk_live_, ghp_/gho_/
//     ghu_/ghs_/ghr_, github_pat_, glpat-); the prefix is kept.
//   - Slack incoming-webhook URLs: what follows hooks.slack.com/services/
//     (T…/B…/secret) is replaced, the host and path prefix are kept.
//
// A value that is or contains an ngrok error code (ERR_NGROK_n) is never
// replaced: codes are what the bot exists to see.
//
// Redaction works line by line: a secret never spans a line break. String
// is idempotent (String(String(s)) == String(s)), safe for concurrent use,
// and returns s itself when there is nothing to redact.
package redact

import (
	"regexp"
	"strings"
)

// Mask replaces every secret.
const Mask = "[REDACTED]"

// Bytes is String for a byte slice. It always returns a new slice.
func Bytes(b []byte) []byte { return []byte(String(string(b))) }

// String returns s with every secret it recognises replaced by Mask.
func String(s string) string {
	if s == "" {
		return s
	}
	lower := asciiLower(s)
	// Anchors and the authtoken shape never span a line break, so one
	// look at the whole text tells which of them any line may hold: most
	// texts are done there, and lines are checked only for those.
	look := lookAt(s, lower)
	if look.none() {
		return s
	}
	var b strings.Builder
	last := 0 // s[:last] is in b, or b is unused while last == 0 and nothing changed
	changed := false
	for start := 0; start < len(s); {
		end := strings.IndexByte(s[start:], '\n')
		if end < 0 {
			end = len(s)
		} else {
			end += start
		}
		line := s[start:end]
		if look.mayHaveSecret(line, lower[start:end]) {
			if r := redactLine(line, lower[start:end]); r != line {
				if !changed {
					b.Grow(len(s) + 64)
					changed = true
				}
				b.WriteString(s[last:start])
				b.WriteString(r)
				last = end
			}
		}
		start = end + 1
	}
	if !changed {
		return s
	}
	b.WriteString(s[last:])
	return b.String()
}

// rule is one redaction step, run on a line only when the line (lower-cased)
// holds one of its anchors.
type rule struct {
	anchors []string
	apply   func(string) string
	// may, when set, is a quicker test (on the lower-cased line) of what
	// apply's expression needs; apply runs only when it says yes.
	may func(lower string) bool
}

var (
	vendorAnchors = []string{"xox", "xapp-", "sk_", "rk_", "ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_", "glpat-"}
	kvAnchors     = []string{"token", "passw", "secret", "key"}
)

// rules in the order they run. Vendor tokens go first so that their
// prefix is kept; the free-standing authtoken shape goes last so that
// key-value rules keep their key.
var rules = []rule{
	{anchors: vendorAnchors, apply: func(s string) string { return vendorRe.ReplaceAllString(s, "${1}"+Mask) }},
	{anchors: []string{slackHookPrefix}, apply: replaceSlackHooks},
	{anchors: []string{"://"}, apply: func(s string) string {
		if !urlMayHavePassword(s) {
			return s
		}
		return replaceGroup(urlPassRe, s, 2, nil)
	}},
	{anchors: []string{"authorization"}, apply: func(s string) string { return replaceGroup(authHeaderRe, s, 2, nil) }},
	{anchors: []string{"bearer"}, apply: func(s string) string { return replaceGroup(bearerRe, s, 2, looksLikeBearer) }},
	{anchors: []string{"basic"}, apply: func(s string) string { return replaceGroup(basicRe, s, 2, looksLikeBasic) }},
	{anchors: kvAnchors, may: flagMayMatch, apply: func(s string) string {
		return replaceGroup(flagRe, s, 2, func(v string) bool { return !strings.HasPrefix(v, "-") })
	}},
	{anchors: kvAnchors, may: kvMayMatch, apply: func(s string) string { return replaceGroup(kvRe, s, 3, nil) }},
	{apply: replaceAuthtokens},
}

// look is what a text may hold: a bit per rule whose anchors it has,
// and whether it has the authtoken shape.
type look struct {
	anchored uint32
	token    bool
}

func lookAt(s, lower string) look {
	var l look
	for i, r := range rules {
		if hasAnchor(lower, r.anchors) {
			l.anchored |= 1 << i
		}
	}
	_, _, l.token = findAuthtoken(s, 0)
	return l
}

func (l look) none() bool { return l.anchored == 0 && !l.token }

// mayHaveSecret reports whether one line of the looked-at text may hold a
// secret, testing only what the whole text holds.
func (l look) mayHaveSecret(line, lower string) bool {
	for i, r := range rules {
		if l.anchored&(1<<i) != 0 && hasAnchor(lower, r.anchors) {
			return true
		}
	}
	if !l.token {
		return false
	}
	_, _, ok := findAuthtoken(line, 0)
	return ok
}

func hasAnchor(lower string, anchors []string) bool {
	for _, a := range anchors {
		if strings.Contains(lower, a) {
			return true
		}
	}
	return false
}

// maxPasses bounds the search for a fixed point on one line; one pass is
// enough for all but contrived input.
const maxPasses = 6

// redactLine applies every rule to one line until nothing changes.
func redactLine(line, lower string) string {
	for range maxPasses {
		next := line
		for _, r := range rules {
			if (r.anchors == nil || hasAnchor(lower, r.anchors)) && (r.may == nil || r.may(lower)) {
				next = r.apply(next)
			}
		}
		if next == line {
			break
		}
		line = next
		lower = asciiLower(line)
	}
	return line
}

// Value shapes shared by the key-value rules. The literal Mask comes first
// so that a redacted value is matched whole and left as it is.
const (
	valueQuoted   = `"(?:[^"\\]|\\.)*"|'[^']*'`
	valueUnquoted = `[^\s"'&,;<>()\[\]{}][^\s"'&,;)\]}]*`
	value         = `\[REDACTED\]|` + valueQuoted + `|` + valueUnquoted
)

var (
	// vendorRe: Slack and other vendors' tokens with a fixed prefix.
	vendorRe = regexp.MustCompile(`\b(xox[abposr]-|xapp-|(?:sk|rk)_(?:live|test)_|gh[pousr]_|github_pat_|glpat-)[A-Za-z0-9][A-Za-z0-9_-]{9,}`)

	// urlPassRe: scheme://user:password@ — group 2 is the password.
	urlPassRe = regexp.MustCompile(`(\b[A-Za-z][A-Za-z0-9+.-]*://[^\s:/@\[\]]*:)([^\s@/]+)@`)

	// authHeaderRe: Authorization: <scheme> <credentials> in headers,
	// JSON and curl -H arguments.
	authHeaderRe = regexp.MustCompile(`(?i)(\bauthorization["']?[ \t]*[:=][ \t]*["']?(?:(?:bearer|basic|token|digest|negotiate|ntlm|apikey|key)[ \t]+)?)(` + value + `)`)

	bearerRe = regexp.MustCompile(`(?i)(\bbearer[ \t]+)(\[REDACTED\]|[A-Za-z0-9\-._~+/]{8,}=*)`)
	basicRe  = regexp.MustCompile(`(?i)(\bbasic[ \t]+)(\[REDACTED\]|[A-Za-z0-9+/]{8,}={0,2})`)

	// flagRe: a secret flag or ngrok command with its value after white
	// space (the --flag=value form is a key-value pair, see kvRe).
	flagRe = regexp.MustCompile(`(?i)((?:^|[\s"'])(?:--?(?:[a-z0-9]+-)*(?:authtoken|auth-token|api-key|apikey|password|passwd|secret|token)|add-authtoken|add-api-key)[ \t]+)(` + value + `)`)

	// kvRe: key = value, key: value, "key": "value". Group 2 is the key
	// with its separator, group 3 the value.
	kvRe = regexp.MustCompile(`(?i)(^|[^A-Za-z0-9_-])([A-Za-z0-9_.-]*(?:authtoken|token|api[_-]?key|apikey|password|passwd|secret|(?:secret|access|signing|private)[_-]?key)["']?[ \t]*(?::=|==|[:=])[ \t]*)(` + value + `)`)

	codeRe = regexp.MustCompile(`(?i)err\\?_ngrok\\?_[0-9]`)
)

// replaceGroup replaces submatch group g of every match of re in s with
// Mask, keeping quotes around a quoted value, unless the value is already
// Mask, is empty, contains an ngrok error code, or ok rejects it.
func replaceGroup(re *regexp.Regexp, s string, g int, ok func(string) bool) string {
	ms := re.FindAllStringSubmatchIndex(s, -1)
	if ms == nil {
		return s
	}
	var b strings.Builder
	last := 0
	for _, m := range ms {
		start, end := m[2*g], m[2*g+1]
		if start < 0 {
			continue
		}
		v := s[start:end]
		if len(v) >= 2 && (v[0] == '"' || v[0] == '\'') && v[len(v)-1] == v[0] {
			start, end = start+1, end-1
			v = s[start:end]
		}
		if v == "" || v == Mask || codeRe.MatchString(v) || (ok != nil && !ok(v)) {
			continue
		}
		b.WriteString(s[last:start])
		b.WriteString(Mask)
		last = end
	}
	if last == 0 {
		return s
	}
	b.WriteString(s[last:])
	return b.String()
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

// findAuthtoken finds the first ngrok authtoken or API key in s at or after
// from. See the package comment for the shape.
func findAuthtoken(s string, from int) (start, end int, ok bool) {
	for i := from; i < len(s); {
		u := strings.IndexByte(s[i:], '_')
		if u < 0 {
			return 0, 0, false
		}
		u += i
		i = u + 1
		l := u
		for l > 0 && u-l <= tokenLeftMax && isAlnum(s[l-1]) {
			l--
		}
		r := u + 1
		for r < len(s) && r-u-1 <= tokenRightMax && isAlnum(s[r]) {
			r++
		}
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

func replaceAuthtokens(s string) string {
	var b strings.Builder
	last := 0
	for from := 0; ; {
		start, end, ok := findAuthtoken(s, from)
		if !ok {
			break
		}
		b.WriteString(s[last:start])
		b.WriteString(Mask)
		last, from = end, end
	}
	if last == 0 {
		return s
	}
	b.WriteString(s[last:])
	return b.String()
}

// slackHookPrefix starts the secret part of a Slack incoming-webhook URL.
const slackHookPrefix = "hooks.slack.com/services/"

// replaceSlackHooks replaces the run of [A-Za-z0-9/] after each
// hooks.slack.com/services/ (any case) with Mask: a literal search and one
// scan, linear in the line.
func replaceSlackHooks(s string) string {
	lower := asciiLower(s)
	var b strings.Builder
	last := 0
	for i := 0; ; {
		j := strings.Index(lower[i:], slackHookPrefix)
		if j < 0 {
			break
		}
		start := i + j + len(slackHookPrefix)
		end := start
		for end < len(s) && (isAlnum(s[end]) || s[end] == '/') {
			end++
		}
		i = end
		if end == start {
			continue
		}
		b.WriteString(s[last:start])
		b.WriteString(Mask)
		last = end
	}
	if last == 0 {
		return s
	}
	b.WriteString(s[last:])
	return b.String()
}

func isAlnum(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

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

// urlMayHavePassword is a quick test for what urlPassRe needs: after some
// "://", a user name up to a ':', then a non-empty password up to an '@',
// none of it spaces or slashes. Most lines with a link have none, and the
// regular expression is far slower than this scan.
func urlMayHavePassword(s string) bool {
	for i := 0; ; {
		j := strings.Index(s[i:], "://")
		if j < 0 {
			return false
		}
		i += j + 3
		k := i
		for k < len(s) && !isRESpace(s[k]) && !strings.ContainsRune(":/@[]", rune(s[k])) {
			k++
		}
		if k == len(s) || s[k] != ':' {
			continue
		}
		m := k + 1
		for m < len(s) && !isRESpace(s[m]) && s[m] != '@' && s[m] != '/' {
			m++
		}
		if m > k+1 && m < len(s) && s[m] == '@' {
			return true
		}
	}
}

// isRESpace is \s in Go's regular expressions.
func isRESpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\f' || c == '\r' }

// anyKVAnchor reports whether ok holds for some occurrence of a key-value
// anchor in lower, given the text before and after it.
func anyKVAnchor(lower string, ok func(before, after string) bool) bool {
	for _, a := range kvAnchors {
		for i := 0; ; {
			j := strings.Index(lower[i:], a)
			if j < 0 {
				break
			}
			if ok(lower[:i+j], lower[i+j+len(a):]) {
				return true
			}
			i += j + 1
		}
	}
	return false
}

// kvMayMatch is a quick test for what kvRe needs: an anchor ending a key
// name (more name characters may follow it), an optional quote, blanks,
// then ':' or '='.
func kvMayMatch(lower string) bool {
	return anyKVAnchor(lower, func(_, after string) bool {
		i := 0
		for i < len(after) && (isLowerAlnum(after[i]) || after[i] == '_' || after[i] == '.' || after[i] == '-') {
			i++
		}
		if i < len(after) && (after[i] == '"' || after[i] == '\'') {
			i++
		}
		for i < len(after) && (after[i] == ' ' || after[i] == '\t') {
			i++
		}
		return i < len(after) && (after[i] == ':' || after[i] == '=')
	})
}

// flagMayMatch is a quick test for what flagRe needs: an anchor in a
// word with a dash before it (--authtoken, add-api-key), then a blank.
func flagMayMatch(lower string) bool {
	return anyKVAnchor(lower, func(before, after string) bool {
		i := 0
		for i < len(after) && (isLowerAlnum(after[i]) || after[i] == '-') {
			i++
		}
		if i == len(after) || after[i] != ' ' && after[i] != '\t' {
			return false
		}
		for j := len(before) - 1; j >= 0 && (isLowerAlnum(before[j]) || before[j] == '-'); j-- {
			if before[j] == '-' {
				return true
			}
		}
		return false
	})
}

func isLowerAlnum(c byte) bool { return c >= '0' && c <= '9' || c >= 'a' && c <= 'z' }
