//go:build !purego

package extract

import (
	"unsafe"

	"golang.org/x/sys/cpu"
)

// classMasksAVX2 is classMasks for the whole 64-byte blocks of b, as
// many as w and s hold; it returns how many it did. Implemented in
// classmask_amd64.s.
//
//go:noescape
func classMasksAVX2(b []byte, w, s []uint64) int

func classMasksVec(b []byte, w, s []uint64) int {
	if !haveAVX2 {
		return 0
	}
	return classMasksAVX2(b, w, s)
}

// haveBMI selects the assembly slotScan, which counts bits and shifts
// with BMI1 and BMI2 (TZCNT, BLSR, SHRX).
var haveBMI = cpu.X86.HasBMI1 && cpu.X86.HasBMI2

// slotScanAMD64 is slotScanGo in assembly (slotscan_amd64.s): text
// points at the first block's bytes, n is the number of blocks to scan
// (w holds n+1 masks), and hits has room for n*maxBlockHits offsets.
//
//go:noescape
func slotScanAMD64(w *uint64, n int, carry uint64, long, maxAnchor int, text *byte, present *uint64, hits *int32) (k int, carryOut uint64)

// slotScan is slotScanGo: see there.
func slotScan(w []uint64, carry uint64, long, maxAnchor int, text []byte, present *[1 << presenceBits / 64]uint64, hits []int32) (int, uint64) {
	n := len(w) - 1
	if n <= 0 {
		return 0, carry
	}
	if len(hits) < n*maxBlockHits || long < 4 || long > 63 {
		panic("extract: slotScan: bad arguments")
	}
	if !haveBMI {
		return slotScanGo(w, carry, long, maxAnchor, text, present, hits)
	}
	return slotScanAMD64(&w[0], n, carry, long, maxAnchor, unsafe.SliceData(text), &present[0], &hits[0])
}
