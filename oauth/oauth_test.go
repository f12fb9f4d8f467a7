package oauth_test

import (
	"bytes"
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/triage-bot/triage/oauth"
	"github.com/triage-bot/triage/oauth/oauthtest"
)

// memStore is the store's key-value table.
type memStore struct {
	mu sync.Mutex
	m  map[string]string
}

func (s *memStore) Cursor(_ context.Context, k string) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.m[k], nil
}

func (s *memStore) SetCursor(_ context.Context, k, v string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.m[k] = v
	return nil
}

func TestLoginAndRefresh(t *testing.T) {
	p := oauthtest.Start(t)
	cfg := oauth.Config{Account: "support", Provider: "generic", ClientID: p.ClientID, TokenURL: p.URL + "/token", DeviceAuthURL: p.URL + "/device"}
	st := &memStore{m: map[string]string{}}
	ctx := context.Background()
	key := oauth.Key("Support@Example.com")
	assert.Equal(t, "oauth2:support@example.com", key)

	src, err := oauth.Source(cfg, st, key)
	require.NoError(t, err)
	_, err = src(ctx)
	require.ErrorIs(t, err, oauth.ErrNoToken)
	assert.ErrorContains(t, err, "for support@example.com: run `triage auth login support`")

	var out bytes.Buffer
	require.NoError(t, oauth.Login(ctx, cfg, st, key, nil, &out))
	assert.Contains(t, out.String(), "open "+p.URL+"/activate on any device and enter the code WDJB-MJHT")
	assert.Contains(t, st.m[key], `"refresh_token":"refresh-1"`, "kept in the store")

	tok, err := src(ctx)
	require.NoError(t, err)
	assert.True(t, p.Valid(tok))
	again, err := src(ctx)
	require.NoError(t, err)
	assert.Equal(t, tok, again, "reused while it has time left")
	assert.Zero(t, p.Refreshes())

	// Tokens that live under five minutes are renewed before each use.
	p.ExpiresIn = 60
	src2, err := oauth.Source(cfg, st, key) // a restart: from the store
	require.NoError(t, err)
	tok2, err := src2(ctx)
	require.NoError(t, err)
	assert.Equal(t, tok, tok2, "the stored access token is good for an hour")
	st.mu.Lock()
	st.m[key] = `{"access_token":"old","refresh_token":"refresh-1","expiry":"` + time.Now().Add(time.Minute).Format(time.RFC3339) + `"}`
	st.mu.Unlock()
	src3, err := oauth.Source(cfg, st, key)
	require.NoError(t, err)
	tok3, err := src3(ctx)
	require.NoError(t, err)
	assert.NotEqual(t, "old", tok3, "refreshed before it expires")
	assert.True(t, p.Valid(tok3))
	assert.Equal(t, 1, p.Refreshes())
	assert.Contains(t, st.m[key], `"refresh_token":"refresh-`, "the rotated refresh token is saved")
	assert.NotContains(t, st.m[key], `"refresh_token":"refresh-1"`)

	p.Revoke()
	st.mu.Lock()
	st.m[key] = `{"refresh_token":"refresh-1"}`
	st.mu.Unlock()
	src4, err := oauth.Source(cfg, st, key)
	require.NoError(t, err)
	_, err = src4(ctx)
	assert.ErrorContains(t, err, "refused the stored refresh token")
	assert.ErrorContains(t, err, "triage auth login support")
}

func TestProviderPresets(t *testing.T) {
	tests := []struct {
		name string
		cfg  oauth.Config
		want string
	}{
		{"unknown provider", oauth.Config{Provider: "yahoo", ClientID: "x"}, `provider "yahoo"`},
		{"generic needs a token URL", oauth.Config{Provider: "generic", ClientID: "x"}, "needs token_url"},
		{"client id", oauth.Config{Provider: "google"}, "client_id is empty"},
		{"flow", oauth.Config{Provider: "google", ClientID: "x", Flow: "browser"}, `flow "browser" is not device or loopback`},
	}
	st := &memStore{m: map[string]string{}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := oauth.Source(tt.cfg, st, "k")
			assert.ErrorContains(t, err, tt.want)
		})
	}
	for _, p := range []string{"google", "microsoft"} {
		_, err := oauth.Source(oauth.Config{Provider: p, ClientID: "x"}, st, "k")
		assert.NoError(t, err, p)
	}
	err := oauth.Login(context.Background(), oauth.Config{Provider: "generic", ClientID: "x", TokenURL: "http://127.0.0.1:1/token"}, st, "k", nil, &bytes.Buffer{})
	assert.ErrorContains(t, err, "the device flow needs device_auth_url")
	err = oauth.Login(context.Background(), oauth.Config{Provider: "generic", Flow: "loopback", ClientID: "x", TokenURL: "http://127.0.0.1:1/token"}, st, "k", nil, &bytes.Buffer{})
	assert.ErrorContains(t, err, "the loopback flow needs auth_url")
}
