package normalize

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"mime"
	"path"
	"strconv"
	"strings"

	"github.com/emersion/go-message"
	"github.com/emersion/go-message/charset"
	"github.com/emersion/go-message/mail"
	"github.com/emersion/go-message/textproto"

	"github.com/triage-bot/triage/ticket"
)

// maxProblems caps the problems recorded for one ticket; a hostile message
// could otherwise produce one per part.
const maxProblems = 50

// keptHeaders are copied into Ticket.Headers when present: what loop
// safety (RFC 3834), sender authentication and routing need. Each keeps
// its first (topmost) instance, except AuthResultsHeader.
func keptHeaders() []string {
	return []string{
		"Auto-Submitted", "Precedence", "List-Id", "List-Unsubscribe",
		"Return-Path", "X-Autoreply", "X-Auto-Response-Suppress", "Content-Type",
		"Reply-To", AuthResultsHeader,
	}
}

// AuthResultsHeader is the Ticket.Headers key of the Authentication-Results
// fields (RFC 8601): up to MaxAuthResults of them, topmost first, one per
// line. Receiving servers add theirs on top, so the order tells the
// receiving server's results from those a sender wrote.
const AuthResultsHeader = "Authentication-Results"

// MaxAuthResults is how many Authentication-Results fields a ticket keeps,
// the topmost ones: enough for one per checking filter on the receiving
// server (SPF, DKIM, DMARC, ARC) and the relay before it.
const MaxAuthResults = 8

// Message reads one raw RFC 5322 message from r and returns it as a ticket
// with Source "email": the sender's address, recipients, decoded subject,
// date, threading IDs, the headers loop safety needs, and its text parts in
// document order:
//
//   - the subject first (KindSubject), when there is one;
//   - each body text part as KindBody with its quoted history split off into
//     a KindQuoted part (see SplitQuoted); text/html is converted with
//     HTMLToText; in multipart/alternative text/plain wins over text/html;
//   - each text-like attachment (text/*, JSON, YAML, XML, delivery status,
//     or a file name ending in .log .txt .json .yml .yaml .xml .csv .md
//     .conf .cfg .ini .toml .out .err) as KindAttachment named by its file
//     name; binary attachments are skipped unread;
//   - a forwarded message/rfc822 is read like the outer message: its subject
//     becomes a KindBody part, and all its parts are marked Forwarded and
//     named by that subject (attachments keep their file name).
//
// Text is decoded from its transfer encoding and charset into UTF-8, with
// CRLF and lone CR turned into LF and a leading byte order mark removed;
// invalid bytes become U+FFFD. Zero-width and non-breaking characters are
// kept. A charset labelled ISO-8859-1 is read as Windows-1252, as browsers
// do, and an unlabelled part starting with a UTF-16 byte order mark as
// UTF-16.
//
// Message never fails on bad content: an unknown charset, a broken
// boundary, a part nested too deep or a limit reached is noted in
// Problems, and the ticket keeps what could be read. It returns an error
// only when there is nothing to work with: the input is empty, unreadable,
// or does not start with a header block. Memory is bounded by lim (zero
// fields mean the defaults), whatever the input.
func Message(r io.Reader, lim Limits) (*ticket.Ticket, error) {
	lim = lim.withDefaults()
	in := &capReader{r: r, n: lim.MaxMessageBytes}
	br := bufio.NewReader(in)
	if b, _ := br.Peek(len(utf8BOM)); string(b) == utf8BOM {
		_, _ = br.Discard(len(utf8BOM))
	}
	if b, _ := br.Peek(5); string(b) == "From " {
		// An mbox postmark line in front of a single message.
		if err := skipLine(br); err != nil {
			return nil, fmt.Errorf("normalize: read message: %w", err)
		}
	}
	if _, err := br.Peek(1); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, errors.New("normalize: the message is empty")
		}
		return nil, fmt.Errorf("normalize: read message: %w", err)
	}
	th, hprobs, err := readHeader(br, lim)
	h := message.Header{Header: th}
	if err != nil {
		return nil, fmt.Errorf("normalize: the message does not start with a readable header block: %w", err)
	}
	if h.Len() == 0 {
		return nil, errors.New("normalize: the message has no header fields")
	}

	t := &ticket.Ticket{Source: "email"}
	w := &walker{lim: lim, t: t}
	for _, p := range hprobs {
		w.problem(p)
	}
	w.headers(mail.Header{Header: h})
	if t.Subject != "" {
		w.add(ticket.Part{Kind: ticket.KindSubject, Text: w.clip(t.Subject)})
	}
	w.entity(entity{h: h, body: br}, scope{})
	if in.truncated {
		w.problem(fmt.Sprintf("the message is larger than %d bytes; only that much was read", lim.MaxMessageBytes))
	}
	if w.dropped > 0 {
		t.Problems = append(t.Problems, fmt.Sprintf("%d more problems were not listed", w.dropped))
	}
	return t, nil
}

// utf8BOM is the UTF-8 byte order mark.
const utf8BOM = "\xef\xbb\xbf"

// skipLine discards one line, however long.
func skipLine(br *bufio.Reader) error {
	for {
		_, err := br.ReadSlice('\n')
		switch {
		case err == nil, errors.Is(err, io.EOF):
			return nil
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		default:
			return err
		}
	}
}

// capReader reads at most n bytes from r and notes whether more was there.
type capReader struct {
	r         io.Reader
	n         int64
	truncated bool
}

func (c *capReader) Read(p []byte) (int, error) {
	if c.n <= 0 {
		if !c.truncated {
			var one [1]byte
			if k, _ := io.ReadFull(c.r, one[:]); k > 0 {
				c.truncated = true
			}
		}
		return 0, io.EOF
	}
	if int64(len(p)) > c.n {
		p = p[:c.n]
	}
	n, err := c.r.Read(p)
	c.n -= int64(n)
	return n, err
}

// walker turns a MIME tree into ticket parts within the limits.
type walker struct {
	lim     Limits
	t       *ticket.Ticket
	text    int64 // bytes of text in t.Parts
	visited int   // MIME parts visited
	stopped bool  // a ticket-wide limit was reached
	eofSeen bool  // the input ended early; reported once
	dropped int   // problems beyond maxProblems
}

// scope is where in the MIME tree an entity sits.
type scope struct {
	path      string // IMAP-style part number; "" for the top entity
	depth     int    // multipart and message/rfc822 levels above
	forwarded bool   // inside a message/rfc822
	fwdName   string // that message's subject
	digest    bool   // in a multipart/digest, where parts default to message/rfc822
}

func (s scope) child(i int) scope {
	c := s
	c.depth++
	c.digest = false
	if s.path == "" {
		c.path = strconv.Itoa(i)
	} else {
		c.path = s.path + "." + strconv.Itoa(i)
	}
	return c
}

func (s scope) label(name string) string {
	p := s.path
	if p == "" {
		p = "1"
	}
	if name != "" {
		return fmt.Sprintf("part %s (%s)", p, name)
	}
	return "part " + p
}

func (w *walker) problem(p string) {
	if len(w.t.Problems) >= maxProblems {
		w.dropped++
		return
	}
	w.t.Problems = append(w.t.Problems, p)
}

// add appends a part unless the part limit is reached.
func (w *walker) add(p ticket.Part) bool {
	if len(w.t.Parts) >= w.lim.MaxParts {
		if !w.stopped {
			w.problem(fmt.Sprintf("the message has more than %d text parts; the rest was not read", w.lim.MaxParts))
		}
		w.stopped = true
		return false
	}
	w.t.Parts = append(w.t.Parts, p)
	w.text += int64(len(p.Text))
	return true
}

// room is how many bytes of text the next part may keep.
func (w *walker) room() int64 {
	return min(w.lim.MaxPartBytes, w.lim.MaxTextBytes-w.text)
}

// clip cuts a header-sized string to the room left.
func (w *walker) clip(s string) string {
	if n := w.room(); int64(len(s)) > n {
		return cutUTF8(s, int(max(n, 0)))
	}
	return s
}

func (w *walker) headers(h mail.Header) {
	t := w.t
	if addrs, err := h.AddressList("From"); err == nil && len(addrs) > 0 {
		t.From = addrs[0].Address
	} else {
		t.From = rawAddress(h.Get("From"))
	}
	if addrs, err := h.AddressList("To"); err == nil {
		for _, a := range addrs {
			t.To = append(t.To, a.Address)
		}
	} else {
		for _, a := range strings.Split(h.Get("To"), ",") {
			if a = rawAddress(a); a != "" {
				t.To = append(t.To, a)
			}
		}
	}
	subject, err := h.Subject()
	if err != nil {
		w.problem(fmt.Sprintf("subject: %v; read as written", err))
	}
	t.Subject = cleanHeader(subject)
	if d, err := h.Date(); err == nil {
		t.Date = d
	}
	if ids := w.msgIDs(h, "Message-ID", 1); len(ids) > 0 {
		t.MessageID = ids[0]
	}
	if ids := w.msgIDs(h, "In-Reply-To", 1); len(ids) > 0 {
		t.InReplyTo = ids[0]
	}
	t.References = w.msgIDs(h, "References", 0)
	for _, k := range keptHeaders() {
		v := cleanHeader(h.Get(k))
		if k == AuthResultsHeader {
			v = authResults(h.Values(k))
		}
		if v != "" {
			if t.Headers == nil {
				t.Headers = make(map[string]string)
			}
			t.Headers[k] = v
		}
	}
}

// authResults joins the topmost MaxAuthResults values, one per line.
func authResults(vs []string) string {
	var kept []string
	for _, v := range vs[:min(len(vs), MaxAuthResults)] {
		if v = cleanHeader(v); v != "" {
			kept = append(kept, v)
		}
	}
	return strings.Join(kept, "\n")
}

// cleanHeader unfolds a header value and makes it valid UTF-8.
func cleanHeader(s string) string {
	s = strings.NewReplacer("\r\n", "", "\r", "", "\n", "").Replace(s)
	return strings.ToValidUTF8(strings.TrimSpace(s), "\uFFFD")
}

// msgIDs returns the well-formed message ids of a field (the first max
// when max > 0; the last maxReferences otherwise) and notes what was
// dropped: only sane ids are stored and echoed into replies.
func (w *walker) msgIDs(h mail.Header, key string, max int) []string {
	v := h.Get(key)
	if strings.TrimSpace(v) == "" {
		return nil
	}
	ids, bad := parseMsgIDs(v, max)
	name := key
	switch {
	case len(ids) == 0:
		w.problem(fmt.Sprintf("%s: not a well-formed message id (<local@domain>, at most %d printable characters); it was not kept", name, maxMsgIDLen))
	case bad > 0:
		w.problem(fmt.Sprintf("%s: %d malformed message ids were dropped", name, bad))
	}
	if max <= 0 && len(ids) > maxReferences {
		w.problem(fmt.Sprintf("%s: %d message ids; only the last %d were kept", name, len(ids), maxReferences))
		ids = ids[len(ids)-maxReferences:]
	}
	return ids
}

// rawAddress extracts an address from a header value that does not parse.
func rawAddress(s string) string {
	s = cleanHeader(s)
	if i := strings.LastIndexByte(s, '<'); i >= 0 {
		if j := strings.IndexByte(s[i:], '>'); j > 0 {
			return strings.TrimSpace(s[i+1 : i+j])
		}
	}
	for _, f := range strings.Fields(s) {
		if strings.Contains(f, "@") {
			return strings.Trim(f, "<>\"'(),;")
		}
	}
	return s
}

// mediaType is a parsed Content-Type.
type mediaType struct {
	typ    string
	params map[string]string
	strict bool // parsed without errors, as go-message parses it
}

// contentType parses the Content-Type leniently: a malformed parameter list
// still yields the type and the parameters that can be read.
func contentType(h message.Header, digest bool) mediaType {
	v := h.Get("Content-Type")
	if strings.TrimSpace(v) == "" {
		if digest {
			return mediaType{typ: "message/rfc822", strict: true}
		}
		return mediaType{typ: "text/plain", strict: true}
	}
	typ, params, err := mime.ParseMediaType(v)
	mt := mediaType{typ: strings.ToLower(typ), params: params, strict: err == nil}
	if err != nil {
		mt.typ, mt.params = lenientParams(v)
	}
	if !strings.Contains(mt.typ, "/") {
		// RFC 2045 5.2: an unreadable type means text/plain.
		mt.typ = "text/plain"
	}
	return mt
}

// lenientParams splits "type; k=v; k2="v 2"" without failing.
func lenientParams(v string) (string, map[string]string) {
	fields := strings.Split(v, ";")
	typ := strings.ToLower(strings.TrimSpace(fields[0]))
	params := make(map[string]string)
	for _, f := range fields[1:] {
		k, val, ok := strings.Cut(f, "=")
		if !ok {
			continue
		}
		k = strings.ToLower(strings.TrimSpace(k))
		val = strings.Trim(strings.TrimSpace(val), `"`)
		if _, dup := params[k]; !dup && k != "" {
			params[k] = val
		}
	}
	return typ, params
}

// disposition returns the Content-Disposition type and the attachment's
// file name (from Content-Disposition or the Content-Type name), decoded
// and without directories.
func disposition(h message.Header, mt mediaType) (string, string) {
	raw := h.Get("Content-Disposition")
	disp, params, err := mime.ParseMediaType(raw)
	if err != nil {
		disp, params = lenientParams(raw)
	}
	disp = strings.ToLower(disp)
	name := params["filename"]
	if name == "" {
		name = mt.params["name"]
	}
	if name != "" {
		dec := mime.WordDecoder{CharsetReader: charset.Reader}
		if d, err := dec.DecodeHeader(name); err == nil {
			name = d
		}
		name = strings.ToValidUTF8(name, "\uFFFD")
		if i := strings.LastIndexAny(name, `/\`); i >= 0 {
			name = name[i+1:]
		}
		name = strings.TrimSpace(name)
	}
	return disp, name
}

// entity is one MIME entity: its header and its body, still in its
// transfer encoding.
type entity struct {
	h    message.Header
	body io.Reader
}

// entity walks one MIME entity.
func (w *walker) entity(e entity, sc scope) {
	if w.stopped {
		return
	}
	mt := contentType(e.h, sc.digest)
	switch {
	case strings.HasPrefix(mt.typ, "multipart/"):
		// RFC 2046 forbids transfer encodings on multiparts; like most
		// readers, ignore one that is there.
		w.multipart(e, mt, sc)
	case mt.typ == "message/rfc822" || mt.typ == "message/global":
		w.forward(e, sc)
	default:
		w.leaf(e, mt, sc)
	}
}

// decoded returns e's body without its transfer encoding; an unknown
// encoding is reported and the body read as it is.
func (w *walker) decoded(e entity, label string) io.Reader {
	cte := strings.TrimSpace(e.h.Get("Content-Transfer-Encoding"))
	if cte == "" {
		return e.body
	}
	var h message.Header
	h.Set("Content-Type", "application/octet-stream")
	h.Set("Content-Transfer-Encoding", cte)
	d, err := message.New(h, e.body)
	if err != nil {
		w.problem(fmt.Sprintf("%s: unknown transfer encoding %q, read as it is", label, cte))
		return e.body
	}
	return d.Body
}

func (w *walker) multipart(e entity, mt mediaType, sc scope) {
	label := sc.label(mt.typ)
	boundary := mt.params["boundary"]
	if boundary == "" {
		w.problem(label + ": multipart without a boundary; its body is read as plain text")
		w.leaf(e, mediaType{typ: "text/plain"}, sc)
		return
	}
	if sc.depth >= w.lim.MaxDepth {
		w.problem(fmt.Sprintf("%s: nested deeper than %d levels; its parts were skipped", label, w.lim.MaxDepth))
		return
	}
	rec := &recorder{r: e.body, max: max(w.room(), 0) + 1, on: true}
	mr := textproto.NewMultipartReader(rec, boundary)
	var alt alternatives
	for i := 1; !w.stopped; i++ {
		p, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			return
		}
		if err != nil {
			if i == 1 {
				w.boundaryMissing(rec, boundary, label, sc)
			} else if isEOF(err) {
				w.endedEarly(label)
			} else {
				w.problem(fmt.Sprintf("%s: the body is malformed after part %d (%v); the rest was skipped", label, i-1, err))
			}
			return
		}
		if i == 1 {
			rec.stop()
			rec.buf = nil
		}
		w.visited++
		if w.visited > w.lim.MaxParts {
			w.problem(fmt.Sprintf("the message has more than %d MIME parts; the rest was not read", w.lim.MaxParts))
			w.stopped = true
			return
		}
		child := entity{h: message.Header{Header: p.Header}, body: p}
		csc := sc.child(i)
		csc.digest = mt.typ == "multipart/digest"
		if mt.typ == "multipart/alternative" {
			w.alternative(&alt, child, csc)
			continue
		}
		w.entity(child, csc)
	}
}

// boundaryMissing reads a multipart body whose boundary never shows as
// plain text, so codes in it are still found.
func (w *walker) boundaryMissing(rec *recorder, boundary, label string, sc scope) {
	rec.stop()
	w.problem(fmt.Sprintf("%s: the boundary %q never appears; the body is read as plain text", label, boundary))
	// The recorder keeps one byte more than fits, so a body longer than
	// the room shows as truncated even when the copy was cut short.
	r := io.MultiReader(bytes.NewReader(rec.buf), rec.r)
	w.textPart(r, sc, "", ticket.KindBody, "text/plain", false)
}

// recorder keeps a copy of what a multipart reader reads until the first
// part is found, so a body without its boundary can still be read.
type recorder struct {
	r   io.Reader
	buf []byte
	max int64
	on  bool
}

func (rc *recorder) Read(p []byte) (int, error) {
	n, err := rc.r.Read(p)
	if rc.on && n > 0 {
		room := rc.max - int64(len(rc.buf))
		k := int64(n)
		if k > room {
			k = max(room, 0)
		}
		rc.buf = append(rc.buf, p[:k]...)
	}
	return n, err
}

func (rc *recorder) stop() { rc.on = false }

func isEOF(err error) bool {
	return errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) || strings.Contains(err.Error(), "EOF")
}

func (w *walker) endedEarly(label string) {
	if w.eofSeen {
		return
	}
	w.eofSeen = true
	w.problem(label + ": the message ends before this part is complete; what was read is kept")
}

// alternatives tracks the choice among the parts of a multipart/alternative.
type alternatives struct {
	plain     bool // a text/plain alternative was kept
	rich      bool // another alternative (HTML …) was kept
	mark      int  // len(Parts) before the rich alternative
	markProbs int
}

// alternative keeps the text/plain alternative, or failing that the first
// other alternative that yields text. An HTML part seen before the plain
// one is dropped again when the plain one has text.
func (w *walker) alternative(st *alternatives, e entity, sc scope) {
	mt := contentType(e.h, false)
	if mt.typ == "text/plain" {
		if st.plain {
			return
		}
		before, beforeProbs := len(w.t.Parts), len(w.t.Problems)
		w.entity(e, sc)
		if len(w.t.Parts) == before {
			return
		}
		st.plain = true
		if st.rich && !w.stopped {
			for _, p := range w.t.Parts[st.mark:before] {
				w.text -= int64(len(p.Text))
			}
			w.t.Parts = append(w.t.Parts[:st.mark], w.t.Parts[before:]...)
			w.t.Problems = append(w.t.Problems[:st.markProbs], w.t.Problems[beforeProbs:]...)
			st.rich = false
		}
		return
	}
	if st.plain || st.rich {
		return
	}
	st.mark, st.markProbs = len(w.t.Parts), len(w.t.Problems)
	w.entity(e, sc)
	st.rich = len(w.t.Parts) > st.mark
}

// forward reads an attached message/rfc822 like the outer message.
func (w *walker) forward(e entity, sc scope) {
	label := sc.label("forwarded message")
	if sc.depth >= w.lim.MaxDepth {
		w.problem(fmt.Sprintf("%s: nested deeper than %d levels; skipped", label, w.lim.MaxDepth))
		return
	}
	br := bufio.NewReader(w.decoded(e, label))
	th, hprobs, err := readHeader(br, w.lim)
	if err != nil {
		if isEOF(err) {
			w.endedEarly(label)
			return
		}
		w.problem(fmt.Sprintf("%s: its header cannot be read (%v); skipped", label, err))
		return
	}
	for _, p := range hprobs {
		w.problem(label + ": " + p)
	}
	inner := entity{h: message.Header{Header: th}, body: br}
	h := mail.Header{Header: inner.h}
	subject, serr := h.Subject()
	if serr != nil {
		w.problem(fmt.Sprintf("%s: subject: %v; read as written", label, serr))
	}
	subject = cleanHeader(subject)
	isc := sc
	isc.depth++
	isc.forwarded = true
	isc.fwdName = subject
	isc.digest = false
	if subject != "" {
		w.add(ticket.Part{Kind: ticket.KindBody, Name: subject, Forwarded: true, Text: w.clip(subject)})
	}
	w.entity(inner, isc)
}

// isTextLike reports whether an attachment of this type and name is text
// worth scanning.
func isTextLike(typ, name string) bool {
	switch {
	case strings.HasPrefix(typ, "text/"),
		strings.HasSuffix(typ, "+json"), strings.HasSuffix(typ, "+xml"):
		return true
	}
	switch typ {
	case "application/json", "application/x-yaml", "application/yaml",
		"application/xml", "message/delivery-status", "application/x-ndjson":
		return true
	}
	switch strings.ToLower(path.Ext(name)) {
	case ".log", ".txt", ".json", ".yml", ".yaml", ".xml", ".csv", ".md",
		".conf", ".cfg", ".ini", ".toml", ".out", ".err":
		return true
	}
	return false
}

// isBodyType reports whether an inline part of this type is message text.
func isBodyType(typ string) bool {
	switch typ {
	case "text/plain", "text/html", "text/markdown", "text/enriched", "text/richtext", "text/x-markdown":
		return true
	}
	return false
}

func (w *walker) leaf(e entity, mt mediaType, sc scope) {
	disp, name := disposition(e.h, mt)
	attached := disp == "attachment" || name != ""
	kind := ticket.KindBody
	switch {
	case !attached && isBodyType(mt.typ):
	case isTextLike(mt.typ, name):
		kind = ticket.KindAttachment
	default:
		// Binary: never read; the multipart reader skips it.
		return
	}
	label := sc.label(name)
	body := w.decoded(e, label)
	cs := strings.ToLower(strings.Trim(mt.params["charset"], " \t\"'"))
	unknown := false
	if cs == "" {
		body = withUTF16(body)
	}
	if cs != "" && !isUTF8Label(cs) {
		if cs == "iso-8859-1" || cs == "latin1" || cs == "iso_8859-1" {
			// As browsers do: mail labelled Latin-1 is Windows-1252 in practice.
			cs = "windows-1252"
		}
		if r, err := charset.Reader(cs, body); err == nil {
			body = r
		} else {
			unknown = true
			w.problem(fmt.Sprintf("%s: unknown charset %q, read as UTF-8 with invalid bytes replaced", label, cs))
		}
	}
	w.textPart(body, sc, name, kind, mt.typ, unknown)
}

func isUTF8Label(cs string) bool {
	switch cs {
	case "utf-8", "utf8", "us-ascii", "ascii":
		return true
	}
	return false
}

// textPart reads one text part and adds it to the ticket: body text split
// into new and quoted text, attachments whole. quiet says invalid bytes
// were already explained by an unknown charset.
func (w *walker) textPart(r io.Reader, sc scope, name string, kind ticket.PartKind, typ string, quiet bool) {
	label := sc.label(name)
	isHTML := typ == "text/html"
	room := w.room()
	if room <= 0 {
		w.problem(fmt.Sprintf("the ticket's text limit of %d bytes is reached at %s; the rest was not read", w.lim.MaxTextBytes, label))
		w.stopped = true
		return
	}
	var text string
	var err error
	var truncated, invalid bool
	if isHTML {
		text, truncated, err = HTMLToText(r, room)
	} else {
		var binary bool
		text, truncated, invalid, binary, err = readText(r, room)
		if binary {
			w.problem(label + ": looks like binary data, skipped")
			return
		}
	}
	if err != nil {
		if isEOF(err) {
			w.endedEarly(label)
		} else {
			w.problem(fmt.Sprintf("%s: %v; the text read before it is kept", label, err))
		}
	}
	if invalid && !quiet {
		w.problem(label + ": the text is not valid in its charset; invalid bytes were replaced")
	}
	if truncated {
		w.problem(fmt.Sprintf("%s: longer than %d bytes of text; the rest was skipped", label, room))
	}
	p := ticket.Part{Kind: kind, Name: name, ContentType: typ, Forwarded: sc.forwarded, Truncated: truncated}
	if kind == ticket.KindAttachment {
		p.Text = text
		if text != "" || truncated {
			w.add(p)
		}
		return
	}
	if p.Name == "" {
		p.Name = sc.fwdName
	}
	bodyText, quoted := SplitQuoted(text)
	if bodyText != "" || quoted == "" {
		if bodyText == "" && !truncated {
			return
		}
		p.Text = bodyText
		if !w.add(p) {
			return
		}
	}
	if quoted != "" {
		p.Kind = ticket.KindQuoted
		p.Text = quoted
		w.add(p)
	}
}
