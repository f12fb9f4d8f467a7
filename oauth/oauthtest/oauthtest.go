// Package oauthtest is a stand-in OAuth2 provider for tests: the device
// authorization endpoint and the token endpoint (RFC 8628 device codes,
// refresh tokens) as Google and Microsoft speak them, on an httptest
// server. Access tokens it issued can be checked with Valid, so an IMAP
// or SMTP stand-in can demand them.
package oauthtest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
)

// Provider is the stand-in. Set its fields before the requests that
// should see them.
type Provider struct {
	// URL is the server's base: URL+"/device" and URL+"/token".
	URL string
	// ClientID is the only client it knows.
	ClientID string
	// ExpiresIn is the lifetime it gives access tokens, in seconds.
	ExpiresIn int
	// Pending is how many polls of the device code answer
	// authorization_pending before the person "approves".
	Pending int

	mu        sync.Mutex
	n         int
	access    map[string]bool
	refresh   map[string]bool
	refreshes int // refresh_token grants answered
}

// Start runs a provider until the test ends.
func Start(t *testing.T) *Provider {
	t.Helper()
	p := &Provider{ClientID: "triage-test", ExpiresIn: 3600, Pending: 1, access: map[string]bool{}, refresh: map[string]bool{}}
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

func (p *Provider) serve(w http.ResponseWriter, r *http.Request) {
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
