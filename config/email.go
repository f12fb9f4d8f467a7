package config

// This file belongs to the email (IMAP and SMTP) integration; see issue "Email integration".

// IMAPAccount is one IMAP account with its mailboxes.
type IMAPAccount struct {
	// Name identifies the account in ticket IDs, metrics and leases.
	Name string `yaml:"name"`
}

// SMTP is the outgoing mail server for email.reply and email.forward.
type SMTP struct {
	// Host is host:port.
	Host string `yaml:"host"`
}

func (c *Config) validateEmail(bad func(format string, args ...any)) {}

// redactEmail replaces this section's secrets in a copy being printed.
func (c *Config) redactEmail(hide func(string) string) {}

// readEmailSecrets fills secrets from their *_file siblings.
func (c *Config) readEmailSecrets(read func(field, path string, dst *string)) {}

// defaultsEmail applies this section's defaults.
func (c *Config) defaultsEmail() {}
