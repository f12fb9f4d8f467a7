// Package oauth gets and keeps the OAuth2 access tokens that Gmail and
// Microsoft 365 demand for IMAP and SMTP (XOAUTH2), without helper
// scripts.
//
// A person signs in once with Login, in one of two flows, both usable
// over SSH:
//
//   - "device" (RFC 8628): it prints a short code and an address to open
//     on any machine. Microsoft grants its IMAP and SMTP scopes this way.
//   - "loopback" (RFC 8252, the installed-app flow): an authorization code
//     with PKCE (S256), redirected to a one-shot HTTP server on
//     http://127.0.0.1:<random port>/. When the browser runs on another
//     machine and cannot reach that address, the person pastes the address
//     of the failed page (or just the code) on standard input. Google
//     grants Gmail's scope only this way: its device flow allows a short
//     list of scopes that does not include https://mail.google.com/.
//
// The refresh token that comes back is kept in the store under the
// account's key (Key), never in a file or a log; neither the code nor a
// token nor the client secret is ever written out. Source then hands out
// access tokens, refreshing them a few minutes before they expire and
// saving the refresh token again when the provider rotates it.
//
// Providers: "google" (Gmail; loopback), "microsoft" (Microsoft 365;
// device; Tenant is the directory, default "common"), and "generic" (any
// provider: TokenURL and, for Login, DeviceAuthURL or AuthURL as Flow
// says; device by default).
package oauth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/endpoints"
)

// Config is one account's OAuth2 client.
type Config struct {
	// Account is the name `triage auth login` takes for this account,
	// for the messages that say to sign in.
	Account string
	// Provider is "google", "microsoft" or "generic".
	Provider string
	// Flow is how Login signs in: "device" or "loopback"; empty means the
	// provider's: loopback for google, device for microsoft and generic.
	Flow string
	// Tenant is Microsoft's directory (a domain or GUID); default "common".
	Tenant string
	// ClientID and ClientSecret identify the app registered with the
	// provider (Google's "Desktop app" clients have a secret, which Google
	// does not treat as confidential; Microsoft's public clients have
	// none).
	ClientID     string
	ClientSecret string
	// TokenURL, DeviceAuthURL (device flow) and AuthURL (loopback flow)
	// are the generic provider's endpoints; for google and microsoft,
	// when set, they replace the preset's.
	TokenURL      string
	DeviceAuthURL string
	AuthURL       string
	// Scopes replace the provider's default scopes (IMAP and SMTP).
	Scopes []string
	// HTTPClient talks to the provider; nil means a client with a 30 s
	// timeout.
	HTTPClient *http.Client
}

// Default scopes: mail over IMAP and SMTP, and a refresh token.
var (
	googleScopes    = []string{"https://mail.google.com/"}
	microsoftScopes = []string{"https://outlook.office.com/IMAP.AccessAsUser.All", "https://outlook.office.com/SMTP.Send", "offline_access"}
)

// refreshEarly is how long before its expiry an access token is renewed,
// so that a login never starts with a token about to lapse.
const refreshEarly = 5 * time.Minute

// oauth2Config is the x/oauth2 client of c.
func (c Config) oauth2Config() (*oauth2.Config, error) {
	var ep oauth2.Endpoint
	scopes := c.Scopes
	switch c.Provider {
	case "google":
		ep = endpoints.Google
		if scopes == nil {
			scopes = googleScopes
		}
	case "microsoft":
		tenant := c.Tenant
		if tenant == "" {
			tenant = "common"
		}
		ep = endpoints.AzureAD(tenant)
		if scopes == nil {
			scopes = microsoftScopes
		}
	case "generic":
		if c.TokenURL == "" {
			return nil, errors.New("oauth: the generic provider needs token_url")
		}
	default:
		return nil, fmt.Errorf("oauth: provider %q is not google, microsoft or generic", c.Provider)
	}
	if _, err := c.flow(); err != nil {
		return nil, err
	}
	if c.TokenURL != "" {
		ep.TokenURL = c.TokenURL
	}
	if c.DeviceAuthURL != "" {
		ep.DeviceAuthURL = c.DeviceAuthURL
	}
	if c.AuthURL != "" {
		ep.AuthURL = c.AuthURL
	}
	if c.ClientID == "" {
		return nil, errors.New("oauth: client_id is empty")
	}
	// Form-encoded client credentials work with all three.
	ep.AuthStyle = oauth2.AuthStyleInParams
	return &oauth2.Config{ClientID: c.ClientID, ClientSecret: c.ClientSecret, Endpoint: ep, Scopes: scopes}, nil
}

func (c Config) context(ctx context.Context) context.Context {
	hc := c.HTTPClient
	if hc == nil {
		hc = &http.Client{Timeout: 30 * time.Second}
	}
	return context.WithValue(ctx, oauth2.HTTPClient, hc)
}

// Store keeps the tokens (store.Store has these methods: the token is a
// value under Key in its key-value table).
type Store interface {
	Cursor(ctx context.Context, key string) (string, error)
	SetCursor(ctx context.Context, key, value string) error
}

// Key is the store key of the token of the mail user (the login name,
// "support@example.com"): an IMAP account and the SMTP server that log in
// as the same user share one sign-in.
func Key(user string) string { return "oauth2:" + strings.ToLower(user) }

// ErrNoToken is returned (wrapped) by Source when nobody has signed in
// for the account yet.
var ErrNoToken = errors.New("no OAuth2 sign-in stored")

// flow is the sign-in flow of c: Flow, or the provider's default.
func (c Config) flow() (string, error) {
	switch c.Flow {
	case "device", "loopback":
		return c.Flow, nil
	case "":
		if c.Provider == "google" {
			return "loopback", nil
		}
		return "device", nil
	default:
		return "", fmt.Errorf("oauth: flow %q is not device or loopback", c.Flow)
	}
}

// Login signs in once, in the flow Config.Flow names (see the package
// comment), and stores the token under key. It writes to out what the
// person should do, and in the loopback flow reads from in an address
// or code pasted by hand (in may be nil: then only the loopback server
// listens; a goroutine blocked reading in is left behind when Login
// returns, which is meant for a command that exits afterwards). It waits
// until the person has approved, refused, or the device code expired;
// cancelling ctx stops the wait. The code and the tokens are never
// written to out.
func Login(ctx context.Context, c Config, st Store, key string, in io.Reader, out io.Writer) error {
	oc, err := c.oauth2Config()
	if err != nil {
		return err
	}
	flow, _ := c.flow() // checked by oauth2Config
	ctx = c.context(ctx)
	var tok *oauth2.Token
	if flow == "loopback" {
		tok, err = loginLoopback(ctx, c, oc, in, out)
	} else {
		tok, err = loginDevice(ctx, oc, out)
	}
	if err != nil {
		return err
	}
	if tok.RefreshToken == "" {
		return errors.New("oauth: the provider returned no refresh token (is offline_access among the scopes?)")
	}
	if err := save(ctx, st, key, tok); err != nil {
		return err
	}
	fmt.Fprintln(out, "Signed in; the refresh token is kept in the store.")
	return nil
}

// loginDevice runs the device-code flow: it asks the provider for a
// code, writes to w where to enter it, and polls as the provider says.
func loginDevice(ctx context.Context, oc *oauth2.Config, w io.Writer) (*oauth2.Token, error) {
	if oc.Endpoint.DeviceAuthURL == "" {
		return nil, errors.New("oauth: the device flow needs device_auth_url to sign in")
	}
	da, err := oc.DeviceAuth(ctx)
	if err != nil {
		return nil, fmt.Errorf("oauth: ask %s for a sign-in code: %w", oc.Endpoint.DeviceAuthURL, err)
	}
	where := da.VerificationURI
	if da.VerificationURIComplete != "" {
		where = da.VerificationURIComplete
	}
	fmt.Fprintf(w, "To let triage read this mailbox, open %s on any device and enter the code %s\n", where, da.UserCode)
	if !da.Expiry.IsZero() {
		fmt.Fprintf(w, "(the code is good until %s; waiting…)\n", da.Expiry.Local().Format(time.Kitchen))
	}
	tok, err := oc.DeviceAccessToken(ctx, da)
	if err != nil {
		return nil, fmt.Errorf("oauth: sign-in did not complete: %w", err)
	}
	return tok, nil
}

// stored is a token as kept in the store.
type stored struct {
	AccessToken  string    `json:"access_token,omitempty"`
	RefreshToken string    `json:"refresh_token"`
	Expiry       time.Time `json:"expiry,omitzero"`
}

func save(ctx context.Context, st Store, key string, tok *oauth2.Token) error {
	b, _ := json.Marshal(stored{AccessToken: tok.AccessToken, RefreshToken: tok.RefreshToken, Expiry: tok.Expiry})
	if err := st.SetCursor(ctx, key, string(b)); err != nil {
		return fmt.Errorf("oauth: save the token: %w", err)
	}
	return nil
}

func load(ctx context.Context, st Store, key string) (*oauth2.Token, error) {
	v, err := st.Cursor(ctx, key)
	if err != nil {
		return nil, fmt.Errorf("oauth: read the token: %w", err)
	}
	if v == "" {
		return nil, ErrNoToken
	}
	var s stored
	if err := json.Unmarshal([]byte(v), &s); err != nil || s.RefreshToken == "" {
		return nil, fmt.Errorf("oauth: the stored token under %s is unreadable; sign in again", key)
	}
	return &oauth2.Token{AccessToken: s.AccessToken, RefreshToken: s.RefreshToken, Expiry: s.Expiry, TokenType: "Bearer"}, nil
}

// Source returns a function that gives a valid access token for the
// account whose token is stored under key: the one it holds while it has
// more than five minutes left, else a refreshed one (saved, with the new
// refresh token when the provider rotated it). It is safe for concurrent
// use. Errors name the account's key and say to sign in again when the
// provider refused the refresh token.
func Source(c Config, st Store, key string) (func(ctx context.Context) (string, error), error) {
	oc, err := c.oauth2Config()
	if err != nil {
		return nil, err
	}
	var (
		mu  sync.Mutex
		cur *oauth2.Token
	)
	return func(ctx context.Context) (string, error) {
		mu.Lock()
		defer mu.Unlock()
		if cur == nil {
			t, err := load(ctx, st, key)
			if err != nil {
				if errors.Is(err, ErrNoToken) {
					return "", fmt.Errorf("oauth: %w for %s: run `triage auth login %s`", err, strings.TrimPrefix(key, "oauth2:"), c.Account)
				}
				return "", err
			}
			cur = t
		}
		if cur.AccessToken != "" && time.Until(cur.Expiry) > refreshEarly {
			return cur.AccessToken, nil
		}
		// An expired copy makes x/oauth2 refresh now.
		old := *cur
		old.AccessToken, old.Expiry = "", time.Time{}
		t, err := oc.TokenSource(c.context(ctx), &old).Token()
		if err != nil {
			var re *oauth2.RetrieveError
			if errors.As(err, &re) && re.ErrorCode == "invalid_grant" {
				return "", fmt.Errorf("oauth: the provider refused the stored refresh token for %s (revoked or expired): run `triage auth login %s` again: %w",
					strings.TrimPrefix(key, "oauth2:"), c.Account, err)
			}
			return "", fmt.Errorf("oauth: refresh the access token for %s: %w", strings.TrimPrefix(key, "oauth2:"), err)
		}
		if t.RefreshToken == "" {
			t.RefreshToken = cur.RefreshToken
		}
		if err := save(ctx, st, key, t); err != nil {
			return "", err
		}
		cur = t
		return t.AccessToken, nil
	}, nil
}
