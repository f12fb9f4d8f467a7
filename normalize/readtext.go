package normalize

import (
	"bufio"
	"bytes"
	"io"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/emersion/go-message/charset"
)

// chunkSize is the unit in which text parts are read.
const chunkSize = 64 << 10

// chunkPool recycles read chunks: they are copied into the part's text,
// and most parts are far smaller than one chunk.
var chunkPool = sync.Pool{New: func() any { return new([chunkSize]byte) }}

// readText reads up to max bytes of text from r and cleans it: a leading
// byte order mark is dropped, CRLF and a lone CR become LF, and invalid UTF-8 is
// replaced by U+FFFD (invalid then says so). truncated says r had more
// than max bytes; the cut never splits a UTF-8 sequence. binary says the
// first bytes hold a NUL, so this is no text whatever its label says.
//
// The input is read in chunks and copied once into the result, so a part
// costs about twice its kept size in allocations, however long r is.
func readText(r io.Reader, max int64) (text string, truncated, invalid, binary bool, err error) {
	var chunks [][]byte
	var total int64
	defer func() {
		for _, c := range chunks {
			if cap(c) == chunkSize {
				chunkPool.Put((*[chunkSize]byte)(c[:chunkSize]))
			}
		}
	}()
	for total <= max {
		c := chunkPool.Get().(*[chunkSize]byte)[:min(chunkSize, max+1-total)]
		n, rerr := io.ReadFull(r, c)
		if n > 0 {
			chunks = append(chunks, c[:n])
			total += int64(n)
		}
		if rerr == io.EOF || rerr == io.ErrUnexpectedEOF {
			break
		}
		if rerr != nil {
			err = rerr
			break
		}
	}
	if len(chunks) > 0 {
		head := chunks[0][:min(len(chunks[0]), 8<<10)]
		binary = bytes.IndexByte(head, 0) >= 0
	}
	if total > max {
		truncated = true
		total = cutChunks(chunks, max)
	}

	var b strings.Builder
	b.Grow(int(total))
	remain := total
	cr := false // a CR ended the previous chunk
	for i, c := range chunks {
		if remain <= 0 {
			break
		}
		c = c[:min(int64(len(c)), remain)]
		remain -= int64(len(c))
		if i == 0 {
			c = bytes.TrimPrefix(c, []byte(utf8BOM))
		}
		if cr && len(c) > 0 && c[0] == '\n' {
			c = c[1:] // the LF of a CRLF split between chunks
		}
		cr = false
		for len(c) > 0 {
			j := bytes.IndexByte(c, '\r')
			if j < 0 {
				b.Write(c)
				break
			}
			b.Write(c[:j])
			b.WriteByte('\n')
			c = c[j+1:]
			switch {
			case len(c) == 0:
				cr = true
			case c[0] == '\n':
				c = c[1:]
			}
		}
	}
	text = b.String()
	if !utf8.ValidString(text) {
		invalid = true
		// Each run of bad bytes becomes U+FFFD, three bytes: a single bad
		// byte grows the text, which must still fit the limit.
		text = cutUTF8(strings.ToValidUTF8(text, "\uFFFD"), int(max))
	}
	return text, truncated, invalid, binary, err
}

// cutChunks returns the length of the first max bytes of chunks, moved back
// to a character boundary.
func cutChunks(chunks [][]byte, max int64) int64 {
	n := max
	for n > 0 && n > max-utf8.UTFMax {
		if b, ok := byteAt(chunks, n); ok && isRuneStart(b) {
			return n
		}
		n--
	}
	if n <= max-utf8.UTFMax {
		// Not UTF-8 there; cut where the limit says.
		return max
	}
	return n
}

// byteAt returns the byte at offset i of the concatenated chunks.
func byteAt(chunks [][]byte, i int64) (byte, bool) {
	for _, c := range chunks {
		if i < int64(len(c)) {
			return c[i], true
		}
		i -= int64(len(c))
	}
	return 0, false
}

func isRuneStart(b byte) bool { return b&0xC0 != 0x80 }

// cutUTF8 cuts s to at most n bytes without splitting a character.
func cutUTF8(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !isRuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// withUTF16 decodes r as UTF-16 when it starts with a UTF-16 byte order
// mark, as Windows tools write their logs; otherwise r reads as it is.
func withUTF16(r io.Reader) io.Reader {
	br := bufio.NewReader(r)
	if b, _ := br.Peek(2); len(b) == 2 && (b[0] == 0xFF && b[1] == 0xFE || b[0] == 0xFE && b[1] == 0xFF) {
		if d, err := charset.Reader("utf-16", br); err == nil {
			return d
		}
	}
	return br
}
