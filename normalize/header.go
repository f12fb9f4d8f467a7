package normalize

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/textproto"
	"strings"
	"unicode/utf8"

	mtextproto "github.com/emersion/go-message/textproto"
)

// readHeader reads one header block from br, up to and including the
// blank line that ends it, and parses it with go-message. Every field is
// bounded before the parser sees it: a field longer than
// lim.MaxHeaderFieldBytes after unfolding is cut to that length, and
// fields past lim.MaxHeaderFields or lim.MaxHeaderBytes are skipped, except
// the first of each vital field. What was cut or skipped is returned as
// problems for the ticket. The header is streamed: memory is bounded by
// the limits however long a line, a field or the block is; the rest of an
// over-long block is read past, not held. A line without a field name
// after the first field is read as a continuation of the field before it
// (a fold without its leading blank), as mail clients read it, and noted.
//
// The error is go-message's when the kept fields are not a header block
// (a line without a colon, a bad field name), or the reader's.
func readHeader(br *bufio.Reader, lim Limits) (mtextproto.Header, []string, error) {
	hb := headerBounder{br: br, lim: lim}
	if err := hb.run(); err != nil {
		return mtextproto.Header{}, nil, err
	}
	th, err := mtextproto.ReadHeader(bufio.NewReader(bytes.NewReader(hb.out.Bytes())))
	return th, hb.problems(), err
}

// vitalFields are kept past the header budget, the first of each: without
// them a message cannot be read (MIME), threaded, or recognised as a robot
// that must not be answered.
var vitalFields = func() map[string]bool {
	m := map[string]bool{}
	for _, k := range append(keptHeaders(),
		"From", "Sender", "Reply-To", "To", "Cc", "Subject", "Date",
		"Message-Id", "In-Reply-To", "References", "Mime-Version",
		"Content-Transfer-Encoding", "Content-Disposition", "Authentication-Results") {
		m[textproto.CanonicalMIMEHeaderKey(k)] = true
	}
	return m
}()

// maxNamedCuts is how many cut fields a problem names.
const maxNamedCuts = 5

// headerBounder copies a header block into out, bounded.
type headerBounder struct {
	br  *bufio.Reader
	lim Limits
	out bytes.Buffer

	fields       int             // fields kept
	over         bool            // the budget is spent
	vitalKept    map[string]bool // vital fields kept so far
	cuts         []string        // "Subject (1000014 bytes)", the first few
	cutCount     int
	skipped      int    // fields skipped past the budget
	skippedBytes int64  // their length
	repaired     int    // lines without a field name read as continuations
	repairedIn   string // the field the first of them continued
	scratch      []byte
}

// maxFieldNamePeek is how far a line is looked at for the colon that ends
// a field name; a name is never longer.
const maxFieldNamePeek = 76

// strayLine reports whether the next line, which starts with neither a
// blank nor a line end, is not a field ("Name: value") and so continues
// the field before it: RFC 5322 allows only fields and folded lines in a
// header block. A blank line, the end of the input, or a line that may be
// a field is not stray.
func (hb *headerBounder) strayLine() bool {
	b, err := hb.br.Peek(maxFieldNamePeek + 1)
	for i, c := range b {
		switch {
		case c == ':':
			return i == 0
		case c == '\n' || c == '\r':
			return i > 0
		case c <= ' ' || c > '~':
			// Not a field name: a blank before the colon is tolerated
			// ("Subject : x") by go-message, anything else is not.
			if c == ' ' || c == '\t' {
				rest := bytes.TrimLeft(b[i:], " \t")
				return len(rest) > 0 && rest[0] != ':'
			}
			return true
		}
	}
	// No colon: stray when the line is longer than any name or ends the
	// input; when the reader's buffer is too small to tell, a field.
	return len(b) > maxFieldNamePeek || errors.Is(err, io.EOF)
}

// run reads fields up to the blank line (or the end of the input).
func (hb *headerBounder) run() error {
	for {
		b, err := hb.br.Peek(2)
		if len(b) == 0 {
			if err == nil || errors.Is(err, io.EOF) {
				break
			}
			return err
		}
		if b[0] == '\n' {
			_, _ = hb.br.Discard(1)
			break
		}
		if len(b) == 2 && b[0] == '\r' && b[1] == '\n' {
			_, _ = hb.br.Discard(2)
			break
		}
		f, err := hb.field()
		if err != nil {
			return err
		}
		hb.keep(f)
		hb.scratch = f.data[:0] // copied into out or skipped: reuse it
	}
	hb.out.WriteString("\r\n")
	return nil
}

// rawField is one header field as kept.
type rawField struct {
	key  string // the name as written; "" when none was found
	data []byte // the kept field, each line ending in CRLF
	size int64  // its whole length after unfolding, name included
	cut  bool
}

// field reads one field: its first line and its continuation lines.
func (hb *headerBounder) field() (rawField, error) {
	limit := hb.lim.MaxHeaderFieldBytes
	var f rawField
	var head headAcc
	var tail []byte // References: the unfolded value's end
	var prefix []byte
	tailMode := false
	head.limit = limit
	head.buf = hb.scratch[:0]
	for first := true; ; first = false {
		pendingCR := false
		for start := true; ; start = false {
			frag, err := hb.br.ReadSlice('\n')
			if err != nil && !errors.Is(err, bufio.ErrBufferFull) && !errors.Is(err, io.EOF) {
				return f, err
			}
			final := !errors.Is(err, bufio.ErrBufferFull)
			content := frag
			if final {
				content = bytes.TrimSuffix(content, []byte("\n"))
				if len(content) < len(frag) {
					content = bytes.TrimSuffix(content, []byte("\r"))
				}
			}
			if pendingCR {
				pendingCR = false
				if !(final && len(frag) == 1 && frag[0] == '\n') {
					content = append([]byte{'\r'}, content...)
				}
			}
			if !final && len(content) > 0 && content[len(content)-1] == '\r' {
				content, pendingCR = content[:len(content)-1], true
			}
			if first && start {
				if i := bytes.IndexByte(content, ':'); i >= 0 {
					f.key = string(content[:i])
					if textproto.CanonicalMIMEHeaderKey(strings.TrimSpace(f.key)) == "References" {
						tailMode = true
						prefix = append(prefix, content[:i+1]...)
						f.size += int64(i + 1)
						content = content[i+1:]
					}
				}
			}
			f.size += int64(len(content))
			if tailMode {
				tail = append(tail, content...)
				if len(tail) > 2*limit {
					tail = append(tail[:0], tail[len(tail)-limit:]...)
				}
			} else {
				head.write(content)
			}
			if final {
				break
			}
		}
		b, err := hb.br.Peek(1)
		if err != nil {
			break
		}
		if b[0] != ' ' && b[0] != '\t' {
			if !hb.strayLine() {
				break
			}
			// A line without a field name inside the block: a sender
			// folded without the leading blank. Read on, as mail clients
			// do, with the blank put back.
			hb.repaired++
			if hb.repairedIn == "" {
				hb.repairedIn = displayName(f.key)
			}
			head.lineBreak()
			if tailMode {
				tail = append(tail, ' ')
			} else {
				head.write([]byte{' '})
			}
			continue
		}
		head.lineBreak()
	}
	if tailMode {
		room := max(limit-len(prefix), 0)
		if len(tail) > room {
			f.cut = true
			tail = tail[len(tail)-room:]
			// Drop the id cut in two.
			if i := bytes.IndexAny(tail, " \t"); i >= 0 {
				tail = tail[i:]
			} else {
				tail = nil
			}
		}
		f.data = append(append(append(prefix, ' '), bytes.TrimSpace(tail)...), '\r', '\n')
		return f, nil
	}
	f.cut = head.cut
	f.data = append(trimPartialRune(head.buf), '\r', '\n')
	return f, nil
}

// headAcc keeps the start of a field, up to limit bytes of content; line
// breaks between kept lines are kept as CRLF and not counted.
type headAcc struct {
	buf     []byte
	n       int // content bytes kept
	limit   int
	cut     bool
	pending bool // a line break is due before more content
}

func (a *headAcc) write(p []byte) {
	room := a.limit - a.n
	if len(p) > room {
		a.cut = true
		p = p[:room]
	}
	if len(p) == 0 {
		return
	}
	if a.pending {
		a.buf = append(a.buf, '\r', '\n')
		a.pending = false
	}
	a.buf = append(a.buf, p...)
	a.n += len(p)
}

// lineBreak notes a fold. It is written only when more content follows,
// so a cut field never ends in an empty line, which would end the header.
func (a *headAcc) lineBreak() {
	if !a.cut {
		a.pending = true
	}
}

// trimPartialRune drops a UTF-8 sequence cut short at the end of b.
func trimPartialRune(b []byte) []byte {
	for i := len(b) - 1; i >= 0 && i >= len(b)-utf8.UTFMax; i-- {
		if utf8.RuneStart(b[i]) {
			if !utf8.FullRune(b[i:]) {
				return b[:i]
			}
			break
		}
	}
	return b
}

// keep adds f to the block, or skips it past the budget.
func (hb *headerBounder) keep(f rawField) {
	name := textproto.CanonicalMIMEHeaderKey(strings.TrimSpace(f.key))
	if f.cut {
		hb.cutCount++
		if len(hb.cuts) < maxNamedCuts {
			hb.cuts = append(hb.cuts, fmt.Sprintf("%s (%d bytes)", displayName(f.key), f.size))
		}
	}
	if !hb.over && (hb.fields >= hb.lim.MaxHeaderFields || hb.out.Len()+len(f.data) > hb.lim.MaxHeaderBytes) {
		hb.over = true
	}
	if hb.over && (!vitalFields[name] || hb.vitalKept[name]) {
		hb.skipped++
		hb.skippedBytes += f.size
		return
	}
	if vitalFields[name] {
		if hb.vitalKept == nil {
			hb.vitalKept = map[string]bool{}
		}
		hb.vitalKept[name] = true
	}
	hb.out.Write(f.data)
	hb.fields++
}

// problems explains, for a person, what was cut or skipped.
func (hb *headerBounder) problems() []string {
	var ps []string
	if hb.cutCount > 0 {
		more := ""
		if hb.cutCount > len(hb.cuts) {
			more = fmt.Sprintf(" and %d more", hb.cutCount-len(hb.cuts))
		}
		ps = append(ps, fmt.Sprintf("header fields longer than %d bytes were cut to that length: %s%s",
			hb.lim.MaxHeaderFieldBytes, strings.Join(hb.cuts, ", "), more))
	}
	if hb.repaired > 0 {
		ps = append(ps, fmt.Sprintf("the header has %d lines without a field name, folded without a leading blank; they were read as part of the field before them (%s)",
			hb.repaired, hb.repairedIn))
	}
	if hb.skipped > 0 {
		ps = append(ps, fmt.Sprintf("the header has more than %d fields or %d bytes; %d later fields (%d bytes) were skipped, keeping those needed to read, thread and answer the message",
			hb.lim.MaxHeaderFields, hb.lim.MaxHeaderBytes, hb.skipped, hb.skippedBytes))
	}
	return ps
}

// displayName makes a field name fit for a problem text.
func displayName(k string) string {
	k = strings.TrimSpace(k)
	var b strings.Builder
	for _, r := range k {
		if b.Len() >= 40 {
			b.WriteString("…")
			break
		}
		if r > ' ' && r < 0x7f {
			b.WriteRune(r)
		} else {
			b.WriteByte('?')
		}
	}
	if b.Len() == 0 {
		return "a field without a name"
	}
	return b.String()
}
