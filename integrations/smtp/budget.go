package smtp

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Reply budgets. Before a reply is sent, three limits are checked and,
// when all allow it, taken together:
//
//   - one reply per sender per Config.ReplyWindow, the sender counted in
//     its canonical form (see canonical);
//   - Config.RepliesPerDomain replies per recipient domain in any hour;
//   - Config.RepliesPerHour replies in all in any hour.
//
// They live in the store's key-value (cursors), so a restart does not
// reset them, and they are read and written under a store lease
// (budgetLease) as well as the sink's mutex, so replicas sharing a
// PostgreSQL store share the budgets too. A budget is taken before
// sending and is not given back when the send fails: a retry of the same
// action (same idempotency key) finds its own entry and goes ahead
// without taking another.

// budgetLease serialises budget updates across replicas.
const budgetLease = "smtp:reply-budget"

// budgetHour is the span the hourly budgets count over.
const budgetHour = time.Hour

// Keys of the budgets in the store's key-value.
const (
	windowKeyPrefix = "email-reply:"
	globalKey       = "email-reply-budget"
	domainKeyPrefix = "email-reply-budget:"
)

// held is a reply refused by a budget or check: the reason class counted
// in metrics, and the reason the action is parked with.
type held struct {
	class, reason string
}

// ledger is the replies of the last hour under one budget, oldest
// first, each as "unix-seconds:key-hash".
type ledger []ledgerEntry

type ledgerEntry struct {
	at  int64
	key string
}

// keyHash is the short form of an idempotency key kept in a ledger.
func keyHash(key string) string {
	sum := sha256.Sum256([]byte(key))
	return hex.EncodeToString(sum[:6])
}

// parseLedger reads a stored ledger, keeping the entries after since.
func parseLedger(v string, since int64) ledger {
	var l ledger
	for _, f := range strings.Fields(v) {
		at, key, ok := strings.Cut(f, ":")
		n, err := strconv.ParseInt(at, 10, 64)
		if !ok || err != nil || n <= since {
			continue
		}
		l = append(l, ledgerEntry{n, key})
	}
	return l
}

func (l ledger) String() string {
	var b strings.Builder
	for i, e := range l {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(strconv.FormatInt(e.at, 10))
		b.WriteByte(':')
		b.WriteString(e.key)
	}
	return b.String()
}

func (l ledger) has(key string) bool {
	for _, e := range l {
		if e.key == key {
			return true
		}
	}
	return false
}

// takeReply checks the reply budgets for a reply to addr (as recipient
// returned it) by the action with idempotency key, and takes them when
// all allow it. It returns a non-nil *held when the reply must not go;
// an error when the budgets could not be read or written (retryable).
func (s *Sink) takeReply(ctx context.Context, addr, key string) (*held, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	release, err := s.lockBudgets(ctx)
	if err != nil {
		return nil, err
	}
	defer release()

	now := s.now()
	canon := canonical(addr)
	domain := canon[strings.LastIndexByte(canon, '@')+1:]
	hash := keyHash(key)
	since := now.Add(-budgetHour).Unix()

	wkey := windowKeyPrefix + canon
	prev, err := s.st.Cursor(ctx, wkey)
	if err != nil {
		return nil, fmt.Errorf("email.reply: read reply budget: %w", err)
	}
	if when, akey, ok := strings.Cut(prev, " "); ok && akey != key {
		if last, err := time.Parse(time.RFC3339Nano, when); err == nil && now.Sub(last) < s.cfg.ReplyWindow {
			return &held{"window", fmt.Sprintf("%s was already answered automatically at %s (at most one reply per %s to each sender, counting %s; smtp.reply_window)",
				addr, last.UTC().Format(time.RFC3339), s.cfg.ReplyWindow, canon)}, nil
		}
	}
	dkey := domainKeyPrefix + domain
	dv, err := s.st.Cursor(ctx, dkey)
	if err != nil {
		return nil, fmt.Errorf("email.reply: read reply budget: %w", err)
	}
	dl := parseLedger(dv, since)
	if !dl.has(hash) && len(dl) >= s.cfg.RepliesPerDomain {
		return &held{"domain_budget", fmt.Sprintf("the reply budget for %s is spent: %d automatic replies to that domain in the last hour (smtp.replies_per_domain_per_hour); the next is possible after %s",
			domain, len(dl), s.nextAfter(dl, s.cfg.RepliesPerDomain))}, nil
	}
	gv, err := s.st.Cursor(ctx, globalKey)
	if err != nil {
		return nil, fmt.Errorf("email.reply: read reply budget: %w", err)
	}
	gl := parseLedger(gv, since)
	if !gl.has(hash) && len(gl) >= s.cfg.RepliesPerHour {
		return &held{"budget", fmt.Sprintf("the reply budget is spent: %d automatic replies in the last hour (smtp.replies_per_hour); the next is possible after %s",
			len(gl), s.nextAfter(gl, s.cfg.RepliesPerHour))}, nil
	}

	if akey := strings.SplitN(prev, " ", 2); len(akey) < 2 || akey[1] != key {
		if err := s.st.SetCursor(ctx, wkey, now.UTC().Format(time.RFC3339Nano)+" "+key); err != nil {
			return nil, fmt.Errorf("email.reply: save reply budget: %w", err)
		}
	}
	for _, b := range []struct {
		key string
		l   ledger
	}{{dkey, dl}, {globalKey, gl}} {
		if b.l.has(hash) {
			continue
		}
		b.l = append(b.l, ledgerEntry{now.Unix(), hash})
		if err := s.st.SetCursor(ctx, b.key, b.l.String()); err != nil {
			return nil, fmt.Errorf("email.reply: save reply budget: %w", err)
		}
	}
	return nil, nil
}

// nextAfter says when a full ledger has room again, for a reason text.
func (s *Sink) nextAfter(l ledger, limit int) string {
	i := len(l) - limit // the entry whose expiry makes room
	if i < 0 || i >= len(l) {
		i = 0
	}
	return time.Unix(l[i].at, 0).Add(budgetHour).UTC().Format(time.RFC3339)
}

// lockBudgets takes the store lease over the budgets, waiting a little
// while another replica holds it; release gives it up.
func (s *Sink) lockBudgets(ctx context.Context) (release func(), err error) {
	const (
		ttl     = 15 * time.Second
		wait    = 5 * time.Second
		between = 20 * time.Millisecond
	)
	deadline := time.Now().Add(wait)
	for {
		ok, err := s.st.AcquireLease(ctx, budgetLease, s.holder, time.Now(), ttl)
		if err != nil {
			return nil, fmt.Errorf("email.reply: lock reply budgets: %w", err)
		}
		if ok {
			return func() {
				// Released even when ctx has ended: otherwise the other
				// replicas wait out the lease.
				rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
				defer cancel()
				if err := s.st.ReleaseLease(rctx, budgetLease, s.holder); err != nil {
					s.log.Warn("email.reply: release the reply budget lease", "err", err)
				}
			}, nil
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("email.reply: the reply budgets are locked by another replica (lease %s); will retry", budgetLease)
		}
		t := time.NewTimer(between)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, context.Cause(ctx)
		case <-t.C:
		}
	}
}
