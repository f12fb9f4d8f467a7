package main

import (
	"context"
	"fmt"
	"io"
	"net/http"

	"github.com/triage-bot/triage/config"
	"github.com/triage-bot/triage/integrations/slack"
	"github.com/triage-bot/triage/outbox"
	"github.com/triage-bot/triage/pipeline"
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
	sc := slackSettings(c)
	sc.Limits = d.pipeline.Limits
	sc.SharedStore = d.cfg.Store.Driver == "postgres" // replicas may share it
	sc.Panicked = func() { d.metrics.Panic("normalize") }
	bot := slack.New(sc, d.pipeline, d.store, d.catalog, d.log.With("integration", "slack"))
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
		w.health = append(w.health, func() pipeline.Health {
			ok, since, lastErr := bot.SocketHealth()
			return pipeline.Health{Name: "slack socket mode", LastSuccess: since, LastError: lastErr, Stale: !ok}
		})
	}
	return w, nil
}

// slackSettings is the integration's view of the slack section.
func slackSettings(c *config.Slack) slack.Config {
	return slack.Config{
		BotToken: c.BotToken, AppToken: c.AppToken, SigningSecret: c.SigningSecret,
		Channels: c.Channels, TriageChannels: c.TriageChannels, Emoji: c.Emoji, AnswerBots: c.AnswerBots,
		MaxFileBytes: c.MaxFileBytes, Command: c.Command, APIURL: c.APIURL,
	}
}

// checkSlack is `config check --connect` for Slack: the bot token works
// and the bot is in every configured channel.
func checkSlack(ctx context.Context, cfg *config.Config, stdout io.Writer) []error {
	if cfg.Slack == nil {
		return nil
	}
	ok, err := slack.New(slackSettings(cfg.Slack), nil, nil, nil, nil).Check(ctx)
	for _, line := range ok {
		fmt.Fprintln(stdout, line)
	}
	if err != nil {
		return []error{err}
	}
	return nil
}
