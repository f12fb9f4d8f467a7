package config

// This file belongs to the dashboard and spike-alert integration; see issue "Dashboard, incident spotting and deployment".

import (
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/triage-bot/triage/catalog"
	"github.com/triage-bot/triage/route"
)

// Dashboard configures the web dashboard served by triage run on the
// http.listen address. On a loopback address it needs no login; on any
// other address it asks for its token or basic-auth user and password —
// or, when neither is set, one of http.api_tokens.
type Dashboard struct {
	// Enabled turns the dashboard on. Default true.
	Enabled *bool `yaml:"enabled"`
	// Token is a login token (a secret): sent as "Authorization: Bearer
	// <token>" or typed once into the login page, which sets a cookie.
	Token     string `yaml:"token"`
	TokenFile string `yaml:"token_file"`
	// Username and Password enable HTTP basic auth (the password is a secret).
	Username     string `yaml:"username"`
	Password     string `yaml:"password"`
	PasswordFile string `yaml:"password_file"`
	// SessionTTL is how long a login through the login page lasts.
	// Default 12h.
	SessionTTL time.Duration `yaml:"session_ttl"`
	// LoginLimit is how many login attempts one client address may make
	// per minute. Default 10.
	LoginLimit int `yaml:"login_limit"`
}

// On reports whether the dashboard is enabled.
func (d Dashboard) On() bool { return d.Enabled == nil || *d.Enabled }

// Alerts configures spike alerts: when Threshold tickets with the same
// code (or category) arrive within Window, one alert is raised — its
// actions go through the outbox like any other — and not again until the
// count has fallen below the threshold at least Quiet after the alert.
type Alerts struct {
	// Poll is how often new tickets are looked at. Default 10s.
	Poll time.Duration `yaml:"poll"`
	// Rules are the alert rules; none means no spike alerts.
	Rules []AlertRule `yaml:"rules"`
}

// AlertRule is one spike rule.
type AlertRule struct {
	// Name identifies the rule in alerts and logs.
	Name string `yaml:"name"`
	// Per is "code" (default: each code counted on its own) or "category".
	Per string `yaml:"per"`
	// Codes, when set, limits the rule to these codes (3004 or ERR_NGROK_3004).
	Codes []string `yaml:"codes"`
	// Categories, when set, limits the rule to tickets with a code of these
	// categories (per: code) or to these primary categories (per: category).
	Categories []string `yaml:"categories"`
	// Threshold is how many tickets within Window raise an alert. Default 5.
	Threshold int `yaml:"threshold"`
	// Window is the sliding window. Default 15m.
	Window time.Duration `yaml:"window"`
	// Quiet is the least time between two alerts for one code or category.
	// Default: Window.
	Quiet time.Duration `yaml:"quiet"`
	// Actions are planned for each alert, like a routing rule's actions.
	Actions []AlertAction `yaml:"actions"`
}

// AlertAction is one action of an alert rule (kind + target like a route
// action: slack.post to a channel, webhook to a named endpoint).
type AlertAction struct {
	Kind     string `yaml:"kind"`
	Target   string `yaml:"target"`
	Template string `yaml:"template,omitempty"`
}

// CodeNumbers parses the rule's Codes.
func (r AlertRule) CodeNumbers() ([]int, error) {
	var out []int
	for _, s := range r.Codes {
		t := strings.TrimPrefix(strings.ToUpper(strings.TrimSpace(s)), "ERR_NGROK_")
		n, err := strconv.Atoi(t)
		if err != nil || n <= 0 {
			return nil, fmt.Errorf("%q is not an ngrok error code (write 3004 or ERR_NGROK_3004)", s)
		}
		out = append(out, n)
	}
	return out, nil
}

// RoutesNode returns the rule's actions as a `routes:` section with only
// default actions, for route.Compile.
func (r AlertRule) RoutesNode() (*yaml.Node, error) {
	doc := map[string]any{"default": map[string]any{"actions": r.Actions}}
	b, err := yaml.Marshal(doc)
	if err != nil {
		return nil, err
	}
	var n yaml.Node
	if err := yaml.Unmarshal(b, &n); err != nil {
		return nil, err
	}
	return &n, nil
}

func (c *Config) validateDashboard(bad func(format string, args ...any)) {
	d := c.Dashboard
	if d.On() && c.HTTP.Listen != "off" {
		if host, _, err := net.SplitHostPort(c.HTTP.Listen); err == nil && !isLoopback(host) &&
			d.Token == "" && (d.Username == "" || d.Password == "") && len(c.APITokens()) == 0 {
			bad("dashboard: http.listen %q is reachable from other machines, so dashboard.token (or token_file), dashboard.username + password (or password_file), or http.api_tokens must be set — or set dashboard.enabled: false", c.HTTP.Listen)
		}
	}
	if d.SessionTTL < 0 || d.LoginLimit < 0 {
		bad("dashboard: session_ttl and login_limit must not be negative")
	}
	if (d.Username == "") != (d.Password == "") {
		bad("dashboard: username and password go together (basic auth needs both)")
	}
	if c.Alerts.Poll < 0 {
		bad("alerts.poll: must not be negative")
	}
	names := map[string]bool{}
	cats := map[string]bool{}
	for _, k := range catalog.Categories() {
		cats[string(k)] = true
	}
	for i, r := range c.Alerts.Rules {
		where := fmt.Sprintf("alerts.rules[%d]", i)
		if r.Name == "" {
			bad("%s: name is required", where)
		} else {
			where += " (" + r.Name + ")"
			if names[r.Name] {
				bad("%s: name is used twice", where)
			}
			names[r.Name] = true
		}
		if r.Per != "code" && r.Per != "category" {
			bad("%s: per %q is neither code nor category", where, r.Per)
		}
		if _, err := r.CodeNumbers(); err != nil {
			bad("%s: codes: %v", where, err)
		}
		for _, k := range r.Categories {
			if !cats[k] {
				bad("%s: categories: %q is not a category (one of %s)", where, k, strings.Join(categoryNames(), ", "))
			}
		}
		if r.Threshold < 1 {
			bad("%s: threshold must be at least 1", where)
		}
		if r.Window <= 0 || r.Quiet < 0 {
			bad("%s: window must be positive and quiet not negative", where)
		}
		if len(r.Actions) == 0 {
			bad("%s: no actions (an alert needs at least one, e.g. kind: slack.post, target: \"#support-incidents\")", where)
			continue
		}
		node, err := r.RoutesNode()
		if err == nil {
			file := c.File
			if file == "" {
				file = "defaults"
			}
			_, err = route.Compile(file+" "+where, node, route.Options{})
		}
		if err != nil {
			bad("%s: actions: %v", where, err)
		}
	}
}

func categoryNames() []string {
	var out []string
	for _, k := range catalog.Categories() {
		out = append(out, string(k))
	}
	return out
}

// redactDashboard replaces this section's secrets in a copy being printed.
func (c *Config) redactDashboard(hide func(string) string) {
	c.Dashboard.Token = hide(c.Dashboard.Token)
	c.Dashboard.Password = hide(c.Dashboard.Password)
}

// readDashboardSecrets fills secrets from their *_file siblings.
func (c *Config) readDashboardSecrets(read func(field, path string, dst *string)) {
	read("dashboard.token_file", c.Dashboard.TokenFile, &c.Dashboard.Token)
	read("dashboard.password_file", c.Dashboard.PasswordFile, &c.Dashboard.Password)
}

// defaultsDashboard applies this section's defaults.
func (c *Config) defaultsDashboard() {
	if c.Dashboard.Enabled == nil {
		t := true
		c.Dashboard.Enabled = &t
	}
	if c.Alerts.Poll == 0 {
		c.Alerts.Poll = 10 * time.Second
	}
	if c.Dashboard.SessionTTL == 0 {
		c.Dashboard.SessionTTL = 12 * time.Hour
	}
	if c.Dashboard.LoginLimit == 0 {
		c.Dashboard.LoginLimit = 10
	}
	for i := range c.Alerts.Rules {
		r := &c.Alerts.Rules[i]
		if r.Per == "" {
			r.Per = "code"
		}
		if r.Threshold == 0 {
			r.Threshold = 5
		}
		if r.Window == 0 {
			r.Window = 15 * time.Minute
		}
		if r.Quiet == 0 {
			r.Quiet = r.Window
		}
	}
}
