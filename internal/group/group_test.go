package group

import (
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestLoneCallerRunsAtOnce(t *testing.T) {
	var g Group[int, int]
	got := g.Do(21, 0, func(vs []int) []int {
		require.Equal(t, []int{21}, vs)
		return []int{vs[0] * 2}
	})
	assert.Equal(t, 42, got)
}

func TestConcurrentCallersShareRunsAndGetTheirOwnResults(t *testing.T) {
	var g Group[int, int]
	var mu sync.Mutex
	var sizes []int
	gate := make(chan struct{})
	double := func(vs []int) []int {
		mu.Lock()
		sizes = append(sizes, len(vs))
		first := len(sizes) == 1
		mu.Unlock()
		if first {
			<-gate // hold the first run so the others queue up
		}
		out := make([]int, len(vs))
		for i, v := range vs {
			out[i] = v * 2
		}
		return out
	}
	var wg sync.WaitGroup
	results := make([]int, 20)
	wg.Go(func() { results[0] = g.Do(0, 5, double) })
	require.Eventually(t, func() bool { mu.Lock(); defer mu.Unlock(); return len(sizes) == 1 }, 5*time.Second, time.Millisecond)
	for i := 1; i < 20; i++ {
		wg.Go(func() { results[i] = g.Do(i, 5, double) })
	}
	require.Eventually(t, func() bool { g.mu.Lock(); defer g.mu.Unlock(); return len(g.queue) == 19 }, 5*time.Second, time.Millisecond)
	close(gate)
	wg.Wait()
	for i, r := range results {
		assert.Equal(t, 2*i, r, "caller %d gets its own result", i)
	}
	mu.Lock()
	defer mu.Unlock()
	assert.Equal(t, []int{1, 5, 5, 5, 4}, sizes, "queued callers share runs of at most max")
}
