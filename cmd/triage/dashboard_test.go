package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// alertReceiver records the alert payloads a webhook action delivers.
type alertReceiver struct {
	mu     sync.Mutex
	alerts []map[string]any
}

func (a *alertReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var p map[string]any
	_ = json.NewDecoder(r.Body).Decode(&p)
	if _, ok := p["alert"]; ok {
		a.mu.Lock()
		a.alerts = append(a.alerts, p)
		a.mu.Unlock()
	}
	w.WriteHeader(http.StatusNoContent)
}

func (a *alertReceiver) got() []map[string]any {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]map[string]any(nil), a.alerts...)
}

// TestRunDashboardAndSpikeAlert starts `triage run` with an alert rule,
// posts a burst of ERR_NGROK_3004 tickets, and expects one alert delivered
// by webhook through the outbox, and the dashboard showing it all.
func TestRunDashboardAndSpikeAlert(t *testing.T) {
	dir := t.TempDir()
	recv := &alertReceiver{}
	hook := httptest.NewServer(recv)
	defer hook.Close()
	port := freePort(t)
	cfg := filepath.Join(dir, "triage.yaml")
	require.NoError(t, os.WriteFile(cfg, []byte(fmt.Sprintf(`data_dir: %s
http: {listen: "127.0.0.1:%d", api_tokens: [tok-dash]}
webhooks: [{name: oncall, url: %s}]
outbox: {poll: 50ms, backoff: 100ms}
alerts:
  poll: 100ms
  rules:
    - name: ngrok incident
      codes: [ERR_NGROK_3004, 10000]
      threshold: 3
      window: 15m
      actions:
        - kind: webhook
          target: oncall
log: {level: info, format: json}
`, filepath.Join(dir, "data"), port, hook.URL)), 0o644))
	logf := filepath.Join(dir, "run.log")
	startCLI(t, logf, "run", "--config", cfg)
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	waitFor(t, 30*time.Second, "the server", func() bool {
		resp, err := http.Get(base + "/healthz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == 200
	})
	for i := range 4 {
		req, _ := http.NewRequest("POST", base+"/v1/tickets", strings.NewReader(fmt.Sprintf(`{"text":"site down: ERR_NGROK_3004","from":"c%d@example.com"}`, i)))
		req.Header.Set("Authorization", "Bearer tok-dash")
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		require.Equal(t, http.StatusCreated, resp.StatusCode)
	}
	waitFor(t, 30*time.Second, "the alert webhook; log: "+logf, func() bool { return len(recv.got()) > 0 })
	got := recv.got()
	require.Len(t, got, 1, "one alert for one burst")
	alert := got[0]["alert"].(map[string]any)
	assert.Equal(t, "ERR_NGROK_3004", alert["key"])
	assert.EqualValues(t, 3, alert["count"])

	resp, err := http.Get(base + "/")
	require.NoError(t, err)
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Contains(t, string(page), `id="chart"`)
	assert.Contains(t, string(page), `class="alert"`, "the alert ticket is listed")
	assert.Contains(t, string(page), `<tr data-code="3004">`)
}

func TestConfigCheckDashboardAndAlerts(t *testing.T) {
	dir := t.TempDir()
	tokenFile := filepath.Join(dir, "dash-token")
	require.NoError(t, os.WriteFile(tokenFile, []byte("dash-s3cret\n"), 0o600))
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(p, []byte(body), 0o644))
		return p
	}
	tests := []struct {
		name    string
		yaml    string
		code    int
		wantOut string
	}{
		{"public without any token", `http: {listen: "0.0.0.0:8080"}`, 1, "dashboard.token"},
		{"public with API tokens only", `http: {listen: "0.0.0.0:8080", api_tokens: [x]}`, 0, "OK"},
		{"public with token file", `http: {listen: "0.0.0.0:8080", api_tokens: [x]}
dashboard: {token_file: ` + tokenFile + `}`, 0, "OK"},
		{"public with dashboard off", `http: {listen: "0.0.0.0:8080", api_tokens: [x]}
dashboard: {enabled: false}`, 0, "OK"},
		{"bad alert rule", `alerts:
  rules:
    - name: r
      per: sender
      codes: [ERR_NGROK_x]
      categories: [nope]
      actions: [{kind: slack.shout, target: x}]`, 1, "per \"sender\""},
		{"alert without actions", `alerts: {rules: [{name: r}]}`, 1, "no actions"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := write(strings.ReplaceAll(tt.name, " ", "-")+".yaml", tt.yaml)
			stdout, stderr, code := triage(t, "", "config", "check", "--config", p)
			assert.Equal(t, tt.code, code, "stdout: %s\nstderr: %s", stdout, stderr)
			assert.Contains(t, stdout+stderr, tt.wantOut)
		})
	}
	p := write("show.yaml", `dashboard: {token_file: `+tokenFile+`, username: lead, password: pw-s3cret}`)
	stdout, _, code := triage(t, "", "config", "show", "--config", p)
	require.Equal(t, 0, code)
	assert.NotContains(t, stdout, "dash-s3cret")
	assert.NotContains(t, stdout, "pw-s3cret")
	assert.Contains(t, stdout, "[REDACTED]")
}
