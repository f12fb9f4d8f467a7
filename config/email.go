package config

// This file belongs to the email (IMAP and SMTP) integration; see issue "Email integration".

import (
	"fmt"
	"net"
	"net/mail"
	"regexp"
	"strings"
	"time"
)

// MailServer is how to reach and log in to an IMAP or SMTP server; both
// sections share these keys.
type MailServer struct {
	// Host is host:port of the server.
	Host string `yaml:"host"`
	// TLS is "implicit", "starttls" or "plain". Plain is refused unless
	// AllowPlain is set; it is meant for a server on loopback.
	TLS string `yaml:"tls"`
	// AllowPlain permits TLS "plain" (no encryption at all).
	AllowPlain bool `yaml:"allow_plain"`
	// InsecureSkipVerify accepts any server certificate (self-signed test
	// servers only).
	InsecureSkipVerify bool `yaml:"insecure_skip_verify"`
	// Username logs in.
	Username string `yaml:"username"`
	// Password is a secret (use ${ENV} or password_file).
	Password     string `yaml:"password"`
	PasswordFile string `yaml:"password_file"`
	// Auth is "password" (LOGIN/PLAIN; the default when a password is set),
	// "xoauth2" (Gmail, Microsoft 365; the default with a token) or
	// "oauthbearer" (RFC 7628, IMAP only).
	Auth string `yaml:"auth"`
	// TokenCommand prints an OAuth access token on stdout; it runs before
	// each login (so it may refresh the token). Run without a shell.
	TokenCommand []string `yaml:"token_command"`
	// TokenFile holds an OAuth access token, re-read before each login.
	TokenFile string `yaml:"token_file"`
	// OAuth2 is built-in OAuth2 instead of token_command or token_file:
	// sign in once with `triage auth login <account>`; the refresh token
	// is kept in the store and access tokens are refreshed before they
	// expire.
	OAuth2 *OAuth2 `yaml:"oauth2"`
}

// OAuth2 is an account's OAuth2 client.
//
//	oauth2:
//	  provider: microsoft        # google, microsoft or generic
//	  flow: device               # how auth login signs in: device or loopback; default loopback for google, device otherwise
//	  tenant: contoso.example    # microsoft only; default common
//	  client_id: 00000000-0000-0000-0000-000000000000
//	  client_secret: ${OAUTH_SECRET}  # or client_secret_file; Google's Desktop app clients have one
//	  token_url: https://…       # generic (or to override a preset)
//	  device_auth_url: https://… # generic with flow device, for auth login
//	  auth_url: https://…        # generic with flow loopback, for auth login
//
// The device flow prints a code to enter at an address on any device.
// The loopback flow (authorization code with PKCE) prints an address to
// open in a browser, which returns to http://127.0.0.1:<port>/ on the
// machine running auth login; over SSH, paste the address of the page
// that then fails to load. Google grants Gmail's scope only in the
// loopback flow; Microsoft grants IMAP and SMTP in both.
type OAuth2 struct {
	Provider         string   `yaml:"provider"`
	Flow             string   `yaml:"flow"`
	Tenant           string   `yaml:"tenant"`
	ClientID         string   `yaml:"client_id"`
	ClientSecret     string   `yaml:"client_secret"`
	ClientSecretFile string   `yaml:"client_secret_file"`
	TokenURL         string   `yaml:"token_url"`
	DeviceAuthURL    string   `yaml:"device_auth_url"`
	AuthURL          string   `yaml:"auth_url"`
	Scopes           []string `yaml:"scopes"`
}

// check reports what is wrong with an oauth2 block.
func (o *OAuth2) check(bad func(string, ...any), where string) {
	switch o.Provider {
	case "google", "microsoft":
	case "generic":
		if o.TokenURL == "" {
			bad("%s: oauth2: the generic provider needs token_url (and device_auth_url or auth_url, as flow says, to sign in)", where)
		}
	default:
		bad("%s: oauth2: provider %q is not google, microsoft or generic", where, o.Provider)
	}
	switch o.Flow {
	case "", "device", "loopback":
	default:
		bad("%s: oauth2: flow %q is not device or loopback", where, o.Flow)
	}
	if o.ClientID == "" {
		bad("%s: oauth2: client_id is empty (the app registered with the provider)", where)
	}
	if o.Tenant != "" && o.Provider != "microsoft" {
		bad("%s: oauth2: tenant is for provider microsoft only", where)
	}
}

// IMAPAccount is one IMAP account with its mailboxes.
//
//	imap:
//	  - name: support
//	    host: imap.example.com:993
//	    tls: implicit              # implicit (993), starttls (143) or plain (loopback only)
//	    username: support@example.com
//	    password: ${IMAP_PASSWORD} # or password_file, or oauth2 (see OAuth2), token_command / token_file (XOAUTH2)
//	    mailboxes: [INBOX]
//	    folders: {agent-auth: Support/Agent}
//	    create_folders: true
type IMAPAccount struct {
	// Name identifies the account in ticket IDs, metrics and leases.
	Name string `yaml:"name"`
	// MailServer is where and how to log in (host, tls, username,
	// password or OAuth token); TLS defaults to "implicit" (port 993).
	MailServer `yaml:",inline"`
	// Mailboxes are read; default [INBOX]. Write levels with '/'
	// ("Support/Inbound") whatever the server's separator: the bot asks
	// the server (LIST) and translates.
	Mailboxes []string `yaml:"mailboxes"`
	// Idle turns IMAP IDLE push on when the server offers it. Default true.
	Idle *bool `yaml:"idle"`
	// ReIdle is how often IDLE is ended and re-issued (servers drop idle
	// connections after 29 minutes, some after 10). Default 9m.
	ReIdle time.Duration `yaml:"reidle"`
	// Noop is how often an idle connection is checked with NOOP. Default 2m.
	Noop time.Duration `yaml:"noop"`
	// Poll is the pause between passes when IDLE brings no news (or the
	// server has no IDLE). Default 1m.
	Poll time.Duration `yaml:"poll"`
	// StaleAfter fails /readyz when a mailbox has not completed a pass for
	// this long. Default 10m.
	StaleAfter time.Duration `yaml:"stale_after"`
	// Timeout bounds dialing and each command's answer. Default 30s.
	Timeout time.Duration `yaml:"timeout"`
	// StartDate: on the first run over a mailbox, only mail that arrived at
	// or after it is processed. Default: the time of the first run.
	StartDate time.Time `yaml:"start_date"`
	// Backfill processes every message already in the mailbox on the first
	// run (ignores StartDate).
	Backfill bool `yaml:"backfill"`
	// MaxMessageBytes bounds what is fetched of one message: a bigger one
	// is read as its headers and first MaxMessageBytes, flagged. Default 25 MiB.
	MaxMessageBytes int64 `yaml:"max_message_bytes"`
	// Batch is how many messages one pass fetches at most. Default 200.
	Batch int `yaml:"batch"`
	// Inflight is how many fetched messages are ingested at once, so the
	// store commits several together. Default 16.
	Inflight int `yaml:"inflight"`
	// ActionConnections is how many connections imap.flag and imap.move
	// may open to the account, so that several outbox workers act at once
	// instead of queueing for one connection. Default 2. More pays off
	// against a distant server (with 10 ms round trips, 10,000 flags take
	// 20 s on one connection, 12 s on two, 8 s on four); mind the server's
	// per-user limit (Dovecot: 10 per IP, Gmail: 15), which the source
	// and IDLE connections of every mailbox count against too.
	ActionConnections int `yaml:"action_connections"`
	// Keywords names the keywords the bot sets.
	Keywords IMAPKeywords `yaml:"keywords"`
	// Folders maps a category (the imap.move target) to a mailbox name;
	// a target not listed is used as the mailbox name itself. Levels are
	// written with '/' ("Triage/Agent") and sent with the server's own
	// separator ("Triage.Agent" on Dovecot's default Maildir layout).
	Folders map[string]string `yaml:"folders"`
	// CreateFolders creates a missing destination mailbox on imap.move;
	// otherwise the action fails with a clear error.
	CreateFolders bool `yaml:"create_folders"`
}

// IMAPKeywords are the keywords the bot sets on mail.
type IMAPKeywords struct {
	// Triaged marks mail whose ticket is stored (the acknowledgement).
	// Default "$triaged".
	Triaged string `yaml:"triaged"`
}

// SMTP is the outgoing mail server for email.reply and email.forward.
type SMTP struct {
	// MailServer is where and how to log in; TLS defaults to "starttls"
	// (port 587), and an empty username means no AUTH.
	MailServer `yaml:",inline"`
	// From is the bot's address, "Support <support@example.com>".
	From string `yaml:"from"`
	// BotAddresses are more addresses of the bot (the support inbox itself):
	// mail from them is never answered and never forwarded to them.
	BotAddresses []string `yaml:"bot_addresses"`
	// ReplyWindow allows at most one automatic reply per sender per
	// window, counting every spelling of an address as one (case, +tag).
	// Default 24h.
	ReplyWindow time.Duration `yaml:"reply_window"`
	// Timeout bounds one delivery. Default 30s.
	Timeout time.Duration `yaml:"timeout"`
	// RequireSenderAuth answers only mail whose sender the receiving mail
	// server authenticated: its Authentication-Results header (RFC 8601,
	// the one marked AuthServID) shows dmarc=pass for the From domain, or
	// a DKIM or SPF pass for that domain or a parent of it. Other mail,
	// including mail without such a header, gets no reply: the action is
	// parked as "suppressed: the sender is not authenticated: …". Without
	// it, anyone can make the bot mail a stranger by forging From.
	// Default true.
	RequireSenderAuth *bool `yaml:"require_sender_auth"`
	// AuthServID is the name the receiving mail server writes at the start
	// of its Authentication-Results headers ("mx.google.com" for Gmail);
	// headers with another name, or below one, are not believed, since a
	// sender can write them. Required while RequireSenderAuth is on.
	AuthServID string `yaml:"auth_serv_id"`
	// RepliesPerHour bounds all automatic replies in any hour. Default 200.
	RepliesPerHour int `yaml:"replies_per_hour"`
	// RepliesPerDomainPerHour bounds automatic replies to one recipient
	// domain in any hour. Default 20.
	RepliesPerDomainPerHour int `yaml:"replies_per_domain_per_hour"`
}

// maxRepliesPerHour bounds the reply budgets a config may set: each is a
// list of recent replies rewritten on every reply.
const maxRepliesPerHour = 10000

// SenderAuthRequired reports whether replies need an authenticated sender.
func (s *SMTP) SenderAuthRequired() bool { return s.RequireSenderAuth == nil || *s.RequireSenderAuth }

// ReplyPolicy says in plain words whom email.reply answers and how
// often; `config check` prints it.
func (s *SMTP) ReplyPolicy() string {
	var b strings.Builder
	if s.SenderAuthRequired() {
		fmt.Fprintf(&b, "email.reply answers only senders that %s vouches for: its topmost Authentication-Results header(s) must show dmarc=pass for the From domain, or a DKIM or SPF pass for that domain or a parent of it. "+
			"Mail without such a header (forged, or your server added none) gets no reply; the action is parked as \"suppressed: the sender is not authenticated: …\". "+
			"If your receiving server writes no Authentication-Results, set smtp.require_sender_auth: false. ", s.AuthServID)
	} else {
		b.WriteString("email.reply answers any From address (smtp.require_sender_auth: false): a forged sender makes the bot mail a stranger, bounded only by the budgets below. ")
	}
	fmt.Fprintf(&b, "Reply-To is followed only within the From domain. At most %d replies an hour (replies_per_hour), %d an hour to one domain (replies_per_domain_per_hour), one per sender per %s (reply_window, +tags and case ignored); held replies are parked as \"suppressed: <reason>\".",
		s.RepliesPerHour, s.RepliesPerDomainPerHour, s.ReplyWindow)
	return b.String()
}

// IdleEnabled reports whether IDLE push is wanted.
func (a *IMAPAccount) IdleEnabled() bool { return a.Idle == nil || *a.Idle }

// keywordRE is an IMAP keyword atom (no spaces, parentheses, wildcards,
// quotes, backslash or brackets).
var keywordRE = regexp.MustCompile(`^[!#$&'+,\-./0-9:;<=>?@A-Z^_a-z|}~` + "`" + `]+$`)

func (c *Config) validateEmail(bad func(format string, args ...any)) {
	names := map[string]bool{}
	for i, a := range c.IMAP {
		where := "imap[" + itoa(i) + "]"
		if a.Name != "" {
			where += " (" + a.Name + ")"
		}
		switch {
		case a.Name == "":
			bad("%s: name is required", where)
		case strings.ContainsAny(a.Name, "/ \t"):
			bad("%s: name %q may not contain '/' or spaces (it is part of ticket IDs)", where, a.Name)
		case names[a.Name]:
			bad("%s: name %q is used twice", where, a.Name)
		}
		names[a.Name] = true
		host, _, err := net.SplitHostPort(a.Host)
		if err != nil {
			bad("%s: host %q is not host:port, e.g. imap.example.com:993 (%v)", where, a.Host, err)
		}
		switch a.TLS {
		case "implicit", "starttls":
		case "plain":
			if !a.AllowPlain {
				bad("%s: tls: plain sends the password unencrypted; set allow_plain: true to allow it (meant for a server on 127.0.0.1)", where)
			} else if err == nil && !isLoopback(host) {
				bad("%s: tls: plain is only allowed for a loopback host, not %q", where, host)
			}
		default:
			bad("%s: tls %q is not implicit, starttls or plain", where, a.TLS)
		}
		if a.Username == "" {
			bad("%s: username is required", where)
		}
		checkAuth(bad, where, &a.MailServer, true)
		seen := map[string]bool{}
		for _, m := range a.Mailboxes {
			if strings.TrimSpace(m) == "" {
				bad("%s: mailboxes: an empty mailbox name", where)
			} else if seen[m] {
				bad("%s: mailboxes: %q is listed twice", where, m)
			}
			seen[m] = true
		}
		if a.ReIdle < time.Minute || a.ReIdle > 29*time.Minute {
			bad("%s: reidle %s must be between 1m and 29m (RFC 2177 servers end IDLE after 30 minutes)", where, a.ReIdle)
		}
		if a.Noop <= 0 || a.Poll <= 0 || a.Timeout <= 0 {
			bad("%s: noop, poll and timeout must be positive", where)
		}
		if a.MaxMessageBytes < 64<<10 {
			bad("%s: max_message_bytes %d is below 64 KiB", where, a.MaxMessageBytes)
		}
		if a.Inflight < 0 {
			bad("%s: inflight must not be negative", where)
		}
		if a.Batch < 1 {
			bad("%s: batch must be at least 1", where)
		}
		if a.ActionConnections < 1 || a.ActionConnections > 16 {
			bad("%s: action_connections %d must be between 1 and 16", where, a.ActionConnections)
		}
		if !keywordRE.MatchString(a.Keywords.Triaged) {
			bad("%s: keywords.triaged %q is not a valid IMAP keyword (letters, digits, $ - _ . and no spaces)", where, a.Keywords.Triaged)
		}
		for cat, f := range a.Folders {
			if strings.TrimSpace(f) == "" {
				bad("%s: folders.%s is empty", where, cat)
			}
		}
	}
	if s := c.SMTP; s != nil {
		where := "smtp"
		host, _, err := net.SplitHostPort(s.Host)
		if err != nil {
			bad("%s: host %q is not host:port, e.g. smtp.example.com:587 (%v)", where, s.Host, err)
		}
		switch s.TLS {
		case "implicit", "starttls":
		case "plain":
			if !s.AllowPlain {
				bad("%s: tls: plain sends mail and password unencrypted; set allow_plain: true to allow it (meant for a relay on 127.0.0.1)", where)
			} else if err == nil && !isLoopback(host) {
				bad("%s: tls: plain is only allowed for a loopback host, not %q", where, host)
			}
		default:
			bad("%s: tls %q is not implicit, starttls or plain", where, s.TLS)
		}
		if s.Username != "" {
			checkAuth(bad, where, &s.MailServer, false)
		}
		if _, err := mail.ParseAddress(s.From); err != nil {
			bad("%s: from %q is not an address like \"Support <support@example.com>\" (%v)", where, s.From, err)
		}
		for _, b := range s.BotAddresses {
			if _, err := mail.ParseAddress(b); err != nil {
				bad("%s: bot_addresses: %q is not an address (%v)", where, b, err)
			}
		}
		if s.ReplyWindow <= 0 || s.Timeout <= 0 {
			bad("%s: reply_window and timeout must be positive", where)
		}
		switch id := s.AuthServID; {
		case s.SenderAuthRequired() && strings.TrimSpace(id) == "":
			bad("%s: require_sender_auth (on by default) needs auth_serv_id, the name your receiving mail server writes first in its Authentication-Results headers "+
				"(a received mail showing \"Authentication-Results: mx.google.com; dmarc=pass …\" means mx.google.com); without it no reply could be sent. "+
				"If your server adds no Authentication-Results, set require_sender_auth: false: replies then go to any From address, bounded only by replies_per_hour and replies_per_domain_per_hour", where)
		case strings.ContainsAny(id, " \t;()\"="):
			bad("%s: auth_serv_id %q is not a server name (write it as it appears before the first ';' of Authentication-Results)", where, id)
		}
		for _, b := range []struct {
			key string
			n   int
		}{{"replies_per_hour", s.RepliesPerHour}, {"replies_per_domain_per_hour", s.RepliesPerDomainPerHour}} {
			if b.n < 1 || b.n > maxRepliesPerHour {
				bad("%s: %s %d must be between 1 and %d", where, b.key, b.n, maxRepliesPerHour)
			}
		}
	}
}

// checkAuth validates one set of credentials.
func checkAuth(bad func(string, ...any), where string, m *MailServer, required bool) {
	auth, password := m.Auth, m.Password
	tokens := 0
	if len(m.TokenCommand) > 0 {
		tokens++
	}
	if m.TokenFile != "" {
		tokens++
	}
	if m.OAuth2 != nil {
		tokens++
		m.OAuth2.check(bad, where)
	}
	switch auth {
	case "password":
		if password == "" {
			bad("%s: auth: password needs password: ${ENV} or password_file", where)
		}
	case "xoauth2", "oauthbearer":
		if tokens != 1 {
			bad("%s: auth: %s needs exactly one of oauth2, token_command or token_file", where, auth)
		}
	case "":
		if required {
			bad("%s: no credentials: set password (${ENV} or password_file), or oauth2 / token_command / token_file for OAuth", where)
		}
	default:
		bad("%s: auth %q is not password, xoauth2 or oauthbearer", where, auth)
	}
	if password != "" && tokens > 0 {
		bad("%s: both a password and an OAuth token are set; keep one", where)
	}
}

// redactEmail replaces this section's secrets in a copy being printed.
func (c *Config) redactEmail(hide func(string) string) {
	accts := append([]IMAPAccount(nil), c.IMAP...)
	hideOAuth := func(o *OAuth2) *OAuth2 {
		if o == nil {
			return nil
		}
		cp := *o
		cp.ClientSecret = hide(cp.ClientSecret)
		return &cp
	}
	for i := range accts {
		accts[i].Password = hide(accts[i].Password)
		accts[i].OAuth2 = hideOAuth(accts[i].OAuth2)
	}
	c.IMAP = accts
	if c.SMTP != nil {
		s := *c.SMTP
		s.Password = hide(s.Password)
		s.OAuth2 = hideOAuth(s.OAuth2)
		c.SMTP = &s
	}
}

// readEmailSecrets fills secrets from their *_file siblings.
func (c *Config) readEmailSecrets(read func(field, path string, dst *string)) {
	for i := range c.IMAP {
		a := &c.IMAP[i]
		read("imap["+a.Name+"].password_file", a.PasswordFile, &a.Password)
		if o := a.OAuth2; o != nil {
			read("imap["+a.Name+"].oauth2.client_secret_file", o.ClientSecretFile, &o.ClientSecret)
		}
		a.defaultAuth()
	}
	if s := c.SMTP; s != nil {
		read("smtp.password_file", s.PasswordFile, &s.Password)
		if o := s.OAuth2; o != nil {
			read("smtp.oauth2.client_secret_file", o.ClientSecretFile, &o.ClientSecret)
		}
		if s.Auth == "" && s.Username != "" {
			if s.Password != "" {
				s.Auth = "password"
			} else if len(s.TokenCommand) > 0 || s.TokenFile != "" || s.OAuth2 != nil {
				s.Auth = "xoauth2"
			}
		}
	}
}

func (a *IMAPAccount) defaultAuth() {
	if a.Auth != "" {
		return
	}
	if a.Password != "" {
		a.Auth = "password"
	} else if len(a.TokenCommand) > 0 || a.TokenFile != "" || a.OAuth2 != nil {
		a.Auth = "xoauth2"
	}
}

// defaultsEmail applies this section's defaults.
func (c *Config) defaultsEmail() {
	for i := range c.IMAP {
		a := &c.IMAP[i]
		if a.TLS == "" {
			a.TLS = "implicit"
		}
		if len(a.Mailboxes) == 0 {
			a.Mailboxes = []string{"INBOX"}
		}
		if a.ReIdle == 0 {
			a.ReIdle = 9 * time.Minute
		}
		if a.Noop == 0 {
			a.Noop = 2 * time.Minute
		}
		if a.Poll == 0 {
			a.Poll = time.Minute
		}
		if a.StaleAfter == 0 {
			a.StaleAfter = 10 * time.Minute
		}
		if a.Timeout == 0 {
			a.Timeout = 30 * time.Second
		}
		if a.MaxMessageBytes == 0 {
			a.MaxMessageBytes = 25 << 20
		}
		if a.Inflight == 0 {
			a.Inflight = 16
		}
		if a.Batch == 0 {
			a.Batch = 200
		}
		if a.ActionConnections == 0 {
			a.ActionConnections = 2
		}
		if a.Keywords.Triaged == "" {
			a.Keywords.Triaged = "$triaged"
		}
		a.defaultAuth()
	}
	if s := c.SMTP; s != nil {
		if s.TLS == "" {
			s.TLS = "starttls"
		}
		if s.ReplyWindow == 0 {
			s.ReplyWindow = 24 * time.Hour
		}
		if s.RepliesPerHour == 0 {
			s.RepliesPerHour = 200
		}
		if s.RepliesPerDomainPerHour == 0 {
			s.RepliesPerDomainPerHour = 20
		}
		if s.Timeout == 0 {
			s.Timeout = 30 * time.Second
		}
	}
}

func itoa(i int) string {
	const digits = "0123456789"
	if i < 10 {
		return digits[i : i+1]
	}
	return itoa(i/10) + digits[i%10:i%10+1]
}
