package normalize

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"

	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"
)

// maxHTMLToken caps the bytes the HTML tokenizer buffers for one token. A
// longer token (a huge text run, a tag carrying an inline data: image) is
// handled by restarting the tokenizer behind it, so memory stays bounded.
const maxHTMLToken = 256 << 10

// maxHTMLStack caps the open elements tracked; deeper nesting is counted but
// not remembered, so absurdly nested HTML costs no memory.
const maxHTMLStack = 512

// HTMLToText converts the HTML read from r into plain text, streaming: it
// never builds a document tree and holds at most maxBytes of output plus a
// bounded tokenizer buffer.
//
// The conversion is made for finding codes in text, not for display:
//   - script, style, head, title and template content is dropped;
//   - block elements (p, div, br, li, tr, h1–h6, pre, blockquote, table …)
//     become line breaks, table cells are separated by a space;
//   - inline elements (span, b, i, a, code, font …) add nothing, so
//     ERR_<span>NGROK</span>_108 reads ERR_NGROK_108;
//   - entities are decoded (&#95; reads _);
//   - a link keeps its text, and its href is appended in parentheses when it
//     differs from the text and mentions ngrok, so docs links survive;
//   - the content of blockquote elements and of elements whose class
//     contains gmail_quote, yahoo_quoted or moz-cite-prefix is prefixed with
//     "> " on each line, and so is everything after an Outlook reply marker
//     (id divRplyFwdMsg or appendonsend), so SplitQuoted sees it as history.
//
// Whitespace is collapsed as a browser does, except inside pre. Zero-width
// and non-breaking characters are kept. The result is valid UTF-8 without
// CR characters.
//
// maxBytes ≤ 0 means DefaultMaxPartBytes. When the text would exceed
// maxBytes it is cut at a character boundary, truncated is true and the rest
// of r is not read. err is non-nil only when reading r fails; the text read
// until then is returned with it.
func HTMLToText(r io.Reader, maxBytes int64) (text string, truncated bool, err error) {
	if maxBytes <= 0 {
		maxBytes = DefaultMaxPartBytes
	}
	c := htmlConverter{max: maxBytes, lineStart: true}
	err = c.run(r)
	out := c.out
	for len(out) > 0 && (out[len(out)-1] == '\n' || out[len(out)-1] == ' ') {
		out = out[:len(out)-1]
	}
	return string(out), c.truncated, err
}

// elemFlags says what an open element does to its content.
type elemFlags uint8

const (
	flagSkip  elemFlags = 1 << iota // content dropped
	flagQuote                       // content quoted
	flagPre                         // whitespace kept
	flagLink                        // an <a> whose href may be appended
)

type openElem struct {
	tag   atom.Atom
	hash  uint64 // name hash, for tags without an atom
	flags elemFlags
	href  string
	start int // output length when a link opened
}

// errOutputFull stops the conversion once the output cap is reached.
var errOutputFull = errors.New("output full")

type htmlConverter struct {
	out       []byte
	max       int64
	truncated bool

	stack     []openElem
	overflow  int // open elements beyond maxHTMLStack
	skip      int // open elements with flagSkip
	quote     int // open elements with flagQuote
	quoteRest bool
	pre       int

	lineStart bool // the next byte written starts a line
	preStart  bool // right after <pre>, where a first newline is ignored
	space     bool // collapsed whitespace pending
	newlines  int  // consecutive '\n' at the end of out
}

func (c *htmlConverter) run(r io.Reader) error {
	src := bufio.NewReaderSize(r, 32<<10)
	z := html.NewTokenizer(src)
	z.SetMaxBuf(maxHTMLToken)
	for {
		tt := z.Next()
		var err error
		switch tt {
		case html.ErrorToken:
			zerr := z.Err()
			if zerr == io.EOF {
				return nil
			}
			if !errors.Is(zerr, html.ErrBufferExceeded) {
				return fmt.Errorf("read HTML: %w", zerr)
			}
			z, err = c.recover(z, src)
		case html.TextToken:
			if c.skip == 0 {
				err = c.text(z.Text())
			}
		case html.StartTagToken, html.SelfClosingTagToken:
			err = c.startTag(z, tt == html.SelfClosingTagToken)
		case html.EndTagToken:
			err = c.endTag(tagName(z.Raw()))
		}
		if errors.Is(err, errOutputFull) {
			c.truncated = true
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// recover handles a token longer than maxHTMLToken: text is emitted as far
// as it was read, a tag or comment is dropped up to its closing '>', and a
// fresh tokenizer continues behind it.
func (c *htmlConverter) recover(z *html.Tokenizer, src *bufio.Reader) (*html.Tokenizer, error) {
	raw := z.Raw()
	rest := bytes.Clone(z.Buffered())
	var err error
	if len(raw) > 0 && raw[0] == '<' {
		if i := bytes.IndexByte(rest, '>'); i >= 0 {
			rest = rest[i+1:]
		} else {
			rest = nil
			if _, rerr := src.ReadSlice('>'); rerr != nil {
				for errors.Is(rerr, bufio.ErrBufferFull) {
					_, rerr = src.ReadSlice('>')
				}
				if rerr != nil && rerr != io.EOF {
					return nil, fmt.Errorf("read HTML: %w", rerr)
				}
			}
		}
	} else if c.skip == 0 {
		err = c.text([]byte(html.UnescapeString(string(raw))))
	}
	nz := html.NewTokenizer(io.MultiReader(bytes.NewReader(rest), src))
	nz.SetMaxBuf(maxHTMLToken)
	return nz, err
}

// maxQuotePrefix caps the "> " written per line: deeper quoting is still
// quoted, and absurd nesting cannot blow text up.
const maxQuotePrefix = 8

// quoteDepth is how many "> " start each line of the current content.
func (c *htmlConverter) quoteDepth() int {
	d := c.quote
	if c.quoteRest {
		d++
	}
	return min(d, maxQuotePrefix)
}

// put appends b, which is whole characters, or reports errOutputFull.
func (c *htmlConverter) put(b []byte) error {
	if int64(len(c.out)+len(b)) > c.max {
		return errOutputFull
	}
	c.grow(len(b))
	c.out = append(c.out, b...)
	return nil
}

// grow makes room for n more bytes, doubling the buffer up to the output
// cap, so that a large text costs about twice its size in allocations.
func (c *htmlConverter) grow(n int) {
	need := len(c.out) + n
	if need <= cap(c.out) {
		return
	}
	size := max(2*cap(c.out), need, 4<<10)
	size = int(min(int64(size), c.max))
	out := make([]byte, len(c.out), max(size, need))
	copy(out, c.out)
	c.out = out
}

// tagName returns the atom of a raw start or end tag, or for a tag without
// an atom a hash of its lower-cased name, without allocating.
func tagName(raw []byte) (atom.Atom, uint64) {
	raw = bytes.TrimPrefix(raw, []byte("<"))
	raw = bytes.TrimPrefix(raw, []byte("/"))
	var buf [32]byte
	n := 0
	const offset, prime = 14695981039346656037, 1099511628211
	h := uint64(offset)
	for _, b := range raw {
		if b == ' ' || b == '\t' || b == '\n' || b == '\r' || b == '\f' || b == '/' || b == '>' {
			break
		}
		if 'A' <= b && b <= 'Z' {
			b += 'a' - 'A'
		}
		if n < len(buf) {
			buf[n] = b
		}
		n++
		h = (h ^ uint64(b)) * prime
	}
	if n <= len(buf) {
		if a := atom.Lookup(buf[:n]); a != 0 {
			return a, 0
		}
	}
	return 0, h
}

// beginLine writes the quote prefix when a line starts.
func (c *htmlConverter) beginLine() error {
	if !c.lineStart {
		return nil
	}
	c.lineStart = false
	c.newlines = 0
	for range c.quoteDepth() {
		if err := c.put([]byte("> ")); err != nil {
			return err
		}
	}
	return nil
}

// breakLine ends the current line unless at a line start already.
func (c *htmlConverter) breakLine() error {
	c.space = false
	if c.lineStart {
		return nil
	}
	return c.newline()
}

// newline writes a line break; at most one blank line in a row is kept.
func (c *htmlConverter) newline() error {
	c.space = false
	if c.newlines >= 2 || len(c.out) == 0 {
		c.lineStart = true
		return nil
	}
	if d := c.quoteDepth(); c.lineStart && d > 0 {
		// An empty quoted line: "> > " without its trailing blank.
		p := bytes.Repeat([]byte("> "), d)
		if err := c.put(p[:len(p)-1]); err != nil {
			return err
		}
	}
	if err := c.put([]byte{'\n'}); err != nil {
		return err
	}
	c.lineStart = true
	c.newlines++
	return nil
}

func isHTMLSpace(b byte) bool {
	return b == ' ' || b == '\t' || b == '\n' || b == '\r' || b == '\f'
}

// text writes decoded character data.
func (c *htmlConverter) text(s []byte) error {
	for i := 0; i < len(s); {
		b := s[i]
		if c.pre > 0 {
			if c.preStart && b == '\n' {
				c.preStart = false
				i++
				continue
			}
			c.preStart = false
			switch b {
			case '\r':
				i++
				continue
			case '\n':
				if err := c.newline(); err != nil {
					return err
				}
				i++
				continue
			}
		} else if isHTMLSpace(b) {
			if !c.lineStart {
				c.space = true
			}
			i++
			continue
		}
		if c.space {
			c.space = false
			if err := c.put([]byte{' '}); err != nil {
				return err
			}
		}
		if err := c.beginLine(); err != nil {
			return err
		}
		// Write a run of non-special bytes at once, ending on a character
		// boundary so the output cap never splits a character.
		j := i + 1
		for j < len(s) && !isHTMLSpace(s[j]) {
			j++
		}
		if c.pre > 0 {
			j = i + 1
			for j < len(s) && s[j] != '\n' && s[j] != '\r' {
				j++
			}
		}
		if err := c.putText(s[i:j]); err != nil {
			return err
		}
		i = j
	}
	return nil
}

// putText writes as much of s as fits, cut at a character boundary;
// invalid UTF-8 is replaced first, so the cap holds for the result.
func (c *htmlConverter) putText(s []byte) error {
	if !utf8.Valid(s) {
		s = bytes.ToValidUTF8(s, []byte("\uFFFD"))
	}
	if room := c.max - int64(len(c.out)); int64(len(s)) > room {
		n := int(room)
		for n > 0 && n < len(s) && !utf8.RuneStart(s[n]) {
			n--
		}
		c.grow(n)
		c.out = append(c.out, s[:n]...)
		return errOutputFull
	}
	c.grow(len(s))
	c.out = append(c.out, s...)
	return nil
}

// isBlock reports whether an element becomes a line break before and after
// its content.
func isBlock(a atom.Atom) bool {
	switch a {
	case atom.Address, atom.Article, atom.Aside, atom.Blockquote, atom.Body,
		atom.Caption, atom.Center, atom.Dd, atom.Details, atom.Dialog, atom.Div,
		atom.Dl, atom.Dt, atom.Fieldset, atom.Figcaption, atom.Figure,
		atom.Footer, atom.Form, atom.H1, atom.H2, atom.H3, atom.H4, atom.H5,
		atom.H6, atom.Header, atom.Hr, atom.Html, atom.Li, atom.Main, atom.Nav,
		atom.Ol, atom.Option, atom.P, atom.Pre, atom.Section, atom.Summary,
		atom.Table, atom.Tbody, atom.Textarea, atom.Tfoot, atom.Thead, atom.Tr,
		atom.Ul:
		return true
	}
	return false
}

// isSkipped reports whether an element's content is not text a reader sees.
func isSkipped(a atom.Atom) bool {
	switch a {
	case atom.Script, atom.Style, atom.Head, atom.Title, atom.Template,
		atom.Svg, atom.Math, atom.Object:
		return true
	}
	return false
}

// isVoid reports whether an element never has content or an end tag.
func isVoid(a atom.Atom) bool {
	switch a {
	case atom.Area, atom.Base, atom.Br, atom.Col, atom.Embed, atom.Hr,
		atom.Img, atom.Input, atom.Link, atom.Meta, atom.Param, atom.Source,
		atom.Track, atom.Wbr:
		return true
	}
	return false
}

// isQuoteClass reports whether a class attribute marks quoted history, as
// Gmail, Yahoo and Thunderbird write it.
func isQuoteClass(class []byte) bool {
	return bytes.Contains(class, []byte("gmail_quote")) ||
		bytes.Contains(class, []byte("yahoo_quoted")) ||
		bytes.Contains(class, []byte("moz-cite-prefix"))
}

func (c *htmlConverter) startTag(z *html.Tokenizer, selfClosing bool) error {
	raw := z.Raw()
	a, h := tagName(raw)
	e := openElem{tag: a, hash: h}
	var href string
	// Attributes are read only when one can matter: the tokenizer copies
	// each one it returns.
	more := a == atom.A || bytes.Contains(raw, []byte("quote")) || bytes.Contains(raw, []byte("moz-cite")) ||
		bytes.Contains(raw, []byte("divRplyFwdMsg")) || bytes.Contains(raw, []byte("appendonsend"))
	for more {
		var key, val []byte
		key, val, more = z.TagAttr()
		switch string(key) {
		case "class":
			if isQuoteClass(val) {
				e.flags |= flagQuote
			}
		case "id":
			if bytes.Contains(val, []byte("divRplyFwdMsg")) || bytes.Contains(val, []byte("appendonsend")) {
				c.quoteRest = true
			}
		case "href":
			if a == atom.A {
				href = string(bytes.TrimSpace(val))
			}
		}
	}
	switch {
	case a == atom.Body:
		// A head left open ends where the body starts.
		if _, err := c.popTo(atom.Head, 0); err != nil {
			return err
		}
	case a == atom.Blockquote:
		e.flags |= flagQuote
	case a == atom.Pre || a == atom.Textarea || a == atom.Plaintext || a == atom.Xmp || a == atom.Listing:
		e.flags |= flagPre
	case a == atom.A && href != "":
		e.flags |= flagLink
		e.href = href
		e.start = len(c.out)
	case isSkipped(a):
		e.flags |= flagSkip
	}

	if c.skip > 0 {
		// Inside dropped content only nesting matters.
		if !isVoid(a) && !selfClosing {
			c.push(e)
		}
		return nil
	}
	if a == atom.Br {
		return c.newline()
	}
	if a == atom.Td || a == atom.Th {
		if !c.lineStart {
			c.space = true
		}
	}
	if isBlock(a) {
		if err := c.breakLine(); err != nil {
			return err
		}
	}
	if isVoid(a) || selfClosing {
		return nil
	}
	c.push(e)
	return nil
}

func (c *htmlConverter) push(e openElem) {
	if len(c.stack) >= maxHTMLStack {
		c.overflow++
		return
	}
	if e.flags&flagQuote != 0 {
		// Quoted content starts on its own line with its prefix; a full
		// output is noticed by the next write.
		if c.skip == 0 {
			_ = c.breakLine()
		}
		c.quote++
	}
	if e.flags&flagSkip != 0 {
		c.skip++
	}
	if e.flags&flagPre != 0 {
		c.pre++
		c.preStart = true
	}
	c.stack = append(c.stack, e)
}

func (c *htmlConverter) endTag(a atom.Atom, hash uint64) error {
	if c.overflow > 0 {
		c.overflow--
		return nil
	}
	if a == atom.Br {
		// </br> is read as <br> by browsers.
		if c.skip > 0 {
			return nil
		}
		return c.newline()
	}
	closed, err := c.popTo(a, hash)
	if err != nil {
		return err
	}
	if closed && c.skip == 0 && isBlock(a) {
		return c.breakLine()
	}
	if closed && c.skip == 0 && (a == atom.Td || a == atom.Th) && !c.lineStart {
		c.space = true
	}
	return nil
}

// popTo closes the innermost open element named a (or with the name hash
// for tags without an atom) and everything opened after it. It reports
// whether one was open.
func (c *htmlConverter) popTo(a atom.Atom, hash uint64) (bool, error) {
	i := len(c.stack) - 1
	for ; i >= 0; i-- {
		e := &c.stack[i]
		if e.tag == a && e.hash == hash {
			break
		}
	}
	if i < 0 {
		return false, nil
	}
	for j := len(c.stack) - 1; j >= i; j-- {
		e := c.stack[j]
		c.stack = c.stack[:j]
		if e.flags&flagSkip != 0 {
			c.skip--
		}
		if e.flags&flagPre != 0 {
			c.pre--
		}
		if e.flags&flagQuote != 0 {
			if c.skip == 0 {
				if err := c.breakLine(); err != nil {
					return true, err
				}
			}
			c.quote--
		}
		if e.flags&flagLink != 0 && c.skip == 0 {
			if err := c.linkEnd(e); err != nil {
				return true, err
			}
		}
	}
	return true, nil
}

// maxHref is the longest link target appended to a link's text.
const maxHref = 2048

// linkEnd appends a link's target when it tells more than its text and
// points at ngrok.
func (c *htmlConverter) linkEnd(e openElem) error {
	if len(e.href) > maxHref || !strings.Contains(strings.ToLower(e.href), "ngrok") {
		return nil
	}
	// Only a text about as long as the link can repeat it; a longer one is
	// not copied to be compared.
	var text string
	if n := len(c.out) - e.start; e.start <= len(c.out) && n <= 2*len(e.href)+16 {
		text = string(c.out[e.start:])
	}
	if sameLink(text, e.href) {
		return nil
	}
	c.space = false
	if err := c.beginLine(); err != nil {
		return err
	}
	sep := " ("
	if len(c.out) == 0 || c.out[len(c.out)-1] == ' ' || c.out[len(c.out)-1] == '\n' {
		sep = "("
	}
	if err := c.putText([]byte(sep)); err != nil {
		return err
	}
	if err := c.putText([]byte(e.href)); err != nil {
		return err
	}
	return c.putText([]byte(")"))
}

// sameLink reports whether a link's text already says where it points.
func sameLink(text, href string) bool {
	norm := func(s string) string {
		s = strings.ToLower(strings.TrimSpace(s))
		for _, p := range []string{"mailto:", "https://", "http://", "www."} {
			s = strings.TrimPrefix(s, p)
		}
		return strings.TrimRight(s, "/")
	}
	return norm(text) == norm(href)
}
