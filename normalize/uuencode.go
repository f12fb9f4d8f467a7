package normalize

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"path"
	"strings"
)

// isUUEncoding reports whether a Content-Transfer-Encoding names uuencode.
func isUUEncoding(cte string) bool {
	switch strings.ToLower(strings.TrimSpace(cte)) {
	case "x-uuencode", "uuencode", "x-uue", "uue":
		return true
	}
	return false
}

// uuLine decodes one line of uuencoded data and appends it to dst: the
// first character gives the byte count, then each four characters carry
// three bytes. ok is false when the line is not uuencoded data. A line
// cut short (trailing blanks stripped by a mail server) decodes as if the
// missing characters were blanks.
func uuLine(dst []byte, line []byte) ([]byte, bool) {
	line = bytes.TrimRight(line, "\r\n")
	if len(line) == 0 {
		return dst, false
	}
	n := int(line[0]-' ') & 63
	if line[0] < ' ' || line[0] > '`' {
		return dst, false
	}
	if n == 0 {
		return dst, true
	}
	if need := (n + 2) / 3 * 4; len(line)-1 > need+2 {
		return dst, false // too long for its count: not uuencode
	}
	val := func(i int) byte {
		if i >= len(line) {
			return 0
		}
		return (line[i] - ' ') & 63
	}
	for i, out := 1, 0; out < n; i += 4 {
		for _, c := range line[min(i, len(line)):min(i+4, len(line))] {
			if c < ' ' || c > '`' {
				return dst, false
			}
		}
		a, b, c, d := val(i), val(i+1), val(i+2), val(i+3)
		for _, x := range []byte{a<<2 | b>>4, b<<4 | c>>2, c<<6 | d} {
			if out < n {
				dst = append(dst, x)
				out++
			}
		}
	}
	return dst, true
}

// uuBegin reads a "begin 644 name" line: ok, and the file's name without
// directories.
func uuBegin(line string) (name string, ok bool) {
	line = strings.TrimRight(line, "\r\n \t")
	rest, found := strings.CutPrefix(line, "begin ")
	if !found {
		return "", false
	}
	mode, name, found := strings.Cut(rest, " ")
	if !found || len(mode) < 3 || len(mode) > 4 || strings.Trim(mode, "01234567") != "" {
		return "", false
	}
	name = strings.TrimSpace(name)
	if i := strings.LastIndexAny(name, `/\`); i >= 0 {
		name = name[i+1:]
	}
	return path.Clean("/" + name)[1:], name != ""
}

// uuReader decodes a body in the x-uuencode transfer encoding as it is
// read: lines before "begin" are skipped, decoding stops at "end".
type uuReader struct {
	br      *bufio.Reader
	buf     []byte
	started bool
	done    bool
}

func newUUReader(br *bufio.Reader) *uuReader {
	return &uuReader{br: br}
}

// looksUUEncoded reports whether the first line with text in br's buffer
// is a "begin" line or uuencoded data.
func looksUUEncoded(br *bufio.Reader) bool {
	head, _ := br.Peek(4096)
	for len(head) > 0 {
		i := bytes.IndexByte(head, '\n')
		line := head
		if i >= 0 {
			line, head = head[:i], head[i+1:]
		} else {
			head = nil
		}
		l := strings.TrimRight(string(line), "\r")
		if strings.TrimSpace(l) == "" {
			continue
		}
		_, begin := uuBegin(l)
		return begin || isUUData(l)
	}
	return false
}

func (u *uuReader) Read(p []byte) (int, error) {
	for len(u.buf) == 0 {
		if u.done {
			return 0, io.EOF
		}
		line, err := u.br.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			// No uuencoded line is this long: skip the rest of it.
			for errors.Is(err, bufio.ErrBufferFull) {
				_, err = u.br.ReadSlice('\n')
			}
			line = nil
		}
		trimmed := strings.TrimSpace(string(line))
		switch {
		case !u.started:
			if _, ok := uuBegin(trimmed); ok {
				u.started = true
			} else if d, ok := uuLine(nil, line); ok && trimmed != "" && !strings.HasPrefix(trimmed, "begin") {
				// Data without its begin line.
				u.started, u.buf = true, d
			}
		case trimmed == "end":
			u.done = true
		default:
			u.buf, _ = uuLine(u.buf[:0], line)
		}
		if err != nil {
			u.done = true
			if len(u.buf) == 0 {
				if errors.Is(err, io.EOF) {
					return 0, io.EOF
				}
				return 0, err
			}
		}
	}
	n := copy(p, u.buf)
	u.buf = u.buf[n:]
	return n, nil
}

// isUUData reports whether a line looks like a line of uuencoded data,
// its length matching its count.
func isUUData(l string) bool {
	l = strings.TrimRight(l, "\r")
	if len(l) < 2 {
		return false
	}
	n := int(l[0]-' ') & 63
	if _, ok := uuLine(nil, []byte(l)); !ok || n == 0 {
		return false
	}
	return len(l)-1 >= (n+2)/3*4-4
}

// uuFile is a uuencoded file found in a text.
type uuFile struct {
	name string
	data []byte
}

// cutUUFiles takes the uuencoded files ("begin 644 name" … "end") out of
// a plain text and returns the text without them and the files decoded.
// A begin line is taken only when a uuencoded line follows it.
func cutUUFiles(text string) (string, []uuFile) {
	if !strings.Contains(text, "begin ") {
		return text, nil
	}
	var files []uuFile
	var out strings.Builder
	for off := 0; off < len(text); {
		l, next := lineAt(text, off)
		name, ok := uuBegin(l)
		if ok {
			first, _ := lineAt(text, next)
			ok = isUUData(first)
		}
		if !ok {
			out.WriteString(text[off:next])
			off = next
			continue
		}
		f := uuFile{name: name}
		off = next
		for off < len(text) {
			l, next := lineAt(text, off)
			off = next
			if strings.TrimSpace(l) == "end" {
				// One blank line around the block is enough.
				if after, n := lineAt(text, off); strings.TrimSpace(after) == "" && strings.HasSuffix(out.String(), "\n\n") {
					off = n
				}
				break
			}
			f.data, _ = uuLine(f.data, []byte(l))
		}
		files = append(files, f)
	}
	return out.String(), files
}
