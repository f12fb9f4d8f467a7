package config

import (
	"regexp"
	"slices"
	"strings"
)

// This file belongs to the Help Scout integration (issue 15).

// HelpScout defaults.
const (
	// DefaultHelpScoutAPIURL is the Mailbox API 2.0 base URL.
	DefaultHelpScoutAPIURL = "https://api.helpscout.net/v2/"
	// DefaultHelpScoutMaxBodyBytes bounds one webhook delivery.
	DefaultHelpScoutMaxBodyBytes = 2 << 20
)

// HelpScout connects the bot to one Help Scout account: webhooks in on
// POST /hooks/helpscout, helpscout.note, helpscout.tag and
// helpscout.assign actions out through the Mailbox API 2.0. The section's
// presence turns the integration on.
type HelpScout struct {
	// AppID is the App ID of a Help Scout "My App" (Your Profile → My
	// Apps), the OAuth2 client ID.
	AppID string `yaml:"app_id"`
	// AppSecret is that app's App Secret, a secret.
	AppSecret     string `yaml:"app_secret"`
	AppSecretFile string `yaml:"app_secret_file"`
	// WebhookSecret is the secret key typed into the webhook (Manage →
	// Apps → Webhooks), 40 characters at most; it verifies deliveries.
	WebhookSecret     string `yaml:"webhook_secret"`
	WebhookSecretFile string `yaml:"webhook_secret_file"`
	// APIURL is the API base URL, ending in "/". Default
	// "https://api.helpscout.net/v2/"; tests point it at a fake.
	APIURL string `yaml:"api_url"`
	// Assignees maps a name — a category (agent-auth, …), "default", or
	// any name a rule's helpscout.assign target renders — to a Help Scout
	// user or team ID.
	Assignees map[string]int `yaml:"assignees"`
	// Inboxes maps a name to a mailbox ID, for helpscout.assign targets
	// "inbox:<name>".
	Inboxes map[string]int `yaml:"inboxes"`
	// NoteUser is the user ID notes are written as. Default: the user who
	// owns the app.
	NoteUser int `yaml:"note_user"`
	// MaxBodyBytes bounds one webhook delivery. Default 2 MiB.
	MaxBodyBytes int64 `yaml:"max_body_bytes"`
}

var helpScoutNameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]*$`)

func (c *Config) validateHelpScout(bad func(format string, args ...any)) {
	h := c.HelpScout
	if h == nil {
		return
	}
	if h.AppID == "" {
		bad("helpscout.app_id: required (the App ID of a My App: Your Profile → My Apps → Create App)")
	}
	if h.AppSecret == "" {
		bad("helpscout.app_secret: required (app_secret: ${HELPSCOUT_APP_SECRET} or app_secret_file; the App Secret shown beside the App ID)")
	}
	switch {
	case h.WebhookSecret == "":
		bad("helpscout.webhook_secret: required (webhook_secret: ${HELPSCOUT_WEBHOOK_SECRET} or webhook_secret_file; the Secret Key typed into the webhook under Manage → Apps → Webhooks)")
	case len(h.WebhookSecret) > 40:
		bad("helpscout.webhook_secret: Help Scout takes at most 40 characters; this one has %d", len(h.WebhookSecret))
	}
	if c.HTTP.Listen == "off" {
		bad("helpscout: webhooks arrive on the HTTP server (POST /hooks/helpscout), but http.listen is off")
	}
	if !strings.HasSuffix(h.APIURL, "/") || !strings.HasPrefix(h.APIURL, "https://") && !strings.HasPrefix(h.APIURL, "http://") {
		bad("helpscout.api_url: %q must be an http(s) URL ending in /", h.APIURL)
	}
	for _, k := range sortedIntKeys(h.Assignees) {
		if !helpScoutNameRE.MatchString(k) {
			bad("helpscout.assignees: %q is not a name a target can render (letters, digits, _ . -)", k)
		}
		if h.Assignees[k] <= 0 {
			bad("helpscout.assignees.%s: %d is not a user or team ID (the number in the user's or team's page URL)", k, h.Assignees[k])
		}
	}
	for _, k := range sortedIntKeys(h.Inboxes) {
		if !helpScoutNameRE.MatchString(k) {
			bad("helpscout.inboxes: %q is not a name a target can render (letters, digits, _ . -)", k)
		}
		if h.Inboxes[k] <= 0 {
			bad("helpscout.inboxes.%s: %d is not a mailbox ID (the number in the inbox's URL)", k, h.Inboxes[k])
		}
	}
	if h.NoteUser < 0 {
		bad("helpscout.note_user: must not be negative")
	}
	if h.MaxBodyBytes < 0 {
		bad("helpscout.max_body_bytes: must not be negative")
	}
}

func sortedIntKeys(m map[string]int) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// redactHelpScout replaces this section's secrets in a copy being printed.
func (c *Config) redactHelpScout(hide func(string) string) {
	if c.HelpScout == nil {
		return
	}
	cp := *c.HelpScout // c is a shallow copy: never change the original's section
	cp.AppSecret = hide(cp.AppSecret)
	cp.WebhookSecret = hide(cp.WebhookSecret)
	c.HelpScout = &cp
}

// readHelpScoutSecrets fills secrets from their *_file siblings.
func (c *Config) readHelpScoutSecrets(read func(field, path string, dst *string)) {
	if c.HelpScout == nil {
		return
	}
	read("helpscout.app_secret_file", c.HelpScout.AppSecretFile, &c.HelpScout.AppSecret)
	read("helpscout.webhook_secret_file", c.HelpScout.WebhookSecretFile, &c.HelpScout.WebhookSecret)
}

// defaultsHelpScout applies this section's defaults.
func (c *Config) defaultsHelpScout() {
	h := c.HelpScout
	if h == nil {
		return
	}
	if h.APIURL == "" {
		h.APIURL = DefaultHelpScoutAPIURL
	}
	if h.MaxBodyBytes == 0 {
		h.MaxBodyBytes = DefaultHelpScoutMaxBodyBytes
	}
}
