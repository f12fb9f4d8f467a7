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
	"unicode/utf8"

	"github.com/emersion/go-message"
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
//     HTMLToText; in multipart/alternative text/plain is the body unless
//     it is a stub far shorter than the HTML (then the HTML is), and the
//     lines with digits that only the other alternative holds are kept as
//     a KindAttachment (and KindQuoted) part named "other alternative
//     (type)", so codes count from every alternative, once;
//   - a uuencoded file (x-uuencode, or a "begin 644 name" block in a
//     plain body) is decoded into a KindAttachment part;
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
// do, UTF-7 is read, an unlabelled part starting with a UTF-16 byte order
// mark as UTF-16, and a misspelt label ("iso-gb2312", one with
// "Content-Transfer-Encoding:" glued on) as the charset meant, noted in
// Problems as a guess.
//
// Header text (the subject, a forwarded subject, a file name) is decoded
// from RFC 2047 encoded words. Raw 8-bit bytes there are kept when they
// are valid UTF-8; otherwise they are read in the charset of the first
// text part, or failing that in the charset detectCharset guesses among
// Shift_JIS, GBK, EUC-KR and Windows-1252, and the guess is noted.
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
	rawSubject := h.Get("Subject")
	eightBit := !utf8.ValidString(rawSubject)
	if !eightBit {
		t.Subject = w.headerText(rawSubject, "subject")
	} else {
		// Raw 8-bit bytes: the first text part's charset is the best
		// guess, known only once the body is read. Hold the subject's
		// room until then.
		t.Subject = cleanHeader(rawSubject)
	}
	if t.Subject != "" {
		w.add(ticket.Part{Kind: ticket.KindSubject, Text: w.clip(t.Subject)})
	}
	w.entity(entity{h: h, body: br}, scope{})
	if eightBit {
		w.fixSubject(rawSubject)
	}
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

	firstCharset string // the charset label of the first body text part
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
	t.From = w.sender(h)
	if addrs, err := h.AddressList("To"); err == nil {
		for _, a := range addrs {
			t.To = append(t.To, quoteLocal(a.Address))
		}
	} else {
		for _, a := range strings.Split(h.Get("To"), ",") {
			if a = rawAddress(a); a != "" {
				t.To = append(t.To, a)
			}
		}
	}
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

// headerText decodes a header value for text: raw 8-bit bytes first (see
// rawHeaderText, with the charset of the first text part read so far),
// then RFC 2047 encoded words; guesses and errors are noted as problems
// of what (the field's name, for a person).
func (w *walker) headerText(raw, what string) string {
	s, how := rawHeaderText(raw, w.firstCharset)
	if how != "" {
		w.problem(fmt.Sprintf("%s: raw 8-bit text without a charset; %s", what, how))
	}
	var guesses []string
	dec := mime.WordDecoder{CharsetReader: func(cs string, r io.Reader) (io.Reader, error) {
		if clean, guessed := cleanCharset(cs); guessed {
			guesses = append(guesses, fmt.Sprintf("%q as %s", cs, clean))
		}
		return charsetReader(cs, r)
	}}
	d, err := dec.DecodeHeader(s)
	if err != nil {
		w.problem(fmt.Sprintf("%s: %v; read as written", what, err))
		d = s
	}
	if len(guesses) > 0 {
		w.problem(fmt.Sprintf("%s: misspelt charset label read as meant (a guess): %s", what, strings.Join(guesses, ", ")))
	}
	return cleanHeader(d)
}

// fixSubject decodes a raw 8-bit subject once the body has been read, and
// puts it in the subject part added for it.
func (w *walker) fixSubject(raw string) {
	t := w.t
	old := t.Subject
	t.Subject = w.headerText(raw, "subject")
	if old == "" || len(t.Parts) == 0 || t.Parts[0].Kind != ticket.KindSubject {
		return
	}
	p := &t.Parts[0]
	room := min(w.lim.MaxPartBytes, w.lim.MaxTextBytes-w.text+int64(len(p.Text)))
	text := cutUTF8(t.Subject, int(max(room, 0)))
	w.text += int64(len(text) - len(p.Text))
	p.Text = text
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

// sender returns the sender's address: from the first From field that
// parses (a mail may carry two), or else read leniently from the first
// one (see rawAddress). Loop safety and the per-sender reply window see
// this address, so it is cleaned the same way whatever the shape.
func (w *walker) sender(h mail.Header) string {
	values := h.Values("From")
	if len(values) > 1 {
		w.problem(fmt.Sprintf("the mail has %d From fields; the first that reads as an address is used", len(values)))
	}
	for _, v := range values {
		if addrs, err := mail.ParseAddressList(v); err == nil && len(addrs) > 0 && addrs[0].Address != "" {
			return quoteLocal(addrs[0].Address)
		}
	}
	for _, v := range values {
		if a := rawAddress(v); a != "" {
			return a
		}
	}
	return ""
}

// quoteLocal quotes an address's local part again when it needs quotes
// ("Jane Q Doe"@example.com), which the parser took off.
func quoteLocal(addr string) string {
	i := strings.LastIndexByte(addr, '@')
	if i <= 0 {
		return addr
	}
	local := addr[:i]
	if !strings.ContainsAny(local, " \t\"(),:;<>[]\\") {
		return addr
	}
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(local) + `"` + addr[i:]
}

// rawAddress extracts an address from a header value that does not parse:
// the text in angle brackets, else a word holding '@' (a quoted local part
// with spaces kept whole), else the value without its comments, so
// "MAILER-DAEMON (Mail Delivery System)" is MAILER-DAEMON.
func rawAddress(s string) string {
	s = stripComments(cleanHeader(s))
	if i := strings.Index(s, `"@`); i > 0 {
		if j := strings.LastIndexByte(s[:i], '"'); j >= 0 {
			end := i + 2
			for end < len(s) && !strings.ContainsRune(" \t<>,;", rune(s[end])) {
				end++
			}
			return s[j:end]
		}
	}
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
	return strings.TrimSpace(s)
}

// stripComments removes RFC 5322 comments ("(…)", nested, with
// backslash escapes) outside quoted strings.
func stripComments(s string) string {
	if !strings.Contains(s, "(") {
		return s
	}
	var b strings.Builder
	depth, quoted, escaped := 0, false, false
	for _, c := range s {
		switch {
		case escaped:
			escaped = false
			if depth > 0 {
				continue
			}
		case c == '\\':
			escaped = true
			if depth > 0 {
				continue
			}
		case quoted:
			quoted = c != '"'
		case c == '"' && depth == 0:
			quoted = true
		case c == '(':
			depth++
			continue
		case c == ')' && depth > 0:
			depth--
			continue
		case depth > 0:
			continue
		}
		b.WriteRune(c)
	}
	return strings.Join(strings.Fields(b.String()), " ")
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
		if d, err := decodeWords(name); err == nil {
			name = d
		}
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
	if isUUEncoding(cte) {
		br := bufio.NewReader(e.body)
		if !looksUUEncoded(br) {
			w.problem(fmt.Sprintf("%s: labelled %q but not uuencoded, read as it is", label, cte))
			return br
		}
		return newUUReader(br)
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
	if mt.typ == "multipart/alternative" {
		defer w.settle(&alt)
	}
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

// alternatives tracks the parts of a multipart/alternative: the first
// text/plain alternative and the first other one (HTML …) that yield
// text, as ranges of the ticket's parts and problems.
type alternatives struct {
	plain, rich altRange
}

type altRange struct {
	ok                 bool
	start, end         int // ticket parts
	probStart, probEnd int // ticket problems
}

// alternative reads one alternative when it is the first plain or the
// first other one; later ones are skipped unread. settle chooses among
// them once all were seen.
func (w *walker) alternative(st *alternatives, e entity, sc scope) {
	r := &st.rich
	if contentType(e.h, false).typ == "text/plain" {
		r = &st.plain
	}
	if r.ok {
		return
	}
	r.start, r.probStart = len(w.t.Parts), len(w.t.Problems)
	w.entity(e, sc)
	r.end, r.probEnd = len(w.t.Parts), len(w.t.Problems)
	r.ok = r.end > r.start
}

// stubRatio and stubMinGap say when a plain alternative is a stub ("read
// this in your browser"): its text is less than a quarter of the other's,
// and at least stubMinGap bytes shorter.
const (
	stubRatio  = 4
	stubMinGap = 200
)

// settle keeps the text/plain alternative, or the other one when the
// plain one is a stub or missing, as the body. Of the alternative not
// kept, the lines that the kept one does not hold are kept too, as an
// attachment named "other alternative (type)", so that codes are found
// in every alternative and counted once; the excerpt reads the body only.
func (w *walker) settle(st *alternatives) {
	if !st.plain.ok || !st.rich.ok || w.stopped || len(w.t.Parts) != max(st.plain.end, st.rich.end) {
		return
	}
	keep, other := st.plain, st.rich
	plainText, richText := w.rangeText(st.plain), w.rangeText(st.rich)
	if len(plainText)*stubRatio < len(richText) && len(richText)-len(plainText) >= stubMinGap {
		keep, other = st.rich, st.plain
		w.problem(fmt.Sprintf("the text/plain alternative is a stub (%d bytes against %d); the %s alternative is read as the body",
			len(plainText), len(richText), w.t.Parts[st.rich.start].ContentType))
	}
	keptText, otherText := plainText, richText
	if keep == st.rich {
		keptText, otherText = richText, plainText
	}
	parts := w.t.Parts
	lo := min(keep.start, other.start)
	var rebuilt []ticket.Part
	rebuilt = append(rebuilt, parts[keep.start:keep.end]...)
	if extra := linesNotIn(otherText, keptText); extra != "" {
		p := parts[other.start]
		name := "other alternative (" + p.ContentType + ")"
		newText, quoted := SplitQuoted(extra)
		if newText != "" {
			rebuilt = append(rebuilt, ticket.Part{Kind: ticket.KindAttachment, Name: name,
				ContentType: p.ContentType, Forwarded: p.Forwarded, Text: newText})
		}
		if quoted != "" {
			rebuilt = append(rebuilt, ticket.Part{Kind: ticket.KindQuoted, Name: name,
				ContentType: p.ContentType, Forwarded: p.Forwarded, Text: quoted})
		}
	} else {
		// The other alternative adds nothing: what could not be read
		// of it does not matter either.
		w.t.Problems = append(w.t.Problems[:other.probStart:other.probStart], w.t.Problems[other.probEnd:]...)
	}
	w.t.Parts = append(parts[:lo:lo], rebuilt...)
	w.text = 0
	for _, p := range w.t.Parts {
		w.text += int64(len(p.Text))
	}
}

// rangeText is the text of the body and quoted parts of r, joined.
func (w *walker) rangeText(r altRange) string {
	var b strings.Builder
	for _, p := range w.t.Parts[r.start:r.end] {
		if p.Kind == ticket.KindBody || p.Kind == ticket.KindQuoted {
			b.WriteString(p.Text)
			b.WriteByte('\n')
		}
	}
	return b.String()
}

// maxDedupBytes bounds the text linesNotIn compares, to keep it linear in
// practice; past it, the other alternative is taken to add nothing.
const maxDedupBytes = 1 << 20

// linesNotIn returns the lines of other that could name a code (they
// hold a digit) and whose words, folded, do not occur in kept: what one
// alternative says that the other does not, whatever the line wrapping
// or quote markers. Quote markers are kept on the lines returned.
func linesNotIn(other, kept string) string {
	if len(other)+len(kept) > maxDedupBytes {
		return ""
	}
	fold := func(s string) string {
		return strings.Join(strings.Fields(strings.ReplaceAll(s, ">", " ")), " ")
	}
	k := fold(kept)
	var b strings.Builder
	for _, l := range strings.Split(other, "\n") {
		f := fold(l)
		if f == "" || !strings.ContainsAny(f, "0123456789") || strings.Contains(k, f) {
			continue
		}
		if b.Len() > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(strings.TrimRight(l, " \t"))
	}
	return b.String()
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
	subject := w.headerText(h.Get("Subject"), label+": subject")
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
	if !utf8.ValidString(name) {
		name = w.headerText(name, sc.label("")+": file name")
	}
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
	cs, guessed := cleanCharset(mt.params["charset"])
	if guessed {
		w.problem(fmt.Sprintf("%s: misspelt charset label %q read as %s (a guess)", label, mt.params["charset"], cs))
	}
	if w.firstCharset == "" && kind == ticket.KindBody && strings.HasPrefix(mt.typ, "text/") {
		w.firstCharset = cs
		if cs == "" {
			w.firstCharset = "us-ascii"
		}
	}
	unknown := false
	if cs == "" {
		body = withUTF16(body)
	}
	if cs != "" && !isUTF8Label(cs) {
		// As browsers do, mail labelled Latin-1 reads as Windows-1252.
		if r, err := charsetReader(cs, body); err == nil {
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

// uuFiles adds the text files that were uuencoded in a body as
// attachments; binary ones are skipped, as binary attachments are.
func (w *walker) uuFiles(files []uuFile, sc scope) {
	for _, f := range files {
		if w.stopped {
			return
		}
		room := w.room()
		if room <= 0 {
			return
		}
		text, truncated, _, binary, _ := readText(bytes.NewReader(f.data), room)
		if binary || text == "" {
			continue
		}
		if truncated {
			w.problem(fmt.Sprintf("%s: longer than %d bytes of text; the rest was skipped", sc.label(f.name), room))
		}
		w.add(ticket.Part{Kind: ticket.KindAttachment, Name: f.name, ContentType: "text/plain", Forwarded: sc.forwarded, Text: text, Truncated: truncated})
	}
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
	var files []uuFile
	if !isHTML {
		text, files = cutUUFiles(text)
		defer w.uuFiles(files, sc)
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
