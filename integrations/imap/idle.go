package imap

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	goimap "github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
)

// ErrNoIdle is returned by Watcher.Run when the server does not offer
// IDLE; the source then relies on its poll interval.
var ErrNoIdle = errors.New("the server does not support IDLE")

// Watcher keeps one connection per mailbox in IDLE and signals Wake when
// mail arrives (and after each reconnect, so nothing that arrived while
// it was away waits for the next poll).
type Watcher struct {
	acct    *Account
	mailbox string
	log     *slog.Logger
	wake    chan struct{}
}

// NewWatcher returns a watcher for one mailbox of acct. It does no I/O.
func NewWatcher(acct Account, mailbox string, log *slog.Logger) *Watcher {
	acct.defaults()
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Watcher{acct: &acct, mailbox: mailbox, log: log, wake: make(chan struct{}, 1)}
}

// Wake receives a value when the mailbox may have new mail
// (pipeline.SourceSpec.Wake).
func (w *Watcher) Wake() <-chan struct{} { return w.wake }

func (w *Watcher) signal() {
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// Run idles until ctx is done, reconnecting with backoff and jitter. It
// returns nil when ctx ends, and nil (after logging) when the server has
// no IDLE: polling then carries on alone.
func (w *Watcher) Run(ctx context.Context) error {
	b := backoff{base: time.Second, max: 2 * time.Minute}
	for ctx.Err() == nil {
		started := time.Now()
		err := w.session(ctx)
		if ctx.Err() != nil {
			return nil
		}
		if errors.Is(err, ErrNoIdle) {
			w.log.Warn("imap server has no IDLE: new mail is found by polling only", "source", "imap:"+w.acct.Name+"/"+w.mailbox)
			return nil
		}
		if time.Since(started) > 2*time.Minute {
			b.reset()
		}
		b.fail()
		if errors.Is(err, ErrAuth) {
			// The source's pass says so, once per its own backoff step.
			w.log.Debug("imap IDLE cannot log in; waiting", "source", "imap:"+w.acct.Name+"/"+w.mailbox, "retry_in", b.delay().Round(time.Millisecond))
			if err := b.wait(ctx); err != nil {
				return nil
			}
			continue
		}
		w.log.Warn("imap IDLE connection lost; reconnecting", "source", "imap:"+w.acct.Name+"/"+w.mailbox, "err", err, "retry_in", b.delay().Round(time.Millisecond))
		if err := b.wait(ctx); err != nil {
			return nil
		}
	}
	return nil
}

// session is one connection's life: EXAMINE, then IDLE cycles until the
// connection fails or ctx ends.
func (w *Watcher) session(ctx context.Context) error {
	handler := &imapclient.UnilateralDataHandler{
		Mailbox: func(d *imapclient.UnilateralDataMailbox) {
			if d.NumMessages != nil {
				w.signal()
			}
		},
	}
	c, err := dial(ctx, w.acct, handler)
	if err != nil {
		return err
	}
	defer c.Close()
	stop := c.bind(ctx)
	defer stop()
	if !c.Caps().Has(goimap.CapIdle) {
		return ErrNoIdle
	}
	if _, err := c.Select(c.box(w.mailbox), &goimap.SelectOptions{ReadOnly: true}).Wait(); err != nil {
		return fmt.Errorf("imap %s: examine %s: %w", w.acct.Name, w.mailbox, err)
	}
	w.signal() // catch up on what arrived while disconnected
	for {
		idle, err := c.Idle()
		if err != nil {
			return fmt.Errorf("imap %s: idle: %w", w.acct.Name, err)
		}
		began := time.Now()
		for {
			wait := min(w.acct.ReIdle-time.Since(began), w.acct.Noop-c.raw.sinceRead())
			t := time.NewTimer(max(wait, 10*time.Millisecond))
			select {
			case <-ctx.Done():
				t.Stop()
				_ = idle.Close()
				return ctx.Err()
			case <-c.Closed():
				t.Stop()
				return fmt.Errorf("imap %s: connection closed while idling", w.acct.Name)
			case <-t.C:
			}
			if time.Since(began) >= w.acct.ReIdle || c.raw.sinceRead() >= w.acct.Noop {
				break
			}
		}
		// Re-issue IDLE; a NOOP proves the server still answers (a dead
		// one trips the connection's read deadline).
		if err := idle.Close(); err != nil {
			return fmt.Errorf("imap %s: end idle: %w", w.acct.Name, err)
		}
		if err := idle.Wait(); err != nil {
			return fmt.Errorf("imap %s: end idle: %w", w.acct.Name, err)
		}
		if err := c.Noop().Wait(); err != nil {
			return fmt.Errorf("imap %s: noop: %w", w.acct.Name, err)
		}
	}
}
