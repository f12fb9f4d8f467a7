package main

import (
	"cmp"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/triage-bot/triage/alerts"
	"github.com/triage-bot/triage/config"
	"github.com/triage-bot/triage/integrations/freshdesk"
	"github.com/triage-bot/triage/integrations/front"
	"github.com/triage-bot/triage/integrations/helpscout"
	"github.com/triage-bot/triage/integrations/zendesk"
	"github.com/triage-bot/triage/route"
	"github.com/triage-bot/triage/ticket"
	"github.com/triage-bot/triage/web"
)

// wireDashboard adds the dashboard's routes to the HTTP server and, when
// alert rules are configured, the spike detector as a worker.
func wireDashboard(ctx context.Context, d *runDeps) (wiring, error) {
	var w wiring
	cfg := d.cfg
	if dc, on := dashboardConfig(cfg); on {
		dash, err := web.NewDashboard(dc, d.store, d.log)
		if err != nil {
			return w, err
		}
		w.routes = map[string]http.Handler{}
		for p, h := range dash.Routes() {
			w.routes[p] = h
		}
	}
	if len(cfg.Alerts.Rules) > 0 {
		worker, err := newAlertWorker(cfg, d)
		if err != nil {
			return w, err
		}
		w.workers = append(w.workers, worker.Run)
	}
	return w, nil
}

// dashboardConfig is the dashboard's configuration, and whether it is
// served at all. run builds the dashboard from it; build checks it, so
// `config check` refuses what run would.
func dashboardConfig(cfg *config.Config) (web.DashboardConfig, bool) {
	if !cfg.Dashboard.On() || cfg.HTTP.Listen == "off" {
		return web.DashboardConfig{}, false
	}
	host, _, _ := net.SplitHostPort(cfg.HTTP.Listen)
	// Without credentials of its own, the dashboard accepts the API
	// tokens (required on a non-loopback address anyway).
	tokens := []string{cfg.Dashboard.Token}
	if cfg.Dashboard.Token == "" && cfg.Dashboard.Password == "" {
		tokens = cfg.APITokens()
	}
	return web.DashboardConfig{
		RequireAuth: !loopbackHost(host),
		Tokens:      tokens,
		Username:    cfg.Dashboard.Username,
		Password:    cfg.Dashboard.Password,
		CSRFKey:     csrfKey(cfg.Dashboard, tokens),
		SessionTTL:  cfg.Dashboard.SessionTTL,
		LoginLimit:  cfg.Dashboard.LoginLimit,
		TicketLink:  ticketLink(cfg),
	}, true
}

// helpdeskPage builds a ticket's page URL for the tickets whose ID starts
// with prefix.
type helpdeskPage struct {
	prefix, label string
	url           func(id string) string
}

// ticketLink is the dashboard's link from a ticket to its page in the
// helpdesk it came from, for each helpdesk section configured; nil when
// there is none. A ticket of another account (a section since changed)
// gets no link rather than a wrong one.
func ticketLink(cfg *config.Config) func(ticket.Ticket) (string, string) {
	var pages []helpdeskPage
	if c := cfg.Zendesk; c != nil {
		base := c.URL()
		pages = append(pages, helpdeskPage{"zendesk:" + c.Subdomain + "/", "Zendesk", func(id string) string { return zendesk.TicketURL(base, id) }})
	}
	if c := cfg.Freshdesk; c != nil {
		desk := freshdesk.New(freshdeskConfig(c), nil, nil, nil)
		pages = append(pages, helpdeskPage{"freshdesk:" + c.Domain + "/", "Freshdesk", desk.TicketURL})
	}
	if c := cfg.Front; c != nil {
		pages = append(pages, helpdeskPage{"front:" + cmp.Or(c.Account, config.DefaultFrontAccount) + "/", "Front", front.TicketURL})
	}
	if c := cfg.HelpScout; c != nil {
		pages = append(pages, helpdeskPage{"helpscout:", "Help Scout", helpscout.TicketURL})
	}
	if len(pages) == 0 {
		return nil
	}
	return func(t ticket.Ticket) (string, string) {
		for _, p := range pages {
			if strings.HasPrefix(t.ID, p.prefix) {
				if u := p.url(t.ID); u != "" {
					return p.label, u
				}
			}
		}
		return "", ""
	}
}

// alertRules compiles the alert rules and their actions; build calls it
// so that `config check` reports what run would refuse.
func alertRules(cfg *config.Config) ([]alerts.Rule, map[string]*route.Rules, error) {
	var (
		rules []alerts.Rule
		errs  []error
	)
	actions := map[string]*route.Rules{}
	for i, r := range cfg.Alerts.Rules {
		at := fmt.Sprintf("alerts.rules[%d]", i)
		codes, err := r.CodeNumbers()
		if err != nil {
			errs = append(errs, cfg.Problemf(at+".codes", "%v", err))
			continue
		}
		node, err := r.RoutesNode()
		if err != nil {
			errs = append(errs, cfg.Problemf(at+".actions", "%v", err))
			continue
		}
		compiled, err := route.Compile(cfg.File+" alerts rule "+r.Name, node, route.Options{})
		if err != nil {
			errs = append(errs, cfg.Problemf(at+".actions", "%v", err))
			continue
		}
		actions[r.Name] = compiled
		rules = append(rules, alerts.Rule{Name: r.Name, Per: alerts.Per(r.Per), Codes: codes, Categories: r.Categories,
			Threshold: r.Threshold, Window: r.Window, Quiet: r.Quiet})
	}
	return rules, actions, errors.Join(errs...)
}

// newAlertWorker compiles the alert rules' actions and builds the worker.
func newAlertWorker(cfg *config.Config, d *runDeps) (*alerts.Worker, error) {
	rules, actions, err := alertRules(cfg)
	if err != nil {
		return nil, err
	}
	var lookback time.Duration
	for _, r := range rules {
		lookback = max(lookback, r.Window)
	}
	return &alerts.Worker{
		Detector: alerts.NewDetector(rules),
		Recorder: alerts.NewRecorder(d.catalog, actions),
		Store:    d.store,
		Holder:   d.holder,
		Poll:     cfg.Alerts.Poll,
		Lookback: lookback,
		Log:      d.log,
		Panicked: func() { d.metrics.Panic("alerts") },
	}, nil
}

// csrfKey derives the dashboard's CSRF key from its secrets, so replicas
// behind one Service accept each other's forms; nil (a random key per
// process) when there are none.
func csrfKey(c config.Dashboard, tokens []string) []byte {
	secret := strings.Join(tokens, "\x00") + "\x00" + c.Username + "\x00" + c.Password
	if strings.Trim(secret, "\x00") == "" {
		return nil
	}
	h := sha256.Sum256([]byte("triage-csrf\x00" + secret))
	return h[:]
}

func loopbackHost(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
