package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/triage-bot/triage/annotate"
	"github.com/triage-bot/triage/extract"
	"github.com/triage-bot/triage/normalize"
	"github.com/triage-bot/triage/pipeline"
	"github.com/triage-bot/triage/route"
	"github.com/triage-bot/triage/ticket"
)

// cmdRules runs `triage rules test`: the same load, normalize, annotate
// and route steps as `triage run`, without storing or acting.
func cmdRules(ctx context.Context, e env, args []string) error {
	if len(args) == 0 || args[0] != "test" {
		return usagef("rules needs a subcommand: test")
	}
	fs := newFlagSet("rules test", e)
	cfgPath := fs.String("config", "", "config file (default: embedded defaults)")
	asJSON := fs.Bool("json", false, "write one JSON object per ticket")
	pos, err := parseFlags(fs, args[1:])
	if err != nil {
		return err
	}
	if len(pos) == 0 {
		return usagef("rules test needs at least one INPUT (mail file, mbox, Maildir, folder, or - for stdin)")
	}
	cfg, err := loadConfig(e, *cfgPath)
	if err != nil {
		return err
	}
	a, err := build(e, cfg, newLogger(cfg.Log, e.stderr))
	if err != nil {
		return err
	}
	failed := 0
	enc := json.NewEncoder(e.stdout)
	for _, p := range pos {
		walkInput(ctx, e, p, nil, func(it inputItem) {
			if it.err != nil {
				failed++
				fmt.Fprintf(e.stderr, "triage rules test: %s: %v\n", it.name, it.err)
				return
			}
			in := pipeline.Incoming{ID: "test:" + it.id, Source: "email", Channel: it.name}
			if it.mail {
				in.Raw = it.r
			} else {
				t, err := normalize.Text(it.name, it.r, normalize.Limits{})
				if err != nil {
					failed++
					fmt.Fprintf(e.stderr, "triage rules test: %s: %v\n", it.name, err)
					return
				}
				in.Ticket, in.Source = t, "file"
			}
			rec, err := a.pipeline.Prepare(in)
			if err != nil {
				failed++
				fmt.Fprintf(e.stderr, "triage rules test: %s: %v\n", it.name, err)
				return
			}
			if *asJSON {
				type action struct {
					Kind    string          `json:"kind"`
					Target  string          `json:"target"`
					Rule    string          `json:"rule"`
					Shadow  bool            `json:"shadow,omitempty"`
					Error   string          `json:"error,omitempty"`
					Payload json.RawMessage `json:"payload,omitempty"`
				}
				var acts []action
				for _, ac := range rec.Actions {
					var p json.RawMessage
					if json.Valid(ac.Payload) {
						p = ac.Payload
					}
					var perr string
					if route.Parked(ac) {
						perr = ac.LastError
					}
					acts = append(acts, action{ac.Kind, ac.Target, ac.Rule, ac.State == ticket.StateShadow, perr, p})
				}
				_ = enc.Encode(map[string]any{"input": it.name, "id": it.id, "subject": rec.Ticket.Subject, "from": rec.Ticket.From,
					"codes": rec.Codes, "category": rec.Category, "rules": rec.Rules, "actions": acts})
				return
			}
			fmt.Fprintf(e.stdout, "%s\n", it.id)
			if rec.Ticket.Subject != "" || rec.Ticket.From != "" {
				fmt.Fprintf(e.stdout, "  from %s, subject %q\n", rec.Ticket.From, oneLine(rec.Ticket.Subject, 70))
			}
			codes := codeLabels(rec.Codes, rec.Annotation)
			fmt.Fprintf(e.stdout, "  codes:    %s (primary category: %s)\n", strings.Join(codes, ", "), orNone(rec.Category))
			fmt.Fprintf(e.stdout, "  rules:    %s\n", strings.Join(rec.Rules, " → "))
			if len(rec.Actions) == 0 {
				fmt.Fprintf(e.stdout, "  actions:  none\n")
			}
			for _, ac := range rec.Actions {
				label := "would run"
				if ac.State == ticket.StateShadow {
					label = "shadow   "
				}
				if route.Parked(ac) {
					// run stores the ticket and parks this action as failed.
					fmt.Fprintf(e.stdout, "  FAILED    %s → %s   [rule %q]: %s\n", ac.Kind, ac.Target, ac.Rule, ac.LastError)
					continue
				}
				fmt.Fprintf(e.stdout, "  %s %s → %s   [rule %q]\n", label, ac.Kind, ac.Target, ac.Rule)
			}
			fmt.Fprintln(e.stdout)
		})
	}
	if failed > 0 {
		return partialError{failed}
	}
	return nil
}

// problemsError heads a list of config problems with how many there
// are, so that each problem gets a line of its own.
func problemsError(err error) error {
	j, ok := err.(interface{ Unwrap() []error })
	if !ok {
		return err
	}
	var n int
	var flat func(errs []error)
	flat = func(errs []error) {
		for _, e := range errs {
			if j, ok := e.(interface{ Unwrap() []error }); ok {
				flat(j.Unwrap())
				continue
			}
			n++
		}
	}
	flat(j.Unwrap())
	if n < 2 {
		return err
	}
	return fmt.Errorf("%d problems:\n%w", n, err)
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

// cmdConfig runs `triage config check|show`.
func cmdConfig(ctx context.Context, e env, args []string) error {
	if len(args) == 0 {
		return usagef("config needs a subcommand: check or show")
	}
	sub := args[0]
	fs := newFlagSet("config "+sub, e)
	cfgPath := fs.String("config", "", "config file (default: embedded defaults)")
	connect := fs.Bool("connect", false, "also connect to the store and check every source")
	pos, err := parseFlags(fs, args[1:])
	if err != nil {
		return err
	}
	if len(pos) == 1 && *cfgPath == "" {
		*cfgPath = pos[0]
	} else if len(pos) > 0 {
		return usagef("config %s takes at most one file", sub)
	}
	switch sub {
	case "show":
		cfg, err := loadConfig(e, *cfgPath)
		if err != nil {
			return err
		}
		fmt.Fprint(e.stdout, cfg.Redacted())
		return nil
	case "check":
	default:
		return usagef("unknown config subcommand %q (want check or show)", sub)
	}
	cfg, a, err := checkConfig(e, *cfgPath)
	if err != nil {
		return problemsError(err)
	}
	if err := configErrors(cfg, a.rules); err != nil {
		return err
	}
	name := cfg.File
	if name == "" {
		name = "embedded defaults"
	}
	sources := len(cfg.Sources.Maildir) + len(cfg.IMAP)
	if cfg.Slack != nil {
		sources++ // one workspace
	}
	fmt.Fprintf(e.stdout, "%s: OK — %d rule(s), %d source(s), %d webhook(s), %d catalog code(s)\n",
		name, len(a.rules.Names()), sources, len(cfg.Webhooks), a.catalog.Len())
	if cfg.SMTP != nil {
		fmt.Fprintf(e.stdout, "smtp: %s\n", cfg.SMTP.ReplyPolicy())
	}
	for _, w := range configWarnings(cfg, a.rules) {
		fmt.Fprintf(e.stderr, "warning: %s\n", w)
	}
	if !*connect {
		return nil
	}
	var errs []error
	st, err := openStore(ctx, cfg)
	if err != nil {
		errs = append(errs, fmt.Errorf("store (%s): %w", cfg.Store.Driver, err))
	} else {
		if _, err := st.CountActions(ctx); err != nil {
			errs = append(errs, fmt.Errorf("store (%s): %w", cfg.Store.Driver, err))
		} else {
			fmt.Fprintf(e.stdout, "store (%s): reachable\n", cfg.Store.Driver)
		}
		st.Close()
	}
	for _, md := range cfg.Sources.Maildir {
		if cfg.SampleMaildir() {
			continue // seeded on first run
		}
		if _, err := os.Stat(md.Path + "/new"); err != nil {
			errs = append(errs, fmt.Errorf("maildir %s: %s has no new/ folder: is it a Maildir? (%v)", md.Name, md.Path, err))
			continue
		}
		fmt.Fprintf(e.stdout, "maildir %s: %s is a Maildir\n", md.Name, md.Path)
	}
	errs = append(errs, checkEmail(ctx, cfg, e.stdout)...)
	errs = append(errs, checkZendesk(ctx, cfg, e.stdout)...)
	errs = append(errs, checkFreshdesk(ctx, cfg, e.stdout)...)
	errs = append(errs, checkFront(ctx, cfg, e.stdout)...)
	errs = append(errs, checkHelpScout(ctx, cfg, e.stdout)...)
	errs = append(errs, checkSlack(ctx, cfg, e.stdout)...)
	return errors.Join(errs...)
}

// codeLabels names a ticket's codes for `rules test`, marking those only
// inferred from the wording or only in quoted history, then the agent
// API's numbers; "none" when there is nothing.
func codeLabels(codes []int, annJSON []byte) []string {
	var ann annotate.Annotation
	var out []string
	if json.Unmarshal(annJSON, &ann) != nil || len(ann.Codes) != len(codes) {
		for _, c := range codes {
			out = append(out, extract.CodeString(c))
		}
	} else {
		for _, c := range ann.Codes {
			label := c.Name
			switch {
			case c.Inferred && c.QuotedOnly:
				label += " (inferred, quoted only)"
			case c.Inferred:
				label += fmt.Sprintf(" (inferred from %q)", c.Phrase)
			case c.QuotedOnly:
				label += " (quoted only)"
			}
			out = append(out, label)
		}
	}
	for _, n := range ann.AgentAPI {
		out = append(out, n.Name+" (agent API, not an ngrok code)")
	}
	if len(out) == 0 {
		out = []string{"none"}
	}
	return out
}
