package config

import (
	"regexp"
	"slices"
	"strings"
)

// This file belongs to the Slack integration; see issue "Slack integration".

// Slack connection modes.
const (
	// SlackSocket receives events over a Socket Mode websocket (no public
	// URL needed; needs the app-level token).
	SlackSocket = "socket"
	// SlackEvents receives events as signed HTTP requests on
	// POST /slack/events and POST /slack/commands (needs the signing secret
	// and a public URL).
	SlackEvents = "events"
)

// Slack defaults.
const (
	// DefaultSlackMaxFileBytes caps one fetched .log/.txt file or snippet.
	DefaultSlackMaxFileBytes = 1 << 20
	// DefaultSlackCommand is the slash command the bot answers.
	DefaultSlackCommand = "/ngrok-error"
	// DefaultSlackAPIURL is Slack's Web API base URL.
	DefaultSlackAPIURL = "https://slack.com/api/"
)

// Slack connects the bot to one Slack workspace.
type Slack struct {
	// BotToken is the bot user OAuth token (xoxb-…), a secret.
	BotToken     string `yaml:"bot_token"`
	BotTokenFile string `yaml:"bot_token_file"`
	// AppToken is the app-level token (xapp-…) with connections:write,
	// needed for Socket Mode; a secret.
	AppToken     string `yaml:"app_token"`
	AppTokenFile string `yaml:"app_token_file"`
	// SigningSecret verifies Events API and slash command requests in
	// events mode; a secret.
	SigningSecret     string `yaml:"signing_secret"`
	SigningSecretFile string `yaml:"signing_secret_file"`
	// Mode is "socket" (default) or "events".
	Mode string `yaml:"mode"`
	// Channels are the IDs of the channels whose messages become tickets
	// (C0123456789); "*" reads every channel the bot is in. Messages from
	// other channels are ignored.
	Channels []string `yaml:"channels"`
	// TriageChannels maps a category (agent-auth, …, or "default") to the
	// channel ID where slack.post actions whose target is that category, or
	// "auto", are posted.
	TriageChannels map[string]string `yaml:"triage_channels"`
	// Emoji maps a category (or "default") to the emoji name, without
	// colons, that slack.react actions whose target is that category, or
	// "auto", add.
	Emoji map[string]string `yaml:"emoji"`
	// AnswerBots makes messages from other bots (bot_message) tickets too.
	// The bot's own messages are always ignored. Default false.
	AnswerBots bool `yaml:"answer_bots"`
	// MaxFileBytes caps one fetched .log/.txt file or text snippet; longer
	// files are cut there. Default 1 MiB.
	MaxFileBytes int64 `yaml:"max_file_bytes"`
	// Command is the slash command answered with a code's explanation.
	// Default "/ngrok-error".
	Command string `yaml:"command"`
	// APIURL is the Web API base URL, ending in "/". Default
	// "https://slack.com/api/"; tests point it at a fake.
	APIURL string `yaml:"api_url"`
}

var slackChannelRE = regexp.MustCompile(`^[CGD][A-Z0-9]{2,}$`)

var slackEmojiRE = regexp.MustCompile(`^[a-z0-9_+'-]+$`)

// slackCategoryKeys are the keys triage_channels and emoji accept.
func slackCategoryKeys() []string {
	return []string{"agent-auth", "upstream-gateway", "limits-billing", "abuse-trust", "domains-tls",
		"identity-login", "api-config", "platform-incident", "unknown", "default"}
}

func (c *Config) validateSlack(bad func(format string, args ...any)) {
	s := c.Slack
	if s == nil {
		return
	}
	if s.BotToken == "" {
		bad("slack.bot_token: required (bot_token: ${SLACK_BOT_TOKEN} or bot_token_file; the xoxb-… token from the app's OAuth page)")
	} else if !strings.HasPrefix(s.BotToken, "xoxb-") {
		bad("slack.bot_token: does not look like a bot token (it should start with xoxb-)")
	}
	switch s.Mode {
	case SlackSocket:
		if s.AppToken == "" {
			bad("slack.app_token: socket mode needs the app-level token (app_token: ${SLACK_APP_TOKEN} or app_token_file; create one with connections:write under Basic Information)")
		} else if !strings.HasPrefix(s.AppToken, "xapp-") {
			bad("slack.app_token: does not look like an app-level token (it should start with xapp-)")
		}
	case SlackEvents:
		if s.SigningSecret == "" {
			bad("slack.signing_secret: events mode needs the signing secret (signing_secret: ${SLACK_SIGNING_SECRET} or signing_secret_file; from the app's Basic Information page)")
		}
		if c.HTTP.Listen == "off" {
			bad("slack.mode: events mode receives Slack's requests on the HTTP server, but http.listen is off")
		}
	default:
		bad("slack.mode: %q is neither socket nor events", s.Mode)
	}
	if len(s.Channels) == 0 {
		bad("slack.channels: list the channel IDs to read (C0123456789), or \"*\" for every channel the bot is in")
	}
	for i, ch := range s.Channels {
		if ch != "*" && !slackChannelRE.MatchString(ch) {
			bad("slack.channels[%d]: %q is not a channel ID (C0123456789; find it under the channel's name → About)", i, ch)
		}
	}
	for _, k := range sortedKeys(s.TriageChannels) {
		if !slices.Contains(slackCategoryKeys(), k) {
			bad("slack.triage_channels: %q is not a category (one of %s)", k, strings.Join(slackCategoryKeys(), ", "))
		}
		if !slackChannelRE.MatchString(s.TriageChannels[k]) {
			bad("slack.triage_channels.%s: %q is not a channel ID (C0123456789)", k, s.TriageChannels[k])
		}
	}
	for _, k := range sortedKeys(s.Emoji) {
		if !slices.Contains(slackCategoryKeys(), k) {
			bad("slack.emoji: %q is not a category (one of %s)", k, strings.Join(slackCategoryKeys(), ", "))
		}
		if !slackEmojiRE.MatchString(s.Emoji[k]) {
			bad("slack.emoji.%s: %q is not an emoji name (lower case, without colons, e.g. eyes)", k, s.Emoji[k])
		}
	}
	if s.MaxFileBytes < 0 {
		bad("slack.max_file_bytes: must not be negative")
	}
	if !strings.HasPrefix(s.Command, "/") {
		bad("slack.command: %q must start with /", s.Command)
	}
	if !strings.HasSuffix(s.APIURL, "/") || !strings.HasPrefix(s.APIURL, "https://") && !strings.HasPrefix(s.APIURL, "http://") {
		bad("slack.api_url: %q must be an http(s) URL ending in /", s.APIURL)
	}
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// redactSlack replaces this section's secrets in a copy being printed.
func (c *Config) redactSlack(hide func(string) string) {
	if c.Slack == nil {
		return
	}
	cp := *c.Slack // c is a shallow copy: never change the original's section
	cp.BotToken = hide(cp.BotToken)
	cp.AppToken = hide(cp.AppToken)
	cp.SigningSecret = hide(cp.SigningSecret)
	c.Slack = &cp
}

// readSlackSecrets fills secrets from their *_file siblings.
func (c *Config) readSlackSecrets(read func(field, path string, dst *string)) {
	if c.Slack == nil {
		return
	}
	read("slack.bot_token_file", c.Slack.BotTokenFile, &c.Slack.BotToken)
	read("slack.app_token_file", c.Slack.AppTokenFile, &c.Slack.AppToken)
	read("slack.signing_secret_file", c.Slack.SigningSecretFile, &c.Slack.SigningSecret)
}

// defaultsSlack applies this section's defaults.
func (c *Config) defaultsSlack() {
	s := c.Slack
	if s == nil {
		return
	}
	if s.Mode == "" {
		s.Mode = SlackSocket
	}
	if s.MaxFileBytes == 0 {
		s.MaxFileBytes = DefaultSlackMaxFileBytes
	}
	if s.Command == "" {
		s.Command = DefaultSlackCommand
	}
	if s.APIURL == "" {
		s.APIURL = DefaultSlackAPIURL
	}
}
