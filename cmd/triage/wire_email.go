package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"time"

	"github.com/triage-bot/triage/config"
	"github.com/triage-bot/triage/integrations/imap"
	"github.com/triage-bot/triage/integrations/smtp"
	"github.com/triage-bot/triage/outbox"
	"github.com/triage-bot/triage/pipeline"
	"github.com/triage-bot/triage/store"
	"github.com/triage-bot/triage/ticket"
)

// wireEmail wires the email integration into triage run: one source (and
// one IDLE watcher) per configured mailbox, the imap.flag and imap.move
// sinks when there is an account, and email.reply / email.forward when
// smtp is configured. Nothing at all when neither is.
func wireEmail(ctx context.Context, d *runDeps) (wiring, error) {
	var w wiring
	cfg := d.cfg
	if len(cfg.IMAP) > 0 {
		var accts []imap.Account
		for _, c := range cfg.IMAP {
			a := imapAccount(c)
			tok, err := oauthToken(c.Name, &c.MailServer, d.store)
			if err != nil {
				return w, fmt.Errorf("imap %s: %w", c.Name, err)
			}
			if tok != nil {
				a.Token = tok
			}
			accts = append(accts, a)
			for _, box := range a.Mailboxes {
				src := imap.NewSource(a, box, d.store, d.log)
				spec := pipeline.SourceSpec{Source: src, Interval: c.Poll, StaleAfter: c.StaleAfter}
				if a.Idle && !d.once {
					watcher := imap.NewWatcher(a, box, d.log)
					spec.Wake = watcher.Wake()
					w.workers = append(w.workers, watcher.Run)
				}
				w.sources = append(w.sources, spec)
				w.closers = append(w.closers, src.Close)
			}
		}
		acts := imap.NewActions(accts, d.store, d.log)
		w.sinks = map[string]outbox.Sink{
			ticket.KindIMAPFlag: acts.FlagSink(),
			ticket.KindIMAPMove: acts.MoveSink(),
		}
		w.closers = append(w.closers, acts.Close)
	}
	if s := cfg.SMTP; s != nil {
		sc := smtpConfig(s)
		sc.Holder, sc.Metrics = d.holder, d.metrics
		tok, err := oauthToken("smtp", &s.MailServer, d.store)
		if err != nil {
			return w, fmt.Errorf("smtp: %w", err)
		}
		if tok != nil {
			sc.Token = tok
		}
		sink, err := smtp.New(sc, d.store, d.log)
		if err != nil {
			return w, err
		}
		d.log.Info("smtp: reply policy", "policy", s.ReplyPolicy())
		if w.sinks == nil {
			w.sinks = map[string]outbox.Sink{}
		}
		w.sinks[ticket.KindEmailReply] = sink.ReplySink()
		w.sinks[ticket.KindEmailForward] = sink.ForwardSink()
	}
	return w, nil
}

// imapAccount turns a config section into the integration's account.
func imapAccount(c config.IMAPAccount) imap.Account {
	return imap.Account{
		Name: c.Name, Host: c.Host, TLS: c.TLS, InsecureSkipVerify: c.InsecureSkipVerify,
		Username: c.Username, Password: c.Password, Auth: c.Auth, Token: tokenSource(c.TokenCommand, c.TokenFile),
		Mailboxes: c.Mailboxes, Idle: c.IdleEnabled(), ReIdle: c.ReIdle, Noop: c.Noop, Timeout: c.Timeout,
		StartDate: c.StartDate, Backfill: c.Backfill, MaxMessageBytes: c.MaxMessageBytes, Batch: c.Batch, Inflight: c.Inflight,
		Triaged: c.Keywords.Triaged, Folders: c.Folders, CreateFolders: c.CreateFolders, ActionConns: c.ActionConnections,
	}
}

func smtpConfig(s *config.SMTP) smtp.Config {
	return smtp.Config{
		Host: s.Host, TLS: s.TLS, InsecureSkipVerify: s.InsecureSkipVerify, Username: s.Username, Password: s.Password,
		Auth: s.Auth, Token: tokenSource(s.TokenCommand, s.TokenFile), From: s.From, BotAddresses: s.BotAddresses,
		ReplyWindow: s.ReplyWindow, Timeout: s.Timeout,
		RepliesPerHour: s.RepliesPerHour, RepliesPerDomain: s.RepliesPerDomainPerHour,
		AuthServID: s.AuthServID, AllowUnauthenticated: !s.SenderAuthRequired(),
	}
}

// tokenSource returns a function that reads a fresh OAuth access token
// from a command's output (run without a shell, 30 s at most) or a file;
// nil when neither is configured.
func tokenSource(command []string, file string) func(context.Context) (string, error) {
	switch {
	case len(command) > 0:
		return func(ctx context.Context) (string, error) {
			ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
			defer cancel()
			var stderr bytes.Buffer
			cmd := exec.CommandContext(ctx, command[0], command[1:]...)
			cmd.Stderr = &stderr
			out, err := cmd.Output()
			if err != nil {
				// stderr may help; the token (stdout) is never shown.
				return "", fmt.Errorf("token_command %s: %w: %s", command[0], err, oneLine(stderr.String(), 200))
			}
			tok := strings.TrimSpace(string(out))
			if tok == "" {
				return "", fmt.Errorf("token_command %s printed no token", command[0])
			}
			return tok, nil
		}
	case file != "":
		return func(context.Context) (string, error) {
			b, err := os.ReadFile(file)
			if err != nil {
				return "", fmt.Errorf("token_file: %w", err)
			}
			tok := strings.TrimSpace(string(b))
			if tok == "" {
				return "", fmt.Errorf("token_file %s is empty", file)
			}
			return tok, nil
		}
	}
	return nil
}

// checkEmail is `config check --connect` for the email section: it logs
// in to every IMAP account and the SMTP server and reports what would
// keep the bot from working well there, in plain words. Missing IDLE or
// MOVE is a printed warning; what stops the bot is returned.
func checkEmail(ctx context.Context, cfg *config.Config, w io.Writer) []error {
	var errs []error
	var st store.Store // opened for the first account with oauth2
	defer func() {
		if st != nil {
			st.Close()
		}
	}()
	for _, c := range cfg.IMAP {
		a := imapAccount(c)
		if c.OAuth2 != nil {
			if st == nil {
				var err error
				if st, err = openStore(ctx, cfg); err != nil {
					errs = append(errs, fmt.Errorf("imap %s: oauth2: the token is in the store, which did not open: %w", c.Name, err))
					continue
				}
			}
			tok, err := oauthToken(c.Name, &c.MailServer, st)
			if err != nil {
				errs = append(errs, fmt.Errorf("imap %s: %w", c.Name, err))
				continue
			}
			a.Token = tok
		}
		problems := imap.Check(ctx, a)
		if len(problems) == 0 {
			fmt.Fprintf(w, "imap %s: %s reachable, login OK, IDLE and MOVE supported, mailboxes %s open\n", c.Name, c.Host, strings.Join(c.Mailboxes, ", "))
			continue
		}
		for _, p := range problems {
			// Missing IDLE or MOVE costs speed; these stop the bot.
			fatal := strings.HasPrefix(p, "auth failed") || strings.HasPrefix(p, "cannot connect") ||
				strings.HasPrefix(p, "mailbox ") || strings.HasPrefix(p, "no MOVE and no UIDPLUS") ||
				(strings.HasPrefix(p, "folder ") && !strings.Contains(p, " will be created "))
			if fatal {
				errs = append(errs, fmt.Errorf("imap %s (%s): %s", c.Name, c.Host, p))
			} else if strings.Contains(p, " will be created ") {
				fmt.Fprintf(w, "imap %s (%s): %s\n", c.Name, c.Host, p)
			} else {
				fmt.Fprintf(w, "imap %s (%s): warning: %s\n", c.Name, c.Host, p)
			}
		}
	}
	if c := cfg.SMTP; c != nil {
		sink, err := smtp.New(smtpConfig(c), nil, nil)
		if err != nil {
			return append(errs, err)
		}
		problems := sink.Check(ctx)
		for _, p := range problems {
			errs = append(errs, fmt.Errorf("smtp (%s): %s", c.Host, p))
		}
		if len(problems) == 0 {
			fmt.Fprintf(w, "smtp: %s reachable, login OK\n", c.Host)
		}
	}
	return errs
}
