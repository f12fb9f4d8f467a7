//go:build !purego

package extract

import "golang.org/x/sys/cpu"

// haveAVX2 selects the vectorised anchor search.
var haveAVX2 = cpu.X86.HasAVX2

// anchorsAVX2 is implemented in anchor_amd64.s.
//
//go:noescape
func anchorsAVX2(b []byte, from int, out, keys []int) (n, nk, next int)

// anchorBlocks appends to out the anchor candidates and to keys the
// "r_" positions in b[from:] that the vector unit can reach, 32 bytes at
// a time, and returns them with the position where it stopped; the
// caller finishes from there.
func anchorBlocks(b []byte, from int, out, keys []int) ([]int, []int, int) {
	if !haveAVX2 || from < 1 {
		return out, keys, from
	}
	n, nk, next := anchorsAVX2(b, from, out[len(out):cap(out)], keys[len(keys):cap(keys)])
	return out[:len(out)+n], keys[:len(keys)+nk], next
}
