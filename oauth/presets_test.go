package oauth

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestPresetEndpoints(t *testing.T) {
	tests := []struct {
		name          string
		cfg           Config
		token, device string
		auth, flow    string
		scopes        []string
	}{
		{"google: loopback, Gmail's scope", Config{Provider: "google", ClientID: "c"}, "https://oauth2.googleapis.com/token", "https://oauth2.googleapis.com/device/code",
			"https://accounts.google.com/o/oauth2/auth", "loopback", []string{"https://mail.google.com/"}},
		{"microsoft, common tenant: device", Config{Provider: "microsoft", ClientID: "c"},
			"https://login.microsoftonline.com/common/oauth2/v2.0/token", "https://login.microsoftonline.com/common/oauth2/v2.0/devicecode",
			"https://login.microsoftonline.com/common/oauth2/v2.0/authorize", "device", microsoftScopes},
		{"microsoft, one tenant, loopback chosen", Config{Provider: "microsoft", Flow: "loopback", Tenant: "contoso.example", ClientID: "c"},
			"https://login.microsoftonline.com/contoso.example/oauth2/v2.0/token", "https://login.microsoftonline.com/contoso.example/oauth2/v2.0/devicecode",
			"https://login.microsoftonline.com/contoso.example/oauth2/v2.0/authorize", "loopback", microsoftScopes},
		{"generic: device by default", Config{Provider: "generic", ClientID: "c", TokenURL: "https://id.example/token", DeviceAuthURL: "https://id.example/device", Scopes: []string{"mail"}},
			"https://id.example/token", "https://id.example/device", "", "device", []string{"mail"}},
		{"generic, loopback", Config{Provider: "generic", Flow: "loopback", ClientID: "c", TokenURL: "https://id.example/token", AuthURL: "https://id.example/authorize"},
			"https://id.example/token", "", "https://id.example/authorize", "loopback", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			oc, err := tt.cfg.oauth2Config()
			require.NoError(t, err)
			assert.Equal(t, tt.token, oc.Endpoint.TokenURL)
			assert.Equal(t, tt.device, oc.Endpoint.DeviceAuthURL)
			assert.Equal(t, tt.auth, oc.Endpoint.AuthURL)
			flow, err := tt.cfg.flow()
			require.NoError(t, err)
			assert.Equal(t, tt.flow, flow)
			assert.Equal(t, tt.scopes, oc.Scopes)
		})
	}
}
