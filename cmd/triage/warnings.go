package main

import (
	"fmt"
	"net"
	"strings"

	"github.com/triage-bot/triage/config"
	"github.com/triage-bot/triage/internal/confine"
	"github.com/triage-bot/triage/route"
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

func isLoopbackIP(host string) bool {
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
