package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestDefaults(t *testing.T) {
	c := Default()
	require.NoError(t, c.Validate())
	assert.Equal(t, "triage-data", c.DataDir)
	assert.Equal(t, "sqlite", c.Store.Driver)
	assert.Equal(t, "127.0.0.1:8080", c.HTTP.Listen)
	require.Len(t, c.Sources.Maildir, 1)
	assert.Equal(t, filepath.Join("triage-data", "inbox"), c.Sources.Maildir[0].Path)
	assert.True(t, c.SampleMaildir())
	assert.Equal(t, 8, c.Outbox.MaxAttempts)
	assert.NotZero(t, c.Routes.Kind, "default routes are present")
}

func TestParseExpandsEnvAndSecretFiles(t *testing.T) {
	dir := t.TempDir()
	secret := filepath.Join(dir, "hook.secret")
	require.NoError(t, os.WriteFile(secret, []byte("s3cret\n"), 0o600))
	tok := filepath.Join(dir, "api.token")
	require.NoError(t, os.WriteFile(tok, []byte("from-file"), 0o600))
	data := `
data_dir: ${DATA:-/var/lib/triage}
store: {driver: postgres, dsn: "${PG_DSN}"}
http: {listen: "0.0.0.0:8080", api_tokens: ["${API_TOKEN}"], api_token_file: ` + tok + `}
sources:
  maildir:
    - {name: support, path: /srv/mail/support, poll: 5s}
webhooks:
  - {name: helpdesk, url: "https://helpdesk.example.com/hook", secret_file: ` + secret + `}
`
	c, err := Parse("triage.yaml", []byte(data), env(map[string]string{"PG_DSN": "postgres://u:pw@db/triage", "API_TOKEN": "tok-1"}))
	require.NoError(t, err)
	assert.Equal(t, "/var/lib/triage", c.DataDir, "${VAR:-default}")
	assert.Equal(t, "postgres://u:pw@db/triage", c.Store.DSN)
	assert.Equal(t, []string{"tok-1", "from-file"}, c.HTTP.APITokens)
	assert.Equal(t, "s3cret", c.Webhooks[0].Secret)
	assert.Equal(t, 10*time.Second, c.Webhooks[0].Timeout, "defaults apply to list items")
	assert.Equal(t, 5*time.Second, c.Sources.Maildir[0].Poll)
	assert.Equal(t, "$triaged", c.Sources.Maildir[0].Keyword)
	assert.False(t, c.SampleMaildir())

	out := c.Redacted()
	for _, secret := range []string{"s3cret", "tok-1", "from-file", "pw@db"} {
		assert.NotContains(t, out, secret, "Redacted must hide every secret")
	}
	assert.Contains(t, out, "[REDACTED]")
	assert.Contains(t, out, "helpdesk.example.com", "non-secrets stay readable")
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name string
		data string
		env  map[string]string
		want []string
	}{
		{"unknown key", "stroe: {}\n", nil, []string{"triage.yaml", "stroe"}},
		{"missing env", "store: {driver: postgres, dsn: \"${PG_DSN}\"}\n", nil, []string{"triage.yaml: environment variable(s) not set: PG_DSN"}},
		{"many problems at once", `
store: {driver: mysql}
http: {listen: "0.0.0.0:8080"}
sources:
  maildir:
    - {name: a, path: /x}
    - {name: a}
webhooks:
  - {name: h, url: "ftp://x"}
  - {name: h, url: "https://y"}
outbox: {workers: -1}
log: {level: loud, format: xml}
`, nil, []string{
			`store.driver: "mysql" is neither sqlite nor postgres`,
			`http.listen: "0.0.0.0:8080" is reachable from other machines, so http.api_tokens`,
			`sources.maildir[1]: name "a" is used twice`,
			`sources.maildir[1] (a): path is required`,
			`webhooks[0] (h): url "ftp://x" must start with https://`,
			`webhooks[1]: name "h" is used twice`,
			`outbox: workers and max_attempts must be at least 1`,
			`log.level: "loud"`,
			`log.format: "xml"`,
		}},
		{"postgres needs dsn", "store: {driver: postgres}\n", nil, []string{"store.dsn: the postgres driver needs a DSN"}},
		{"bad listen", "http: {listen: nowhere}\n", nil, []string{`http.listen: "nowhere" is not host:port`}},
		{"missing secret file", "webhooks: [{name: h, url: \"https://x\", secret_file: /nonexistent/secret}]\n", nil, []string{"webhooks[h].secret_file", "/nonexistent/secret"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("triage.yaml", []byte(tt.data), env(tt.env))
			require.Error(t, err)
			for _, w := range tt.want {
				assert.Contains(t, err.Error(), w)
			}
		})
	}
}

func TestEmptyFileIsDefaults(t *testing.T) {
	c, err := Parse("empty.yaml", nil, env(nil))
	require.NoError(t, err)
	assert.Equal(t, "sqlite", c.Store.Driver)
	assert.Empty(t, c.Sources.Maildir, "a config file names its own sources")
}

func TestLoadMissingFile(t *testing.T) {
	_, err := Load(filepath.Join(t.TempDir(), "nope.yaml"), nil)
	require.Error(t, err)
	assert.True(t, strings.Contains(err.Error(), "nope.yaml"))
}

func TestWebhookByName(t *testing.T) {
	c := &Config{Webhooks: []Webhook{{Name: "a", URL: "https://a"}}}
	w, ok := c.WebhookByName("a")
	assert.True(t, ok)
	assert.Equal(t, "https://a", w.URL)
	_, ok = c.WebhookByName("b")
	assert.False(t, ok)
}

func TestHTTPHardeningKeys(t *testing.T) {
	dir := t.TempDir()
	tok := filepath.Join(dir, "metrics.token")
	require.NoError(t, os.WriteFile(tok, []byte("metrics-from-file\n"), 0o600))
	c, err := Parse("triage.yaml", []byte(`
allowed_dirs: [/srv/exports]
http:
  public_hosts: [triage.example.com]
  metrics_token_file: `+tok+`
  read_timeout: 5s
dashboard: {session_ttl: 1h}
`), env(nil))
	require.NoError(t, err)
	assert.Equal(t, []string{"/srv/exports"}, c.AllowedDirs)
	assert.Equal(t, []string{"triage.example.com"}, c.HTTP.PublicHosts)
	assert.Equal(t, "metrics-from-file", c.HTTP.MetricsToken)
	assert.Equal(t, 5*time.Second, c.HTTP.ReadTimeout)
	assert.Equal(t, 10*time.Second, c.HTTP.ReadHeaderTimeout, "default")
	assert.Equal(t, 60*time.Second, c.HTTP.WriteTimeout, "default")
	assert.Equal(t, 120*time.Second, c.HTTP.IdleTimeout, "default")
	assert.Equal(t, time.Hour, c.Dashboard.SessionTTL)
	assert.Equal(t, 10, c.Dashboard.LoginLimit, "default")
	assert.NotContains(t, c.Redacted(), "metrics-from-file")

	_, err = Parse("triage.yaml", []byte("http: {public_hosts: [\"https://triage.example.com/\"], idle_timeout: -1s}\ndashboard: {login_limit: -1}\n"), env(nil))
	require.Error(t, err)
	for _, want := range []string{"http.public_hosts[0]", "idle_timeout", "login_limit"} {
		assert.ErrorContains(t, err, want)
	}
}

func TestRelativePathsResolveAgainstTheConfigFile(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "secrets"), 0o700))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "secrets", "hook"), []byte("s3cret\n"), 0o600))
	data := `data_dir: data
allowed_dirs: [exports, /srv/abs]
catalog: {files: [overlays/ours.yaml]}
sources:
  maildir: [{name: support, path: mail/support}]
webhooks:
  - {name: helpdesk, url: "https://helpdesk.example.com/hook", secret_file: secrets/hook}
`
	c, err := Parse(filepath.Join(dir, "triage.yaml"), []byte(data), env(nil))
	require.NoError(t, err, "the secret file is read from beside the config, wherever triage runs")
	assert.Equal(t, filepath.Join(dir, "data"), c.DataDir)
	assert.Equal(t, []string{filepath.Join(dir, "exports"), "/srv/abs"}, c.AllowedDirs)
	assert.Equal(t, []string{filepath.Join(dir, "overlays", "ours.yaml")}, c.Catalog.Files)
	assert.Equal(t, filepath.Join(dir, "mail", "support"), c.Sources.Maildir[0].Path)
	assert.Equal(t, "s3cret", c.Webhooks[0].Secret)
	assert.Equal(t, "triage.db", c.Store.Path, "store.path stays relative to data_dir")

	c, err = Parse(filepath.Join(dir, "other.yaml"), []byte("sources: {maildir: [{name: m, path: /var/mail/m}]}\n"), env(nil))
	require.NoError(t, err)
	assert.Equal(t, "triage-data", c.DataDir, "a default is not in the file and stays as it is")
}
