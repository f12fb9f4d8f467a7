package main

import (
	"context"
	"net/http"

	"github.com/triage-bot/triage/config"
	"github.com/triage-bot/triage/integrations/slack"
	"github.com/triage-bot/triage/outbox"
	"github.com/triage-bot/triage/ticket"
)

// wireSlack wires the Slack integration into triage run: the sinks for
// slack.reply, slack.post and slack.react; in socket mode the Socket Mode
// connection as a worker; in events mode the signed HTTP routes. Nothing
// when the config has no slack section.
func wireSlack(ctx context.Context, d *runDeps) (wiring, error) {
	c := d.cfg.Slack
	if c == nil {
		return wiring{}, nil
	}
	bot := slack.New(slack.Config{
		BotToken: c.BotToken, AppToken: c.AppToken, SigningSecret: c.SigningSecret,
		Channels: c.Channels, TriageChannels: c.TriageChannels, Emoji: c.Emoji, AnswerBots: c.AnswerBots,
		MaxFileBytes: c.MaxFileBytes, Command: c.Command, APIURL: c.APIURL, Limits: d.pipeline.Limits,
		Panicked: func() { d.metrics.Panic("normalize") },
	}, d.pipeline, d.store, d.catalog, d.log.With("integration", "slack"))
	w := wiring{sinks: map[string]outbox.Sink{
		ticket.KindSlackReply: bot.ReplySink(),
		ticket.KindSlackPost:  bot.PostSink(),
		ticket.KindSlackReact: bot.ReactSink(),
	}}
	switch c.Mode {
	case config.SlackEvents:
		w.routes = map[string]http.Handler{
			"POST /slack/events":   bot.EventsHandler(),
			"POST /slack/commands": bot.CommandsHandler(),
		}
	default:
		w.workers = append(w.workers, bot.RunSocket)
	}
	return w, nil
}
