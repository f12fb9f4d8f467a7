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
	if !utf8.Valid(out) {
		out = bytes.ToValidUTF8(out, []byte("\uFFFD"))
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
	name  string // only for tags without an atom
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
			name, _ := z.TagName()
			err = c.endTag(atom.Lookup(name), name)
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

func (c *htmlConverter) quoteDepth() int {
	d := c.quote
	if c.quoteRest {
		d++
	}
	return d
}

// put appends b, which is whole characters, or reports errOutputFull.
func (c *htmlConverter) put(b []byte) error {
	if int64(len(c.out)+len(b)) > c.max {
		return errOutputFull
	}
	c.out = append(c.out, b...)
	return nil
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
	if c.lineStart && c.quoteDepth() > 0 {
		if err := c.put(bytes.Repeat([]byte(">"), c.quoteDepth())); err != nil {
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

// putText writes as much of s as fits, cut at a character boundary.
func (c *htmlConverter) putText(s []byte) error {
	if room := c.max - int64(len(c.out)); int64(len(s)) > room {
		n := int(room)
		for n > 0 && n < len(s) && !utf8.RuneStart(s[n]) {
			n--
		}
		c.out = append(c.out, s[:n]...)
		return errOutputFull
	}
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
	name, hasAttr := z.TagName()
	a := atom.Lookup(name)
	e := openElem{tag: a}
	if a == 0 {
		e.name = string(name)
	}
	var href string
	for hasAttr {
		var key, val []byte
		key, val, hasAttr = z.TagAttr()
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
		c.popTo(atom.Head, "")
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
	}
	c.stack = append(c.stack, e)
}

func (c *htmlConverter) endTag(a atom.Atom, name []byte) error {
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
	closed, err := c.popTo(a, string(name))
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

// popTo closes the innermost open element named a (or name for tags without
// an atom) and everything opened after it. It reports whether one was open.
func (c *htmlConverter) popTo(a atom.Atom, name string) (bool, error) {
	i := len(c.stack) - 1
	for ; i >= 0; i-- {
		e := &c.stack[i]
		if e.tag == a && (a != 0 || e.name == name) {
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

// linkEnd appends a link's target when it tells more than its text and
// points at ngrok.
func (c *htmlConverter) linkEnd(e openElem) error {
	if !strings.Contains(strings.ToLower(e.href), "ngrok") {
		return nil
	}
	var text string
	if e.start <= len(c.out) {
		text = string(c.out[e.start:])
	}
	if sameLink(text, e.href) {
		return nil
	}
	if c.space {
		c.space = false
	}
	if err := c.beginLine(); err != nil {
		return err
	}
	sep := " ("
	if c.lineStart || len(c.out) == 0 || c.out[len(c.out)-1] == ' ' || c.out[len(c.out)-1] == '\n' {
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
