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
		scopes        []string
	}{
		{"google", Config{Provider: "google", ClientID: "c"}, "https://oauth2.googleapis.com/token", "https://oauth2.googleapis.com/device/code", googleScopes},
		{"microsoft, common tenant", Config{Provider: "microsoft", ClientID: "c"},
			"https://login.microsoftonline.com/common/oauth2/v2.0/token", "https://login.microsoftonline.com/common/oauth2/v2.0/devicecode", microsoftScopes},
		{"microsoft, one tenant", Config{Provider: "microsoft", Tenant: "contoso.example", ClientID: "c"},
			"https://login.microsoftonline.com/contoso.example/oauth2/v2.0/token", "https://login.microsoftonline.com/contoso.example/oauth2/v2.0/devicecode", microsoftScopes},
		{"generic", Config{Provider: "generic", ClientID: "c", TokenURL: "https://id.example/token", DeviceAuthURL: "https://id.example/device", Scopes: []string{"mail"}},
			"https://id.example/token", "https://id.example/device", []string{"mail"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			oc, err := tt.cfg.oauth2Config()
			require.NoError(t, err)
			assert.Equal(t, tt.token, oc.Endpoint.TokenURL)
			assert.Equal(t, tt.device, oc.Endpoint.DeviceAuthURL)
			assert.Equal(t, tt.scopes, oc.Scopes)
		})
	}
}
