package main

import (
	"context"
	"fmt"
	"io"
	"net/http"

	"github.com/triage-bot/triage/config"
	"github.com/triage-bot/triage/integrations/front"
	"github.com/triage-bot/triage/outbox"
	"github.com/triage-bot/triage/ticket"
)

// frontConfig maps the config section to the integration's Config.
func frontConfig(c *config.Front) front.Config {
	return front.Config{APIURL: c.APIURL, Token: c.APIToken, WebhookSecret: c.WebhookSecret, Account: c.Account,
		Assignees: c.Assignees, AuthorID: c.AuthorID, MaxAge: c.MaxAge}
}

// wireFront wires the Front integration into triage run: the signed
// webhook route POST /hooks/front and the sinks for front.note, front.tag
// and front.assign. Nothing when the config has no front section.
func wireFront(_ context.Context, d *runDeps) (wiring, error) {
	c := d.cfg.Front
	if c == nil {
		return wiring{}, nil
	}
	fc := frontConfig(c)
	fc.Limits = d.pipeline.Limits
	cl := front.New(fc, d.pipeline, d.log.With("integration", "front"))
	return wiring{
		sinks: map[string]outbox.Sink{
			ticket.KindFrontNote:   cl.NoteSink(),
			ticket.KindFrontTag:    cl.TagSink(),
			ticket.KindFrontAssign: cl.AssignSink(),
		},
		routes: map[string]http.Handler{"POST /hooks/front": cl.Handler()},
	}, nil
}

// checkFront is `config check --connect` for the front section: it
// verifies the API token and that every teammate and inbox named in
// front.assignees exists, naming what is missing.
func checkFront(ctx context.Context, cfg *config.Config, w io.Writer) []error {
	if cfg.Front == nil {
		return nil
	}
	name, problems := front.New(frontConfig(cfg.Front), nil, nil).Check(ctx)
	var errs []error
	for _, p := range problems {
		errs = append(errs, fmt.Errorf("front (%s): %s", cfg.Front.APIURL, p))
	}
	if len(problems) == 0 {
		fmt.Fprintf(w, "front: token OK for %s, %d assignee(s) found, tags readable\n", name, len(cfg.Front.Assignees))
	}
	return errs
}
