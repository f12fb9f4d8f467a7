// Package config is the bot's configuration: one typed struct with named
// defaults, read from YAML strictly (unknown keys are errors), with ${ENV}
// expansion and a *_file sibling for every secret. Validate reports every
// problem at once; Redacted returns a copy safe to print.
//
// With no file at all, Default describes a complete local setup: SQLite
// under ./triage-data, the embedded sample Maildir, local sinks, the HTTP
// server on 127.0.0.1:8080.
package config

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Config is triage.yaml.
type Config struct {
	// DataDir holds the SQLite database, synced catalog data and local
	// sink output. Default "triage-data".
	DataDir string `yaml:"data_dir"`
	// AllowedDirs are directories besides DataDir under which path
	// targets (jsonl actions) may write; a rendered path anywhere else,
	// before or after following symbolic links, parks its action.
	AllowedDirs []string `yaml:"allowed_dirs"`
	// Store chooses the database.
	Store Store `yaml:"store"`
	// HTTP is the API, health, metrics and dashboard server.
	HTTP HTTP `yaml:"http"`
	// Catalog lists overlay files.
	Catalog Catalog `yaml:"catalog"`
	// Sources lists where tickets come from.
	Sources Sources `yaml:"sources"`
	// Webhooks are named helpdesk endpoints for webhook actions.
	Webhooks []Webhook `yaml:"webhooks"`
	// Outbox tunes action delivery.
	Outbox Outbox `yaml:"outbox"`
	// IMAP lists support mailboxes read over IMAP (config/email.go).
	IMAP []IMAPAccount `yaml:"imap"`
	// SMTP sends email.reply and email.forward actions (config/email.go).
	SMTP *SMTP `yaml:"smtp"`
	// Slack connects the bot to a Slack workspace (config/slack.go).
	Slack *Slack `yaml:"slack"`
	// Zendesk connects the bot to a Zendesk account (config/zendesk.go).
	Zendesk *Zendesk `yaml:"zendesk"`
	// Freshdesk connects the bot to a Freshdesk account (config/freshdesk.go).
	Freshdesk *Freshdesk `yaml:"freshdesk"`
	// Front connects the bot to a Front company (config/front.go).
	Front *Front `yaml:"front"`
	// HelpScout connects the bot to a Help Scout account (config/helpscout.go).
	HelpScout *HelpScout `yaml:"helpscout"`
	// Dashboard configures the web dashboard (config/dashboard.go).
	Dashboard Dashboard `yaml:"dashboard"`
	// Alerts configures spike alerts (config/dashboard.go).
	Alerts Alerts `yaml:"alerts"`
	// Routes is the routing rules section, compiled by package route.
	Routes yaml.Node `yaml:"routes"`
	// Log sets logging.
	Log Log `yaml:"log"`

	// File is the path the config was read from ("" for defaults).
	File string `yaml:"-"`

	// lines maps each key path written in File to its line, for problems.
	lines map[string]int
}

// Store chooses and configures the database.
type Store struct {
	// Driver is "sqlite" (default) or "postgres".
	Driver string `yaml:"driver"`
	// Path is the SQLite file, relative to DataDir. Default "triage.db".
	Path string `yaml:"path"`
	// DSN is the PostgreSQL connection string (a secret: use ${ENV} or dsn_file).
	DSN     string `yaml:"dsn"`
	DSNFile string `yaml:"dsn_file"`
}

// HTTP configures the server.
type HTTP struct {
	// Listen is host:port. Default 127.0.0.1:8080; "" or "off" disables it.
	Listen string `yaml:"listen"`
	// APITokens are accepted bearer tokens for /v1 (secrets).
	APITokens []string `yaml:"api_tokens"`
	// APITokenFile holds one more token.
	APITokenFile string `yaml:"api_token_file"`
	// MaxBodyBytes bounds a POST /v1/tickets body. Default 10 MiB.
	MaxBodyBytes int64 `yaml:"max_body_bytes"`
	// PublicHosts are the host names (or addresses) besides loopback ones
	// that a request's Host header may name, e.g. triage.example.com (no
	// port, no scheme). Other requests get 421: this defeats DNS
	// rebinding. Set it to the names a reverse proxy, Slack or a scraper
	// use to reach the server.
	PublicHosts []string `yaml:"public_hosts"`
	// MetricsToken, when set, is required on /metrics as "Authorization:
	// Bearer <token>" (a secret).
	MetricsToken     string `yaml:"metrics_token"`
	MetricsTokenFile string `yaml:"metrics_token_file"`
	// ReadHeaderTimeout bounds reading request headers. Default 10s.
	ReadHeaderTimeout time.Duration `yaml:"read_header_timeout"`
	// ReadTimeout bounds reading a whole request, body included. Default 30s.
	ReadTimeout time.Duration `yaml:"read_timeout"`
	// WriteTimeout bounds handling a request and writing the answer.
	// Default 60s.
	WriteTimeout time.Duration `yaml:"write_timeout"`
	// IdleTimeout closes a keep-alive connection idle this long. Default 120s.
	IdleTimeout time.Duration `yaml:"idle_timeout"`
}

// Catalog configures the code catalog.
type Catalog struct {
	// Files are overlay files, applied in order.
	Files []string `yaml:"files"`
}

// Sources lists the ticket sources.
type Sources struct {
	Maildir []Maildir `yaml:"maildir"`
	// API enables POST /v1/tickets. Default true.
	API *bool `yaml:"api"`
}

// Maildir is a local Maildir watched for new mail.
type Maildir struct {
	// Name identifies the source in ticket IDs, metrics and leases.
	Name string `yaml:"name"`
	// Path is the Maildir (with cur/ new/ tmp/).
	Path string `yaml:"path"`
	// Poll is how often new/ is checked. Default 2s.
	Poll time.Duration `yaml:"poll"`
	// StaleAfter fails /readyz when the source has not completed a pass for
	// this long. Default 5m.
	StaleAfter time.Duration `yaml:"stale_after"`
	// Keyword is the Dovecot keyword set on handled mail. Default "$triaged".
	Keyword string `yaml:"keyword"`
}

// Webhook is a named endpoint for webhook actions.
type Webhook struct {
	Name string `yaml:"name"`
	URL  string `yaml:"url"`
	// Secret signs each request with HMAC-SHA256 (a secret).
	Secret     string `yaml:"secret"`
	SecretFile string `yaml:"secret_file"`
	// Timeout bounds one request. Default 10s.
	Timeout time.Duration `yaml:"timeout"`
}

// Outbox tunes action delivery.
type Outbox struct {
	// Workers run actions in parallel. Default 4. Each records a
	// success before its next send, so a crash repeats at most this many
	// deliveries.
	Workers int `yaml:"workers"`
	// MaxAttempts parks an action as failed after this many. Default 8.
	MaxAttempts int `yaml:"max_attempts"`
	// Backoff is the first retry delay, doubled each attempt. Default 2s.
	Backoff time.Duration `yaml:"backoff"`
	// MaxBackoff caps the delay. Default 10m.
	MaxBackoff time.Duration `yaml:"max_backoff"`
	// Lease is how long a claim on an action lasts unless renewed. A
	// worker renews its claims every lease/3 while it works on them, so
	// a slow send keeps its claim; a process that died has its claims
	// taken over one lease after its last renewal. Default 10s.
	Lease time.Duration `yaml:"lease"`
	// SendTimeout bounds one send (rendering included). Default 2m.
	SendTimeout time.Duration `yaml:"send_timeout"`
	// Poll is how often workers look for due actions. Default 500ms.
	Poll time.Duration `yaml:"poll"`
}

// Log configures logging.
type Log struct {
	// Level is debug, info, warn or error. Default info.
	Level string `yaml:"level"`
	// Format is text, json or auto (text on a terminal). Default auto.
	Format string `yaml:"format"`
}

// Default returns the configuration used when no file is given.
func Default() *Config { return DefaultIn("") }

// DefaultIn is Default with its data directory (the store, the sample
// inbox, the ticket log) in dir; "" means ./triage-data.
func DefaultIn(dir string) *Config {
	c := &Config{DataDir: dir}
	c.applyDefaults()
	c.Sources.Maildir = []Maildir{{Name: "sample", Path: filepath.Join(c.DataDir, "inbox")}}
	c.Sources.Maildir[0].applyDefaults()
	c.Routes = defaultRoutes(filepath.Join(c.DataDir, "tickets.jsonl"))
	return c
}

// SampleMaildir reports whether this configuration uses the embedded
// sample inbox (the defaults), which run seeds on first start.
func (c *Config) SampleMaildir() bool { return c.File == "" }

// defaultRoutes are defaultRoutesYAML logging to the file log.
func defaultRoutes(log string) yaml.Node {
	var n yaml.Node
	quoted, _ := yaml.Marshal(log)
	_ = yaml.Unmarshal([]byte(strings.Replace(defaultRoutesYAML, "TICKET_LOG", strings.TrimSpace(string(quoted)), 1)), &n)
	return *n.Content[0]
}

// defaultRoutesYAML logs every ticket to a JSON Lines file (TICKET_LOG)
// and files each mail into a Maildir++ folder of the sample inbox:
// robot mail (auto-replies, bounces, newsletters) apart, so that it is
// never a customer ticket in a category, and the rest by category (or
// "no-code").
const defaultRoutesYAML = `
rules:
  - name: log every ticket
    actions:
      - kind: jsonl
        target: TICKET_LOG
    continue: true
  - name: robot mail
    match:
      auto_submitted: true
    actions:
      - kind: maildir.move
        target: robot-mail
  - name: file by category
    match:
      has_code: true
    actions:
      - kind: maildir.move
        target: "{{.Primary}}"
  - name: file mail without codes
    match:
      has_code: false
    actions:
      - kind: maildir.move
        target: no-code
`

func (c *Config) applyDefaults() {
	def := func(s *string, v string) {
		if *s == "" {
			*s = v
		}
	}
	def(&c.DataDir, "triage-data")
	def(&c.Store.Driver, "sqlite")
	def(&c.Store.Path, "triage.db")
	def(&c.HTTP.Listen, "127.0.0.1:8080")
	if c.HTTP.MaxBodyBytes == 0 {
		c.HTTP.MaxBodyBytes = 10 << 20
	}
	defDur := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	defDur(&c.HTTP.ReadHeaderTimeout, 10*time.Second)
	defDur(&c.HTTP.ReadTimeout, 30*time.Second)
	defDur(&c.HTTP.WriteTimeout, 60*time.Second)
	defDur(&c.HTTP.IdleTimeout, 120*time.Second)
	if c.Sources.API == nil {
		t := true
		c.Sources.API = &t
	}
	for i := range c.Sources.Maildir {
		c.Sources.Maildir[i].applyDefaults()
	}
	for i := range c.Webhooks {
		if c.Webhooks[i].Timeout == 0 {
			c.Webhooks[i].Timeout = 10 * time.Second
		}
	}
	o := &c.Outbox
	if o.Workers == 0 {
		o.Workers = 4
	}
	if o.MaxAttempts == 0 {
		o.MaxAttempts = 8
	}
	if o.Backoff == 0 {
		o.Backoff = 2 * time.Second
	}
	if o.MaxBackoff == 0 {
		o.MaxBackoff = 10 * time.Minute
	}
	if o.Lease == 0 {
		o.Lease = 10 * time.Second
	}
	if o.SendTimeout == 0 {
		o.SendTimeout = 2 * time.Minute
	}
	if o.Poll == 0 {
		o.Poll = 500 * time.Millisecond
	}
	c.defaultsEmail()
	c.defaultsSlack()
	c.defaultsFreshdesk()
	c.defaultsFront()
	c.defaultsHelpScout()
	c.defaultsDashboard()
	def(&c.Log.Level, "info")
	def(&c.Log.Format, "auto")
}

func (m *Maildir) applyDefaults() {
	if m.Poll == 0 {
		m.Poll = 2 * time.Second
	}
	if m.StaleAfter == 0 {
		m.StaleAfter = 5 * time.Minute
	}
	if m.Keyword == "" {
		m.Keyword = "$triaged"
	}
}

// Load reads a config file, expands ${ENV} in its values, decodes it
// strictly, applies defaults, reads *_file secrets and validates; every
// problem is reported at once, each as "file:line: key.path: what is
// wrong" (see Problem). getenv nil means os.Getenv.
func Load(path string, getenv func(string) string) (*Config, error) {
	c, err := LoadAll(path, getenv)
	if err != nil {
		return nil, err
	}
	return c, nil
}

// LoadAll is Load that also returns the configuration when it has
// problems, read as far as it could be (nil only when the file cannot be
// read or is not YAML), so that `config check` can go on to check the
// catalog overlays and routes it names and report everything in one run.
func LoadAll(path string, getenv func(string) string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	return ParseAll(path, data, getenv)
}

// Parse is Load for data already read; path names it in errors.
func Parse(path string, data []byte, getenv func(string) string) (*Config, error) {
	c, err := ParseAll(path, data, getenv)
	if err != nil {
		return nil, err
	}
	return c, nil
}

// ParseAll is LoadAll for data already read.
//
// ${NAME} and ${NAME:-default} are expanded after parsing, inside scalar
// values only: a variable's value is never read as YAML (a '#', a
// leading '*', a newline or "key: value" in it stay text), keys are
// never expanded, and comments are never read. An unset variable without
// a default is a problem at its key.
func ParseAll(path string, data []byte, getenv func(string) string) (*Config, error) {
	if getenv == nil {
		getenv = os.Getenv
	}
	c := &Config{File: path, lines: map[string]int{}}
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return nil, syntaxError(path, err)
	}
	w := &walker{c: c, getenv: getenv}
	if len(root.Content) > 0 {
		doc := root.Content[0]
		w.walk(doc, reflect.TypeFor[Config](), "")
		// The walker has checked every key and value and named each
		// problem; decoding fills in what is good. A type error the
		// walker did not foresee is still reported, with its line.
		if err := doc.Decode(c); err != nil {
			var te *yaml.TypeError
			if !errors.As(err, &te) {
				w.errs = append(w.errs, &Problem{File: path, Msg: err.Error()})
			} else if len(w.errs) == 0 {
				for _, e := range te.Errors {
					w.errs = append(w.errs, syntaxError(path, errors.New(e)))
				}
			}
		}
	}
	c.resolvePaths(filepath.Dir(path))
	c.applyDefaults()
	errs := w.errs
	if err := c.readSecretFiles(); err != nil {
		errs = append(errs, err)
	}
	if err := c.Validate(); err != nil {
		all := []error{err}
		if j, ok := err.(interface{ Unwrap() []error }); ok {
			all = j.Unwrap()
		}
		for _, e := range all {
			if !w.consequence(e) {
				errs = append(errs, e)
			}
		}
	}
	return c, errors.Join(errs...)
}

func (c *Config) readSecretFiles() error {
	var errs []error
	read := func(field, path string, dst *string) {
		if path == "" {
			return
		}
		b, err := os.ReadFile(path)
		if err != nil {
			errs = append(errs, c.locate(fmt.Sprintf("%s: %v", field, err)))
			return
		}
		*dst = strings.TrimSpace(string(b))
	}
	read("store.dsn_file", c.Store.DSNFile, &c.Store.DSN)
	read("http.metrics_token_file", c.HTTP.MetricsTokenFile, &c.HTTP.MetricsToken)
	c.readEmailSecrets(read)
	c.readSlackSecrets(read)
	c.readZendeskSecrets(read)
	c.readFreshdeskSecrets(read)
	c.readFrontSecrets(read)
	c.readHelpScoutSecrets(read)
	c.readDashboardSecrets(read)
	if c.HTTP.APITokenFile != "" {
		var tok string
		read("http.api_token_file", c.HTTP.APITokenFile, &tok)
		if tok != "" {
			c.HTTP.APITokens = append(c.HTTP.APITokens, tok)
		}
	}
	for i := range c.Webhooks {
		read(fmt.Sprintf("webhooks[%d].secret_file", i), c.Webhooks[i].SecretFile, &c.Webhooks[i].Secret)
	}
	return errors.Join(errs...)
}

// Validate reports every problem at once, each naming the file and field.
func (c *Config) Validate() error {
	var errs []error
	// Each message starts with the key path; locate finds its line.
	bad := func(format string, args ...any) {
		errs = append(errs, c.locate(fmt.Sprintf(format, args...)))
	}
	switch c.Store.Driver {
	case "sqlite":
	case "postgres":
		if c.Store.DSN == "" {
			bad("store.dsn: the postgres driver needs a DSN (dsn: ${TRIAGE_PG_DSN} or dsn_file)")
		}
	default:
		bad("store.driver: %q is neither sqlite nor postgres", c.Store.Driver)
	}
	for i, tok := range c.HTTP.APITokens {
		if strings.TrimSpace(tok) == "" {
			bad("http.api_tokens[%d]: is empty (a variable set to nothing?); an empty token is never accepted", i)
		}
	}
	if l := c.HTTP.Listen; l != "off" {
		host, _, err := net.SplitHostPort(l)
		if err != nil {
			bad("http.listen: %q is not host:port (%v)", l, err)
		} else if !isLoopback(host) && len(c.APITokens()) == 0 {
			bad("http.listen: %q is reachable from other machines, so http.api_tokens (or api_token_file) must be set", l)
		}
	}
	for _, d := range []time.Duration{c.HTTP.ReadHeaderTimeout, c.HTTP.ReadTimeout, c.HTTP.WriteTimeout, c.HTTP.IdleTimeout} {
		if d < 0 {
			bad("http: read_header_timeout, read_timeout, write_timeout and idle_timeout must not be negative")
			break
		}
	}
	for i, h := range c.HTTP.PublicHosts {
		if h == "" || strings.ContainsAny(h, "/ ") {
			bad("http.public_hosts[%d]: %q is not a host name (write triage.example.com, without scheme or path)", i, h)
		}
	}
	names := map[string]bool{}
	for i, m := range c.Sources.Maildir {
		if m.Name == "" {
			bad("sources.maildir[%d]: name is required", i)
		} else if names[m.Name] {
			bad("sources.maildir[%d]: name %q is used twice", i, m.Name)
		}
		names[m.Name] = true
		if m.Path == "" {
			bad("sources.maildir[%d] (%s): path is required", i, m.Name)
		}
	}
	whs := map[string]bool{}
	for i, w := range c.Webhooks {
		if w.Name == "" {
			bad("webhooks[%d]: name is required", i)
		} else if whs[w.Name] {
			bad("webhooks[%d]: name %q is used twice", i, w.Name)
		}
		whs[w.Name] = true
		if !strings.HasPrefix(w.URL, "https://") && !strings.HasPrefix(w.URL, "http://") {
			bad("webhooks[%d] (%s): url %q must start with https:// (or http:// for local tests)", i, w.Name, w.URL)
		}
	}
	if c.Outbox.Workers < 1 {
		bad("outbox.workers: must be at least 1")
	}
	if c.Outbox.MaxAttempts < 1 {
		bad("outbox.max_attempts: must be at least 1")
	}
	c.validateEmail(bad)
	c.validateSlack(bad)
	c.validateZendesk(bad)
	c.validateFreshdesk(bad)
	c.validateFront(bad)
	c.validateHelpScout(bad)
	c.validateDashboard(bad)
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		bad("log.level: %q is not debug, info, warn or error", c.Log.Level)
	}
	switch c.Log.Format {
	case "auto", "text", "json":
	default:
		bad("log.format: %q is not auto, text or json", c.Log.Format)
	}
	return errors.Join(errs...)
}

// APITokens returns the API tokens that can be used: the configured
// ones less any empty one (an empty token is never accepted).
func (c *Config) APITokens() []string {
	var out []string
	for _, t := range c.HTTP.APITokens {
		if strings.TrimSpace(t) != "" {
			out = append(out, t)
		}
	}
	return out
}

// WebhookByName returns the named webhook.
func (c *Config) WebhookByName(name string) (Webhook, bool) {
	for _, w := range c.Webhooks {
		if w.Name == name {
			return w, true
		}
	}
	return Webhook{}, false
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Redacted returns the configuration as YAML with every secret replaced,
// safe to print or log.
func (c *Config) Redacted() string {
	cp := *c
	hide := func(s string) string {
		if s == "" {
			return ""
		}
		return "[REDACTED]"
	}
	cp.Store.DSN = hide(cp.Store.DSN)
	cp.HTTP.MetricsToken = hide(cp.HTTP.MetricsToken)
	cp.HTTP.APITokens = nil
	for range c.HTTP.APITokens {
		cp.HTTP.APITokens = append(cp.HTTP.APITokens, "[REDACTED]")
	}
	cp.Webhooks = append([]Webhook(nil), c.Webhooks...)
	for i := range cp.Webhooks {
		cp.Webhooks[i].Secret = hide(cp.Webhooks[i].Secret)
	}
	cp.redactEmail(hide)
	cp.redactSlack(hide)
	cp.redactZendesk(hide)
	cp.redactFreshdesk(hide)
	cp.redactFront(hide)
	cp.redactHelpScout(hide)
	cp.redactDashboard(hide)
	out, err := yaml.Marshal(&cp)
	if err != nil {
		return fmt.Sprintf("config: %v", err)
	}
	return string(out)
}
