package smtp

import (
	"bytes"
	"fmt"
	"net"
	"net/mail"
	"strings"
	"unicode/utf8"
)

// recipient returns the bare address s names, or an error saying why mail
// must not be sent to it. Only an address that reads back as exactly
// itself is accepted: it parses as one address, and that address string
// parses again to the same single address, with a dot-atom local part and
// a host name as domain. A quoted local part (`"a@x, b"@evil.example`),
// a comment, a group or an address literal is refused, because a mail
// server may read it as other recipients; so is an IP address in place
// of a domain (and net/mail refuses a domain with a trailing dot).
func recipient(s string) (string, error) {
	s = strings.TrimSpace(s)
	a, err := mail.ParseAddress(s)
	if err != nil {
		return "", fmt.Errorf("%q is not one mail address (%w); mail is sent only to plain addresses", s, err)
	}
	again, err := mail.ParseAddress(a.Address)
	if err != nil || again.Address != a.Address || again.Name != "" {
		return "", fmt.Errorf("%q does not read back as one address (it becomes %q); quoted local parts are not mailed to, because a mail server may read them as other recipients", s, a.Address)
	}
	if why := plainAddress(a.Address); why != "" {
		return "", fmt.Errorf("%q: %s; mail is sent only to plain addresses", s, why)
	}
	return a.Address, nil
}

// plainAddress returns why addr is not local@host with a dot-atom local
// part and a host name, or "".
func plainAddress(addr string) string {
	at := strings.LastIndexByte(addr, '@')
	if at <= 0 || at == len(addr)-1 || len(addr) > 254 {
		return "not of the form local@host"
	}
	local, domain := addr[:at], addr[at+1:]
	if len(local) > 64 || !utf8.ValidString(addr) {
		return "the local part is too long or not valid text"
	}
	for _, label := range strings.Split(local, ".") {
		if label == "" {
			return "the local part has an empty dot-separated piece"
		}
		for _, r := range label {
			if r < 0x80 && !isAtext(byte(r)) {
				return fmt.Sprintf("the local part holds %q, which needs quoting", r)
			}
		}
	}
	if strings.HasPrefix(domain, "[") {
		return "address literals are not mailed to"
	}
	if isIPDomain(domain) {
		return "an IP address in place of a domain is not mailed to"
	}
	for _, label := range strings.Split(strings.TrimSuffix(domain, "."), ".") {
		if label == "" || strings.HasPrefix(label, "-") || strings.HasSuffix(label, "-") {
			return "the domain is not a host name"
		}
		for _, r := range label {
			if r < 0x80 && !(r == '-' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') {
				return "the domain is not a host name"
			}
		}
	}
	return ""
}

// isIPDomain reports whether a domain is an IP address written without
// brackets, or ends in an all-digit label (no top-level domain is one).
func isIPDomain(domain string) bool {
	d := strings.TrimSuffix(domain, ".")
	if net.ParseIP(d) != nil {
		return true
	}
	last := d[strings.LastIndexByte(d, '.')+1:]
	return last != "" && strings.Trim(last, "0123456789") == ""
}

// canonical returns the form of a plain address (as recipient returns
// it) that the per-sender reply window counts by: lower case, the +tag
// cut from the local part, no trailing dot on the domain. Every
// "ana+1@Customer.example." is one sender.
func canonical(addr string) string {
	at := strings.LastIndexByte(addr, '@')
	if at < 0 {
		return strings.ToLower(addr)
	}
	local, domain := strings.ToLower(addr[:at]), strings.ToLower(strings.TrimSuffix(addr[at+1:], "."))
	if i := strings.IndexByte(local, '+'); i > 0 {
		local = local[:i]
	}
	return local + "@" + domain
}

// isAtext reports whether c may stand unquoted in a local part (RFC 5322
// atext, ASCII).
func isAtext(c byte) bool {
	switch {
	case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		return true
	}
	return strings.IndexByte("!#$%&'*+-/=?^_`{|}~", c) >= 0
}

const (
	// lineLen is the line length RFC 5322 asks for; maxLineLen the one it
	// requires.
	lineLen    = 78
	maxLineLen = 998
	// maxWordLen is the longest RFC 2047 encoded word.
	maxWordLen = 75
)

// writeFolded writes a structured field (addresses, ids, dates) folded at
// its spaces so that lines keep to 78 characters where a space allows.
func writeFolded(b *bytes.Buffer, name, value string) {
	value = strings.NewReplacer("\r", " ", "\n", " ").Replace(value)
	b.WriteString(fold(name, value))
}

// writeText writes an unstructured field (Subject): as it is when it is
// printable ASCII, folded at its spaces; as RFC 2047 encoded words, one
// per line, when it is not, or when a word would make a line longer than
// 998 characters. Runs of white space become one space.
func writeText(b *bytes.Buffer, name, value string) {
	value = strings.Join(strings.Fields(strings.ToValidUTF8(value, "\uFFFD")), " ")
	if !needsEncoding(value) {
		if f := fold(name, value); maxLine(f) <= maxLineLen {
			b.WriteString(f)
			return
		}
	}
	b.WriteString(name + ":")
	room := lineLen - len(name) - 2 // "Name: " on the first line
	for len(value) > 0 {
		word, rest := encodeWord(value, min(room, maxWordLen))
		b.WriteString(" " + word + "\r\n")
		value, room = rest, lineLen-1
	}
}

// needsEncoding reports whether s cannot be sent as it is in a header:
// non-ASCII, control characters, or text that a reader would take for an
// encoded word.
func needsEncoding(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < ' ' || s[i] >= 0x7f {
			return true
		}
	}
	return strings.Contains(s, "=?")
}

// fold writes "name: value" CRLF, breaking before spaces so that lines
// keep to 78 characters; a word longer than a line stays whole.
func fold(name, value string) string {
	var b strings.Builder
	line := name + ":"
	rest := " " + value
	for len(line)+len(rest) > lineLen {
		room := lineLen - len(line)
		i := strings.LastIndexByte(rest[:min(room+1, len(rest))], ' ')
		if i <= 0 {
			j := strings.IndexByte(rest[1:], ' ')
			if j < 0 {
				break
			}
			i = j + 1
		}
		b.WriteString(line + rest[:i] + "\r\n")
		line, rest = "", rest[i:]
	}
	b.WriteString(line + rest + "\r\n")
	return b.String()
}

// maxLine returns the length of the longest line of s, CRLF excluded.
func maxLine(s string) int {
	n := 0
	for _, l := range strings.Split(s, "\r\n") {
		n = max(n, len(l))
	}
	return n
}

// encodeWord encodes the start of s as one RFC 2047 Q encoded word of at
// most max characters (and at least one character of s), never splitting
// a UTF-8 sequence, and returns it with the rest of s.
func encodeWord(s string, max int) (word, rest string) {
	const prefix, suffix = "=?utf-8?q?", "?="
	var b strings.Builder
	b.WriteString(prefix)
	room := max - len(prefix) - len(suffix)
	i := 0
	for i < len(s) {
		_, size := utf8.DecodeRuneInString(s[i:])
		var enc strings.Builder
		for _, c := range []byte(s[i : i+size]) {
			switch {
			case c == ' ':
				enc.WriteByte('_')
			case c >= '0' && c <= '9', c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z':
				enc.WriteByte(c)
			default:
				fmt.Fprintf(&enc, "=%02X", c)
			}
		}
		if enc.Len() > room && i > 0 {
			break
		}
		b.WriteString(enc.String())
		room -= enc.Len()
		i += size
	}
	b.WriteString(suffix)
	return b.String(), s[i:]
}
