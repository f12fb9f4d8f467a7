package config

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestFrontSection(t *testing.T) {
	dir := t.TempDir()
	tokFile := filepath.Join(dir, "front.token")
	require.NoError(t, os.WriteFile(tokFile, []byte("tok-from-file\n"), 0o600))
	tests := []struct {
		name    string
		yaml    string
		env     map[string]string
		check   func(t *testing.T, f *Front)
		wantErr []string
	}{
		{
			name: "secrets from env and file, defaults",
			yaml: "front:\n  api_token_file: " + tokFile + "\n  webhook_secret: ${FRONT_SECRET}\n  assignees: {agent-auth: tea_1, default: inb_2}\n",
			env:  map[string]string{"FRONT_SECRET": "hook-s3cret"},
			check: func(t *testing.T, f *Front) {
				assert.Equal(t, "tok-from-file", f.APIToken)
				assert.Equal(t, "hook-s3cret", f.WebhookSecret)
				assert.Equal(t, DefaultFrontAPIURL, f.APIURL)
				assert.Equal(t, "front", f.Account)
				assert.Equal(t, 5*time.Minute, f.MaxAge)
				assert.Equal(t, map[string]string{"agent-auth": "tea_1", "default": "inb_2"}, f.Assignees)
			},
		},
		{
			name:    "missing secrets",
			yaml:    "front: {account: acme}\n",
			wantErr: []string{"front.api_token: required", "front.webhook_secret: required"},
		},
		{
			name: "bad IDs and values",
			yaml: "front:\n  api_token: t\n  webhook_secret: s\n  account: a/b\n  author_id: bob\n  max_age: 2h\n  assignees: {billing: tim_9, x: 42}\n",
			wantErr: []string{`front.account: "a/b"`, `front.author_id: "bob"`, "front.max_age: 2h0m0s",
				`front.assignees.billing: "tim_9"`, "cannot assign a conversation to a team", `front.assignees.x: "42"`},
		},
		{
			name:    "unknown key",
			yaml:    "front: {api_token: t, webhook_secret: s, inbox: support}\n",
			wantErr: []string{"inbox"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Parse("triage.yaml", []byte(tt.yaml), env(tt.env))
			if tt.wantErr != nil {
				require.Error(t, err)
				for _, w := range tt.wantErr {
					assert.Contains(t, err.Error(), w)
				}
				return
			}
			require.NoError(t, err)
			require.NotNil(t, c.Front)
			tt.check(t, c.Front)
			out := c.Redacted()
			assert.NotContains(t, out, "tok-from-file")
			assert.NotContains(t, out, "hook-s3cret")
			assert.Contains(t, out, "tea_1", "non-secrets stay readable")
		})
	}
}
