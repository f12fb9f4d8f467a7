package slack

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestSerialOneAtATimePerKey(t *testing.T) {
	var s serial
	var inA, maxA atomic.Int32
	var wg sync.WaitGroup
	for range 20 {
		wg.Add(2)
		go func() {
			defer wg.Done()
			unlock, err := s.lock(context.Background(), "C1/1.0")
			require.NoError(t, err)
			n := inA.Add(1)
			if n > maxA.Load() {
				maxA.Store(n)
			}
			time.Sleep(time.Millisecond)
			inA.Add(-1)
			unlock()
		}()
		go func() { // another message is not held up
			defer wg.Done()
			unlock, err := s.lock(context.Background(), "C1/2.0")
			require.NoError(t, err)
			unlock()
		}()
	}
	wg.Wait()
	assert.Equal(t, int32(1), maxA.Load(), "never two actions about one message at once")
	assert.Empty(t, s.locks, "no entry kept once nobody holds or waits")
}

func TestSerialGivesUpWithContext(t *testing.T) {
	var s serial
	unlock, err := s.lock(context.Background(), "k")
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	_, err = s.lock(ctx, "k")
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	unlock()
	assert.Empty(t, s.locks)
}
