package slack

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	slackapi "github.com/slack-go/slack"
)

// Check is `config check --connect` for Slack: it calls auth.test with
// the bot token and conversations.info for every configured channel
// (read and triage channels), and says for each whether the bot is a
// member. It returns a line per success for the person running it, and
// every problem joined, each naming the channel and what to do.
func (b *Bot) Check(ctx context.Context) (ok []string, err error) {
	id, aerr := b.api.AuthTestContext(ctx)
	if aerr != nil {
		return nil, fmt.Errorf("slack: auth.test: %w", classify("auth.test", aerr))
	}
	ok = append(ok, fmt.Sprintf("slack: signed in as %s (%s) in %s", id.User, id.UserID, id.Team))
	type use struct{ channel, role string }
	var uses []use
	for _, ch := range b.cfg.Channels {
		if ch != "*" {
			uses = append(uses, use{ch, "read"})
		}
	}
	for _, k := range sortedKeys(b.cfg.TriageChannels) {
		ch := b.cfg.TriageChannels[k]
		if !slices.ContainsFunc(uses, func(u use) bool { return u.channel == ch }) {
			uses = append(uses, use{ch, "triage channel for " + k})
		}
	}
	var errs []error
	for _, u := range uses {
		info, cerr := b.api.GetConversationInfoContext(ctx, &slackapi.GetConversationInfoInput{ChannelID: u.channel})
		var se slackapi.SlackErrorResponse
		switch {
		case errors.As(cerr, &se) && se.Err == "channel_not_found":
			errs = append(errs, fmt.Errorf("slack: channel %s (%s): not found: a wrong ID, or a private channel the bot was not invited to (/invite @%s there)", u.channel, u.role, id.User))
		case cerr != nil:
			errs = append(errs, fmt.Errorf("slack: channel %s (%s): conversations.info: %w", u.channel, u.role, classify("conversations.info", cerr)))
		case !info.IsMember:
			errs = append(errs, fmt.Errorf("slack: channel %s (#%s, %s): the bot is not a member (/invite @%s in #%s)", u.channel, info.Name, u.role, id.User, info.Name))
		default:
			ok = append(ok, fmt.Sprintf("slack: channel %s (#%s, %s): the bot is a member", u.channel, info.Name, u.role))
		}
	}
	return ok, errors.Join(errs...)
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// socketState is what /readyz says about the Socket Mode connection.
type socketState struct {
	mu        sync.Mutex
	connected bool
	since     time.Time // when it connected, or when it was lost
	everUp    bool
	lastErr   string
}

func (s *socketState) set(connected bool, now time.Time, err string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.connected != connected || s.since.IsZero() {
		s.since = now
	}
	s.connected = connected
	s.everUp = s.everUp || connected
	if err != "" {
		s.lastErr = err
	}
}

// lost records that a connection that was up went down, with why.
func (s *socketState) lost(now time.Time, why string) {
	s.mu.Lock()
	up := s.connected
	s.mu.Unlock()
	if up {
		s.set(false, now, why)
	}
}

// SocketDown is how long the Socket Mode connection may be down (a
// reconnect after Slack asked for one takes a second or two) before
// /readyz fails.
const SocketDown = 30 * time.Second

// SocketHealth reports the Socket Mode connection for /readyz: ok while
// connected and for SocketDown after it was lost (or RunSocket began),
// not ok after that or before RunSocket, with the last connection error.
// lastUp is now while connected, when it was lost while down, and zero
// when it never connected.
func (b *Bot) SocketHealth() (ok bool, lastUp time.Time, lastErr string) {
	s := &b.socket
	s.mu.Lock()
	defer s.mu.Unlock()
	now := b.now()
	if s.connected {
		return true, now, ""
	}
	if s.everUp {
		lastUp = s.since
	}
	return !s.since.IsZero() && now.Sub(s.since) < SocketDown, lastUp, s.lastErr
}
