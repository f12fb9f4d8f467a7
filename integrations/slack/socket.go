package slack

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"time"

	slackapi "github.com/slack-go/slack"
	"github.com/slack-go/slack/socketmode"
)

// RunSocket receives events over Socket Mode until ctx is done. Each
// envelope is stored first and acknowledged after; an envelope whose
// storing failed is not acknowledged, so Slack delivers it again.
// Dropped connections and disconnect requests reconnect, with backoff
// and jitter when connecting fails.
func (b *Bot) RunSocket(ctx context.Context) error {
	b.socket.set(false, b.now(), "")
	if _, err := b.identity(ctx); err != nil {
		b.log.Error("slack: cannot reach Slack; will keep trying", "err", err)
	}
	delay := time.Second
	for ctx.Err() == nil {
		start := time.Now()
		err := b.runSocketOnce(ctx)
		if ctx.Err() != nil {
			return nil
		}
		msg := "the connection ended"
		if err != nil {
			msg = err.Error()
		}
		b.socket.set(false, b.now(), msg)
		if time.Since(start) > time.Minute {
			delay = time.Second
		}
		b.log.Warn("slack: socket mode connection ended; reconnecting", "err", err, "retry_in", delay)
		t := time.NewTimer(time.Duration(float64(delay) * (0.5 + rand.Float64())))
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
		delay = min(2*delay, time.Minute)
	}
	return nil
}

func (b *Bot) runSocketOnce(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	client := socketmode.New(b.api)
	done := make(chan error, 1)
	go func() {
		defer func() {
			if p := recover(); p != nil {
				done <- fmt.Errorf("socket mode client panicked: %v", p)
			}
		}()
		done <- client.RunContext(ctx)
	}()
	for {
		select {
		case err := <-done:
			return err
		case evt, ok := <-client.Events:
			if !ok {
				return nil
			}
			b.socketEvent(ctx, client, evt)
		}
	}
}

func (b *Bot) socketEvent(ctx context.Context, client *socketmode.Client, evt socketmode.Event) {
	defer func() {
		if p := recover(); p != nil {
			// Not acknowledged: Slack retries a few times, then gives up.
			b.log.Error("slack: handling an event panicked; left unacknowledged", "type", string(evt.Type), "panic", p)
		}
	}()
	switch evt.Type {
	case socketmode.EventTypeConnected:
		b.log.Info("slack: socket mode connected")
		b.socket.set(true, b.now(), "")
	case socketmode.EventTypeConnecting:
		b.socket.lost(b.now(), "the connection was lost; reconnecting")
	case socketmode.EventTypeDisconnect:
		b.socket.set(false, b.now(), "Slack asked to reconnect")
	case socketmode.EventTypeConnectionError:
		if e, ok := evt.Data.(*slackapi.ConnectionErrorEvent); ok {
			b.log.Warn("slack: socket mode connection failed; retrying", "attempt", e.Attempt, "retry_in", e.Backoff, "err", e.ErrorObj)
			b.socket.set(false, b.now(), fmt.Sprint(e.ErrorObj))
		}
	case socketmode.EventTypeInvalidAuth:
		b.log.Error("slack: the app-level token was refused (check slack.app_token; it needs connections:write)")
		b.socket.set(false, b.now(), "the app-level token was refused (check slack.app_token)")
	case socketmode.EventTypeEventsAPI:
		if evt.Request != nil {
			b.envelope(ctx, client, evt.Request)
		}
	case socketmode.EventTypeErrorBadMessage:
		// slackevents could not parse an inner event it does not know;
		// read the envelope ourselves rather than lose it.
		if bad, ok := evt.Data.(*socketmode.ErrorBadMessage); ok {
			var req socketmode.Request
			if json.Unmarshal(bad.Message, &req) == nil && req.Type == socketmode.RequestTypeEventsAPI && req.EnvelopeID != "" {
				b.envelope(ctx, client, &req)
			}
		}
	case socketmode.EventTypeSlashCommand:
		cmd, ok := evt.Data.(slackapi.SlashCommand)
		if !ok || evt.Request == nil {
			return
		}
		resp := b.Command(cmd.Text)
		if err := client.AckCtx(ctx, evt.Request.EnvelopeID, resp); err != nil {
			b.log.Warn("slack: ack slash command", "err", err)
		}
	}
}

// envelope stores one events_api envelope, then acks it.
func (b *Bot) envelope(ctx context.Context, client *socketmode.Client, req *socketmode.Request) {
	if err := b.HandleEvent(ctx, req.Payload); err != nil {
		b.log.Error("slack: event not stored; left unacknowledged for Slack to deliver again", "envelope_id", req.EnvelopeID, "err", err)
		return
	}
	if err := client.AckCtx(ctx, req.EnvelopeID, nil); err != nil {
		b.log.Warn("slack: ack event", "envelope_id", req.EnvelopeID, "err", err)
	}
}
