package config

import (
	"strings"
	"time"
)

// This file belongs to the Front integration (issue 15).

// Front defaults.
const (
	// DefaultFrontAPIURL is Front's Core API.
	DefaultFrontAPIURL = "https://api2.frontapp.com"
	// DefaultFrontAccount names the company in ticket IDs.
	DefaultFrontAccount = "front"
	// DefaultFrontMaxAge is how old a signed webhook may be.
	DefaultFrontMaxAge = 5 * time.Minute
)

// Front connects the bot to one Front company: its webhooks arrive on
// POST /hooks/front, and front.note, front.tag and front.assign actions
// call its Core API.
type Front struct {
	// APIURL is the Core API base URL. Default https://api2.frontapp.com;
	// tests point it at a fake.
	APIURL string `yaml:"api_url"`
	// APIToken is a Front API token (Settings → Developers → API tokens)
	// with access to the inboxes read; a secret.
	APIToken     string `yaml:"api_token"`
	APITokenFile string `yaml:"api_token_file"`
	// WebhookSecret verifies webhooks: the company's API secret for rule
	// webhooks, or the app's secret for application webhooks; a secret.
	WebhookSecret     string `yaml:"webhook_secret"`
	WebhookSecretFile string `yaml:"webhook_secret_file"`
	// Account names the company in ticket IDs
	// (front:<account>/<conversation>/<message>). Default "front"; set it
	// when one store serves several Front companies.
	Account string `yaml:"account"`
	// Assignees maps a name used as a front.assign target (a category
	// such as agent-auth, or "default" for any other name) to a teammate
	// ID (tea_…, alt:email:…) to assign or an inbox ID (inb_…) to move the
	// conversation to.
	Assignees map[string]string `yaml:"assignees"`
	// AuthorID is the teammate (tea_…) notes are posted as; empty posts
	// them as the API token.
	AuthorID string `yaml:"author_id"`
	// MaxAge is how old a signed webhook may be before it is refused as a
	// replay. Default 5m.
	MaxAge time.Duration `yaml:"max_age"`
}

func (c *Config) validateFront(bad func(format string, args ...any)) {
	f := c.Front
	if f == nil {
		return
	}
	if f.APIToken == "" {
		bad("front.api_token: required (api_token: ${FRONT_API_TOKEN} or api_token_file; create one under Settings → Developers → API tokens)")
	}
	if f.WebhookSecret == "" {
		bad("front.webhook_secret: required (webhook_secret: ${FRONT_WEBHOOK_SECRET} or webhook_secret_file; the API secret for rule webhooks, or the app secret for application webhooks)")
	}
	if c.HTTP.Listen == "off" {
		bad("front: Front's webhooks arrive on the HTTP server (POST /hooks/front), but http.listen is off")
	}
	if !strings.HasPrefix(f.APIURL, "https://") && !strings.HasPrefix(f.APIURL, "http://") {
		bad("front.api_url: %q must be an http(s) URL", f.APIURL)
	}
	if strings.ContainsAny(f.Account, "/: ") {
		bad("front.account: %q must not contain '/', ':' or spaces (it is part of ticket IDs)", f.Account)
	}
	for _, k := range sortedKeys(f.Assignees) {
		id := f.Assignees[k]
		if !strings.HasPrefix(id, "tea_") && !strings.HasPrefix(id, "alt:email:") && !strings.HasPrefix(id, "inb_") {
			hint := ""
			if strings.HasPrefix(id, "tim_") {
				hint = "; Front cannot assign a conversation to a team: name one of the team's inboxes (inb_…)"
			}
			bad("front.assignees.%s: %q is neither a teammate (tea_…, alt:email:…) nor an inbox (inb_…) ID%s", k, id, hint)
		}
	}
	if f.AuthorID != "" && !strings.HasPrefix(f.AuthorID, "tea_") && !strings.HasPrefix(f.AuthorID, "alt:email:") {
		bad("front.author_id: %q is not a teammate ID (tea_…, alt:email:…)", f.AuthorID)
	}
	if f.MaxAge < 0 || f.MaxAge > time.Hour {
		bad("front.max_age: %s must be between 0 (the default, 5m) and 1h", f.MaxAge)
	}
}

// redactFront replaces this section's secrets in a copy being printed.
func (c *Config) redactFront(hide func(string) string) {
	if c.Front == nil {
		return
	}
	cp := *c.Front // c is a shallow copy: never change the original's section
	cp.APIToken = hide(cp.APIToken)
	cp.WebhookSecret = hide(cp.WebhookSecret)
	c.Front = &cp
}

// readFrontSecrets fills secrets from their *_file siblings.
func (c *Config) readFrontSecrets(read func(field, path string, dst *string)) {
	if c.Front == nil {
		return
	}
	read("front.api_token_file", c.Front.APITokenFile, &c.Front.APIToken)
	read("front.webhook_secret_file", c.Front.WebhookSecretFile, &c.Front.WebhookSecret)
}

// defaultsFront applies this section's defaults.
func (c *Config) defaultsFront() {
	f := c.Front
	if f == nil {
		return
	}
	if f.APIURL == "" {
		f.APIURL = DefaultFrontAPIURL
	}
	if f.Account == "" {
		f.Account = DefaultFrontAccount
	}
	if f.MaxAge == 0 {
		f.MaxAge = DefaultFrontMaxAge
	}
}
