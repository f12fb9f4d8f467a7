package web

import (
	"net"
	"net/http"
	"sync"
	"time"
)

// loginLimiter allows each client address per attempts in every window
// (a fixed window that starts at its first attempt). It remembers at
// most sweepAt addresses before forgetting those whose window is over.
type loginLimiter struct {
	per    int
	window time.Duration
	now    func() time.Time

	mu   sync.Mutex
	seen map[string]*attempts
}

type attempts struct {
	start time.Time
	n     int
}

// sweepAt is how many addresses the limiter holds before it drops the
// ones whose window has ended.
const sweepAt = 4096

// allow counts an attempt from addr and reports whether it is within the
// limit, and if not, how long until the window ends.
func (l *loginLimiter) allow(addr string) (bool, time.Duration) {
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	a := l.seen[addr]
	if a == nil || now.Sub(a.start) >= l.window {
		if len(l.seen) >= sweepAt {
			for k, v := range l.seen {
				if now.Sub(v.start) >= l.window {
					delete(l.seen, k)
				}
			}
		}
		a = &attempts{start: now}
		l.seen[addr] = a
	}
	a.n++
	if a.n > l.per {
		return false, a.start.Add(l.window).Sub(now)
	}
	return true, 0
}

// clientAddr is the IP address the request came from (the connection's,
// not a forwarded header's, which the client writes itself).
func clientAddr(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}
