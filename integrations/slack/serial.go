package slack

import (
	"context"
	"sync"
)

// serial runs the actions about one Slack message one at a time, in this
// process: a message's reply and its edit's reply, its triage post and
// the edit's, would otherwise race on two outbox workers, and both find
// no earlier reply to update. Keys are "<channel>/<ts>" of the customer
// message (an edit's ticket has the same).
type serial struct {
	mu    sync.Mutex
	locks map[string]*keyLock
}

// keyLock is one key's lock: a slot taken by the holder, and how many
// hold or wait for it, so the entry is dropped when nobody does.
type keyLock struct {
	slot  chan struct{}
	users int
}

// lock waits until no other action about key runs and returns the
// function that lets the next one run. It gives up when ctx ends (the
// send's deadline, a lost claim, shutdown) and returns ctx's error.
func (s *serial) lock(ctx context.Context, key string) (unlock func(), err error) {
	s.mu.Lock()
	if s.locks == nil {
		s.locks = map[string]*keyLock{}
	}
	l := s.locks[key]
	if l == nil {
		l = &keyLock{slot: make(chan struct{}, 1)}
		s.locks[key] = l
	}
	l.users++
	s.mu.Unlock()
	done := func() {
		s.mu.Lock()
		if l.users--; l.users == 0 {
			delete(s.locks, key)
		}
		s.mu.Unlock()
	}
	select {
	case l.slot <- struct{}{}:
		return func() { <-l.slot; done() }, nil
	case <-ctx.Done():
		done()
		return nil, ctx.Err()
	}
}
