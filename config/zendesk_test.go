package config

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestZendeskSection(t *testing.T) {
	dir := t.TempDir()
	tokFile := filepath.Join(dir, "zd.token")
	require.NoError(t, os.WriteFile(tokFile, []byte("tok-from-file\n"), 0o600))
	data := `
zendesk:
  subdomain: acme
  email: bot@acme.test
  api_token_file: ` + tokFile + `
  webhook_secret: ${ZD_SECRET}
  groups:
    agent-auth: "360001234567"
    default: Support
`
	c, err := Parse("triage.yaml", []byte(data), env(map[string]string{"ZD_SECRET": "hook-s3cret"}))
	require.NoError(t, err)
	require.NotNil(t, c.Zendesk)
	assert.Equal(t, "tok-from-file", c.Zendesk.APIToken)
	assert.Equal(t, "hook-s3cret", c.Zendesk.WebhookSecret)
	assert.Equal(t, "https://acme.zendesk.com", c.Zendesk.URL())
	out := c.Redacted()
	for _, s := range []string{"tok-from-file", "hook-s3cret"} {
		assert.NotContains(t, out, s)
	}
	assert.Contains(t, out, "subdomain: acme")
}

func TestZendeskProblems(t *testing.T) {
	tests := []struct {
		name, section string
		want          []string
	}{
		{"empty section", "zendesk: {}", []string{"zendesk.subdomain: required", "zendesk.api_token: required", "zendesk.email:", "zendesk.webhook_secret: required"}},
		{"full domain as subdomain", "zendesk: {subdomain: acme.zendesk.com, email: a@b.c, api_token: t, webhook_secret: s}", []string{`give only the subdomain ("acme", not acme.zendesk.com)`}},
		{"oauth needs no email", "zendesk: {subdomain: acme, oauth_token: t, webhook_secret: s}", nil},
		{"bad base_url and group", "zendesk: {subdomain: acme, oauth_token: t, webhook_secret: s, base_url: acme.example, groups: {default: \"\", x: \"-4\"}}",
			[]string{`zendesk.base_url: "acme.example" must start with https://`, "zendesk.groups.default: empty", `zendesk.groups.x: "-4" is not a group ID`}},
		{"http off", "http: {listen: \"off\"}\nzendesk: {subdomain: acme, oauth_token: t, webhook_secret: s}", []string{"http.listen is off"}},
		{"unknown key", "zendesk: {subdomain: acme, oauth_token: t, webhook_secret: s, token: x}", []string{"token"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("triage.yaml", []byte(tt.section+"\n"), env(nil))
			if tt.want == nil {
				require.NoError(t, err)
				return
			}
			require.Error(t, err)
			for _, w := range tt.want {
				assert.Contains(t, err.Error(), w)
			}
		})
	}
}
