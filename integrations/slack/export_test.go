package slack

import (
	"time"

	"github.com/triage-bot/triage/normalize"
	"github.com/triage-bot/triage/ticket"
)

// SetReader replaces the message normalizer, to test what happens when it
// panics.
func SetReader(b *Bot, read func(normalize.SlackInput, normalize.Limits) *ticket.Ticket) {
	b.read = read
}

// SetNow replaces the bot's clock.
func SetNow(b *Bot, now func() time.Time) { b.now = now }
