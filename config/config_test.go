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
		{"missing env", "store: {driver: postgres, dsn: \"${PG_DSN}\"}\n", nil, []string{"triage.yaml:1: store.dsn: environment variable PG_DSN is not set"}},
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
			`triage.yaml:11: outbox.workers: must be at least 1`,
			`log.level: "loud"`,
			`log.format: "xml"`,
		}},
		{"postgres needs dsn", "store: {driver: postgres}\n", nil, []string{"store.dsn: the postgres driver needs a DSN"}},
		{"bad listen", "http: {listen: nowhere}\n", nil, []string{`http.listen: "nowhere" is not host:port`}},
		{"missing secret file", "webhooks: [{name: h, url: \"https://x\", secret_file: /nonexistent/secret}]\n", nil, []string{"triage.yaml:1: webhooks[0].secret_file", "/nonexistent/secret"}},
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

// TestEnvExpandsOnlyValues: ${ENV} is expanded inside values after the
// YAML is parsed, so what a variable holds is never read as YAML, keys
// and comments are left alone, and an unset variable names its key.
func TestEnvExpandsOnlyValues(t *testing.T) {
	tests := []struct {
		name  string
		data  string
		env   map[string]string
		check func(t *testing.T, c *Config)
	}{
		{"a value with ' #' is not cut", "webhooks:\n  - name: h\n    url: https://x\n    secret: ${S}\n",
			map[string]string{"S": "abc #def"}, func(t *testing.T, c *Config) { assert.Equal(t, "abc #def", c.Webhooks[0].Secret) }},
		{"a value starting with * is not an alias", "store:\n  driver: postgres\n  dsn: ${DSN}\n",
			map[string]string{"DSN": "*star&x"}, func(t *testing.T, c *Config) { assert.Equal(t, "*star&x", c.Store.DSN) }},
		{"a value with newlines stays one value", "store:\n  driver: postgres\n  dsn: \"${DSN}\"\n",
			map[string]string{"DSN": "line one\nline two"}, func(t *testing.T, c *Config) { assert.Equal(t, "line one\nline two", c.Store.DSN) }},
		{"a value cannot inject keys", "store:\n  driver: postgres\n  dsn: ${DSN}\nlog: {level: info}\n",
			map[string]string{"DSN": "x\nlog: {level: debug}\nstore: {driver: sqlite}"}, func(t *testing.T, c *Config) {
				assert.Equal(t, "x\nlog: {level: debug}\nstore: {driver: sqlite}", c.Store.DSN)
				assert.Equal(t, "postgres", c.Store.Driver)
				assert.Equal(t, "info", c.Log.Level)
			}},
		{"': x' stays in the value", "data_dir: ${D}\n",
			map[string]string{"D": "/srv: x"}, func(t *testing.T, c *Config) { assert.Equal(t, "/srv: x", c.DataDir) }},
		{"comments are never read", "# dsn: ${TRIAGE_PG_DSN}\nstore:\n  driver: sqlite  # or ${NOT_SET}\n", nil,
			func(t *testing.T, c *Config) { assert.Equal(t, "sqlite", c.Store.Driver) }},
		{"a plain variable takes the type of its value", "outbox:\n  workers: ${W}\n  max_attempts: ${M:-3}\n  backoff: ${B:-5s}\nsources:\n  api: ${API}\n",
			map[string]string{"W": "7", "API": "false"}, func(t *testing.T, c *Config) {
				assert.Equal(t, 7, c.Outbox.Workers)
				assert.Equal(t, 3, c.Outbox.MaxAttempts)
				assert.Equal(t, 5*time.Second, c.Outbox.Backoff)
				assert.False(t, *c.Sources.API)
			}},
		{"a quoted variable stays a string", "log: {level: \"${L}\"}\n",
			map[string]string{"L": "debug"}, func(t *testing.T, c *Config) { assert.Equal(t, "debug", c.Log.Level) }},
		{"defaults may be empty or hold text", "data_dir: \"${D:-/var/lib/triage}\"\nlog: {format: \"${F:-}json\"}\n", nil,
			func(t *testing.T, c *Config) {
				assert.Equal(t, "/var/lib/triage", c.DataDir)
				assert.Equal(t, "json", c.Log.Format)
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Parse("triage.yaml", []byte(tt.data), env(tt.env))
			require.NoError(t, err)
			tt.check(t, c)
		})
	}

	t.Run("unset variables name file, line and key", func(t *testing.T) {
		_, err := Parse("triage.yaml", []byte("store:\n  driver: postgres\n  dsn: ${PG_DSN}\nwebhooks:\n  - {name: h, url: \"https://x\", secret: \"${HOOK_SECRET}\"}\n"), env(nil))
		require.Error(t, err)
		assert.ErrorContains(t, err, "triage.yaml:3: store.dsn: environment variable PG_DSN is not set")
		assert.ErrorContains(t, err, "triage.yaml:5: webhooks[0].secret: environment variable HOOK_SECRET is not set")
		assert.NotContains(t, err.Error(), "the postgres driver needs a DSN", "what follows from an unset variable is not said twice")
	})
	t.Run("keys are never expanded", func(t *testing.T) {
		_, err := Parse("triage.yaml", []byte("log:\n  ${K}: debug\n"), env(map[string]string{"K": "level"}))
		assert.ErrorContains(t, err, "triage.yaml:2: log.${K}: unknown key")
	})
}

// TestREADMEConfigNeedsOnlyItsVariables: the README's example asks for
// the variables it uses, not those in its comments.
func TestREADMEConfigNeedsOnlyItsVariables(t *testing.T) {
	readme, err := os.ReadFile("../README.md")
	require.NoError(t, err)
	_, rest, ok := strings.Cut(string(readme), "## Configuration")
	require.True(t, ok)
	_, rest, ok = strings.Cut(rest, "```yaml\n")
	require.True(t, ok)
	example, _, ok := strings.Cut(rest, "```")
	require.True(t, ok)
	require.Contains(t, example, "# dsn: ${TRIAGE_PG_DSN}", "the example still has the commented-out variable this test is about")
	c, err := Parse("README.md", []byte(example), env(map[string]string{"TRIAGE_API_TOKEN": "t0ken", "HELPDESK_SECRET": "s3cret"}))
	require.NoError(t, err)
	assert.Equal(t, "s3cret", c.Webhooks[0].Secret)
}

// TestEveryProblemAtOnce: mistakes of every kind (an unset variable, a
// value of the wrong type, an unknown key, a value Validate refuses) are
// reported in one go, each at its line with its key path in YAML terms
// and never a Go type name.
func TestEveryProblemAtOnce(t *testing.T) {
	data := `data_dir: /var/lib/triage
store:
  driver: postgres
  dsn: ${PG_DSN}
http:
  listen: 127.0.0.1:8080
  read_timeout: soon
sources:
  maildir:
    - {name: support, path: /srv/mail, pol: 5s}
outbox:
  workers: -1
  max_attempts: lots
log: {level: loud}
`
	_, err := Parse("triage.yaml", []byte(data), env(nil))
	require.Error(t, err)
	for _, want := range []string{
		"triage.yaml:4: store.dsn: environment variable PG_DSN is not set",
		`triage.yaml:7: http.read_timeout: "soon" is not a duration (write 30s, 5m or 2h)`,
		"triage.yaml:10: sources.maildir[0].pol: unknown key (sources.maildir[0] takes name, path, poll, stale_after, keyword)",
		"triage.yaml:12: outbox.workers: must be at least 1",
		`triage.yaml:13: outbox.max_attempts: "lots" is not a whole number`,
		`triage.yaml:14: log.level: "loud" is not debug, info, warn or error`,
	} {
		assert.ErrorContains(t, err, want)
	}
	for _, goName := range []string{"config.", "time.Duration", "int", "!!str"} {
		assert.NotContains(t, err.Error(), goName, "YAML terms, not Go's")
	}
	assert.Len(t, strings.Split(err.Error(), "\n"), 6, "one line per problem:\n%v", err)

	_, err = Parse("triage.yaml", []byte("store: [sqlite]\noutbox: {workers: [1]}\n"), env(nil))
	assert.ErrorContains(t, err, "triage.yaml:1: store: must be a mapping of keys (driver, path, dsn, dsn_file), not a list")
	assert.ErrorContains(t, err, "triage.yaml:2: outbox.workers: must be a whole number, not a list")
	_, err = Parse("triage.yaml", []byte("store: {driver: sqlite\n"), env(nil))
	assert.ErrorContains(t, err, "triage.yaml:1: not valid YAML")
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
