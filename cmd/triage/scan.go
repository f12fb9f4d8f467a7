package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"
	"unsafe"

	"github.com/triage-bot/triage/annotate"
	"github.com/triage-bot/triage/catalog"
	"github.com/triage-bot/triage/extract"
	"github.com/triage-bot/triage/internal/mmapfile"
	"github.com/triage-bot/triage/mailfile"
	"github.com/triage-bot/triage/normalize"
	"github.com/triage-bot/triage/redact"
	"github.com/triage-bot/triage/ticket"
)

// sniffBytes is how much of an input is read to tell mail from text: the
// whole read buffer, so that long header lines (signatures, anti-spam
// reports) do not hide a header block.
const sniffBytes = 64 << 10

// scanner is one run of `triage scan`.
type scanner struct {
	ctx     context.Context
	e       env
	cat     *catalog.Catalog
	out     *bufio.Writer
	json    bool
	infer   string // auto, always or never
	workers int
	limits  normalize.Limits

	tickets, withCodes, matches int
	failed                      int
	bytes                       atomic.Int64 // read so far, for progress
}

func cmdScan(ctx context.Context, e env, args []string) error {
	fs := newFlagSet("scan", e)
	var cf catalogFlags
	cf.register(fs, e)
	asJSON := fs.Bool("json", false, "write one JSON object per ticket (JSON Lines) with every match")
	workers := fs.Int("workers", runtime.GOMAXPROCS(0), "parallel readers for large text files")
	infer := fs.String("infer", "auto", "name errors from their wording when no code was written: auto or always (every input; from standard input, the first 16 MiB), never")
	noProgress := fs.Bool("no-progress", false, "never show a progress line")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) == 0 {
		return usagef("scan needs at least one PATH (a file, Maildir, folder, mbox) or - for stdin")
	}
	switch *infer {
	case "auto", "always", "never":
	default:
		return usagef("--infer must be auto, always or never, not %q", *infer)
	}
	cat, err := cf.load()
	if err != nil {
		return err
	}
	if os.Getenv("GOGC") == "" {
		// A scan's live heap is small and bounded (a few chunks, one
		// ticket, the distinct codes) while it allocates steadily: with
		// the default the collector runs every few megabytes.
		debug.SetGCPercent(400)
	}
	if os.Getenv("GOMEMLIMIT") == "" {
		// ... but with the synced catalog's phrases in the live heap, 400
		// let a 256 MiB scan's peak RSS pass 64 MiB; a soft limit makes
		// the collector run sooner only near it (measured: RSS 65 → 59
		// MiB, time the same within noise).
		debug.SetMemoryLimit(44 << 20)
	}
	s := &scanner{ctx: ctx, e: e, cat: cat, out: bufio.NewWriterSize(e.stdout, 64<<10), json: *asJSON, infer: *infer, workers: max(1, *workers)}
	if !*noProgress && isTerminal(e.stderr) {
		stop := s.showProgress()
		defer stop()
	}
	for _, p := range pos {
		if err := ctx.Err(); err != nil {
			return err
		}
		s.input(p)
	}
	if err := s.out.Flush(); err != nil {
		return fmt.Errorf("write output: %w", err)
	}
	if !s.json {
		fmt.Fprintf(e.stdout, "\n%d ticket(s), %d with ngrok error codes, %d match(es)\n", s.tickets, s.withCodes, s.matches)
	}
	if s.failed > 0 {
		return partialError{s.failed}
	}
	return nil
}

// fail reports an unreadable input and goes on with the others.
func (s *scanner) fail(name string, err error) {
	s.failed++
	s.out.Flush()
	fmt.Fprintf(s.e.stderr, "triage scan: %s: %v\n", name, err)
}

func (s *scanner) input(path string) {
	walkInput(s.ctx, s.e, path, &s.bytes, func(it inputItem) {
		switch {
		case it.err != nil:
			s.fail(it.name, it.err)
		case it.mail:
			s.message(it.id, it.name, it.r)
		default:
			s.text(it.id, it.name, it.r, it.ra, it.size)
		}
	})
}

// inputItem is one ticket's worth of input: a mail, or a plain-text
// stream; or an error naming what could not be read.
type inputItem struct {
	id, name string
	mail     bool
	r        io.Reader
	ra       io.ReaderAt // set for regular text files, which can be read in parallel
	size     int64
	err      error
}

// walkInput finds the tickets in one command-line input: "-" for stdin,
// a file (one mail, an mbox, or plain text) or a directory (a Maildir or
// a folder of files). fn is called once per ticket or unreadable input;
// readers are valid only during the call. counter, when set, counts bytes
// read.
func walkInput(ctx context.Context, e env, path string, counter *atomic.Int64, fn func(inputItem)) {
	if counter == nil {
		counter = new(atomic.Int64)
	}
	if path == "-" {
		streamInput("-", "stdin", io.NopCloser(e.stdin), nil, 0, counter, fn)
		return
	}
	st, err := os.Stat(path)
	if err != nil {
		fn(inputItem{name: path, err: unwrapPathError(err)})
		return
	}
	file := func(p string) {
		f, err := os.Open(p)
		if err != nil {
			fn(inputItem{name: p, err: unwrapPathError(err)})
			return
		}
		st, err := f.Stat()
		if err != nil {
			f.Close()
			fn(inputItem{name: p, err: err})
			return
		}
		streamInput(p, p, f, f, st.Size(), counter, fn)
	}
	if !st.IsDir() {
		file(path)
		return
	}
	if err := mailfile.Walk(path, func(p string) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		file(p)
		return nil
	}); err != nil && !errors.Is(err, context.Canceled) {
		fn(inputItem{name: path, err: err})
	}
}

// streamInput decides what one input is and hands over its tickets.
func streamInput(name, id string, rc io.ReadCloser, ra io.ReaderAt, size int64, counter *atomic.Int64, fn func(inputItem)) {
	defer rc.Close()
	br := bufio.NewReaderSize(&countingReader{r: rc, n: counter}, 64<<10)
	head, err := br.Peek(sniffBytes)
	if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, bufio.ErrBufferFull) {
		fn(inputItem{name: name, err: err})
		return
	}
	switch mailfile.Sniff(head) {
	case mailfile.Mbox:
		mr := mailfile.NewMboxReader(br)
		for n := 1; ; n++ {
			msg, err := mr.Next()
			if errors.Is(err, io.EOF) {
				return
			}
			if err != nil {
				fn(inputItem{name: fmt.Sprintf("%s (message %d)", name, n), err: err})
				return
			}
			fn(inputItem{id: fmt.Sprintf("%s#%d", id, n), name: name, mail: true, r: msg})
		}
	case mailfile.Message:
		fn(inputItem{id: id, name: name, mail: true, r: br})
	default:
		if f, ok := ra.(*os.File); ok {
			// Large logs are scanned from a memory map, one window per
			// worker at a time: no copy, and memory stays bounded.
			ra = &countingWindower{m: mmapfile.New(f, size), n: counter}
		}
		fn(inputItem{id: id, name: name, r: br, ra: ra, size: size})
	}
}

func (s *scanner) message(id, name string, r io.Reader) {
	t, err := normalize.Message(r, s.limits)
	if err != nil {
		s.fail(name, err)
		return
	}
	t.ID = "file:" + id
	t.Channel = name
	ms, ann := annotate.TicketWith(t, s.cat, annotate.Options{NoInfer: s.infer == "never"})
	s.count(len(ms))
	if s.json {
		s.writeJSON(ticketJSON{Ticket: t, Parts: shownParts(t.Parts), File: name, Annotation: ann, Matches: ms})
		return
	}
	s.writeTable(name, t, ann, len(ms))
}

// text scans a plain-text input as one ticket without holding it in
// memory: matches are aggregated, and streamed out in JSON mode.
func (s *scanner) text(id, name string, br io.Reader, ra io.ReaderAt, size int64) {
	t := &ticket.Ticket{ID: "file:" + id, Source: "file", Channel: name, Parts: []ticket.Part{{Kind: ticket.KindBody, ContentType: "text/plain"}}}
	part := t.Parts[0]
	b := annotate.NewBuilder(s.cat)
	var jw *jsonStream
	if s.json {
		// The text is streamed, not held: show the start of what is read.
		var head []byte
		if p, ok := br.(interface{ Peek(int) ([]byte, error) }); ok {
			head, _ = p.Peek(partTextBytes + utf8.UTFMax)
		}
		jw = s.startJSONStream(t, name, head)
	}
	n := 0
	inferring := s.infer != "never"
	var captured *capture
	if inferring && ra == nil {
		// Not seekable (stdin): keep what is read for the wording pass.
		captured = &capture{r: br, limit: inferStdinLimit}
		br = captured
	}
	// spans are the signature phrases the chunk workers found, when the
	// file is read in chunks: their wording is read with their codes.
	var spans []annotate.Span
	chunked := false
	written := map[int]bool{}
	// add records a match in the annotation; its JSON is written apart.
	where := []string{string(part.Kind)}
	add := func(m extract.Match) {
		b.AddStream(m.Code, m.Form, m.Confidence(), where)
		if inferring && m.Form.Written() {
			written[m.Code] = true
		}
		n++
	}
	// known drops a code glued to the next word unless the catalog knows
	// it (ERR_NGROK_3200Tunnel is 3200; ERR_NGROK_99Foo is nothing).
	known := func(m extract.Match) bool { return !m.Glued || s.cat.Lookup(m.Code).Known }
	var err error
	if ra != nil && size > 4<<20 && s.workers > 1 {
		// Large files: the workers also encode their chunk's matches and
		// read its wording, so the one goroutine that writes in order
		// has little left to do.
		chunked = true
		var sigs *annotate.Signatures
		if inferring {
			sample, release := sampleStart(ra)
			sigs = annotate.CompiledSignatures(s.cat).Retuned(sample)
			release()
		}
		pool := sync.Pool{New: func() any { return new(scanChunk) }}
		err = extract.ScanChunksWindow(ra, size, s.workers, func(ch *extract.Chunk) *scanChunk {
			c := pool.Get().(*scanChunk)
			c.matches = c.matches[:0]
			for _, m := range ch.Matches {
				if known(m) {
					c.matches = append(c.matches, m)
				}
			}
			c.spans = c.spans[:0]
			if inferring {
				c.spans = sigs.AppendSpans(c.spans, ch.Window, 0, ch.Start, ch.Own0, ch.Own1, maxChunkSpans)
			}
			text := ch.Text
			c.json = c.json[:0]
			if jw != nil {
				for i, m := range c.matches {
					if i > 0 {
						c.json = append(c.json, ',')
					}
					// FromExtract without the canonical name, which
					// appendMatchJSON spells from the code, and with the
					// text read in place from the chunk (copied into the
					// JSON at once): no allocation per match.
					t := text(m)
					c.json = appendMatchJSON(c.json, ticket.Match{Code: m.Code, PartKind: part.Kind, Offset: m.Offset,
						Text: unsafe.String(unsafe.SliceData(t), len(t)), Form: m.Form.String(), Confidence: m.Confidence()})
				}
			}
			return c
		}, func(c *scanChunk) error {
			for _, m := range c.matches {
				add(m)
			}
			if room := maxFileSpans - len(spans); room < len(c.spans) {
				if room > 0 {
					t.Problems = append(t.Problems, fmt.Sprintf("errors were named from their wording at the first %d places only", maxFileSpans))
				}
				c.spans = c.spans[:max(0, room)]
			}
			spans = append(spans, c.spans...)
			if jw != nil && len(c.matches) > 0 {
				jw.raw(c.json)
			}
			pool.Put(c)
			return nil
		})
	} else {
		err = extract.ScanText(br, func(m extract.Match, text []byte) error {
			if !known(m) {
				return nil
			}
			add(m)
			if jw != nil {
				tm := annotate.FromExtract(m, 0, part, "")
				tm.Text = string(text)
				jw.match(tm)
			}
			return nil
		})
	}
	if err != nil {
		t.Problems = append(t.Problems, err.Error())
	}
	settled := make([]ticket.Match, 0, len(written))
	for c := range written {
		settled = append(settled, ticket.Match{Code: c, Form: extract.FormCanonical.String()})
	}
	if err == nil && inferring {
		if !chunked {
			var src io.ReaderAt = ra
			if captured != nil {
				if captured.over {
					t.Problems = append(t.Problems, fmt.Sprintf("errors were named from their wording in the first %d MiB only", inferStdinLimit>>20))
				}
				src = bytes.NewReader(captured.buf)
				size = int64(len(captured.buf))
			}
			var ierr error
			if spans, ierr = inferSpans(src, size, s.workers, annotate.CompiledSignatures(s.cat)); ierr != nil {
				t.Problems = append(t.Problems, ierr.Error())
			}
		}
		for _, sp := range annotate.Resolve(spans, settled) {
			m := annotate.SpanMatch(sp)
			m.PartKind = part.Kind
			b.Add(m)
			n++
			if jw != nil {
				jw.match(m)
			}
		}
	}
	ann := b.Annotation()
	s.count(n)
	if jw != nil {
		jw.finish(ann, t.Problems)
	} else {
		s.writeTable(name, t, ann, n)
	}
	if err != nil {
		s.fail(name, err)
	}
}

// sampleStart lends the first MiB of a large file, to anchor the wording
// search on the words it repeats least, mapped when the file is (so it
// costs no heap), with the function that gives it back; nil when it
// cannot be read (the search then keeps its usual anchors).
func sampleStart(ra io.ReaderAt) ([]byte, func()) {
	const n = 1 << 20
	if cw, ok := ra.(*countingWindower); ok {
		if b, release, err := cw.m.Window(0, n); err == nil {
			return b, release
		}
		return nil, func() {}
	}
	b := make([]byte, n)
	k, err := ra.ReadAt(b, 0)
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, func() {}
	}
	return b[:k], func() {}
}

// inferStdinLimit is how much of standard input `scan` keeps to read its
// wording (a file is read again where it lies).
const inferStdinLimit = 16 << 20

// maxChunkSpans and maxFileSpans bound the signature phrases kept from
// one chunk of a large file and from the whole file: a log that repeats
// an error's wording on every line still names one code, and what is
// kept stays a few MiB.
const (
	maxChunkSpans = 256
	maxFileSpans  = 16 << 10
)

// inferWindow and inferOverlap cut a text into the windows the wording
// pass reads: a phrase longer than the overlap across a window's edge is
// not found.
const (
	inferWindow  = 4 << 20
	inferOverlap = 4 << 10
)

// inferSpans finds the signature phrases in size bytes of r, window by
// window on up to workers goroutines, in order of position: the wording
// pass for a text not read in chunks (small, standard input, or one
// worker). Each window keeps at most maxChunkSpans.
func inferSpans(r io.ReaderAt, size int64, workers int, sigs *annotate.Signatures) ([]annotate.Span, error) {
	type result struct {
		spans []annotate.Span
		err   error
	}
	n := int((size + inferWindow - 1) / inferWindow)
	results := make([]chan result, n)
	for i := range n {
		results[i] = make(chan result, 1)
	}
	sem := make(chan struct{}, max(1, workers))
	go func() {
		for i := range n {
			sem <- struct{}{}
			go func() {
				defer func() { <-sem }()
				base := int64(i) * inferWindow
				buf := make([]byte, min(size-base, inferWindow+inferOverlap))
				k, err := r.ReadAt(buf, base)
				if err != nil && !errors.Is(err, io.EOF) {
					results[i] <- result{err: fmt.Errorf("read text at offset %d for its wording: %w", base, err)}
					return
				}
				own := k // the next window sees a phrase starting past its start whole
				if base+inferWindow < size {
					own = inferWindow
				}
				results[i] <- result{spans: sigs.AppendSpans(nil, buf[:k], 0, base, 0, own, maxChunkSpans)}
			}()
		}
	}()
	var spans []annotate.Span
	var first error
	for i := range n {
		res := <-results[i]
		if res.err != nil && first == nil {
			first = res.err
		}
		if first == nil && len(spans) < maxFileSpans {
			spans = append(spans, res.spans[:min(len(res.spans), maxFileSpans-len(spans))]...)
		}
	}
	return spans, first
}

// capture is a reader that keeps the first limit bytes read through it.
type capture struct {
	r     io.Reader
	limit int
	buf   []byte
	over  bool
}

func (c *capture) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	room := max(c.limit-len(c.buf), 0)
	if n > room {
		c.over = true
	}
	c.buf = append(c.buf, p[:min(n, room)]...)
	return n, err
}

// appendCodesJSON appends cs as comma-separated JSON objects.
func appendCodesJSON(b []byte, cs []annotate.Code) []byte {
	for i, c := range cs {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendCodeJSON(b, c)
	}
	return b
}

// scanChunk is one chunk of a large text file as a scan worker hands it
// over: its matches and, in JSON mode, their encoding.
type scanChunk struct {
	matches []extract.Match
	json    []byte
	spans   []annotate.Span
}

func (s *scanner) count(matches int) {
	s.tickets++
	s.matches += matches
	if matches > 0 {
		s.withCodes++
	}
}

// partTextBytes is how much of each part's normalized text `scan --json`
// shows: enough to see why a code was or was not found, not the whole
// mail.
const partTextBytes = 4 << 10

// partJSON is a part in `scan --json`: its text is the start of the
// normalized text, redacted; TextCut says there was more.
type partJSON struct {
	ticket.Part
	TextCut bool `json:"text_cut,omitempty"`
}

// shownParts returns t's parts as `scan --json` shows them.
func shownParts(parts []ticket.Part) []partJSON {
	out := make([]partJSON, len(parts))
	for i, p := range parts {
		p.Text, out[i].TextCut = shownText(p.Text)
		out[i].Part = p
	}
	return out
}

// shownText returns the first partTextBytes of text, redacted, and
// whether it was cut. Redaction works on whole lines, so the lines that
// cover the cut are redacted before cutting: a secret on the last line is
// never shown in part.
func shownText(text string) (string, bool) {
	if len(text) <= partTextBytes {
		return redact.String(text), false
	}
	end := partTextBytes
	if i := strings.IndexByte(text[end:], '\n'); i >= 0 && i < 64<<10 {
		end += i
	} else {
		end = min(len(text), end+64<<10)
	}
	shown := redact.String(text[:end])
	return strings.ToValidUTF8(cutRunes(shown, partTextBytes), ""), true
}

// cutRunes cuts s to at most n bytes without splitting a character.
func cutRunes(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// ticketJSON is one line of `scan --json`. Parts shadows the ticket's
// own, to show each part's text bounded and redacted.
type ticketJSON struct {
	*ticket.Ticket
	Parts []partJSON `json:"parts"`
	File  string     `json:"file"`
	annotate.Annotation
	Matches []ticket.Match `json:"matches"`
}

func (s *scanner) writeJSON(v any) {
	data, err := json.Marshal(v)
	if err != nil {
		fmt.Fprintf(s.e.stderr, "triage scan: encode JSON: %v\n", err)
		return
	}
	s.out.Write(data)
	s.out.WriteByte('\n')
}

// jsonStream writes one ticket's JSON object with its matches as they
// are found, so a huge input needs no memory for them.
type jsonStream struct {
	w     *bufio.Writer
	first bool
	buf   []byte
}

func (s *scanner) startJSONStream(t *ticket.Ticket, name string, text []byte) *jsonStream {
	parts := shownParts(t.Parts)
	if len(parts) == 1 && len(text) > 0 {
		// As normalize.Text cleans it: line ends, byte order mark, UTF-8.
		clean := strings.ReplaceAll(strings.ReplaceAll(string(bytes.TrimPrefix(text, []byte("\xef\xbb\xbf"))), "\r\n", "\n"), "\r", "\n")
		parts[0].Text, parts[0].TextCut = shownText(strings.TrimRight(strings.ToValidUTF8(clean, "\uFFFD"), " \t\n"))
		parts[0].TextCut = parts[0].TextCut || len(text) > partTextBytes
	}
	head, _ := json.Marshal(struct {
		*ticket.Ticket
		Parts []partJSON `json:"parts"`
		File  string     `json:"file"`
	}{t, parts, name})
	s.out.Write(head[:len(head)-1])
	s.out.WriteString(`,"matches":[`)
	return &jsonStream{w: s.out, first: true}
}

func (j *jsonStream) match(m ticket.Match) {
	if !j.first {
		j.w.WriteByte(',')
	}
	j.first = false
	j.buf = appendMatchJSON(j.buf[:0], m)
	j.w.Write(j.buf)
}

// raw writes matches already encoded as comma-separated JSON objects.
func (j *jsonStream) raw(encoded []byte) {
	if !j.first {
		j.w.WriteByte(',')
	}
	j.first = false
	j.w.Write(encoded)
}

func (j *jsonStream) finish(ann annotate.Annotation, problems []string) {
	j.w.WriteString(`],"codes":[`)
	// One at a time, so the buffer stays small; a large log can hold tens
	// of thousands of distinct codes, and then the second half is encoded
	// meanwhile on another core.
	codes, rest := ann.Codes, []annotate.Code(nil)
	var wg sync.WaitGroup
	var second []byte
	if n := len(codes); n >= 4096 {
		codes, rest = codes[:n/2], codes[n/2:]
		wg.Go(func() { second = appendCodesJSON(nil, rest) })
	}
	for i, c := range codes {
		if i > 0 {
			j.w.WriteByte(',')
		}
		j.buf = appendCodeJSON(j.buf[:0], c)
		j.w.Write(j.buf)
	}
	wg.Wait()
	if len(rest) > 0 {
		j.w.WriteByte(',')
		j.w.Write(second)
	}
	j.w.WriteString("]")
	tail, _ := json.Marshal(struct {
		Primary  catalog.Category        `json:"primary_category,omitempty"`
		Unknown  []int                   `json:"unknown,omitempty"`
		AgentAPI []annotate.AgentAPICode `json:"agent_api,omitempty"`
		Problems []string                `json:"problems,omitempty"`
	}{ann.Primary, ann.Unknown, ann.AgentAPI, problems})
	if len(tail) > 2 {
		j.w.WriteByte(',')
		j.w.Write(tail[1 : len(tail)-1])
	}
	j.w.WriteString("}\n")
}

func (s *scanner) writeTable(name string, t *ticket.Ticket, ann annotate.Annotation, n int) {
	w := s.out
	fmt.Fprintf(w, "%s\n", name)
	var meta []string
	if t.From != "" {
		meta = append(meta, "from "+t.From)
	}
	if t.Subject != "" {
		meta = append(meta, fmt.Sprintf("subject %q", oneLine(t.Subject, 80)))
	}
	if len(meta) > 0 {
		fmt.Fprintf(w, "  %s\n", strings.Join(meta, ", "))
	}
	if !ann.HasCodes() {
		fmt.Fprintf(w, "  no ngrok error codes\n")
	}
	for _, c := range ann.Codes {
		where := strings.Join(c.Where, ", ")
		if c.QuotedOnly {
			where = "only in quoted history"
		}
		count := ""
		if c.Count > 1 {
			count = fmt.Sprintf(" ×%d", c.Count)
		}
		name := c.Name
		if c.Inferred {
			name = "~" + name
			where = fmt.Sprintf("inferred (%.1f) from %q in %s", c.Confidence, oneLine(c.Phrase, 60), where)
		}
		fmt.Fprintf(w, "  %-16s %-18s %s%s\n", name, c.Category, where, count)
		fmt.Fprintf(w, "      %s\n", c.Summary)
		fmt.Fprintf(w, "      %s\n", c.DocsURL)
	}
	for _, a := range ann.AgentAPI {
		fmt.Fprintf(w, "  %-16s %-18s %s (the agent's local API; not an ngrok error code)\n", a.Name, "agent-api", strings.Join(a.Where, ", "))
		fmt.Fprintf(w, "      %s\n", a.Summary)
	}
	for _, p := range t.Problems {
		fmt.Fprintf(w, "  note: %s\n", p)
	}
	w.WriteByte('\n')
}

func oneLine(s string, most int) string {
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); len(r) > most {
		return string(r[:most-1]) + "…"
	}
	return s
}

func unwrapPathError(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return fmt.Errorf("%s: %w", pe.Op, pe.Err)
	}
	return err
}

type countingReader struct {
	r io.Reader
	n *atomic.Int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}

// countingWindower lends a mapped file's windows and counts them for the
// progress line.
type countingWindower struct {
	m *mmapfile.File
	n *atomic.Int64
}

func (c *countingWindower) ReadAt(p []byte, off int64) (int, error) {
	n, err := c.m.ReadAt(p, off)
	c.n.Add(int64(n))
	return n, err
}

func (c *countingWindower) Window(off, n int64) ([]byte, func(), error) {
	b, release, err := c.m.Window(off, n)
	c.n.Add(int64(len(b)))
	return b, release, err
}

// showProgress prints a progress line on stderr once a scan has run for
// two seconds, and clears it when stopped.
func (s *scanner) showProgress() (stop func()) {
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		start := time.Now()
		tick := time.NewTicker(250 * time.Millisecond)
		defer tick.Stop()
		shown := false
		for {
			select {
			case <-done:
				if shown {
					fmt.Fprint(s.e.stderr, "\r\033[K")
				}
				return
			case <-tick.C:
				el := time.Since(start)
				if el < 2*time.Second {
					continue
				}
				shown = true
				mb := float64(s.bytes.Load()) / (1 << 20)
				fmt.Fprintf(s.e.stderr, "\r\033[Kscanning: %.0f MiB read, %.0f MiB/s", mb, mb/el.Seconds())
			}
		}
	}()
	return func() { close(done); <-finished }
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
