package mailfile

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
)

// mboxBufferSize is the read buffer of an MboxReader; lines longer than it
// are streamed in pieces.
const mboxBufferSize = 64 << 10

// MboxReader splits an mbox into its messages. Each message is streamed:
// the reader holds one buffer, never a whole message or the whole file.
//
// A message starts after a "From " postmark line that looks like one: a
// sender and a date with a time of day ("From a@example.org Mon Dec  1
// 10:00:00 2026"), so that an unescaped "From here on …" in a body does not
// split a message. Lines ">From ", ">>From " … lose one '>' (mboxrd). LF
// and CRLF files are both read; line endings are passed on as they are.
// Text before the first postmark, if any, is read as a message too.
type MboxReader struct {
	br        *bufio.Reader
	cur       *mboxMessage
	lineStart bool // the next byte read starts a line
	started   bool
	err       error
}

// NewMboxReader returns a reader of the mbox read from r. It does no I/O
// until Next.
func NewMboxReader(r io.Reader) *MboxReader {
	return &MboxReader{br: bufio.NewReaderSize(r, mboxBufferSize), lineStart: true}
}

// Next returns a reader of the next message, or io.EOF after the last one.
// The reader returned before is no longer valid: whatever of it was not
// read is skipped. A read error of the underlying reader is returned
// wrapped, and again by every later call.
func (m *MboxReader) Next() (io.Reader, error) {
	if m.cur != nil {
		if _, err := io.Copy(io.Discard, m.cur); err != nil && m.err == nil {
			m.err = err
		}
		m.cur = nil
	}
	if m.err != nil {
		return nil, m.err
	}
	if !m.started {
		m.started = true
		m.skipBlankLines()
		if m.err != nil {
			return nil, m.err
		}
	}
	b, err := m.br.Peek(1)
	if len(b) == 0 {
		if err == nil || errors.Is(err, io.EOF) {
			m.err = io.EOF
		} else {
			m.err = fmt.Errorf("mbox: read: %w", err)
		}
		return nil, m.err
	}
	if p, _ := m.br.Peek(5); string(p) == "From " {
		if err := m.skipLine(); err != nil {
			m.err = err
			return nil, err
		}
	}
	m.lineStart = true
	m.cur = &mboxMessage{m: m}
	return m.cur, nil
}

// skipBlankLines drops blank lines before the first message.
func (m *MboxReader) skipBlankLines() {
	for {
		b, err := m.br.Peek(2)
		switch {
		case len(b) > 0 && b[0] == '\n':
			_, _ = m.br.Discard(1)
		case len(b) == 2 && b[0] == '\r' && b[1] == '\n':
			_, _ = m.br.Discard(2)
		default:
			if err != nil && !errors.Is(err, io.EOF) {
				m.err = fmt.Errorf("mbox: read: %w", err)
			}
			return
		}
	}
}

// skipLine drops one line, however long.
func (m *MboxReader) skipLine() error {
	for {
		_, err := m.br.ReadSlice('\n')
		switch {
		case err == nil, errors.Is(err, io.EOF):
			return nil
		case errors.Is(err, bufio.ErrBufferFull):
		default:
			return fmt.Errorf("mbox: read: %w", err)
		}
	}
}

// atSeparator reports whether the line about to be read is the postmark of
// the next message.
func (m *MboxReader) atSeparator() bool {
	p, _ := m.br.Peek(5)
	if string(p) != "From " {
		return false
	}
	line, _ := m.br.Peek(512)
	if i := bytes.IndexByte(line, '\n'); i >= 0 {
		line = line[:i]
	}
	return isPostmark(line)
}

// isPostmark reports whether a "From " line looks like "From sender date":
// three fields at least, and a time of day (digits, colon, digits).
func isPostmark(line []byte) bool {
	if len(bytes.Fields(line)) < 3 {
		return false
	}
	for i := 1; i+1 < len(line); i++ {
		if line[i] == ':' && isDigit(line[i-1]) && isDigit(line[i+1]) {
			return true
		}
	}
	return false
}

func isDigit(b byte) bool { return '0' <= b && b <= '9' }

// mboxMessage streams one message of an mbox.
type mboxMessage struct {
	m       *MboxReader
	pending []byte // the rest of the current line, not yet returned
	done    bool
}

func (r *mboxMessage) Read(p []byte) (int, error) {
	if r.m.cur != r {
		return 0, errors.New("mbox: message read after Next")
	}
	for len(r.pending) == 0 {
		if r.done {
			return 0, io.EOF
		}
		if err := r.next(); err != nil {
			return 0, err
		}
	}
	n := copy(p, r.pending)
	r.pending = r.pending[n:]
	return n, nil
}

// next loads the next line, or piece of a long line, into pending.
func (r *mboxMessage) next() error {
	m := r.m
	if m.lineStart {
		if m.atSeparator() {
			r.done = true
			return nil
		}
		m.unescapeFrom()
	}
	line, err := m.br.ReadSlice('\n')
	switch {
	case err == nil:
		m.lineStart = true
	case errors.Is(err, bufio.ErrBufferFull):
		m.lineStart = false
	case errors.Is(err, io.EOF):
		r.done = true
		m.lineStart = true
	default:
		r.done = true
		m.err = fmt.Errorf("mbox: read: %w", err)
		return m.err
	}
	// The line stays valid until the next read of m.br, which happens only
	// after pending is used up.
	r.pending = line
	return nil
}

// unescapeFrom drops the first '>' of a line matching ^>+From .
func (m *MboxReader) unescapeFrom() {
	p, _ := m.br.Peek(256)
	i := 0
	for i < len(p) && p[i] == '>' {
		i++
	}
	if i > 0 && bytes.HasPrefix(p[i:], []byte("From ")) {
		_, _ = m.br.Discard(1)
	}
}
