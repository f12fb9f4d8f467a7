package config

// This file belongs to the dashboard and spike-alert integration; see issue "Dashboard, incident spotting and deployment".

// Dashboard configures the web dashboard served by triage run.
type Dashboard struct {
	// Enabled turns the dashboard on. Default true.
	Enabled *bool `yaml:"enabled"`
}

// Alerts configures spike alerts.
type Alerts struct {
	// Threshold is how many tickets with one code within Window raise an alert.
	Threshold int `yaml:"threshold"`
}

func (c *Config) validateDashboard(bad func(format string, args ...any)) {}

// redactDashboard replaces this section's secrets in a copy being printed.
func (c *Config) redactDashboard(hide func(string) string) {}

// readDashboardSecrets fills secrets from their *_file siblings.
func (c *Config) readDashboardSecrets(read func(field, path string, dst *string)) {}

// defaultsDashboard applies this section's defaults.
func (c *Config) defaultsDashboard() {}
