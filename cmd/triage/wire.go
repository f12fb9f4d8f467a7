package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/triage-bot/triage/catalog"
	"github.com/triage-bot/triage/config"
	"github.com/triage-bot/triage/metrics"
	"github.com/triage-bot/triage/outbox"
	"github.com/triage-bot/triage/pipeline"
	"github.com/triage-bot/triage/store"
)

// runDeps is what the composition root hands each integration.
type runDeps struct {
	cfg      *config.Config
	log      *slog.Logger
	store    store.Store
	pipeline *pipeline.Pipeline
	catalog  *catalog.Catalog
	metrics  *metrics.Metrics
	// holder names this replica in leases and claims.
	holder string
	// once is true for `run --once`: drain, act, exit.
	once bool
}

// wiring is what one integration adds to `triage run`.
type wiring struct {
	// sinks carry out actions, by action kind.
	sinks map[string]outbox.Sink
	// sources are polled by the runner (and drained by --once).
	sources []pipeline.SourceSpec
	// routes are extra HTTP handlers by pattern ("POST /slack/events").
	routes map[string]http.Handler
	// workers run until ctx is done (Socket Mode connections, IMAP IDLE
	// watchers, spike detectors); not started by --once.
	workers []func(ctx context.Context) error
	// closers run at exit, in reverse order.
	closers []func() error
	// health reports connections that are not polled sources (the Slack
	// Socket Mode connection) for /readyz.
	health []func() pipeline.Health
}

// merge adds o's parts to w; two integrations claiming the same action
// kind or route is a programming error reported at start-up.
func (w *wiring) merge(o wiring) error {
	if w.sinks == nil {
		w.sinks = map[string]outbox.Sink{}
	}
	if w.routes == nil {
		w.routes = map[string]http.Handler{}
	}
	for k, s := range o.sinks {
		if _, dup := w.sinks[k]; dup {
			return fmt.Errorf("two integrations carry out %q actions", k)
		}
		w.sinks[k] = s
	}
	for p, h := range o.routes {
		if _, dup := w.routes[p]; dup {
			return fmt.Errorf("two integrations serve %q", p)
		}
		w.routes[p] = h
	}
	w.sources = append(w.sources, o.sources...)
	w.workers = append(w.workers, o.workers...)
	w.closers = append(w.closers, o.closers...)
	w.health = append(w.health, o.health...)
	return nil
}

// wireIntegrations wires every configured integration; each one is a
// no-op when its config section is absent.
func wireIntegrations(ctx context.Context, d *runDeps) (wiring, error) {
	var all wiring
	for _, wire := range []func(context.Context, *runDeps) (wiring, error){
		wireEmail, wireSlack, wireDashboard, wireZendesk, wireFreshdesk, wireFront, wireHelpScout,
	} {
		w, err := wire(ctx, d)
		if err != nil {
			return all, err
		}
		if err := all.merge(w); err != nil {
			return all, err
		}
	}
	return all, nil
}
