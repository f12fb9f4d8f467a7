package extract

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"
	"unsafe"
)

const (
	// margin is the context kept on each side of the part of a buffer whose
	// anchors are examined: enough for the agent API window and the
	// longest form.
	margin = 640
	// DefaultBufferSize is the read buffer Scan uses.
	DefaultBufferSize = 256 << 10
)

var errorCodeKey = []byte("error_code")

// region holds reusable scratch space for scanning one buffer.
type region struct {
	found []found
	cands []int // anchor candidates from the vector search
	// keys are the positions of '_' after 'r': where the "error" of an
	// "error_code" key would end.
	keys []int
	// portable skips the vector search, for tests that compare the two.
	portable bool
}

// scan finds matches whose anchor lies in b[own0:own1]; b holds up to
// margin bytes of context on each side. Matches are appended to r.found in
// order of their start.
func (r *region) scan(b []byte, own0, own1 int) {
	r.found = r.found[:0]
	r.keys = r.keys[:0]
	if r.cands == nil {
		r.cands = make([]int, 0, 1024)
	}
	// Anchors (the k of ngrok) count in b[own0:own1]; keys ("r_" of
	// error_code) lie len("error") bytes after the key's start.
	from, to := max(own0, 1), min(len(b), own1+len("error"))
	// The vector search takes whole 32-byte blocks; the portable loops
	// below finish the tail (or do everything without AVX2).
	for from < to && !r.portable {
		if cap(r.keys)-len(r.keys) < 64 {
			r.keys = slices.Grow(r.keys, 1024)
		}
		var next int
		r.cands, r.keys, next = anchorBlocks(b[:to], from, r.cands[:0], r.keys)
		for _, p := range r.cands {
			r.visit(b, p, own0, own1)
		}
		if next == from {
			break
		}
		from = next
	}
	lo, up := indexFrom(b, 'k', from, to), indexFrom(b, 'K', from, to)
	for lo >= 0 || up >= 0 {
		var p int
		if up < 0 || lo >= 0 && lo < up {
			p = lo
			lo = indexFrom(b, 'k', p+1, to)
		} else {
			p = up
			up = indexFrom(b, 'K', p+1, to)
		}
		r.visit(b, p, own0, own1)
	}
	for u := indexFrom(b, '_', from, to); u >= 0; u = indexFrom(b, '_', u+1, to) {
		if b[u-1] == 'r' {
			r.keys = append(r.keys, u)
		}
	}
	if len(r.keys) > 0 {
		r.scanAgentAPI(b, own0, own1)
	}
}

// visit checks the k or K at b[p]: when it ends an "ngrok" word in
// b[own0:own1], any code it belongs to is recorded.
func (r *region) visit(b []byte, p, own0, own1 int) {
	if p < own0 || p >= own1 {
		return
	}
	if f, ok := matchAt(b, p); ok {
		r.found = append(r.found, f)
	}
}

// scanAgentAPI finds numeric error_code keys of the agent API's shape
// starting in b[own0:own1], among the places r.keys marks (rarer than
// any letter of the key).
func (r *region) scanAgentAPI(b []byte, own0, own1 int) {
	const under = len("error") // offset of '_' in the key
	added := false
	for _, u := range r.keys {
		q := u - under // where the key would start
		if q < own0 || q >= own1 || !bytes.HasPrefix(b[q:], errorCodeKey) {
			continue
		}
		if f, ok := agentAPIAt(b, q); ok {
			r.found = append(r.found, f)
			added = true
		}
	}
	if added {
		slices.SortFunc(r.found, func(a, b found) int { return a.start - b.start })
	}
}

func indexFrom(b []byte, c byte, from, to int) int {
	if from >= to {
		return -1
	}
	i := bytes.IndexByte(b[from:to], c)
	if i < 0 {
		return -1
	}
	return from + i
}

// regions recycles Find's scratch space: Find runs once per part of every
// ticket.
var regions = sync.Pool{New: func() any { return new(region) }}

// Find returns every code in b, in order of position.
func Find(b []byte) []Match {
	r := regions.Get().(*region)
	defer regions.Put(r)
	r.scan(b, 0, len(b))
	if len(r.found) == 0 {
		return nil
	}
	out := make([]Match, len(r.found))
	for i, f := range r.found {
		out[i] = Match{Code: f.code, Offset: int64(f.start), Len: f.end - f.start, Form: f.form, Glued: f.glued}
	}
	return out
}

// FindString is Find for a string. It reads s in place: the scan never
// writes to its input, so no copy is needed.
func FindString(s string) []Match { return Find(unsafe.Slice(unsafe.StringData(s), len(s))) }

// ErrStop may be returned by a Scan callback to end the scan early without
// an error.
var ErrStop = errors.New("extract: stop")

// Scan reads r to the end and calls fn for every code, in order of
// position, with offsets counted from the start of the stream. Memory use
// is bounded by the buffer size whatever the input's length, and a code
// split between two reads is found. An error from fn ends the scan and is
// returned, except ErrStop, which ends it with nil.
func Scan(r io.Reader, fn func(Match) error) error {
	return ScanBuffer(r, make([]byte, DefaultBufferSize), fn)
}

// ScanBuffer is Scan with a caller-supplied buffer, which must be larger
// than 4 KiB.
func ScanBuffer(r io.Reader, buf []byte, fn func(Match) error) error {
	return scanBuffer(r, buf, func(m Match, _ []byte) error { return fn(m) })
}

// ScanText is Scan that also hands fn each match's bytes as written
// (err\_ngrok\_108): they are valid only during the call, so fn copies
// what it keeps.
func ScanText(r io.Reader, fn func(m Match, text []byte) error) error {
	return scanBuffer(r, make([]byte, DefaultBufferSize), fn)
}

func scanBuffer(r io.Reader, buf []byte, fn func(Match, []byte) error) error {
	if len(buf) <= 2*margin+1024 {
		return fmt.Errorf("extract: scan buffer of %d bytes is too small (need more than %d)", len(buf), 2*margin+1024)
	}
	var (
		reg   region
		base  int64 // stream offset of buf[0]
		n     int   // bytes in buf
		own0  int   // anchors before own0 were examined already
		atEOF bool
	)
	for !atEOF {
		for n < len(buf) {
			m, err := r.Read(buf[n:])
			n += m
			if errors.Is(err, io.EOF) {
				atEOF = true
				break
			}
			if err != nil {
				return fmt.Errorf("extract: read at offset %d: %w", base+int64(n), err)
			}
			if m == 0 {
				continue
			}
		}
		own1 := n
		if !atEOF {
			own1 = n - margin
		}
		reg.scan(buf[:n], own0, own1)
		for _, f := range reg.found {
			err := fn(Match{Code: f.code, Offset: base + int64(f.start), Len: f.end - f.start, Form: f.form, Glued: f.glued}, buf[f.start:f.end])
			if errors.Is(err, ErrStop) {
				return nil
			}
			if err != nil {
				return err
			}
		}
		if atEOF {
			break
		}
		keep := own1 - margin
		copy(buf, buf[keep:n])
		n -= keep
		base += int64(keep)
		own0 = own1 - keep
	}
	return nil
}

// Windower is implemented by readers that can lend their bytes without
// copying, such as a memory-mapped file. ScanAt uses it when r has it.
type Windower interface {
	// Window returns n bytes at off (fewer at the end) and a function that
	// releases them; the bytes are not used after release.
	Window(off, n int64) ([]byte, func(), error)
}

// ScanAt scans size bytes of r with several workers, each reading its own
// chunk with ReadAt, and calls fn for every code in order of position (fn
// is never called concurrently). At most 2×workers chunks are in flight,
// so memory use is bounded by the worker count, not the input's size. It
// is Scan for files, where reading in parallel pays.
func ScanAt(r io.ReaderAt, size int64, workers int, fn func(Match) error) error {
	return ScanChunks(r, size, workers,
		slices.Clone[[]Match],
		func(ms []Match) error {
			for _, m := range ms {
				if err := fn(m); err != nil {
					return err
				}
			}
			return nil
		})
}

// scanChunk is the part of the input one ScanChunks worker scans at a
// time. 4 MiB means fewer maps and unmaps than 1 MiB (each unmap
// interrupts the other cores to flush their TLBs), measured 10 % faster;
// 2×workers of them in flight stay far below the memory bound.
const scanChunk = 4 << 20

// ScanChunks is ScanAt for callers with work to do per match that can run
// in parallel: work is called on the worker goroutines with each chunk's
// matches (in order, offsets from the start of r; the slice is only valid
// during the call), and consume receives work's results in chunk order,
// never concurrently. An error from consume ends the scan and is
// returned, except ErrStop, which ends it with nil.
func ScanChunks[T any](r io.ReaderAt, size int64, workers int, work func([]Match) T, consume func(T) error) error {
	return ScanChunksText(r, size, workers, func(ms []Match, _ func(Match) []byte) T { return work(ms) }, consume)
}

// ScanChunksText is ScanChunks whose work also gets text, which returns
// a match's bytes as written from the chunk's window: like the slice of
// matches they are valid only during the call, so work copies what it
// keeps (a match is a few bytes; nothing is read again).
func ScanChunksText[T any](r io.ReaderAt, size int64, workers int, work func(ms []Match, text func(Match) []byte) T, consume func(T) error) error {
	return ScanChunksWindow(r, size, workers, func(c *Chunk) T { return work(c.Matches, c.Text) }, consume)
}

// ChunkMargin is the context a Chunk's window holds on each side of the
// chunk's own bytes (less at the input's ends): enough for a signature
// phrase that starts in the chunk to lie whole in the window (see
// Phrases.Find).
const ChunkMargin = 2*findWindow + margin

// Chunk is one chunk of a ScanChunksWindow scan as its worker sees it.
// Everything in it is valid only during the work call.
type Chunk struct {
	// Matches are the codes found in the chunk's own bytes, in order,
	// with offsets from the start of the input.
	Matches []Match
	// Window holds the chunk's own bytes, Window[Own0:Own1], with up to
	// ChunkMargin bytes of context on each side; Start is Window's
	// offset in the input.
	Window     []byte
	Start      int64
	Own0, Own1 int
}

// Text returns m's bytes as written.
func (c *Chunk) Text(m Match) []byte {
	return c.Window[m.Offset-c.Start : m.Offset-c.Start+int64(m.Len)]
}

// ScanChunksWindow is ScanChunks whose work gets the whole chunk: its
// matches and its bytes, so a worker can read the text for more than
// codes (their wording) while it is at hand.
func ScanChunksWindow[T any](r io.ReaderAt, size int64, workers int, work func(*Chunk) T, consume func(T) error) error {
	const chunk = scanChunk
	if workers < 1 {
		workers = 1
	}
	nchunks := int((size + chunk - 1) / chunk)
	window := workers * 2
	type result struct {
		c   int
		v   T
		err error
	}
	inflight := make(chan struct{}, window) // one token per chunk not yet consumed
	jobs := make(chan int)
	results := make(chan result, window)
	done := make(chan struct{})
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var reg region
			var buf []byte
			if _, ok := r.(Windower); !ok {
				buf = make([]byte, chunk+2*ChunkMargin)
			}
			var ch Chunk
			for c := range jobs {
				var v T
				err := scanChunkAt(r, size, int64(c)*chunk, chunk, buf, &reg, func(b []byte, start int64, own0, own1 int) {
					ch.Matches = ch.Matches[:0]
					for _, f := range reg.found {
						ch.Matches = append(ch.Matches, Match{Code: f.code, Offset: start + int64(f.start), Len: f.end - f.start, Form: f.form, Glued: f.glued})
					}
					ch.Window, ch.Start, ch.Own0, ch.Own1 = b, start, own0, own1
					v = work(&ch)
					ch.Window = nil
				})
				results <- result{c, v, err} // never blocks: at most window chunks are out
			}
		}()
	}
	go func() {
		defer close(jobs)
		for c := 0; c < nchunks; c++ {
			select {
			case inflight <- struct{}{}:
			case <-done:
				return
			}
			select {
			case jobs <- c:
			case <-done:
				return
			}
		}
	}()
	var err error
	pending := make(map[int]result, window)
	for next := 0; next < nchunks && err == nil; next++ {
		res, ok := pending[next]
		for !ok {
			r := <-results
			pending[r.c] = r
			res, ok = pending[next]
		}
		delete(pending, next)
		err = res.err
		if err == nil {
			err = consume(res.v)
		}
		<-inflight
	}
	close(done)
	// Let workers finish their current chunk; results has room for them.
	go func() {
		for range results {
		}
	}()
	wg.Wait()
	close(results)
	if errors.Is(err, ErrStop) {
		return nil
	}
	return err
}

// scanChunkAt scans the chunk of length bytes at off, with ChunkMargin
// bytes of context on both sides, into reg and calls found with the
// bytes read, their offset in r and the chunk's own span in them while
// they are still held.
func scanChunkAt(r io.ReaderAt, size, off, length int64, buf []byte, reg *region, found func(b []byte, start int64, own0, own1 int)) error {
	start := max(0, off-ChunkMargin)
	end := min(size, off+length+ChunkMargin)
	var b []byte
	if w, ok := r.(Windower); ok {
		data, release, err := w.Window(start, end-start)
		if err != nil {
			return err
		}
		defer release()
		b = data
	} else {
		b = buf[:end-start]
		if _, err := r.ReadAt(b, start); err != nil && !errors.Is(err, io.EOF) {
			return fmt.Errorf("extract: read %d bytes at offset %d: %w", len(b), start, err)
		}
	}
	own0 := int(off - start)
	own1 := int(min(size, off+length) - start)
	reg.scan(b, own0, own1)
	found(b, start, own0, own1)
	return nil
}
