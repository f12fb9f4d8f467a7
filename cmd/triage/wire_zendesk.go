package main

import (
	"context"
	"fmt"
	"io"
	"net/http"

	"github.com/triage-bot/triage/config"
	"github.com/triage-bot/triage/integrations/zendesk"
	"github.com/triage-bot/triage/normalize"
	"github.com/triage-bot/triage/outbox"
	"github.com/triage-bot/triage/ticket"
)

// zendeskAccount builds the integration from its config section; ing
// may be nil for checks.
func zendeskAccount(c *config.Zendesk, ing zendesk.Ingester, lim normalize.Limits, d *runDeps) *zendesk.Account {
	cfg := zendesk.Config{
		BaseURL: c.URL(), Account: c.Subdomain, Email: c.Email, APIToken: c.APIToken, OAuthToken: c.OAuthToken,
		WebhookSecret: c.WebhookSecret, Groups: c.Groups, Limits: lim,
	}
	if d == nil {
		return zendesk.New(cfg, ing, nil)
	}
	return zendesk.New(cfg, ing, d.log.With("integration", "zendesk"))
}

// wireZendesk wires the Zendesk integration into triage run: the sinks
// for zendesk.note, zendesk.tag and zendesk.assign, and the signed
// webhook route POST /hooks/zendesk. Nothing when the config has no
// zendesk section.
func wireZendesk(_ context.Context, d *runDeps) (wiring, error) {
	c := d.cfg.Zendesk
	if c == nil {
		return wiring{}, nil
	}
	acc := zendeskAccount(c, d.pipeline, d.pipeline.Limits, d)
	return wiring{
		sinks: map[string]outbox.Sink{
			ticket.KindZendeskNote:   acc.NoteSink(),
			ticket.KindZendeskTag:    acc.TagSink(),
			ticket.KindZendeskAssign: acc.AssignSink(),
		},
		routes: map[string]http.Handler{"POST /hooks/zendesk": acc.Handler()},
	}, nil
}

// checkZendesk is `config check --connect` for the zendesk section: the
// credentials work and every group in zendesk.groups exists.
func checkZendesk(ctx context.Context, cfg *config.Config, w io.Writer) []error {
	c := cfg.Zendesk
	if c == nil {
		return nil
	}
	who, problems := zendeskAccount(c, nil, normalize.Limits{}, nil).Check(ctx)
	var errs []error
	for _, p := range problems {
		errs = append(errs, fmt.Errorf("zendesk (%s): %s", c.URL(), p))
	}
	if len(problems) == 0 {
		fmt.Fprintf(w, "zendesk: %s reachable, signed in as %s, %d configured group(s) found\n", c.URL(), who, len(c.Groups))
	}
	return errs
}
