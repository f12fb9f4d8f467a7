package main

import (
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"

	"github.com/triage-bot/triage/catalog"
	"github.com/triage-bot/triage/config"
	"github.com/triage-bot/triage/internal/confine"
	"github.com/triage-bot/triage/route"
	"github.com/triage-bot/triage/ticket"
)

// configWarnings lists what cfg allows but is risky or will not work:
// path targets built from customer-written fields (a sender or subject
// then chooses the file name), path targets outside data_dir and
// allowed_dirs (every such action would be parked), a server
// reachable from other machines that answers to no public host name, and
// email replies to senders nobody authenticated.
// `config check` prints them; `run` logs them.
func configWarnings(cfg *config.Config, rules *route.Rules) []string {
	var out []string
	dirs := confine.New(append([]string{cfg.DataDir}, cfg.AllowedDirs...)...)
	for _, pt := range rules.PathTargets() {
		where := fmt.Sprintf("%s:%d: rule %q", pt.File, pt.Line, pt.Rule)
		if len(pt.CustomerFields) > 0 {
			out = append(out, fmt.Sprintf("%s: the jsonl target %q is built from %s, which the customer writes: a file name chosen by a sender is refused when it leaves data_dir (%s) or allowed_dirs, and otherwise lands where the sender said (build paths from .Primary, .Codes or .Rule instead)",
				where, pt.Target, strings.Join(pt.CustomerFields, ", "), cfg.DataDir))
		}
		if !pt.Template && !dirs.Holds(pt.Target) {
			out = append(out, fmt.Sprintf("%s: the jsonl target %q is outside data_dir (%s) and allowed_dirs, so every such action will be parked (move it, or add its directory to allowed_dirs)",
				where, pt.Target, cfg.DataDir))
		}
	}
	if s := cfg.SMTP; s != nil && !s.SenderAuthRequired() {
		out = append(out, fmt.Sprintf("smtp.require_sender_auth is false: email.reply answers any From address, so mail with a forged sender makes the bot write to strangers (up to %d replies an hour); set auth_serv_id to your receiving server's name in Authentication-Results and drop require_sender_auth: false if it writes one", s.RepliesPerHour))
	}
	if l := cfg.HTTP.Listen; l != "off" && len(cfg.HTTP.PublicHosts) == 0 {
		if host, _, err := net.SplitHostPort(l); err == nil && host != "localhost" && !isLoopbackIP(host) {
			out = append(out, fmt.Sprintf("http.listen %q is reachable from other machines, but http.public_hosts is empty: only requests that say Host: localhost (or 127.0.0.1) are answered, others get 421 (list the names clients use)", l))
		}
	}
	return out
}

// configErrors lists what cfg and its rules say that cannot work, which
// `config check` and `run` refuse rather than leave to the first
// delivery: slack.post or slack.react actions whose target is "auto"
// (or a category) while slack.triage_channels or slack.emoji maps no
// category to a channel or an emoji.
func configErrors(cfg *config.Config, rules *route.Rules) error {
	var errs []error
	slackMaps := []struct {
		kind, key string
		m         map[string]string
		what      string
	}{
		{ticket.KindSlackPost, "slack.triage_channels", nil, "channel ID"},
		{ticket.KindSlackReact, "slack.emoji", nil, "emoji name"},
	}
	if cfg.Slack != nil {
		slackMaps[0].m, slackMaps[1].m = cfg.Slack.TriageChannels, cfg.Slack.Emoji
	}
	for _, sm := range slackMaps {
		for _, at := range rules.Targets(sm.kind) {
			if at.Template || cfg.Slack == nil {
				continue
			}
			target := strings.Trim(strings.TrimPrefix(at.Target, "#"), ":")
			_, mapped := sm.m[target]
			switch {
			case (target == "" || target == "auto") && len(sm.m) == 0:
				errs = append(errs, fmt.Errorf("%s:%d: rule %q: the %s target %q picks by category, but %s is empty (map categories, or default, to a %s)",
					at.File, at.Line, at.Rule, sm.kind, at.Target, sm.key, sm.what))
			case slices.Contains(catalog.Categories(), catalog.Category(target)) && !mapped:
				errs = append(errs, fmt.Errorf("%s:%d: rule %q: the %s target %q is a category that %s does not map to a %s",
					at.File, at.Line, at.Rule, sm.kind, at.Target, sm.key, sm.what))
			}
		}
	}
	return errors.Join(errs...)
}

func isLoopbackIP(host string) bool {
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
