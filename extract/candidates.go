package extract

import (
	"encoding/binary"
	"math/bits"
)

// This file finds the places of a text where a phrase's anchor word may
// stand, fast: it is the part of the wording pass that reads every byte.
//
// A run is a maximal stretch of word bytes (letters, digits, bytes >=
// 0x80) and apostrophes. A run without an apostrophe or a byte >= 0x80
// is exactly one word of the word rules; the others ("you're", “quoted”,
// Größe) are rare in logs and are split by the word rules themselves.
// So: the vector unit marks, 64 bytes at a time, which bytes belong to
// runs and which are apostrophes or >= 0x80 (classMasks); the runs of
// at least minAnchor bytes are picked out with a few shifts of those
// masks; a hash of each such run's first four bytes is tested against
// the anchors' (one bit of an 8 KiB table); and only when it passes is
// the run read in full and looked up.

// maskBlocks is how many 64-byte blocks candidates classifies at a time.
const maskBlocks = 64

// candidates calls fn with the span, folded form and phrases of every
// anchor word of b, in order.
func (p *Phrases) candidates(b []byte, s *phraseScratch, fn func(start, end int, folded []byte, set *anchorSet)) {
	w, sp := s.w[:], s.s[:]
	long := min(p.minAnchor, 16)
	var carry uint64 // the last bit of the previous block's run mask
	runStart := -1   // where the run holding the previous block's last byte starts
	specialEnd := 0  // runs with special bytes before this are done
	for base := 0; base < len(b); base += maskBlocks * 64 {
		n := min(maskBlocks, (len(b)-base+63)/64)
		classMasks(b[base:], w[:n+1], sp[:n+1])
		for i := range n {
			at := base + i*64
			W, next := w[i], w[i+1]
			starts := W &^ (W<<1 | carry)
			carry = W >> 63
			// Runs of at least `long` bytes: every byte of the first
			// `long` is in the run.
			cand := starts
			for k := 1; k < long; k++ {
				cand &= W>>k | next<<(64-k)
			}
			// Runs holding an apostrophe or a byte >= 0x80 are split by
			// the word rules; each is read once, in order with the rest.
			var special uint64
			if S := sp[i]; S != 0 {
				for S != 0 {
					j := bits.TrailingZeros64(S)
					S &= S - 1
					if at+j < specialEnd {
						continue
					}
					var rs int
					if m := starts & (uint64(2)<<j - 1); m != 0 {
						k := 63 - bits.LeadingZeros64(m)
						special |= 1 << k
						rs = at + k
					} else {
						rs = runStart // began in an earlier block
						p.specialRun(b, s, rs, fn)
					}
					specialEnd = runEnd(b, rs)
				}
				cand |= special
			}
			if starts != 0 {
				runStart = at + 63 - bits.LeadingZeros64(starts)
			}
			Sn := sp[i+1]
			for cand != 0 {
				j := bits.TrailingZeros64(cand)
				cand &= cand - 1
				q := at + j
				if special&(1<<j) != 0 {
					p.specialRun(b, s, q, fn)
					continue
				}
				// The run's length, from the masks of this block and the
				// next (a run longer than that is no anchor).
				l := bits.TrailingZeros64(^(W>>j | next<<(64-j)))
				if l > p.maxAnchor {
					continue
				}
				k := p.slots[slotKey(binary.LittleEndian.Uint32(b[q:]), l)]
				if k == 0 || (sp[i]>>j|Sn<<(64-j))&(1<<l-1) != 0 {
					continue // no anchor; or a special run, read above
				}
				f := s.cfold[:l]
				for k, c := range b[q : q+l] {
					if c >= 'A' && c <= 'Z' {
						c += 'a' - 'A'
					}
					f[k] = c
				}
				for ; k != 0; k = uint16(p.list[k-1].next) {
					if e := &p.list[k-1]; e.word == string(f) {
						fn(q, q+l, f, e.set)
						break
					}
				}
			}
		}
	}
}

// specialRun calls fn with every word of the run starting at rs: the
// word rules split it.
func (p *Phrases) specialRun(b []byte, s *phraseScratch, rs int, fn func(start, end int, folded []byte, set *anchorSet)) {
	re := runEnd(b, rs)
	eachWord(b[:re], rs, s.cfold[:0], func(ws, we int, f []byte) bool {
		if set := p.lookup(f); set != nil {
			fn(ws, we, f, set)
		}
		return true
	})
}

// runEnd returns the end of the run that holds b[i].
func runEnd(b []byte, i int) int {
	for i < len(b) && runClass[b[i]] {
		i++
	}
	return i
}

// hasApostrophe reports whether one of x's four bytes is '\”.
func hasApostrophe(x uint32) bool {
	y := x ^ 0x27272727
	return (y-0x01010101)&^y&0x80808080 != 0
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
