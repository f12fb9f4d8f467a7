//go:build race

package extract

// raceOn: the race detector makes sync.Pool drop items, so allocation
// counts mean nothing.
const raceOn = true
