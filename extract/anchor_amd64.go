//go:build !purego

package extract

import "golang.org/x/sys/cpu"

// haveAVX2 selects the vectorised anchor search; tests switch it off to
// check the portable path against it.
var haveAVX2 = cpu.X86.HasAVX2

// anchorsAVX2 is implemented in anchor_amd64.s.
//
//go:noescape
func anchorsAVX2(b []byte, from int, out []int) (n, next int)

// anchorBlocks appends to out the anchor candidates in b[from:] that the
// vector unit can reach, 32 bytes at a time, and returns them with the
// position where it stopped; the caller finishes from there.
func anchorBlocks(b []byte, from int, out []int) ([]int, int) {
	if !haveAVX2 || from < 1 {
		return out, from
	}
	n, next := anchorsAVX2(b, from, out[len(out):cap(out)])
	return out[:len(out)+n], next
}
