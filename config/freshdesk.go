package config

import (
	"net/http"
	"regexp"
	"slices"
	"strings"
)

// This file belongs to the Freshdesk integration (issue 15).

// Freshdesk connects the bot to one Freshdesk account: an automation
// rule calls POST /hooks/freshdesk, and freshdesk.note, freshdesk.tag and
// freshdesk.assign actions write back through API v2.
type Freshdesk struct {
	// Domain is the account's subdomain: acme for acme.freshdesk.com.
	Domain string `yaml:"domain"`
	// APIKey is the API key of the agent the bot acts as (Profile
	// settings → View API key); a secret.
	APIKey     string `yaml:"api_key"`
	APIKeyFile string `yaml:"api_key_file"`
	// WebhookSecret is the shared secret the automation rule sends in
	// SecretHeader; at least 16 characters; a secret.
	WebhookSecret     string `yaml:"webhook_secret"`
	WebhookSecretFile string `yaml:"webhook_secret_file"`
	// SecretHeader is the custom header that carries the secret. Default
	// X-Triage-Webhook-Secret.
	SecretHeader string `yaml:"secret_header"`
	// Groups maps a category (agent-auth, …, or "default") to the group
	// name or numeric ID that freshdesk.assign actions whose target is
	// that category, or "auto", assign.
	Groups map[string]string `yaml:"groups"`
	// APIURL overrides the API base URL, ending in "/". Default
	// https://<domain>.freshdesk.com/api/v2/; tests point it at a fake.
	APIURL string `yaml:"api_url"`
}

// DefaultFreshdeskSecretHeader is the header the webhook secret comes in.
const DefaultFreshdeskSecretHeader = "X-Triage-Webhook-Secret"

var freshdeskDomainRE = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,62}$`)

var headerNameRE = regexp.MustCompile("^[A-Za-z0-9!#$%&'*+.^_`|~-]+$")

func (c *Config) validateFreshdesk(bad func(format string, args ...any)) {
	f := c.Freshdesk
	if f == nil {
		return
	}
	switch {
	case f.Domain == "":
		bad("freshdesk.domain: required (the subdomain: acme for acme.freshdesk.com)")
	case !freshdeskDomainRE.MatchString(f.Domain):
		bad("freshdesk.domain: %q is not a subdomain (write acme for acme.freshdesk.com, lower case, without scheme or dots)", f.Domain)
	}
	if f.APIKey == "" {
		bad("freshdesk.api_key: required (api_key: ${FRESHDESK_API_KEY} or api_key_file; from Profile settings → View API key)")
	}
	if f.WebhookSecret == "" {
		bad("freshdesk.webhook_secret: required (webhook_secret: ${FRESHDESK_WEBHOOK_SECRET} or webhook_secret_file; any long random text, also put in the automation rule's custom header)")
	} else if len(f.WebhookSecret) < 16 {
		bad("freshdesk.webhook_secret: too short to keep forged calls out; use at least 16 random characters (openssl rand -hex 24)")
	}
	if !headerNameRE.MatchString(f.SecretHeader) {
		bad("freshdesk.secret_header: %q is not an HTTP header name", f.SecretHeader)
	} else if h := http.CanonicalHeaderKey(f.SecretHeader); h == "Authorization" || h == "Content-Type" {
		bad("freshdesk.secret_header: %q is used by HTTP itself; pick a header of your own such as %s", f.SecretHeader, DefaultFreshdeskSecretHeader)
	}
	if c.HTTP.Listen == "off" {
		bad("freshdesk: the automation rule's webhook arrives on the HTTP server, but http.listen is off")
	}
	for _, k := range sortedKeys(f.Groups) {
		if !slices.Contains(slackCategoryKeys(), k) {
			bad("freshdesk.groups: %q is not a category (one of %s)", k, strings.Join(slackCategoryKeys(), ", "))
		}
		if strings.TrimSpace(f.Groups[k]) == "" {
			bad("freshdesk.groups.%s: empty; write the group's name or numeric ID", k)
		}
	}
	if f.APIURL != "" && (!strings.HasSuffix(f.APIURL, "/") || !strings.HasPrefix(f.APIURL, "https://") && !strings.HasPrefix(f.APIURL, "http://")) {
		bad("freshdesk.api_url: %q must be an http(s) URL ending in /", f.APIURL)
	}
}

// redactFreshdesk replaces this section's secrets in a copy being printed.
func (c *Config) redactFreshdesk(hide func(string) string) {
	if c.Freshdesk == nil {
		return
	}
	cp := *c.Freshdesk // c is a shallow copy: never change the original's section
	cp.APIKey = hide(cp.APIKey)
	cp.WebhookSecret = hide(cp.WebhookSecret)
	c.Freshdesk = &cp
}

// readFreshdeskSecrets fills secrets from their *_file siblings.
func (c *Config) readFreshdeskSecrets(read func(field, path string, dst *string)) {
	if c.Freshdesk == nil {
		return
	}
	read("freshdesk.api_key_file", c.Freshdesk.APIKeyFile, &c.Freshdesk.APIKey)
	read("freshdesk.webhook_secret_file", c.Freshdesk.WebhookSecretFile, &c.Freshdesk.WebhookSecret)
}

// defaultsFreshdesk applies this section's defaults.
func (c *Config) defaultsFreshdesk() {
	if c.Freshdesk != nil && c.Freshdesk.SecretHeader == "" {
		c.Freshdesk.SecretHeader = DefaultFreshdeskSecretHeader
	}
}
