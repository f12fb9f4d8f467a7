package config

import (
	"regexp"
	"strconv"
	"strings"
)

// This file belongs to the Zendesk integration; see issue 15.

// Zendesk connects the bot to one Zendesk Support account: a signed
// webhook on POST /hooks/zendesk brings customer comments in, and
// zendesk.note, zendesk.tag and zendesk.assign actions go out through
// the API.
type Zendesk struct {
	// Subdomain is the account's subdomain: "acme" for acme.zendesk.com.
	Subdomain string `yaml:"subdomain"`
	// BaseURL overrides https://<subdomain>.zendesk.com (a host-mapped
	// domain, or a test fake).
	BaseURL string `yaml:"base_url"`
	// Email is the agent the API token belongs to; with APIToken it signs
	// in as "<email>/token:<api_token>".
	Email string `yaml:"email"`
	// APIToken is an API token (Admin Center → Apps and integrations →
	// Zendesk API), a secret.
	APIToken     string `yaml:"api_token"`
	APITokenFile string `yaml:"api_token_file"`
	// OAuthToken is an OAuth access token (scopes "read tickets:write"),
	// a secret; used instead of email and api_token when set.
	OAuthToken     string `yaml:"oauth_token"`
	OAuthTokenFile string `yaml:"oauth_token_file"`
	// WebhookSecret is the webhook's signing secret (the webhook's page →
	// Reveal secret), a secret.
	WebhookSecret     string `yaml:"webhook_secret"`
	WebhookSecretFile string `yaml:"webhook_secret_file"`
	// Groups maps a category (agent-auth, …, or "default") or any name
	// used as a zendesk.assign target to a Zendesk group ID or name.
	Groups map[string]string `yaml:"groups"`
}

var zendeskSubdomainRE = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,62}$`)

// URL returns the account's base URL, without a trailing slash.
func (z *Zendesk) URL() string {
	if z.BaseURL != "" {
		return strings.TrimRight(z.BaseURL, "/")
	}
	return "https://" + z.Subdomain + ".zendesk.com"
}

func (c *Config) validateZendesk(bad func(format string, args ...any)) {
	z := c.Zendesk
	if z == nil {
		return
	}
	switch {
	case z.Subdomain == "":
		bad("zendesk.subdomain: required (\"acme\" for acme.zendesk.com)")
	case strings.Contains(z.Subdomain, "."):
		bad("zendesk.subdomain: %q: give only the subdomain (\"acme\", not acme.zendesk.com)", z.Subdomain)
	case !zendeskSubdomainRE.MatchString(z.Subdomain):
		bad("zendesk.subdomain: %q is not a Zendesk subdomain (lower-case letters, digits and -)", z.Subdomain)
	}
	if z.BaseURL != "" && !strings.HasPrefix(z.BaseURL, "https://") && !strings.HasPrefix(z.BaseURL, "http://") {
		bad("zendesk.base_url: %q must start with https://", z.BaseURL)
	}
	if z.OAuthToken == "" {
		if z.APIToken == "" {
			bad("zendesk.api_token: required (api_token: ${ZENDESK_API_TOKEN} or api_token_file; or an oauth_token instead)")
		}
		if z.Email == "" || !strings.Contains(z.Email, "@") {
			bad("zendesk.email: the agent's e-mail address the API token belongs to is required with api_token")
		}
	}
	if z.WebhookSecret == "" {
		bad("zendesk.webhook_secret: required (webhook_secret: ${ZENDESK_WEBHOOK_SECRET} or webhook_secret_file; the webhook's signing secret)")
	}
	if c.HTTP.Listen == "off" {
		bad("zendesk: Zendesk's webhook calls POST /hooks/zendesk on the HTTP server, but http.listen is off")
	}
	for _, k := range sortedKeys(z.Groups) {
		v := strings.TrimSpace(z.Groups[k])
		if v == "" {
			bad("zendesk.groups.%s: empty (a group ID such as 360001234567, or the group's name)", k)
			continue
		}
		if n, err := strconv.ParseInt(v, 10, 64); err == nil && n <= 0 {
			bad("zendesk.groups.%s: %q is not a group ID", k, v)
		}
	}
}

// redactZendesk replaces this section's secrets in a copy being printed.
func (c *Config) redactZendesk(hide func(string) string) {
	if c.Zendesk == nil {
		return
	}
	cp := *c.Zendesk
	cp.APIToken = hide(cp.APIToken)
	cp.OAuthToken = hide(cp.OAuthToken)
	cp.WebhookSecret = hide(cp.WebhookSecret)
	c.Zendesk = &cp
}

// readZendeskSecrets fills secrets from their *_file siblings.
func (c *Config) readZendeskSecrets(read func(field, path string, dst *string)) {
	if c.Zendesk == nil {
		return
	}
	read("zendesk.api_token_file", c.Zendesk.APITokenFile, &c.Zendesk.APIToken)
	read("zendesk.oauth_token_file", c.Zendesk.OAuthTokenFile, &c.Zendesk.OAuthToken)
	read("zendesk.webhook_secret_file", c.Zendesk.WebhookSecretFile, &c.Zendesk.WebhookSecret)
}
