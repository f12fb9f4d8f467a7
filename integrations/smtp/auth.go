package smtp

import (
	"fmt"
	"strings"

	"github.com/triage-bot/triage/normalize"
)

// Sender authentication: the bot answers mail only when the receiving
// mail server vouches for its From domain. It reads that server's
// verdicts from Authentication-Results (RFC 8601) and from nothing else.
//
// Which headers are believed: anyone can write an Authentication-Results
// header into the mail they send, so only those carrying the receiving
// server's authserv-id (Config.AuthServID) count, and of those only the
// ones on top of the header block. A receiving server adds its own above
// everything the mail arrived with (one per checking filter, all with its
// id), and RFC 8601 section 5 asks it to remove or rename arriving ones
// that carry its id; reading the topmost run and stopping at the first
// header with another id keeps a forged one further down from counting
// even when the server does not clean up.
//
// What passes, for the From domain F:
//   - dmarc=pass with header.from equal to F;
//   - dkim=pass with a signing domain (header.d, else the domain of
//     header.i) equal to F or a parent of it (relaxed alignment);
//   - spf=pass with an smtp.mailfrom domain equal to F or a parent of it.
//
// A parent must have at least two labels: "com" aligns with nothing.

// authVerdict is the outcome of checking a ticket's sender.
type authVerdict struct {
	ok  bool
	why string // what passed, or why nothing did
}

// authResult is one "method=result" statement with its properties.
type authResult struct {
	method, result string
	props          map[string]string // "header.d" → "example.com"
}

// authenticate checks the Authentication-Results headers of a ticket
// (normalize.AuthResultsHeader: topmost first, one per line) for a pass
// aligned with fromDomain, believing only those of authServID on top.
func authenticate(stored, authServID, fromDomain string) authVerdict {
	if fromDomain == "" {
		return authVerdict{why: "the sender has no domain to authenticate"}
	}
	var results []authResult
	trusted, top, found := 0, "", false
	for _, h := range strings.Split(stored, "\n") {
		if strings.TrimSpace(h) == "" {
			continue
		}
		id, rs := parseAuthResults(h)
		if !found {
			top, found = id, true
		}
		if !strings.EqualFold(id, authServID) {
			break // below here anyone may have written it
		}
		trusted++
		results = append(results, rs...)
	}
	if trusted == 0 {
		switch {
		case !found:
			return authVerdict{why: fmt.Sprintf("the mail has no Authentication-Results header from %s (smtp.auth_serv_id), so its From address may be forged", authServID)}
		case top == "":
			return authVerdict{why: fmt.Sprintf("the topmost Authentication-Results header names no server, so it is not from %s (smtp.auth_serv_id) and its From address may be forged", authServID)}
		default:
			return authVerdict{why: fmt.Sprintf("the topmost Authentication-Results header is from %q, not from %s (smtp.auth_serv_id), so its From address may be forged", clip(top, 80), authServID)}
		}
	}
	var seen []string
	for _, r := range results {
		switch r.method {
		case "dmarc":
			d := domainOf(r.props["header.from"])
			if r.result == "pass" && d == fromDomain {
				return authVerdict{ok: true, why: "dmarc=pass for " + d}
			}
			seen = append(seen, describe(r, "header.from", d))
		case "dkim":
			d := domainOf(r.props["header.d"])
			if d == "" {
				d = domainOf(r.props["header.i"])
			}
			if r.result == "pass" && aligned(d, fromDomain) {
				return authVerdict{ok: true, why: "dkim=pass for d=" + d}
			}
			seen = append(seen, describe(r, "d", d))
		case "spf":
			d := domainOf(r.props["smtp.mailfrom"])
			if r.result == "pass" && aligned(d, fromDomain) {
				return authVerdict{ok: true, why: "spf=pass for smtp.mailfrom " + d}
			}
			seen = append(seen, describe(r, "smtp.mailfrom", d))
		}
	}
	if len(seen) == 0 {
		return authVerdict{why: fmt.Sprintf("%s reported no DMARC, DKIM or SPF result for the sender's domain %s", authServID, fromDomain)}
	}
	if len(seen) > 4 {
		seen = append(seen[:4], fmt.Sprintf("%d more", len(seen)-4))
	}
	return authVerdict{why: fmt.Sprintf("%s reported no DMARC pass and no DKIM or SPF pass aligned with the sender's domain %s (%s)",
		authServID, fromDomain, strings.Join(seen, "; "))}
}

// describe names a result that did not count, for the reason text.
func describe(r authResult, what, domain string) string {
	if domain == "" {
		domain = "none"
	}
	return fmt.Sprintf("%s=%s %s=%s", r.method, clip(r.result, 20), what, clip(domain, 80))
}

// aligned reports whether the authenticated domain d equals from or is a
// parent domain of it with at least two labels.
func aligned(d, from string) bool {
	if d == "" || !strings.Contains(d, ".") {
		return false
	}
	return d == from || strings.HasSuffix(from, "."+d)
}

// domainOf returns the domain of an address or domain value
// ("a@Example.COM." → "example.com"), "" when there is none.
func domainOf(v string) string {
	v = strings.TrimSpace(v)
	if i := strings.LastIndexByte(v, '@'); i >= 0 {
		v = v[i+1:]
	}
	v = strings.TrimSuffix(strings.ToLower(v), ".")
	if v == "" || strings.ContainsAny(v, " \t<>[]") {
		return ""
	}
	return v
}

// parseAuthResults reads one Authentication-Results value: its
// authserv-id and the results it states. Comments are dropped, quoted
// values unquoted; what it cannot read it skips. It is linear in the
// length of h.
func parseAuthResults(h string) (string, []authResult) {
	stmts := splitStatements(stripComments(h))
	if len(stmts) == 0 {
		return "", nil
	}
	head := strings.Fields(stmts[0])
	if len(head) == 0 {
		return "", nil
	}
	id := head[0] // an optional version number may follow
	var out []authResult
	for _, st := range stmts[1:] {
		toks := tokens(st)
		if len(toks) == 0 {
			continue
		}
		method, result, ok := strings.Cut(toks[0], "=")
		if !ok {
			continue // "none", or unreadable
		}
		method, _, _ = strings.Cut(method, "/") // a method version
		r := authResult{method: strings.ToLower(method), result: strings.ToLower(result), props: map[string]string{}}
		for _, tk := range toks[1:] {
			if k, v, ok := strings.Cut(tk, "="); ok {
				k = strings.ToLower(k)
				if _, dup := r.props[k]; !dup {
					r.props[k] = v
				}
			}
		}
		out = append(out, r)
	}
	return id, out
}

// stripComments removes RFC 5322 comments (nested parentheses, with
// backslash escapes) outside quoted strings, leaving a space instead.
func stripComments(s string) string {
	var b strings.Builder
	depth, quoted := 0, false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\\' && (quoted || depth > 0) && i+1 < len(s):
			if depth == 0 {
				b.WriteByte(c)
				b.WriteByte(s[i+1])
			}
			i++
		case depth > 0:
			switch c {
			case '(':
				depth++
			case ')':
				depth--
				if depth == 0 {
					b.WriteByte(' ')
				}
			}
		case quoted:
			b.WriteByte(c)
			if c == '"' {
				quoted = false
			}
		case c == '"':
			quoted = true
			b.WriteByte(c)
		case c == '(':
			depth = 1
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// splitStatements splits at semicolons outside quoted strings.
func splitStatements(s string) []string {
	var out []string
	quoted, start := false, 0
	for i := 0; i < len(s); i++ {
		switch {
		case s[i] == '\\' && quoted:
			i++
		case s[i] == '"':
			quoted = !quoted
		case s[i] == ';' && !quoted:
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	return append(out, s[start:])
}

// tokens splits a statement into "key=value" words: white space around
// "=" is allowed, quoted values are unquoted.
func tokens(s string) []string {
	var words []string
	var b strings.Builder
	quoted := false
	flush := func() {
		if b.Len() > 0 {
			words = append(words, b.String())
			b.Reset()
		}
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case quoted && c == '\\' && i+1 < len(s):
			i++
			b.WriteByte(s[i])
		case c == '"':
			quoted = !quoted
		case quoted:
			b.WriteByte(c)
		case c == ' ' || c == '\t':
			flush()
		case c == '=':
			flush()
			words = append(words, "=")
		default:
			b.WriteByte(c)
		}
	}
	flush()
	// Join "k", "=", "v" into "k=v".
	var out []string
	for i := 0; i < len(words); i++ {
		if words[i] == "=" && len(out) > 0 {
			v := ""
			if i+1 < len(words) && words[i+1] != "=" {
				v = words[i+1]
				i++
			}
			out[len(out)-1] += "=" + v
			continue
		}
		out = append(out, words[i])
	}
	return out
}

// clip shortens s for a reason text.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return strings.ToValidUTF8(s[:n], "") + "…"
}

// storedAuthResults returns the ticket's Authentication-Results as
// normalize keeps them.
func storedAuthResults(h map[string]string) string {
	for k, v := range h {
		if strings.EqualFold(k, normalize.AuthResultsHeader) {
			return v
		}
	}
	return ""
}
