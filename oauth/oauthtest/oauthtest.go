// Package oauthtest is a stand-in OAuth2 provider for tests: the device
// authorization endpoint, the authorization endpoint and the token
// endpoint (RFC 8628 device codes, authorization codes with PKCE S256
// redirected to a loopback address, refresh tokens) as Google and
// Microsoft speak them, on an httptest server. Access tokens it issued
// can be checked with Valid, so an IMAP or SMTP stand-in can demand them.
//
// The authorization endpoint stands for the person too: a GET approves at
// once (or refuses, with Deny) and redirects to the redirect_uri with the
// code and the state, so a test plays the browser by following it.
package oauthtest

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

// Provider is the stand-in. Set its fields before the requests that
// should see them.
type Provider struct {
	// URL is the server's base: URL+"/device", URL+"/authorize" and
	// URL+"/token".
	URL string
	// ClientID is the only client it knows.
	ClientID string
	// ExpiresIn is the lifetime it gives access tokens, in seconds.
	ExpiresIn int
	// Pending is how many polls of the device code answer
	// authorization_pending before the person "approves".
	Pending int
	// Deny makes the authorization endpoint redirect with
	// error=access_denied, as when the person refuses.
	Deny bool

	mu        sync.Mutex
	n         int
	access    map[string]bool
	refresh   map[string]bool
	refreshes int              // refresh_token grants answered
	codes     map[string]grant // authorization codes not yet exchanged
	authorize url.Values       // the last authorization request's query
}

// grant is what an authorization code was issued for.
type grant struct {
	redirectURI, challenge string
}

// Approve plays the browser up to the provider's answer: it opens the
// authorization address authURL and returns where the provider sends the
// browser back, without following it (nothing need listen there).
func Approve(t testing.TB, authURL string) *url.URL {
	t.Helper()
	hc := &http.Client{Timeout: 10 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := hc.Get(authURL)
	if err != nil {
		t.Fatalf("oauthtest: open the authorization address: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound {
		t.Fatalf("oauthtest: the provider answered %d, not a redirect", resp.StatusCode)
	}
	back, err := url.Parse(resp.Header.Get("Location"))
	if err != nil {
		t.Fatalf("oauthtest: the redirect's Location: %v", err)
	}
	return back
}

// Start runs a provider until the test ends.
func Start(t *testing.T) *Provider {
	t.Helper()
	p := &Provider{ClientID: "triage-test", ExpiresIn: 3600, Pending: 1, access: map[string]bool{}, refresh: map[string]bool{}, codes: map[string]grant{}}
	srv := httptest.NewServer(http.HandlerFunc(p.serve))
	t.Cleanup(srv.Close)
	p.URL = srv.URL
	return p
}

// Valid reports whether token is an access token it issued.
func (p *Provider) Valid(token string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.access[token]
}

// Revoke forgets every refresh token: the next refresh is invalid_grant.
func (p *Provider) Revoke() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.refresh = map[string]bool{}
}

// Refreshes is how many refresh_token grants it answered.
func (p *Provider) Refreshes() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.refreshes
}

// Authorization is the query of the last request to the authorization
// endpoint (nil before the first).
func (p *Provider) Authorization() url.Values {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.authorize
}

func (p *Provider) serve(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/authorize" {
		p.authorizeCode(w, r)
		return
	}
	if err := r.ParseForm(); err != nil || r.Method != http.MethodPost {
		http.Error(w, "bad request", http.StatusBadRequest)
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if r.PostForm.Get("client_id") != p.ClientID {
		oauthError(w, "invalid_client")
		return
	}
	switch r.URL.Path {
	case "/device":
		writeJSON(w, map[string]any{"device_code": "dev-1", "user_code": "WDJB-MJHT", "verification_uri": p.URL + "/activate",
			"expires_in": 900, "interval": 1})
	case "/token":
		switch r.PostForm.Get("grant_type") {
		case "urn:ietf:params:oauth:grant-type:device_code":
			if r.PostForm.Get("device_code") != "dev-1" {
				oauthError(w, "invalid_grant")
				return
			}
			if p.Pending > 0 {
				p.Pending--
				oauthError(w, "authorization_pending")
				return
			}
			p.issue(w, true)
		case "authorization_code":
			g, ok := p.codes[r.PostForm.Get("code")]
			delete(p.codes, r.PostForm.Get("code")) // used once, right or wrong
			if !ok || r.PostForm.Get("redirect_uri") != g.redirectURI || !verifies(r.PostForm.Get("code_verifier"), g.challenge) {
				oauthError(w, "invalid_grant")
				return
			}
			p.issue(w, true)
		case "refresh_token":
			if !p.refresh[r.PostForm.Get("refresh_token")] {
				oauthError(w, "invalid_grant")
				return
			}
			p.refreshes++
			p.issue(w, true)
		default:
			oauthError(w, "unsupported_grant_type")
		}
	default:
		http.NotFound(w, r)
	}
}

// authorizeCode is the authorization endpoint: it checks the request as
// Google does for an installed app (a loopback redirect_uri, a PKCE S256
// challenge) and "approves" by redirecting there with a code.
func (p *Provider) authorizeCode(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	p.mu.Lock()
	defer p.mu.Unlock()
	p.authorize = q
	redirect := q.Get("redirect_uri")
	switch {
	case r.Method != http.MethodGet:
		http.Error(w, "GET only", http.StatusMethodNotAllowed)
		return
	case q.Get("client_id") != p.ClientID:
		http.Error(w, "unknown client", http.StatusBadRequest) // never redirect for an unknown client
		return
	case !strings.HasPrefix(redirect, "http://127.0.0.1:"):
		http.Error(w, "redirect_uri is not a loopback address", http.StatusBadRequest)
		return
	}
	back, err := url.Parse(redirect)
	if err != nil {
		http.Error(w, "bad redirect_uri", http.StatusBadRequest)
		return
	}
	v := url.Values{"state": {q.Get("state")}}
	switch {
	case q.Get("response_type") != "code":
		v.Set("error", "unsupported_response_type")
	case q.Get("code_challenge_method") != "S256" || q.Get("code_challenge") == "":
		v.Set("error", "invalid_request")
		v.Set("error_description", "PKCE with S256 is required")
	case p.Deny:
		v.Set("error", "access_denied")
	default:
		p.n++
		code := fmt.Sprintf("code-%d", p.n)
		p.codes[code] = grant{redirectURI: redirect, challenge: q.Get("code_challenge")}
		v.Set("code", code)
	}
	back.RawQuery = v.Encode()
	http.Redirect(w, r, back.String(), http.StatusFound)
}

// verifies reports whether verifier is the PKCE S256 preimage of challenge.
func verifies(verifier, challenge string) bool {
	if verifier == "" {
		return false
	}
	sum := sha256.Sum256([]byte(verifier))
	return subtle.ConstantTimeCompare([]byte(base64.RawURLEncoding.EncodeToString(sum[:])), []byte(challenge)) == 1
}

// issue answers with a fresh access token and, when rotate, a new
// refresh token (as Microsoft does).
func (p *Provider) issue(w http.ResponseWriter, rotate bool) {
	p.n++
	access := fmt.Sprintf("access-%d", p.n)
	p.access[access] = true
	out := map[string]any{"access_token": access, "token_type": "Bearer", "expires_in": p.ExpiresIn}
	if rotate {
		refresh := fmt.Sprintf("refresh-%d", p.n)
		p.refresh[refresh] = true
		out["refresh_token"] = refresh
	}
	writeJSON(w, out)
}

func oauthError(w http.ResponseWriter, code string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusBadRequest)
	_ = json.NewEncoder(w).Encode(map[string]string{"error": code})
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}
