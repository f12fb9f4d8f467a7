package extract

import (
	"math/bits"
	"unsafe"
)

// This file finds the places of a text where a phrase's anchor word may
// stand, fast: it is the part of the wording pass that reads every byte.
//
// A run is a maximal stretch of word bytes (letters, digits, bytes >=
// 0x80) and apostrophes. A run without an apostrophe or a byte >= 0x80
// is exactly one word of the word rules; the others ("you're", “quoted”,
// Größe) are rare in logs and are split by the word rules themselves.
// So, for each stretch of 4 KiB: the vector unit marks, 64 bytes at a
// time, which bytes belong to runs and which are apostrophes or >= 0x80
// (classMasks); the runs of at least minAnchor bytes are picked out with
// a few shifts of those masks, and each one's first four bytes and
// length are hashed to a slot of the anchor table (slotScan, the loop
// that runs for every long enough word); only runs whose slot holds an
// anchor are read in full, and the runs holding special bytes are split
// by the word rules, in order with the rest.

// maskBlocks is how many 64-byte blocks candidates classifies at a time.
const maskBlocks = 64

// maxBlockHits bounds the runs one block can start: a run start follows
// a byte outside any run.
const maxBlockHits = 32

// candidates calls fn with the span, folded form and phrases of every
// anchor word of b, in order.
func (p *Phrases) candidates(b []byte, s *phraseScratch, fn func(start, end int, folded []byte, set *anchorSet)) {
	w, sp := s.w[:], s.s[:]
	long := min(p.minAnchor, 16)
	var carry uint64 // the last bit of the previous stretch's run mask
	specialEnd := 0  // runs with special bytes before this are done
	for base := 0; base < len(b); base += maskBlocks * 64 {
		n := min(maskBlocks, (len(b)-base+63)/64)
		classMasks(b[base:], w[:n+1], sp[:n+1])
		// Runs holding special bytes, by their start.
		specials := s.specials[:0]
		top := carry
		for i := range n {
			S, W := sp[i], w[i]
			if S != 0 {
				at := base + i*64
				starts := W &^ (W<<1 | top)
				if specialEnd > at {
					S &^= lowBits(specialEnd - at) // in a run already read
				}
				for S != 0 {
					j := bits.TrailingZeros64(S)
					var rs int
					if m := starts & (uint64(2)<<j - 1); m != 0 {
						rs = at + 63 - bits.LeadingZeros64(m)
					} else {
						rs = runStart(b, at+j) // began in an earlier block
					}
					var splits bool
					specialEnd, splits = specialRunEnd(b, rs)
					if splits || !p.asciiAnchors {
						specials = append(specials, rs)
					}
					S &^= lowBits(specialEnd - at)
				}
			}
			top = W >> 63
		}
		hits := s.hits[:0]
		if n > 0 {
			k, c := slotScan(w[:n+1], carry, long, p.maxAnchor, b[base:], &p.present, s.hits[:maskBlocks*maxBlockHits])
			hits, carry = s.hits[:k], c
		}
		s.specials = specials // keep what append grew
		// Both in order of position.
		for len(hits) > 0 || len(specials) > 0 {
			if len(specials) > 0 && (len(hits) == 0 || specials[0] <= base+int(hits[0]&0xFFFF)) {
				rs := specials[0]
				specials = specials[1:]
				if len(hits) > 0 && base+int(hits[0]&0xFFFF) == rs {
					hits = hits[1:]
				}
				p.specialRun(b, s, rs, fn)
				continue
			}
			q, l := base+int(hits[0]&0xFFFF), int(hits[0]>>16)
			hits = hits[1:]
			p.plainRun(b, q, l, fn)
		}
	}
}

// plainRun calls fn when the run b[q:q+l] is an anchor word written in
// ASCII letters and digits (the others are split by specialRun).
func (p *Phrases) plainRun(b []byte, q, l int, fn func(start, end int, folded []byte, set *anchorSet)) {
	t := b[q : q+l]
	for k := p.slots[slotKey(le32(t), l)]; k != 0; k = uint16(p.list[k-1].next) {
		if e := &p.list[k-1]; len(e.word) == l && asciiFolds(t, e.word) {
			fn(q, q+l, unsafe.Slice(unsafe.StringData(e.word), l), e.set)
			return
		}
	}
}

// asciiFolds reports whether t, its ASCII letters lower-cased, is w,
// where t holds only ASCII letters and digits.
func asciiFolds(t []byte, w string) bool {
	for i, c := range t {
		if c >= 0x80 || c == '\'' {
			return false
		}
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != w[i] {
			return false
		}
	}
	return true
}

// specialRun calls fn with every anchor word of the run starting at rs:
// the word rules split it.
func (p *Phrases) specialRun(b []byte, s *phraseScratch, rs int, fn func(start, end int, folded []byte, set *anchorSet)) {
	re := runEnd(b, rs)
	eachWord(b[:re], rs, s.cfold[:0], func(ws, we int, f []byte) bool {
		if set := p.lookup(f); set != nil {
			fn(ws, we, f, set)
		}
		return true
	})
}

// slotScanGo is slotScan in Go: for each block i of w but the last
// (which is the next block of the one before), it records in hits the
// offset (from the start of text) ORed with the length << 16 of every
// run starting in block i with
// at least long bytes, at most maxAnchor, whose first four bytes and
// length have a slot in slots. carry is the last run bit before block 0;
// it returns how many hits it recorded and the last run bit of the last
// block scanned.
func slotScanGo(w []uint64, carry uint64, long, maxAnchor int, text []byte, present *[1 << presenceBits / 64]uint64, hits []int32) (int, uint64) {
	k := 0
	for i := range len(w) - 1 {
		W, next := w[i], w[i+1]
		cand := W &^ (W<<1 | carry)
		carry = W >> 63
		for j := 1; j < long; j++ {
			cand &= W>>j | next<<(64-j)
		}
		for cand != 0 {
			j := bits.TrailingZeros64(cand)
			cand &= cand - 1
			l := bits.TrailingZeros64(^(W>>j | next<<(64-j)))
			if l > maxAnchor {
				continue
			}
			q := i*64 + j
			if h := slotHash(uint32(text[q])|uint32(text[q+1])<<8|uint32(text[q+2])<<16|uint32(text[q+3])<<24, l) >> (32 - presenceBits); present[h/64]&(1<<(h%64)) != 0 {
				hits[k] = int32(q | l<<16)
				k++
			}
		}
	}
	return k, carry
}

// lowBits returns a mask of the n lowest bits (all 64 when n >= 64).
func lowBits(n int) uint64 {
	if n >= 64 {
		return ^uint64(0)
	}
	return 1<<n - 1
}

// specialRunEnd returns the end of the run starting at rs and whether
// the word rules may split it into several words: when it holds an
// apostrophe or a curly quote. A run that they do not split is one word
// with a byte >= 0x80, never an ASCII anchor.
func specialRunEnd(b []byte, rs int) (int, bool) {
	splits := false
	i := rs
	for i < len(b) && runClass[b[i]] {
		if b[i] == '\'' || b[i] == 0xE2 && i+2 < len(b) && b[i+1] == 0x80 && b[i+2] >= 0x98 && b[i+2] <= 0x9D {
			splits = true
		}
		i++
	}
	return i, splits
}

// runStart returns the start of the run that holds b[i].
func runStart(b []byte, i int) int {
	for i > 0 && runClass[b[i-1]] {
		i--
	}
	return i
}

// runEnd returns the end of the run that holds b[i].
func runEnd(b []byte, i int) int {
	for i < len(b) && runClass[b[i]] {
		i++
	}
	return i
}

// runClass marks the bytes of runs: word bytes and apostrophes.
var runClass = func() (c [256]bool) {
	c = wordClass
	c['\''] = true
	return c
}()

// classMasks sets, for each 64-byte block i of b that w and s have room
// for, bit j of w[i] when b[64i+j] is a run byte and of s[i] when it is
// an apostrophe or >= 0x80. Bytes past the end of b count as neither.
func classMasks(b []byte, w, s []uint64) {
	n := min(len(w), len(s))
	done := classMasksVec(b, w[:n], s[:n])
	for i := done; i < n; i++ {
		var wi, si uint64
		blk := b[min(len(b), 64*i):min(len(b), 64*i+64)]
		for j, c := range blk {
			if runClass[c] {
				wi |= 1 << j
			}
			if c >= 0x80 || c == '\'' {
				si |= 1 << j
			}
		}
		w[i], s[i] = wi, si
	}
}
