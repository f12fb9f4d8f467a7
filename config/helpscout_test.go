package config

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestHelpScout(t *testing.T) {
	dir := t.TempDir()
	secretFile := filepath.Join(dir, "app-secret")
	require.NoError(t, os.WriteFile(secretFile, []byte("from-file\n"), 0o600))
	c, err := Parse("triage.yaml", []byte(`
helpscout:
  app_id: app-1
  app_secret_file: `+secretFile+`
  webhook_secret: ${HS_HOOK}
  assignees: {agent-auth: 601, default: 501}
  inboxes: {billing: 1002}
`), env(map[string]string{"HS_HOOK": "hook-s3cret"}))
	require.NoError(t, err)
	h := c.HelpScout
	require.NotNil(t, h)
	assert.Equal(t, "from-file", h.AppSecret)
	assert.Equal(t, "hook-s3cret", h.WebhookSecret)
	assert.Equal(t, DefaultHelpScoutAPIURL, h.APIURL)
	assert.EqualValues(t, DefaultHelpScoutMaxBodyBytes, h.MaxBodyBytes)
	assert.Equal(t, 601, h.Assignees["agent-auth"])
	shown := c.Redacted()
	assert.NotContains(t, shown, "from-file")
	assert.NotContains(t, shown, "hook-s3cret")
	assert.Equal(t, "from-file", c.HelpScout.AppSecret, "redacting a copy leaves the config alone")

	none, err := Parse("triage.yaml", []byte("log: {level: info}\n"), env(nil))
	require.NoError(t, err)
	assert.Nil(t, none.HelpScout, "no section, no integration")
}

func TestHelpScoutErrors(t *testing.T) {
	for _, tc := range []struct {
		name, data, want string
	}{
		{"no app id", "helpscout: {app_secret: s, webhook_secret: w}\n", "helpscout.app_id: required"},
		{"no app secret", "helpscout: {app_id: a, webhook_secret: w}\n", "helpscout.app_secret: required"},
		{"no webhook secret", "helpscout: {app_id: a, app_secret: s}\n", "helpscout.webhook_secret: required"},
		{"long webhook secret", "helpscout: {app_id: a, app_secret: s, webhook_secret: 0123456789012345678901234567890123456789x}\n", "at most 40 characters"},
		{"http off", "http: {listen: \"off\"}\nhelpscout: {app_id: a, app_secret: s, webhook_secret: w}\n", "http.listen is off"},
		{"bad api url", "helpscout: {app_id: a, app_secret: s, webhook_secret: w, api_url: \"ftp://x\"}\n", "helpscout.api_url"},
		{"bad assignee id", "helpscout: {app_id: a, app_secret: s, webhook_secret: w, assignees: {agent-auth: 0}}\n", "helpscout.assignees.agent-auth: 0"},
		{"bad inbox name", "helpscout: {app_id: a, app_secret: s, webhook_secret: w, inboxes: {\"two words\": 3}}\n", `helpscout.inboxes: "two words"`},
		{"unknown key", "helpscout: {app_id: a, app_secret: s, webhook_secret: w, mailbox: 3}\n", "mailbox"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("triage.yaml", []byte(tc.data), env(nil))
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}
