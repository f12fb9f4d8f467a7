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
//
// A value that is or contains an ngrok error code (ERR_NGROK_n) is never
// replaced: codes are what the bot exists to see.
//
// Redaction works line by line: a secret never spans a line break. String
// is idempotent (String(String(s)) == String(s)), safe for concurrent use,
// and returns s itself when there is nothing to redact.
//
// String costs time linear in its input, whatever the input: each rule is
// a scanner that finds its keywords in one pass left to right, looks a
// bounded distance around each, and never goes back over text it has
// passed, so a megabyte of "key" repeated on one line costs about what a
// megabyte of prose does. Keys, flags and schemes are matched in ASCII
// letters of either case only.
package redact

import "strings"

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
		if anchored, ok := look.mayHaveSecret(line, lower[start:end], end-start == len(s)); ok {
			if r := redactLine(line, lower[start:end], anchored); r != line {
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
	// find appends to spans, left to right and not overlapping, the parts
	// of l to replace: the value a key, flag or scheme introduces.
	find func(l *line, spans []span) []span
	// always replaces every span found; otherwise a span is left as it
	// is when its value (quotes taken off) is empty, already Mask, holds
	// an ngrok error code, or ok rejects it.
	always bool
	ok     func(string) bool
}

type span struct{ start, end int }

var (
	vendorAnchors = []string{"xox", "xapp-", "sk_", "rk_", "ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_", "glpat-"}
	kvAnchors     = []string{"token", "passw", "secret", "key"}
)

// rules in the order they run. Vendor tokens go first so that their
// prefix is kept; the free-standing authtoken shape goes last so that
// key-value rules keep their key.
var rules = []rule{
	{anchors: vendorAnchors, find: findVendor, always: true},
	{anchors: []string{slackHookPrefix}, find: findSlackHook, always: true},
	{anchors: []string{"://"}, find: findURLPassword},
	{anchors: []string{"authorization"}, find: findAuthHeader},
	{anchors: []string{"bearer"}, find: findBearer, ok: looksLikeBearer},
	{anchors: []string{"basic"}, find: findBasic, ok: looksLikeBasic},
	{anchors: kvAnchors, find: findFlag, ok: func(v string) bool { return !strings.HasPrefix(v, "-") }},
	{anchors: kvAnchors, find: findKeyValue},
	{find: findAuthtokens, always: true},
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
	t := line{s: s}
	_, _, l.token = t.findAuthtoken(0)
	return l
}

func (l look) none() bool { return l.anchored == 0 && !l.token }

// mayHaveSecret reports whether one line of the looked-at text may hold a
// secret, testing only what the whole text holds, and returns a bit per
// rule whose anchors the line holds. A line that is the whole text is not
// looked at again.
func (l look) mayHaveSecret(s, lower string, whole bool) (anchored uint32, ok bool) {
	if whole {
		return l.anchored, true
	}
	for i, r := range rules {
		if l.anchored&(1<<i) != 0 && hasAnchor(lower, r.anchors) {
			anchored |= 1 << i
		}
	}
	if anchored != 0 || !l.token {
		return anchored, anchored != 0
	}
	t := line{s: s}
	_, _, ok = t.findAuthtoken(0)
	return 0, ok
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
// Anchored has a bit for each rule whose anchors the line holds: a rule
// without them can find nothing, and replacing a secret with Mask never
// makes an anchor.
func redactLine(s, lower string, anchored uint32) string {
	l := line{s: s, lower: lower}
	l.redact(anchored)
	return l.s
}

// line is one line under redaction. Every scanner on it moves left to
// right and looks at each byte a bounded number of times, so a rule costs
// time linear in the line whatever the line holds.
type line struct {
	s     string
	lower string // s with ASCII letters lower-cased: same byte offsets
	spans []span // scratch for rule.find
	// The last double- and single-quoted value scanned.
	dq, sq quoted
	// work counts the bytes the scanners step over; tests hold it to a
	// constant times the length of the line.
	work int
}

// quoted remembers one quote scan: the quote at open closes at close, or
// nowhere on the line if close is -1. With it no quote scan goes over text
// another one has passed.
type quoted struct{ open, close int }

// redact applies every rule to the line until nothing changes, at most
// maxPasses times; a rule with anchors only if its bit is set in anchored.
func (l *line) redact(anchored uint32) {
	for range maxPasses {
		changed := false
		for i, r := range rules {
			if r.anchors != nil && anchored&(1<<i) == 0 {
				continue
			}
			l.spans = r.find(l, l.spans[:0])
			if l.replace(r) {
				changed = true
			}
		}
		if !changed {
			return
		}
	}
}

// replace puts Mask in place of the spans rule r found that it keeps, and
// reports whether it replaced any.
func (l *line) replace(r rule) bool {
	var b, lb strings.Builder
	last := 0
	for _, sp := range l.spans {
		start, end := sp.start, sp.end
		if !r.always {
			v := l.s[start:end]
			if len(v) >= 2 && (v[0] == '"' || v[0] == '\'') && v[len(v)-1] == v[0] {
				start, end = start+1, end-1
				v = l.s[start:end]
			}
			if v == "" || v == Mask || containsCode(l.lower[start:end]) || (r.ok != nil && !r.ok(v)) {
				continue
			}
		}
		if last == 0 {
			b.Grow(len(l.s))
			lb.Grow(len(l.s))
		}
		b.WriteString(l.s[last:start])
		b.WriteString(Mask)
		lb.WriteString(l.lower[last:start])
		lb.WriteString(maskLower)
		last = end
	}
	l.work += len(l.s)
	if last == 0 {
		return false
	}
	b.WriteString(l.s[last:])
	lb.WriteString(l.lower[last:])
	l.s, l.lower = b.String(), lb.String()
	l.dq, l.sq = quoted{}, quoted{}
	return true
}

const maskLower = "[redacted]"
