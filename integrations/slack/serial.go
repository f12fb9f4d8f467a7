package slack

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// messageLease names the store lease that one replica holds while it
// acts on a customer message ("slack-message:<channel>/<ts>").
const messageLease = "slack-message:"

// messageLeaseTTL is how long a message's lease lasts unless renewed:
// long enough for a send, short enough that the other replicas go on
// soon after one dies holding it. It is renewed every third of it.
// messageLeasePoll is how often a replica waiting for it asks again.
const (
	messageLeaseTTL  = 30 * time.Second
	messageLeasePoll = 25 * time.Millisecond
)

// lockMessage waits until no other action about the customer message
// key runs, in this process (serial) or, when Config.SharedStore, in
// another replica sharing the store (a store lease), and returns the
// function that lets the next one run. A message's reply and its
// edit's, claimed by workers of two replicas at once, would otherwise
// both find no earlier reply and both post. It gives up when ctx ends.
// A store only one process uses (SQLite) needs no lease: two writes
// per action saved, about a tenth of a Slack event's handling.
func (b *Bot) lockMessage(ctx context.Context, key string) (unlock func(), err error) {
	local, err := b.serial.lock(ctx, key)
	if err != nil || !b.cfg.SharedStore {
		return local, err
	}
	name := messageLease + key
	for {
		ok, err := b.st.AcquireLease(ctx, name, b.holder, b.now(), messageLeaseTTL)
		if err != nil {
			local()
			return nil, fmt.Errorf("take the message's lease: %w", err)
		}
		if ok {
			break
		}
		select {
		case <-time.After(messageLeasePoll):
		case <-ctx.Done():
			local()
			return nil, ctx.Err()
		}
	}
	stop, stopped := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(stopped)
		tick := time.NewTicker(messageLeaseTTL / 3)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				if ok, err := b.st.AcquireLease(ctx, name, b.holder, b.now(), messageLeaseTTL); err != nil || !ok {
					b.log.Warn("slack: could not renew the message's lease; another replica may act on it too", "lease", name, "err", err)
				}
			}
		}
	}()
	return func() {
		close(stop)
		<-stopped
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if err := b.st.ReleaseLease(rctx, name, b.holder); err != nil {
			b.log.Warn("slack: release the message's lease (it expires by itself)", "lease", name, "err", err)
		}
		local()
	}, nil
}

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
