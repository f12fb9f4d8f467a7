package config

import "path/filepath"

// resolvePaths makes the relative file and directory paths of a config
// file relative to the file's folder, dir, rather than to wherever triage
// happens to run: data_dir, allowed_dirs, catalog.files, Maildir paths,
// and every *_file secret. store.path stays relative to data_dir, and
// token_command runs as written (it is a command, not a path). Absolute
// paths are left alone, and so are defaults, which are not in the file
// (data_dir's default ./triage-data is relative to where triage runs).
func (c *Config) resolvePaths(dir string) {
	if dir == "" || dir == "." {
		return
	}
	fix := func(p *string) {
		if *p != "" && !filepath.IsAbs(*p) {
			*p = filepath.Join(dir, *p)
		}
	}
	fixAll := func(ps []string) {
		for i := range ps {
			fix(&ps[i])
		}
	}
	fix(&c.DataDir)
	fixAll(c.AllowedDirs)
	fixAll(c.Catalog.Files)
	for i := range c.Sources.Maildir {
		fix(&c.Sources.Maildir[i].Path)
	}
	fix(&c.Store.DSNFile)
	fix(&c.HTTP.APITokenFile)
	fix(&c.HTTP.MetricsTokenFile)
	for i := range c.Webhooks {
		fix(&c.Webhooks[i].SecretFile)
	}
	for i := range c.IMAP {
		fix(&c.IMAP[i].PasswordFile)
		fix(&c.IMAP[i].TokenFile)
	}
	if c.SMTP != nil {
		fix(&c.SMTP.PasswordFile)
		fix(&c.SMTP.TokenFile)
	}
	if c.Slack != nil {
		fix(&c.Slack.BotTokenFile)
		fix(&c.Slack.AppTokenFile)
		fix(&c.Slack.SigningSecretFile)
	}
	fix(&c.Dashboard.TokenFile)
	fix(&c.Dashboard.PasswordFile)
}
