// Package group lets concurrent callers share one batch operation, such
// as a store transaction: the first caller to find none under way
// becomes the leader and runs the operation on whatever has queued up
// meanwhile, batch after batch, until the queue is empty; the others wait
// for their own result. A lone caller runs at once, so nothing waits for
// a batch to fill, and there is no goroutine to start or stop.
package group

import "sync"

// Group batches values of type T whose operation returns an R for each.
// The zero Group is ready to use.
type Group[T, R any] struct {
	mu     sync.Mutex
	queue  []*item[T, R]
	active bool
}

type item[T, R any] struct {
	v    T
	r    R
	done chan struct{}
}

// Do queues v and returns its result from fn, which gets a batch of at
// most max queued values (no cap when max is 0), v among them, and must
// return one result per value, in order. fn runs on the leader's
// goroutine, the caller's own when no run is under way; a leader runs the
// queue dry before it returns.
func (g *Group[T, R]) Do(v T, max int, fn func([]T) []R) R {
	it := &item[T, R]{v: v, done: make(chan struct{})}
	g.mu.Lock()
	g.queue = append(g.queue, it)
	if g.active {
		g.mu.Unlock()
		<-it.done
		return it.r
	}
	g.active = true
	for len(g.queue) > 0 {
		n := len(g.queue)
		if max > 0 {
			n = min(n, max)
		}
		batch := g.queue[:n:n]
		g.queue = g.queue[n:]
		g.mu.Unlock()
		vs := make([]T, len(batch))
		for i, b := range batch {
			vs[i] = b.v
		}
		rs := fn(vs)
		for i, b := range batch {
			b.r = rs[i]
			close(b.done)
		}
		g.mu.Lock()
	}
	g.active = false
	g.mu.Unlock()
	return it.r
}
