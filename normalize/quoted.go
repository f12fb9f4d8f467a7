package normalize

import (
	"bytes"
	"strings"
	"unicode/utf8"
)

// outlookBlockSpan is how many lines after a "From:" line are searched for
// the rest of an Outlook-style header block.
const outlookBlockSpan = 6

// forwardHeaderSpan is how many lines after a forward marker belong to the
// forwarded mail's header block, which is never taken for a reply header.
const forwardHeaderSpan = 10

// SplitQuoted splits a plain-text mail body into the new text the sender
// wrote and the quoted history below or between it.
//
// Quoted history is what carries quote markers; the sender's unmarked
// lines are new text wherever they are, above, between or below the
// quotes (bottom-posted and interleaved replies). A line is quoted when it
// starts with optional blanks and '>'. An attribution line ("On … wrote:",
// which may wrap onto a second line, and its German, French, Spanish and
// Portuguese forms "Am … schrieb …:", "Le … a écrit :", "El … escribió:",
// "Em … escreveu:") is quoted with the '>' block right below it. Only when
// no '>' line follows it, so that nothing marks where the history ends, is
// everything from the attribution to the end quoted; and so is everything
// from an Outlook reply header: a "From:" line
// followed within six lines by "Sent:" or "Date:" and by "To:" or
// "Subject:" (German, French and Spanish names too), together with a
// "-----Original Message-----" or "________________________________" line
// right above it. "-----Original Message-----" alone starts quoted text too.
//
// Inline-forwarded mail ("---------- Forwarded message ---------",
// "-------- Forwarded Message --------", "Begin forwarded message:",
// "----- Original Nachricht -----", or an Outlook header block whose
// Subject starts with FW:/Fwd:) is what the sender reports, so it is new
// text: its header block is not taken for a reply.
//
// Lines are kept whole, with their '>' markers, in their original order, so
// each result reads as it was written. Leading blank lines and trailing
// whitespace are trimmed from both results. Text without quoted history is
// returned as body without copying.
func SplitQuoted(text string) (body, quoted string) {
	cut := len(text) // offset where the trailing history starts
	anyQuoted := false
	fwdUntil := -1    // line index up to which a forward's header block runs
	var marked []span // attribution lines above a quoted block
scan:
	for i, off := 0, 0; off < len(text); i++ {
		l, next := lineAt(text, off)
		switch {
		case isQuoteLine(l):
			anyQuoted = true
		case isForwardMarker(l):
			fwdUntil = i + forwardHeaderSpan
		case strings.TrimSpace(l) == "-----Original Message-----":
			cut = off
			break scan
		case isAttributionAt(text, off):
			end, quotes := quoteFollows(text, attributionEnd(text, off))
			if !quotes {
				// Nothing marks the history: it runs to the end.
				cut = off
				break scan
			}
			// The attribution belongs to the quoted block below it; what
			// follows that block is new text again.
			marked = append(marked, span{off, end})
			anyQuoted = true
			for next < end {
				_, next = lineAt(text, next)
				i++
			}
		case i > fwdUntil && isHeaderName(l, fromNames()):
			switch outlookBlock(text, next) {
			case blockReply:
				cut = separatorAbove(text, off)
				break scan
			case blockForward:
				fwdUntil = i + forwardHeaderSpan
			}
		}
		off = next
	}
	if !anyQuoted && cut == len(text) {
		return trimText(text), ""
	}
	var b, q strings.Builder
	// Where lines were taken out, the blank lines around them would pile
	// up: keep one. Blank means the last line written was blank; gap that
	// a line went to the other side since.
	var bBlank, qBlank, bGap, qGap bool
	for off := 0; off < len(text); {
		l, next := lineAt(text, off)
		blank := strings.TrimSpace(l) == ""
		if off >= cut || isQuoteLine(l) || inSpans(marked, off) {
			if !blank || !qBlank || !qGap {
				q.WriteString(text[off:next])
				qBlank, qGap = blank, false
			}
			bGap = true
		} else {
			if !blank || !bBlank || !bGap {
				b.WriteString(text[off:next])
				bBlank, bGap = blank, false
			}
			qGap = true
		}
		off = next
	}
	return trimText(b.String()), trimText(q.String())
}

// span is a range of offsets in a text.
type span struct{ start, end int }

func inSpans(ss []span, off int) bool {
	for _, s := range ss {
		if off >= s.start && off < s.end {
			return true
		}
	}
	return false
}

// quoteFollows reports whether the first line with text from off on is a
// quoted ('>') line, and returns that line's offset.
func quoteFollows(text string, off int) (int, bool) {
	for off < len(text) {
		l, next := lineAt(text, off)
		if strings.TrimSpace(l) != "" {
			return off, isQuoteLine(l)
		}
		off = next
	}
	return off, false
}

// lineAt returns the line starting at off without its line ending, and the
// offset of the next line.
func lineAt(s string, off int) (line string, next int) {
	i := strings.IndexByte(s[off:], '\n')
	if i < 0 {
		return strings.TrimSuffix(s[off:], "\r"), len(s)
	}
	return strings.TrimSuffix(s[off:off+i], "\r"), off + i + 1
}

// lineBefore returns the line ending right before off, and its start; ok is
// false at the start of s.
func lineBefore(s string, off int) (line string, start int, ok bool) {
	if off <= 0 {
		return "", 0, false
	}
	end := off - 1 // the '\n' ending that line
	start = strings.LastIndexByte(s[:end], '\n') + 1
	return strings.TrimSuffix(s[start:end], "\r"), start, true
}

// trimText drops leading blank lines and trailing whitespace.
func trimText(s string) string {
	s = strings.TrimRight(s, " \t\r\n")
	for {
		i := strings.IndexByte(s, '\n')
		if i < 0 || strings.TrimSpace(s[:i]) != "" {
			return s
		}
		s = s[i+1:]
	}
}

func isQuoteLine(l string) bool {
	return strings.HasPrefix(strings.TrimLeft(l, " \t"), ">")
}

// forwardMarkers are what a line announcing a forwarded message holds,
// lower-cased.
var forwardMarkers = []string{
	"forwarded message", "begin forwarded message",
	"weitergeleitete nachricht", "original nachricht", "message transféré",
	"mensaje reenviado", "mensagem encaminhada",
}

func isForwardMarker(l string) bool {
	l = strings.TrimSpace(l)
	ascii := true
	for i := 0; i < len(l); i++ {
		if l[i] >= utf8.RuneSelf {
			ascii = false
			break
		}
	}
	if ascii {
		// Most lines: lower-cased (to the same length) on the stack.
		if l == "" || len(l) > 120 {
			return false
		}
		var buf [120]byte
		b := buf[:len(l)]
		for i := range b {
			c := l[i]
			if 'A' <= c && c <= 'Z' {
				c += 'a' - 'A'
			}
			b[i] = c
		}
		for _, m := range forwardMarkers {
			if bytes.Contains(b, []byte(m)) {
				return true
			}
		}
		return false
	}
	l = strings.ToLower(l)
	if len(l) > 120 {
		return false
	}
	for _, m := range forwardMarkers {
		if strings.Contains(l, m) {
			return true
		}
	}
	return false
}

// isAttributionAt reports whether the line at off starts an "On … wrote:"
// style attribution, on one line or wrapped onto the next.
func isAttributionAt(text string, off int) bool {
	l, next := lineAt(text, off)
	l = strings.TrimSpace(l)
	if isAttribution(l) {
		return true
	}
	if next < len(text) && len(l) < 300 && hasAttributionPrefix(l) {
		n, _ := lineAt(text, next)
		n = strings.TrimSpace(n)
		return !isQuoteLine(n) && isAttribution(l+" "+n)
	}
	return false
}

// attributionEnd returns the offset after the attribution starting at off
// (see isAttributionAt): after its first line, or its second when it
// wraps.
func attributionEnd(text string, off int) int {
	l, next := lineAt(text, off)
	if isAttribution(strings.TrimSpace(l)) {
		return next
	}
	_, next = lineAt(text, next)
	return next
}

type attribution struct {
	prefix string // how the line starts
	word   string // the verb
	atEnd  bool   // the verb ends the line, before ':'
}

func attributions() [5]attribution {
	return [...]attribution{
		{"On ", " wrote", true},
		{"Am ", " schrieb ", false},
		{"Le ", " a écrit", true},
		{"El ", " escribió", true},
		{"Em ", " escreveu", true},
	}
}

func hasAttributionPrefix(l string) bool {
	for _, a := range attributions() {
		if strings.HasPrefix(l, a.prefix) {
			return true
		}
	}
	return false
}

func isAttribution(l string) bool {
	if len(l) > 400 || !strings.HasSuffix(l, ":") || !strings.ContainsAny(l, "0123456789@") {
		return false
	}
	for _, a := range attributions() {
		if !strings.HasPrefix(l, a.prefix) {
			continue
		}
		rest := l[len(a.prefix)-1:]
		if a.atEnd {
			rest = strings.TrimSpace(strings.TrimSuffix(rest, ":"))
			if strings.HasSuffix(rest, a.word) {
				return true
			}
		} else if strings.Contains(rest, a.word) {
			return true
		}
	}
	return false
}

// Header names of Outlook-style reply blocks, in the languages seen most.
func fromNames() []string { return []string{"From", "Von", "De"} }

func sentNames() []string {
	return []string{"Sent", "Date", "Gesendet", "Datum", "Envoyé", "Enviado", "Fecha", "Data"}
}

func toSubjNames() []string {
	return []string{"To", "Subject", "An", "Betreff", "À", "A", "Objet", "Para", "Asunto", "Assunto"}
}

func subjectNames() []string {
	return []string{"Subject", "Betreff", "Objet", "Asunto", "Assunto"}
}

// headerValue returns the value of a "Name: value" line when its name is
// one of names; Outlook's plain-text bold markers (*From:*) are allowed.
func headerValue(l string, names []string) (string, bool) {
	l = strings.TrimLeft(l, " \t*")
	i := strings.IndexByte(l, ':')
	if i <= 0 || i > 16 {
		return "", false
	}
	name := strings.TrimSpace(l[:i])
	for _, n := range names {
		if strings.EqualFold(name, n) {
			return strings.TrimLeft(l[i+1:], " \t*"), true
		}
	}
	return "", false
}

func isHeaderName(l string, names []string) bool {
	_, ok := headerValue(l, names)
	return ok
}

type blockKind int

const (
	blockNone blockKind = iota
	blockReply
	blockForward
)

// outlookBlock classifies the lines from off on, which follow a "From:"
// line.
func outlookBlock(text string, off int) blockKind {
	var sent, toSubj, forward bool
	for j := 0; j < outlookBlockSpan && off < len(text); j++ {
		l, next := lineAt(text, off)
		off = next
		if isHeaderName(l, sentNames()) {
			sent = true
		}
		if isHeaderName(l, toSubjNames()) {
			toSubj = true
		}
		if v, ok := headerValue(l, subjectNames()); ok {
			v = strings.ToLower(strings.TrimSpace(v))
			for _, p := range []string{"fw:", "fwd:", "wg:", "tr:", "rv:", "enc:"} {
				if strings.HasPrefix(v, p) {
					forward = true
				}
			}
		}
	}
	switch {
	case !sent || !toSubj:
		return blockNone
	case forward:
		return blockForward
	}
	return blockReply
}

// separatorAbove moves a quote start at off up over blank lines to an
// Outlook separator line, if there is one right above.
func separatorAbove(text string, off int) int {
	for range 3 {
		l, start, ok := lineBefore(text, off)
		if !ok {
			return off
		}
		s := strings.TrimSpace(l)
		if s == "-----Original Message-----" || (len(s) >= 10 && strings.Trim(s, "_") == "") {
			return start
		}
		if s != "" {
			return off
		}
		off = start
	}
	return off
}
