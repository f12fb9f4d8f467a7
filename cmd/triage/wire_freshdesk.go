package main

import (
	"context"
	"fmt"
	"io"
	"net/http"

	"github.com/triage-bot/triage/config"
	"github.com/triage-bot/triage/integrations/freshdesk"
	"github.com/triage-bot/triage/outbox"
	"github.com/triage-bot/triage/ticket"
)

// freshdeskConfig turns the config section into the integration's Config.
func freshdeskConfig(c *config.Freshdesk) freshdesk.Config {
	return freshdesk.Config{Domain: c.Domain, APIURL: c.APIURL, APIKey: c.APIKey, WebhookSecret: c.WebhookSecret,
		SecretHeader: c.SecretHeader, Groups: c.Groups}
}

// wireFreshdesk wires the Freshdesk integration into triage run: the
// signed (shared-secret) webhook route POST /hooks/freshdesk and the
// sinks for freshdesk.note, freshdesk.tag and freshdesk.assign. Nothing
// when the config has no freshdesk section.
func wireFreshdesk(_ context.Context, d *runDeps) (wiring, error) {
	c := d.cfg.Freshdesk
	if c == nil {
		return wiring{}, nil
	}
	fc := freshdeskConfig(c)
	fc.Limits = d.pipeline.Limits
	desk := freshdesk.New(fc, d.pipeline, d.store, d.log.With("integration", "freshdesk"))
	return wiring{
		sinks: map[string]outbox.Sink{
			ticket.KindFreshdeskNote:   desk.NoteSink(),
			ticket.KindFreshdeskTag:    desk.TagSink(),
			ticket.KindFreshdeskAssign: desk.AssignSink(),
		},
		routes: map[string]http.Handler{"POST /hooks/freshdesk": desk.Handler()},
	}, nil
}

// checkFreshdesk is `config check --connect` for the freshdesk section:
// the API key works and every configured group exists.
func checkFreshdesk(ctx context.Context, cfg *config.Config, w io.Writer) []error {
	c := cfg.Freshdesk
	if c == nil {
		return nil
	}
	problems := freshdesk.New(freshdeskConfig(c), nil, nil, nil).Check(ctx)
	var errs []error
	for _, p := range problems {
		errs = append(errs, fmt.Errorf("freshdesk (%s): %s", c.Domain, p))
	}
	if len(problems) == 0 {
		fmt.Fprintf(w, "freshdesk: %s reachable, API key OK, all %d configured group(s) exist\n", c.Domain, len(c.Groups))
	}
	return errs
}
