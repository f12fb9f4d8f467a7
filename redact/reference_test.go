// This file keeps the regular-expression implementation of String that
// was in use before the rules became linear-time scanners, as the
// reference the differential tests compare against. Its cost is quadratic
// on some lines: feed it only small inputs. Names carry a "ref" prefix;
// the comments are as they were.

package redact

import (
	"regexp"
	"strings"
)

// String returns s with every secret it recognises replaced by Mask.
func refString(s string) string {
	if s == "" {
		return s
	}
	lower := refAsciiLower(s)
	// Anchors and the authtoken shape never span a line break, so one
	// look at the whole text tells which of them any line may hold: most
	// texts are done there, and lines are checked only for those.
	lk := refLookAt(s, lower)
	if lk.none() {
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
		if lk.mayHaveSecret(line, lower[start:end]) {
			if r := refRedactLine(line, lower[start:end]); r != line {
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
type refRule struct {
	anchors []string
	apply   func(string) string
	// may, when set, is a quicker test (on the lower-cased line) of what
	// apply's expression needs; apply runs only when it says yes.
	may func(lower string) bool
}

var (
	refVendorAnchors = []string{"xox", "xapp-", "sk_", "rk_", "ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_", "glpat-"}
	refKvAnchors     = []string{"token", "passw", "secret", "key"}
)

// rules in the order they run. Vendor tokens go first so that their
// prefix is kept; the free-standing authtoken shape goes last so that
// key-value rules keep their key.
// refSlackHookRe is the Slack incoming-webhook rule as a regular
// expression, for the differential tests.
var refSlackHookRe = regexp.MustCompile(`(?i)hooks\.slack\.com/services/[A-Za-z0-9/]+`)

var refRules = []refRule{
	{anchors: refVendorAnchors, apply: func(s string) string { return refVendorRe.ReplaceAllString(s, "${1}"+Mask) }},
	{anchors: []string{slackHookPrefix}, apply: func(s string) string {
		return refSlackHookRe.ReplaceAllStringFunc(s, func(m string) string { return m[:len(slackHookPrefix)] + Mask })
	}},
	{anchors: []string{"://"}, apply: func(s string) string {
		if !refUrlMayHavePassword(s) {
			return s
		}
		return refReplaceGroup(refUrlPassRe, s, 2, nil)
	}},
	{anchors: []string{"authorization"}, apply: func(s string) string { return refReplaceGroup(refAuthHeaderRe, s, 2, nil) }},
	{anchors: []string{"bearer"}, apply: func(s string) string { return refReplaceGroup(refBearerRe, s, 2, refLooksLikeBearer) }},
	{anchors: []string{"basic"}, apply: func(s string) string { return refReplaceGroup(refBasicRe, s, 2, refLooksLikeBasic) }},
	{anchors: refKvAnchors, may: refFlagMayMatch, apply: func(s string) string {
		return refReplaceGroup(refFlagRe, s, 2, func(v string) bool { return !strings.HasPrefix(v, "-") })
	}},
	{anchors: refKvAnchors, may: refKvMayMatch, apply: func(s string) string { return refReplaceGroup(refKvRe, s, 3, nil) }},
	{apply: refReplaceAuthtokens},
}

// look is what a text may hold: a bit per rule whose anchors it has,
// and whether it has the authtoken shape.
type refLook struct {
	anchored uint32
	token    bool
}

func refLookAt(s, lower string) refLook {
	var l refLook
	for i, r := range refRules {
		if refHasAnchor(lower, r.anchors) {
			l.anchored |= 1 << i
		}
	}
	_, _, l.token = refFindAuthtoken(s, 0)
	return l
}

func (l refLook) none() bool { return l.anchored == 0 && !l.token }

// mayHaveSecret reports whether one line of the looked-at text may hold a
// secret, testing only what the whole text holds.
func (l refLook) mayHaveSecret(line, lower string) bool {
	for i, r := range refRules {
		if l.anchored&(1<<i) != 0 && refHasAnchor(lower, r.anchors) {
			return true
		}
	}
	if !l.token {
		return false
	}
	_, _, ok := refFindAuthtoken(line, 0)
	return ok
}

func refHasAnchor(lower string, anchors []string) bool {
	for _, a := range anchors {
		if strings.Contains(lower, a) {
			return true
		}
	}
	return false
}

// maxPasses bounds the search for a fixed point on one line; one pass is
// enough for all but contrived input.
const refMaxPasses = 6

// redactLine applies every rule to one line until nothing changes.
func refRedactLine(line, lower string) string {
	for range refMaxPasses {
		next := line
		for _, r := range refRules {
			if (r.anchors == nil || refHasAnchor(lower, r.anchors)) && (r.may == nil || r.may(lower)) {
				next = r.apply(next)
			}
		}
		if next == line {
			break
		}
		line = next
		lower = refAsciiLower(line)
	}
	return line
}

// Value shapes shared by the key-value rules. The literal Mask comes first
// so that a redacted value is matched whole and left as it is.
const (
	refValueQuoted   = `"(?:[^"\\]|\\.)*"|'[^']*'`
	refValueUnquoted = `[^\s"'&,;<>()\[\]{}][^\s"'&,;)\]}]*`
	refValue         = `\[REDACTED\]|` + refValueQuoted + `|` + refValueUnquoted
)

var (
	// vendorRe: Slack and other vendors' tokens with a fixed prefix.
	refVendorRe = regexp.MustCompile(`\b(xox[abposr]-|xapp-|(?:sk|rk)_(?:live|test)_|gh[pousr]_|github_pat_|glpat-)[A-Za-z0-9][A-Za-z0-9_-]{9,}`)

	// urlPassRe: scheme://user:password@ — group 2 is the password.
	refUrlPassRe = regexp.MustCompile(`(\b[A-Za-z][A-Za-z0-9+.-]*://[^\s:/@\[\]]*:)([^\s@/]+)@`)

	// authHeaderRe: Authorization: <scheme> <credentials> in headers,
	// JSON and curl -H arguments.
	refAuthHeaderRe = regexp.MustCompile(`(?i)(\bauthorization["']?[ \t]*[:=][ \t]*["']?(?:(?:bearer|basic|token|digest|negotiate|ntlm|apikey|key)[ \t]+)?)(` + refValue + `)`)

	refBearerRe = regexp.MustCompile(`(?i)(\bbearer[ \t]+)(\[REDACTED\]|[A-Za-z0-9\-._~+/]{8,}=*)`)
	refBasicRe  = regexp.MustCompile(`(?i)(\bbasic[ \t]+)(\[REDACTED\]|[A-Za-z0-9+/]{8,}={0,2})`)

	// flagRe: a secret flag or ngrok command with its value after white
	// space (the --flag=value form is a key-value pair, see kvRe).
	refFlagRe = regexp.MustCompile(`(?i)((?:^|[\s"'])(?:--?(?:[a-z0-9]+-)*(?:authtoken|auth-token|api-key|apikey|password|passwd|secret|token)|add-authtoken|add-api-key)[ \t]+)(` + refValue + `)`)

	// kvRe: key = value, key: value, "key": "value". Group 2 is the key
	// with its separator, group 3 the value.
	refKvRe = regexp.MustCompile(`(?i)(^|[^A-Za-z0-9_-])([A-Za-z0-9_.-]*(?:authtoken|token|api[_-]?key|apikey|password|passwd|secret|(?:secret|access|signing|private)[_-]?key)["']?[ \t]*(?::=|==|[:=])[ \t]*)(` + refValue + `)`)

	refCodeRe = regexp.MustCompile(`(?i)err\\?_ngrok\\?_[0-9]`)
)

// replaceGroup replaces submatch group g of every match of re in s with
// Mask, keeping quotes around a quoted value, unless the value is already
// Mask, is empty, contains an ngrok error code, or ok rejects it.
func refReplaceGroup(re *regexp.Regexp, s string, g int, ok func(string) bool) string {
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
		if v == "" || v == Mask || refCodeRe.MatchString(v) || (ok != nil && !ok(v)) {
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
func refLooksLikeBearer(v string) bool {
	return refHasDigit(v) || len(v) >= 20
}

// looksLikeBasic tells base64 credentials from a word of prose ("Basic
// authentication"): a digit, base64 symbols, or an upper-case letter inside
// a long enough run.
func refLooksLikeBasic(v string) bool {
	if refHasDigit(v) || strings.ContainsAny(v, "+/=") {
		return true
	}
	return len(v) >= 12 && strings.ContainsAny(v[1:], "ABCDEFGHIJKLMNOPQRSTUVWXYZ")
}

func refHasDigit(s string) bool { return strings.ContainsAny(s, "0123456789") }

// Bounds of the ngrok authtoken and API key shape.
const (
	refTokenLeftMin, refTokenLeftMax   = 20, 40
	refTokenRightMin, refTokenRightMax = 15, 45
)

// findAuthtoken finds the first ngrok authtoken or API key in s at or after
// from. See the package comment for the shape.
func refFindAuthtoken(s string, from int) (start, end int, ok bool) {
	for i := from; i < len(s); {
		u := strings.IndexByte(s[i:], '_')
		if u < 0 {
			return 0, 0, false
		}
		u += i
		i = u + 1
		l := u
		for l > 0 && u-l <= refTokenLeftMax && refIsAlnum(s[l-1]) {
			l--
		}
		r := u + 1
		for r < len(s) && r-u-1 <= refTokenRightMax && refIsAlnum(s[r]) {
			r++
		}
		left, right := s[l:u], s[u+1:r]
		if len(left) < refTokenLeftMin || len(left) > refTokenLeftMax || len(right) < refTokenRightMin || len(right) > refTokenRightMax {
			continue
		}
		if l > 0 && (refIsAlnum(s[l-1]) || s[l-1] == '_') || r < len(s) && (refIsAlnum(s[r]) || s[r] == '_') {
			continue
		}
		if left[0] < '1' || left[0] > '9' || !refHasLetter(left) || !refHasLetter(right) {
			continue
		}
		return l, r, true
	}
	return 0, 0, false
}

func refReplaceAuthtokens(s string) string {
	var b strings.Builder
	last := 0
	for from := 0; ; {
		start, end, ok := refFindAuthtoken(s, from)
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

func refIsAlnum(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

func refHasLetter(s string) bool {
	for i := range len(s) {
		if c := s[i]; c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' {
			return true
		}
	}
	return false
}

// asciiLower lower-cases ASCII letters only, so byte offsets stay the same.
func refAsciiLower(s string) string {
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
func refUrlMayHavePassword(s string) bool {
	for i := 0; ; {
		j := strings.Index(s[i:], "://")
		if j < 0 {
			return false
		}
		i += j + 3
		k := i
		for k < len(s) && !refIsRESpace(s[k]) && !strings.ContainsRune(":/@[]", rune(s[k])) {
			k++
		}
		if k == len(s) || s[k] != ':' {
			continue
		}
		m := k + 1
		for m < len(s) && !refIsRESpace(s[m]) && s[m] != '@' && s[m] != '/' {
			m++
		}
		if m > k+1 && m < len(s) && s[m] == '@' {
			return true
		}
	}
}

// isRESpace is \s in Go's regular expressions.
func refIsRESpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\f' || c == '\r' }

// anyKVAnchor reports whether ok holds for some occurrence of a key-value
// anchor in lower, given the text before and after it.
func refAnyKVAnchor(lower string, ok func(before, after string) bool) bool {
	for _, a := range refKvAnchors {
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
func refKvMayMatch(lower string) bool {
	return refAnyKVAnchor(lower, func(_, after string) bool {
		i := 0
		for i < len(after) && (refIsLowerAlnum(after[i]) || after[i] == '_' || after[i] == '.' || after[i] == '-') {
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
func refFlagMayMatch(lower string) bool {
	return refAnyKVAnchor(lower, func(before, after string) bool {
		i := 0
		for i < len(after) && (refIsLowerAlnum(after[i]) || after[i] == '-') {
			i++
		}
		if i == len(after) || after[i] != ' ' && after[i] != '\t' {
			return false
		}
		for j := len(before) - 1; j >= 0 && (refIsLowerAlnum(before[j]) || before[j] == '-'); j-- {
			if before[j] == '-' {
				return true
			}
		}
		return false
	})
}

func refIsLowerAlnum(c byte) bool { return c >= '0' && c <= '9' || c >= 'a' && c <= 'z' }
