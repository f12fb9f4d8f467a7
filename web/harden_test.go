package web

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/triage-bot/triage/pipeline"
	"github.com/triage-bot/triage/ticket"
)

// hardServer serves the API, health, metrics and the dashboard on one
// handler, as triage run does, on an httptest server whose http.Server
// comes from Server.HTTPServer.
func hardServer(t *testing.T, mod func(*Server, *DashboardConfig)) (*httptest.Server, *Server) {
	t.Helper()
	_, s := newServer(t)
	cfg := DashboardConfig{Now: time.Now}
	if mod != nil {
		mod(s, &cfg)
	}
	d, err := NewDashboard(cfg, s.Tickets.(DashboardStore), slog.New(slog.NewTextHandler(io.Discard, nil)))
	require.NoError(t, err)
	s.Routes = d.Routes()
	srv := httptest.NewUnstartedServer(nil)
	srv.Config = s.HTTPServer()
	srv.Start()
	t.Cleanup(srv.Close)
	return srv, s
}

// TestHostHeaderIsChecked sends forged Host headers, as a page that
// rebinds its own name to 127.0.0.1 would, to every route: each gets 421
// and no data. Loopback names and the configured public host pass.
func TestHostHeaderIsChecked(t *testing.T) {
	srv, _ := hardServer(t, func(s *Server, _ *DashboardConfig) { s.PublicHosts = []string{"Triage.Example.com"} })
	code, body := do(t, "POST", srv.URL+"/v1/tickets", token, "application/json", `{"text":"ERR_NGROK_108 secret-subject-words","subject":"secret-subject-words"}`, "Idempotency-Key", "h1")
	require.Equal(t, http.StatusCreated, code, body)

	routes := []struct{ method, path string }{
		{"GET", "/"}, {"GET", "/tickets/api:h1"}, {"GET", "/login"}, {"POST", "/login"},
		{"GET", "/static/dashboard.css"}, {"GET", "/dashboard/api/overview"}, {"POST", "/actions/1/retry"},
		{"GET", "/healthz"}, {"GET", "/readyz"}, {"GET", "/metrics"},
		{"GET", "/v1/tickets"}, {"GET", "/v1/tickets/api:h1"}, {"POST", "/v1/tickets"},
	}
	send := func(method, path, host string) (int, string) {
		req, err := http.NewRequest(method, srv.URL+path, strings.NewReader(`{"text":"x"}`))
		require.NoError(t, err)
		req.Host = host
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	port := srv.Listener.Addr().(*net.TCPAddr).Port
	forged := []string{"evil.example", "evil.example:" + fmt.Sprint(port), "127.0.0.1.evil.example", "localhost.evil.example",
		"triage.example.com.evil.example", "10.0.0.7", "[2001:db8::1]:80"}
	for _, r := range routes {
		for _, host := range forged {
			t.Run(r.method+" "+r.path+" Host "+host, func(t *testing.T) {
				code, body := send(r.method, r.path, host)
				assert.Equal(t, http.StatusMisdirectedRequest, code)
				assert.NotContains(t, body, "secret-subject-words")
				assert.NotContains(t, body, "api:h1")
				assert.NotContains(t, body, "csrf")
				assert.NotContains(t, body, "triage_")
			})
		}
	}
	for _, host := range []string{"localhost", fmt.Sprintf("localhost:%d", port), "127.0.0.1", fmt.Sprintf("127.0.0.1:%d", port),
		"[::1]", fmt.Sprintf("[::1]:%d", port), "LOCALHOST", "triage.example.com", "triage.example.com:443"} {
		t.Run("allowed "+host, func(t *testing.T) {
			code, _ := send("GET", "/healthz", host)
			assert.Equal(t, http.StatusOK, code)
			code, body := send("GET", "/tickets/api:h1", host)
			assert.Equal(t, http.StatusOK, code)
			assert.Contains(t, body, "secret-subject-words")
		})
	}
}

// TestReadyzFromElsewhere: a probe from another machine learns which
// source is stale and since when, not the error text (which may quote a
// customer's subject or a path).
func TestReadyzFromElsewhere(t *testing.T) {
	since := time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)
	s := &Server{Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Sources: func() []pipeline.Health {
			return []pipeline.Health{{Name: "maildir:support", LastSuccess: since, Stale: true,
				LastError: `ingest /var/mail/support/new/1.eml: route: rule "x": subject "Invoice ACME-4711"`}}
		},
		Ping: func(context.Context) error { return errors.New("open /srv/private/triage.db: permission denied") },
	}
	h := s.Handler()
	for _, tt := range []struct {
		name   string
		remote string
		detail bool
	}{{"loopback", "127.0.0.1:5555", true}, {"elsewhere", "203.0.113.9:5555", false}} {
		t.Run(tt.name, func(t *testing.T) {
			req := httptest.NewRequest("GET", "http://localhost/readyz", nil)
			req.RemoteAddr = tt.remote
			w := httptest.NewRecorder()
			h.ServeHTTP(w, req)
			assert.Equal(t, http.StatusServiceUnavailable, w.Code)
			body := w.Body.String()
			assert.Contains(t, body, "maildir:support has not completed a pass since 2026-11-27T09:00:00Z")
			for _, private := range []string{"Invoice ACME-4711", "/var/mail/support", "/srv/private"} {
				if tt.detail {
					assert.Contains(t, body, private)
				} else {
					assert.NotContains(t, body, private)
				}
			}
		})
	}
}

func TestMetricsToken(t *testing.T) {
	srv, _ := hardServer(t, func(s *Server, _ *DashboardConfig) { s.MetricsToken = "metrics-tok" })
	for _, tt := range []struct {
		name, tok string
		want      int
	}{{"none", "", 401}, {"wrong", "nope", 401}, {"api token is not enough", token, 401}, {"right", "metrics-tok", 200}} {
		t.Run(tt.name, func(t *testing.T) {
			code, _ := do(t, "GET", srv.URL+"/metrics", tt.tok, "", "")
			assert.Equal(t, tt.want, code)
		})
	}
}

// TestSlowClientsAreClosed: a client that sends its body a byte at a time
// (on the unauthenticated POST /login and on POST /v1/tickets), one that
// never finishes its headers, and an idle keep-alive are all closed, here
// within a few seconds of short timeouts (the defaults: 10s header, 30s
// request, 120s idle).
func TestSlowClientsAreClosed(t *testing.T) {
	srv, _ := hardServer(t, func(s *Server, _ *DashboardConfig) {
		s.Timeouts = Timeouts{ReadHeader: 500 * time.Millisecond, Read: time.Second, Write: 2 * time.Second, Idle: time.Second}
	})
	addr := srv.Listener.Addr().String()
	// closedWithin reads from c until the server closes it, failing after
	// limit.
	closedWithin := func(t *testing.T, c net.Conn, limit time.Duration) time.Duration {
		t.Helper()
		start := time.Now()
		require.NoError(t, c.SetReadDeadline(start.Add(limit)))
		_, err := io.Copy(io.Discard, c)
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			t.Fatalf("the connection was still open after %s", limit)
		}
		return time.Since(start)
	}
	slowBody := func(path string, hdr string) func(t *testing.T) {
		return func(t *testing.T) {
			c, err := net.Dial("tcp", addr)
			require.NoError(t, err)
			defer c.Close()
			_, err = fmt.Fprintf(c, "POST %s HTTP/1.1\r\nHost: localhost\r\nContent-Length: 100000\r\n%s\r\n", path, hdr)
			require.NoError(t, err)
			stop := make(chan struct{})
			defer close(stop)
			go func() {
				for {
					select {
					case <-stop:
						return
					case <-time.After(100 * time.Millisecond):
						if _, err := c.Write([]byte("a")); err != nil {
							return
						}
					}
				}
			}()
			took := closedWithin(t, c, 10*time.Second)
			assert.Less(t, took, 5*time.Second)
		}
	}
	t.Run("slow body on /login", slowBody("/login", "Content-Type: application/x-www-form-urlencoded\r\nCookie: triage_csrf=x\r\n"))
	t.Run("slow body on /v1/tickets", slowBody("/v1/tickets", "Content-Type: application/json\r\nAuthorization: Bearer "+token+"\r\n"))
	t.Run("slow headers", func(t *testing.T) {
		c, err := net.Dial("tcp", addr)
		require.NoError(t, err)
		defer c.Close()
		_, err = io.WriteString(c, "GET /healthz HTTP/1.1\r\nHost: localhost\r\n")
		require.NoError(t, err)
		assert.Less(t, closedWithin(t, c, 10*time.Second), 5*time.Second)
	})
	t.Run("idle keep-alive", func(t *testing.T) {
		c, err := net.Dial("tcp", addr)
		require.NoError(t, err)
		defer c.Close()
		_, err = io.WriteString(c, "GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n")
		require.NoError(t, err)
		br := bufio.NewReader(c)
		resp, err := http.ReadResponse(br, nil)
		require.NoError(t, err)
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		require.Equal(t, 200, resp.StatusCode)
		assert.Less(t, closedWithin(t, c, 10*time.Second), 5*time.Second, "an idle keep-alive is closed")
	})
}

// TestLoginAttemptsAreLimited: past the limit, POST /login answers 429
// whatever it carries, so tokens cannot be guessed at speed.
func TestLoginAttemptsAreLimited(t *testing.T) {
	srv, _ := hardServer(t, func(_ *Server, c *DashboardConfig) {
		c.RequireAuth, c.Tokens, c.LoginLimit = true, []string{"s3cret"}, 3
	})
	c := jarClient(t)
	_, page := get(t, c, srv.URL+"/login")
	tok := regexp.MustCompile(`name="csrf" value="([0-9a-f]+)"`).FindStringSubmatch(page)
	require.NotNil(t, tok)
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	post := func(guess string) *http.Response {
		resp, err := c.PostForm(srv.URL+"/login", url.Values{"csrf": {tok[1]}, "token": {guess}})
		require.NoError(t, err)
		resp.Body.Close()
		return resp
	}
	for i := range 3 {
		assert.Equal(t, http.StatusSeeOther, post(fmt.Sprint("guess-", i)).StatusCode, "attempt %d", i+1)
	}
	resp := post("s3cret")
	assert.Equal(t, http.StatusTooManyRequests, resp.StatusCode, "even the right token waits once the limit is hit")
	assert.NotEmpty(t, resp.Header.Get("Retry-After"))
}

func TestLoginLimiterWindow(t *testing.T) {
	now := time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)
	l := &loginLimiter{per: 2, window: time.Minute, now: func() time.Time { return now }, seen: map[string]*attempts{}}
	ok1, _ := l.allow("198.51.100.1")
	ok2, _ := l.allow("198.51.100.1")
	ok3, wait := l.allow("198.51.100.1")
	assert.True(t, ok1 && ok2)
	assert.False(t, ok3)
	assert.Equal(t, time.Minute, wait)
	okOther, _ := l.allow("198.51.100.2")
	assert.True(t, okOther, "limits are per client address")
	now = now.Add(time.Minute)
	okLater, _ := l.allow("198.51.100.1")
	assert.True(t, okLater, "a new window starts after a minute")
}

// TestSessionsAreRandomAndExpire: two logins get different cookies, none
// holds or hashes the token, and a session stops working after its TTL.
func TestSessionsAreRandomAndExpire(t *testing.T) {
	now := time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)
	d, err := NewDashboard(DashboardConfig{RequireAuth: true, Tokens: []string{"s3cret"}, SessionTTL: time.Hour, Now: func() time.Time { return now }}, nil, nil)
	require.NoError(t, err)
	a, err := d.newSession()
	require.NoError(t, err)
	b, err := d.newSession()
	require.NoError(t, err)
	assert.NotEqual(t, a, b)
	assert.NotContains(t, a, "s3cret")
	req := func(v string) *http.Request {
		r := httptest.NewRequest("GET", "/", nil)
		r.AddCookie(&http.Cookie{Name: sessionCookie, Value: v})
		return r
	}
	assert.True(t, d.authorized(req(a)))
	last := "0"
	if strings.HasSuffix(a, last) {
		last = "1" // one in sixteen or so: the flip must change the cookie
	}
	assert.False(t, d.authorized(req(a[:len(a)-1]+last)), "a tampered cookie")
	forged := strings.Replace(a, fmt.Sprint(now.Add(time.Hour).Unix()), fmt.Sprint(now.Add(100*time.Hour).Unix()), 1)
	assert.False(t, d.authorized(req(forged)), "a later expiry without a matching MAC")
	now = now.Add(time.Hour + time.Second)
	assert.False(t, d.authorized(req(a)), "expired")

	other, err := NewDashboard(DashboardConfig{RequireAuth: true, Tokens: []string{"s3cret"}}, nil, nil)
	require.NoError(t, err)
	assert.False(t, other.authorized(req(b)), "another key (another process without shared secrets) does not accept it")
}

// Fake secrets of the real shapes; none is a real credential.
const (
	fakeAuthtoken = "2abcDEFfakeTOKEN0000000000_1A2b3C4d5E6f7G8h9I0j"
	fakeSlackHook = "https://hooks.slack.com/services/T0FAKE0001/B0FAKE0002/fakeSecretXXXXXXXX"
)

// TestViewsAreRedacted: the API's ticket and list views and the
// dashboard's ticket page and lists show customer text only redacted.
func TestViewsAreRedacted(t *testing.T) {
	srv, s := hardServer(t, nil)
	subject := "agent down, password=hunter2hunter2"
	text := "ERR_NGROK_108 with authtoken " + fakeAuthtoken + "\nour alerts go to " + fakeSlackHook + "\n"
	code, body := do(t, "POST", srv.URL+"/v1/tickets", token, "application/json",
		fmt.Sprintf(`{"text":%q,"subject":%q,"from":"ana@example.com"}`, text, subject), "Idempotency-Key", "r1")
	require.Equal(t, http.StatusCreated, code, body)
	st := s.Tickets.(DashboardStore)
	// A failed action whose error quotes the secret, as a sink's error might.
	rec, err := st.Ticket(context.Background(), "api:r1")
	require.NoError(t, err)
	require.NotEmpty(t, rec.Actions)
	secrets := []string{"hunter2hunter2", fakeAuthtoken, "T0FAKE0001/B0FAKE0002", "fakeSecretXXXXXXXX"}
	views := map[string]string{}
	for _, p := range []string{"/v1/tickets/api:r1", "/v1/tickets?limit=5"} {
		req, _ := http.NewRequest("GET", srv.URL+p, nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		require.Equal(t, 200, resp.StatusCode)
		views["API "+p] = string(b)
	}
	for _, p := range []string{"/tickets/api:r1", "/", "/?q=agent"} {
		code, page := get(t, srv.Client(), srv.URL+p)
		require.Equal(t, 200, code)
		views["dashboard "+p] = page
	}
	for name, v := range views {
		for _, secret := range secrets {
			assert.NotContains(t, v, secret, name)
		}
	}
	assert.Contains(t, views["API /v1/tickets/api:r1"], "[REDACTED]")
	assert.Contains(t, views["API /v1/tickets/api:r1"], "ERR_NGROK_108", "codes are never redacted")
	assert.Contains(t, views["dashboard /tickets/api:r1"], `<mark class="code" title="ERR_NGROK_108">ERR_NGROK_108</mark>`)
	assert.Contains(t, views["dashboard /tickets/api:r1"], "password=[REDACTED]")
	assert.Contains(t, views["dashboard /"], "password=[REDACTED]")

	// The store keeps what the customer sent.
	assert.Contains(t, rec.Ticket.Subject, "hunter2hunter2")
}

func TestRedactActions(t *testing.T) {
	as := []ticket.Action{{Target: "/var/log/" + fakeAuthtoken + ".jsonl", LastError: "post " + fakeSlackHook + ": 404", Payload: []byte(`{"text":"token: abc123"}`)}}
	got := redactActions(as)
	assert.NotContains(t, got[0].Target, fakeAuthtoken)
	assert.NotContains(t, got[0].LastError, "T0FAKE0001")
	assert.JSONEq(t, `{"text":"token: [REDACTED]"}`, string(got[0].Payload))
	assert.Contains(t, as[0].Target, fakeAuthtoken, "the input is left as it was")
	assert.Nil(t, redactActions(nil))
}
