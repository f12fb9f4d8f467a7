package main

import (
	"context"
	"fmt"
	"io"
	"net/http"

	"github.com/triage-bot/triage/config"
	"github.com/triage-bot/triage/integrations/helpscout"
	"github.com/triage-bot/triage/outbox"
	"github.com/triage-bot/triage/ticket"
)

// helpScoutConfig is the integration's view of the config section.
func helpScoutConfig(c *config.HelpScout) helpscout.Config {
	return helpscout.Config{AppID: c.AppID, AppSecret: c.AppSecret, WebhookSecret: c.WebhookSecret, APIURL: c.APIURL,
		Assignees: c.Assignees, Inboxes: c.Inboxes, NoteUser: c.NoteUser, MaxBodyBytes: c.MaxBodyBytes}
}

// wireHelpScout wires the Help Scout integration into triage run: the
// sinks for helpscout.note, helpscout.tag and helpscout.assign, and the
// signed webhook route POST /hooks/helpscout. Nothing when the config has
// no helpscout section.
func wireHelpScout(_ context.Context, d *runDeps) (wiring, error) {
	c := d.cfg.HelpScout
	if c == nil {
		return wiring{}, nil
	}
	cfg := helpScoutConfig(c)
	cfg.Limits = d.pipeline.Limits
	cfg.Panicked = func() { d.metrics.Panic("normalize") }
	hd := helpscout.New(cfg, d.pipeline, d.store, d.log.With("integration", "helpscout"))
	return wiring{
		sinks: map[string]outbox.Sink{
			ticket.KindHelpScoutNote:   hd.NoteSink(),
			ticket.KindHelpScoutTag:    hd.TagSink(),
			ticket.KindHelpScoutAssign: hd.AssignSink(),
		},
		routes: map[string]http.Handler{"POST /hooks/helpscout": hd.WebhookHandler()},
	}, nil
}

// checkHelpScout is `config check --connect` for the helpscout section:
// it fetches a token with the app's credentials and checks that the
// configured inboxes, assignees and note user exist, naming what is
// missing.
func checkHelpScout(ctx context.Context, cfg *config.Config, w io.Writer) []error {
	c := cfg.HelpScout
	if c == nil {
		return nil
	}
	who, problems := helpscout.New(helpScoutConfig(c), nil, nil, nil).Check(ctx)
	var errs []error
	for _, p := range problems {
		errs = append(errs, fmt.Errorf("helpscout (%s): %s", c.APIURL, p))
	}
	if len(problems) == 0 {
		fmt.Fprintf(w, "helpscout: credentials OK as %s; %d inbox(es) and %d assignee(s) found\n", who, len(c.Inboxes), len(c.Assignees))
	}
	return errs
}
