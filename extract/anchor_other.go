//go:build !amd64 || purego

package extract

var haveAVX2 = false

// anchorBlocks finds nothing on this platform: the portable search does
// all the work.
func anchorBlocks(b []byte, from int, out, keys []int) ([]int, []int, int) { return out, keys, from }

// classMasksVec classifies nothing on this platform: classMasks does it
// byte by byte.
func classMasksVec(b []byte, w, s []uint64) int { return 0 }

// slotScan is slotScanGo on this platform.
func slotScan(w []uint64, carry uint64, long, maxAnchor int, text []byte, present *[1 << presenceBits / 64]uint64, hits []int32) (int, uint64) {
	return slotScanGo(w, carry, long, maxAnchor, text, present, hits)
}
