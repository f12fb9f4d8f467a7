package config

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestFreshdeskConfig(t *testing.T) {
	const ok = "freshdesk:\n  domain: acme\n  api_key: k\n  webhook_secret: 0123456789abcdef0123\n"
	tests := []struct {
		name  string
		yaml  string
		wants []string
	}{
		{"valid", ok + "  groups: {agent-auth: Agent Team, default: '101'}\n", nil},
		{"missing everything", "freshdesk: {}\n", []string{"freshdesk.domain: required", "freshdesk.api_key: required", "freshdesk.webhook_secret: required"}},
		{"full host name and short secret", "freshdesk:\n  domain: acme.freshdesk.com\n  api_key: k\n  webhook_secret: short\n",
			[]string{`freshdesk.domain: "acme.freshdesk.com" is not a subdomain`, "freshdesk.webhook_secret: too short"}},
		{"bad groups and header", ok + "  secret_header: Authorization\n  groups: {billing: X, default: ''}\n",
			[]string{`freshdesk.secret_header: "Authorization" is used by HTTP itself`, `freshdesk.groups: "billing" is not a category`, "freshdesk.groups.default: empty"}},
		{"bad api url", ok + "  api_url: ftp://x\n", []string{`freshdesk.api_url: "ftp://x" must be`}},
		{"no HTTP server", "http:\n  listen: \"off\"\n" + ok, []string{"http.listen is off"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Parse("t.yaml", []byte(tt.yaml), env(nil))
			if tt.wants == nil {
				require.NoError(t, err)
				assert.Equal(t, DefaultFreshdeskSecretHeader, c.Freshdesk.SecretHeader)
				assert.Equal(t, "Agent Team", c.Freshdesk.Groups["agent-auth"])
				return
			}
			require.Error(t, err)
			for _, w := range tt.wants {
				assert.Contains(t, err.Error(), w)
			}
		})
	}
}

func TestFreshdeskSecretsFromFilesAndRedacted(t *testing.T) {
	dir := t.TempDir()
	key, secret := filepath.Join(dir, "key"), filepath.Join(dir, "secret")
	require.NoError(t, os.WriteFile(key, []byte("file-api-key\n"), 0o600))
	require.NoError(t, os.WriteFile(secret, []byte("file-webhook-secret-0123456789\n"), 0o600))
	c, err := Parse("t.yaml", []byte("freshdesk:\n  domain: acme\n  api_key_file: "+key+"\n  webhook_secret_file: "+secret+"\n"), env(nil))
	require.NoError(t, err)
	assert.Equal(t, "file-api-key", c.Freshdesk.APIKey)
	assert.Equal(t, "file-webhook-secret-0123456789", c.Freshdesk.WebhookSecret)
	out := c.Redacted()
	assert.NotContains(t, out, "file-api-key")
	assert.NotContains(t, out, "file-webhook-secret")
	assert.Contains(t, out, "[REDACTED]")
	assert.Equal(t, "file-api-key", c.Freshdesk.APIKey, "redacting a copy leaves the config alone")
}
