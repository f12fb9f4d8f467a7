//go:build !purego

package extract

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
