package config

// This file belongs to the Slack integration; see issue "Slack integration".

// Slack connects the bot to one Slack workspace.
type Slack struct {
	// BotToken is the bot user OAuth token (xoxb-…), a secret.
	BotToken string `yaml:"bot_token"`
}

func (c *Config) validateSlack(bad func(format string, args ...any)) {}

// redactSlack replaces this section's secrets in a copy being printed.
func (c *Config) redactSlack(hide func(string) string) {}

// readSlackSecrets fills secrets from their *_file siblings.
func (c *Config) readSlackSecrets(read func(field, path string, dst *string)) {}

// defaultsSlack applies this section's defaults.
func (c *Config) defaultsSlack() {}
