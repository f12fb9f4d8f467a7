package oauthtest_test

import (
	"context"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/oauth2"

	"github.com/triage-bot/triage/oauth/oauthtest"
)

// TestAuthorizationCodePKCE: the stand-in exchanges a code only for the
// verifier whose S256 challenge came with the authorization request,
// only with the same redirect_uri, and only once.
func TestAuthorizationCodePKCE(t *testing.T) {
	verifier := oauth2.GenerateVerifier()
	tests := []struct {
		name     string
		auth     []oauth2.AuthCodeOption
		exchange []oauth2.AuthCodeOption
		redirect string // at the exchange; default the authorization's
		wantErr  string // at the redirect ("error=") or the exchange
	}{
		{"right verifier", []oauth2.AuthCodeOption{oauth2.S256ChallengeOption(verifier)}, []oauth2.AuthCodeOption{oauth2.VerifierOption(verifier)}, "", ""},
		{"wrong verifier", []oauth2.AuthCodeOption{oauth2.S256ChallengeOption(verifier)}, []oauth2.AuthCodeOption{oauth2.VerifierOption(oauth2.GenerateVerifier())}, "", "invalid_grant"},
		{"no verifier", []oauth2.AuthCodeOption{oauth2.S256ChallengeOption(verifier)}, nil, "", "invalid_grant"},
		{"verifier sent as the challenge", []oauth2.AuthCodeOption{oauth2.S256ChallengeOption(verifier)}, []oauth2.AuthCodeOption{oauth2.VerifierOption(oauth2.S256ChallengeFromVerifier(verifier))}, "", "invalid_grant"},
		{"other redirect_uri", []oauth2.AuthCodeOption{oauth2.S256ChallengeOption(verifier)}, []oauth2.AuthCodeOption{oauth2.VerifierOption(verifier)}, "http://127.0.0.1:2/", "invalid_grant"},
		{"no challenge", nil, []oauth2.AuthCodeOption{oauth2.VerifierOption(verifier)}, "", "error=invalid_request"},
		{"plain challenge", []oauth2.AuthCodeOption{oauth2.SetAuthURLParam("code_challenge", verifier), oauth2.SetAuthURLParam("code_challenge_method", "plain")},
			[]oauth2.AuthCodeOption{oauth2.VerifierOption(verifier)}, "", "error=invalid_request"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := oauthtest.Start(t)
			oc := &oauth2.Config{ClientID: p.ClientID, RedirectURL: "http://127.0.0.1:1/",
				Endpoint: oauth2.Endpoint{AuthURL: p.URL + "/authorize", TokenURL: p.URL + "/token", AuthStyle: oauth2.AuthStyleInParams}}
			q := oauthtest.Approve(t, oc.AuthCodeURL("st-1", tt.auth...)).Query()
			assert.Equal(t, "st-1", q.Get("state"), "the state comes back")
			if e := q.Get("error"); e != "" {
				assert.Equal(t, tt.wantErr, "error="+e)
				assert.Empty(t, q.Get("code"))
				return
			}
			require.NotEmpty(t, q.Get("code"))
			if tt.redirect != "" {
				oc.RedirectURL = tt.redirect
			}
			tok, err := oc.Exchange(context.Background(), q.Get("code"), tt.exchange...)
			if tt.wantErr != "" {
				var re *oauth2.RetrieveError
				require.ErrorAs(t, err, &re)
				assert.Equal(t, tt.wantErr, re.ErrorCode)
				return
			}
			require.NoError(t, err)
			assert.True(t, p.Valid(tok.AccessToken))
			assert.NotEmpty(t, tok.RefreshToken)
			_, err = oc.Exchange(context.Background(), q.Get("code"), tt.exchange...)
			assert.ErrorContains(t, err, "invalid_grant", "a code is good once")
		})
	}
}

// TestAuthorizeRefusesStrangers: an unknown client or a redirect_uri
// that is not loopback gets an error page, never a redirect.
func TestAuthorizeRefusesStrangers(t *testing.T) {
	p := oauthtest.Start(t)
	tests := []struct {
		name  string
		query url.Values
	}{
		{"unknown client", url.Values{"client_id": {"intruder"}, "redirect_uri": {"http://127.0.0.1:1/"}, "response_type": {"code"}}},
		{"redirect elsewhere", url.Values{"client_id": {p.ClientID}, "redirect_uri": {"https://evil.example/"}, "response_type": {"code"}}},
	}
	hc := &http.Client{Timeout: 10 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, err := hc.Get(p.URL + "/authorize?" + tt.query.Encode())
			require.NoError(t, err)
			resp.Body.Close()
			assert.Equal(t, http.StatusBadRequest, resp.StatusCode)
			assert.Empty(t, resp.Header.Get("Location"))
		})
	}
}
