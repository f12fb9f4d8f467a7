package slack

import (
	"context"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/triage-bot/triage/store/sqlite"
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

// TestLockMessageAcrossReplicas: two Bots on one store (two replicas)
// act on a message one at a time; a replica that died holding the
// message's lease holds up the others only until it expires; and one
// that gives up waiting lets its own process go on.
func TestLockMessageAcrossReplicas(t *testing.T) {
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "t.db"))
	require.NoError(t, err)
	t.Cleanup(func() { st.Close() })
	a, b := New(Config{SharedStore: true}, nil, st, nil, nil), New(Config{SharedStore: true}, nil, st, nil, nil)
	require.NotEqual(t, a.holder, b.holder)

	unlockA, err := a.lockMessage(context.Background(), "C1/1.0")
	require.NoError(t, err)
	got := make(chan struct{})
	go func() {
		unlockB, err := b.lockMessage(context.Background(), "C1/1.0")
		assert.NoError(t, err)
		close(got)
		unlockB()
	}()
	select {
	case <-got:
		t.Fatal("the second replica acted while the first held the message")
	case <-time.After(200 * time.Millisecond):
	}
	other, err := b.lockMessage(context.Background(), "C1/2.0")
	require.NoError(t, err, "another message is not held up")
	other()
	unlockA()
	select {
	case <-got:
	case <-time.After(5 * time.Second):
		t.Fatal("the second replica still waits after the first let go")
	}

	// A replica that dies holding the lease: the others wait for it to
	// expire, not forever.
	ok, err := st.AcquireLease(context.Background(), messageLease+"C1/3.0", "dead-replica", time.Now(), messageLeaseTTL)
	require.NoError(t, err)
	require.True(t, ok)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	_, err = a.lockMessage(ctx, "C1/3.0")
	cancel()
	require.ErrorIs(t, err, context.DeadlineExceeded, "a live lease is waited for")
	assert.Empty(t, a.serial.locks, "giving up frees this process's lock")
	a.now = func() time.Time { return time.Now().Add(messageLeaseTTL + time.Second) }
	unlock, err := a.lockMessage(context.Background(), "C1/3.0")
	require.NoError(t, err, "an expired lease is taken over")
	unlock()
	ok, err = st.AcquireLease(context.Background(), messageLease+"C1/3.0", "next", time.Now(), time.Second)
	require.NoError(t, err)
	assert.True(t, ok, "unlock released the lease")
}

// TestLockMessageWithoutSharedStore: a store only this process uses
// gets no lease (the process lock is enough).
func TestLockMessageWithoutSharedStore(t *testing.T) {
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "t.db"))
	require.NoError(t, err)
	t.Cleanup(func() { st.Close() })
	a := New(Config{}, nil, st, nil, nil)
	unlock, err := a.lockMessage(context.Background(), "C1/1.0")
	require.NoError(t, err)
	ok, err := st.AcquireLease(context.Background(), messageLease+"C1/1.0", "someone-else", time.Now(), time.Second)
	require.NoError(t, err)
	assert.True(t, ok, "no lease taken")
	unlock()
	assert.Empty(t, a.serial.locks)
}
