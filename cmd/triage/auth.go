package main

import (
	"context"
	"fmt"
	"strings"

	"github.com/triage-bot/triage/config"
	"github.com/triage-bot/triage/oauth"
)

// cmdAuth runs `triage auth login ACCOUNT`: the OAuth2 sign-in (device
// code, or loopback redirect with a pasted fallback read from stdin) for
// an IMAP account (its name) or the SMTP server ("smtp") with an oauth2
// block. The refresh token goes to the store the bot uses.
func cmdAuth(ctx context.Context, e env, args []string) error {
	if len(args) == 0 || args[0] != "login" {
		return usagef("auth needs a subcommand: login ACCOUNT")
	}
	fs := newFlagSet("auth login", e)
	cfgPath := fs.String("config", "", "config file")
	pos, err := parseFlags(fs, args[1:])
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("auth login needs one account: the name of an imap account, or smtp")
	}
	cfg, err := loadConfig(e, *cfgPath)
	if err != nil {
		return err
	}
	server, names := oauthServer(cfg, pos[0])
	if server == nil {
		return usagef("no imap account or smtp named %q has an oauth2 block (accounts with oauth2: %s)", pos[0], orNone(strings.Join(names, ", ")))
	}
	st, err := openStore(ctx, cfg)
	if err != nil {
		return fmt.Errorf("store (%s): %w", cfg.Store.Driver, err)
	}
	defer st.Close()
	fmt.Fprintf(e.stdout, "Signing in %s (%s) with %s.\n", pos[0], server.Username, server.OAuth2.Provider)
	return oauth.Login(ctx, oauthConfig(pos[0], server.OAuth2), st, oauth.Key(server.Username), e.stdin, e.stdout)
}

// oauthServer finds the mail server named name ("smtp" or an IMAP
// account) among those with an oauth2 block, and lists their names.
func oauthServer(cfg *config.Config, name string) (*config.MailServer, []string) {
	var found *config.MailServer
	var names []string
	for i := range cfg.IMAP {
		a := &cfg.IMAP[i]
		if a.OAuth2 == nil {
			continue
		}
		names = append(names, a.Name)
		if a.Name == name {
			found = &a.MailServer
		}
	}
	if s := cfg.SMTP; s != nil && s.OAuth2 != nil {
		names = append(names, "smtp")
		if name == "smtp" {
			found = &s.MailServer
		}
	}
	return found, names
}

// oauthConfig turns an oauth2 block into the oauth package's client.
func oauthConfig(account string, o *config.OAuth2) oauth.Config {
	return oauth.Config{Account: account, Provider: o.Provider, Flow: o.Flow, Tenant: o.Tenant, ClientID: o.ClientID, ClientSecret: o.ClientSecret,
		TokenURL: o.TokenURL, DeviceAuthURL: o.DeviceAuthURL, AuthURL: o.AuthURL, Scopes: o.Scopes}
}

// oauthToken returns the access-token function of a server with an
// oauth2 block, reading and saving its tokens in st; nil without one.
func oauthToken(account string, m *config.MailServer, st oauth.Store) (func(context.Context) (string, error), error) {
	if m.OAuth2 == nil {
		return nil, nil
	}
	return oauth.Source(oauthConfig(account, m.OAuth2), st, oauth.Key(m.Username))
}
