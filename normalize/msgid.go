package normalize

import "strings"

const (
	// maxMsgIDLen is how long a message id may be, without its angle
	// brackets. Real ones are well under 100 characters.
	maxMsgIDLen = 250
	// maxReferences is how many References a ticket keeps: the last ones,
	// the nearest parents.
	maxReferences = 20
)

// ParseMessageID returns the first well-formed message id in a
// Message-ID field value, without its angle brackets, or "" when there is
// none. Well-formed means local@domain, at most 250 printable ASCII
// characters, none of them a space, an angle bracket, a parenthesis, a
// quote, a backslash or a comma: an id that can be echoed into
// In-Reply-To and References as it is. It reads in linear time, whatever
// the value.
func ParseMessageID(v string) string {
	ids, _ := parseMsgIDs(v, 1)
	if len(ids) == 0 {
		return ""
	}
	return ids[0]
}

// ValidMessageID reports whether id, without angle brackets, is a
// well-formed message id as ParseMessageID defines it: one that may be
// written into In-Reply-To or References.
func ValidMessageID(id string) bool { return validMsgID(id) }

// MaxReferences is how many References a ticket keeps, and a reply
// carries: the last ones, the nearest parents.
const MaxReferences = maxReferences

// parseMsgIDs returns the well-formed message ids in a Message-ID,
// In-Reply-To or References value, in order, and how many malformed ones
// were dropped. It stops after max ids when max > 0. Comments are skipped;
// ids may be written without angle brackets or separated by commas, as
// some mailers do.
func parseMsgIDs(v string, max int) (ids []string, bad int) {
	for i := 0; i < len(v) && (max <= 0 || len(ids) < max); {
		switch c := v[i]; c {
		case ' ', '\t', '\r', '\n', ',':
			i++
		case '(':
			i = skipComment(v, i)
		case '<':
			j := strings.IndexByte(v[i+1:], '>')
			if j < 0 {
				bad++
				return ids, bad
			}
			if id := v[i+1 : i+1+j]; validMsgID(id) {
				ids = append(ids, id)
			} else {
				bad++
			}
			i += j + 2
		default:
			j := i
			for j < len(v) && !strings.ContainsRune(" \t\r\n,(<", rune(v[j])) {
				j++
			}
			if id := v[i:j]; validMsgID(id) {
				ids = append(ids, id)
			} else {
				bad++
			}
			i = j
		}
	}
	return ids, bad
}

// skipComment returns the index after the comment that starts at v[i],
// or len(v) when it is not closed.
func skipComment(v string, i int) int {
	depth := 0
	for ; i < len(v); i++ {
		switch v[i] {
		case '\\':
			i++
		case '(':
			depth++
		case ')':
			depth--
			if depth == 0 {
				return i + 1
			}
		}
	}
	return len(v)
}

// validMsgID reports whether id (without angle brackets) is a sane
// local@domain message id.
func validMsgID(id string) bool {
	if len(id) > maxMsgIDLen {
		return false
	}
	at := strings.IndexByte(id, '@')
	if at <= 0 || at == len(id)-1 || strings.IndexByte(id[at+1:], '@') >= 0 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if c <= ' ' || c >= 0x7f {
			return false
		}
		switch c {
		case '<', '>', '(', ')', '"', '\\', ',':
			return false
		}
	}
	return true
}
