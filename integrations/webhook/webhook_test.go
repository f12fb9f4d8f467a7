package webhook

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/triage-bot/triage/outbox"
	"github.com/triage-bot/triage/ticket"
)

var _ outbox.Sink = (*Sink)(nil)

type received struct {
	method, path string
	header       http.Header
	body         []byte
}

func TestSendSignsAndCarriesKey(t *testing.T) {
	got := make(chan received, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		got <- received{r.Method, r.URL.Path, r.Header.Clone(), body}
		w.WriteHeader(http.StatusAccepted)
	}))
	defer srv.Close()
	now := time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)
	s := New([]Endpoint{{Name: "helpdesk", URL: srv.URL + "/hooks/triage", Secret: "s3cret"}}, nil)
	s.now = func() time.Time { return now }
	payload := []byte(`{"ticket":{"id":"maildir:x/1"}}`)
	require.NoError(t, s.Send(context.Background(), ticket.Action{Kind: ticket.KindWebhook, Target: "helpdesk", Key: "k-123", Payload: payload}))

	r := <-got
	assert.Equal(t, http.MethodPost, r.method)
	assert.Equal(t, "/hooks/triage", r.path)
	assert.Equal(t, "application/json", r.header.Get("Content-Type"))
	assert.Equal(t, "k-123", r.header.Get("Idempotency-Key"))
	ts, err := strconv.ParseInt(r.header.Get("X-Triage-Timestamp"), 10, 64)
	require.NoError(t, err)
	assert.Equal(t, now.Unix(), ts)
	assert.Equal(t, payload, r.body)
	assert.True(t, Verify("s3cret", r.header.Get("X-Triage-Signature"), ts, r.body, now, 5*time.Minute))
	assert.False(t, Verify("wrong", r.header.Get("X-Triage-Signature"), ts, r.body, now, 5*time.Minute))
	assert.False(t, Verify("s3cret", r.header.Get("X-Triage-Signature"), ts, append(r.body, ' '), now, 5*time.Minute))
	assert.False(t, Verify("s3cret", r.header.Get("X-Triage-Signature"), ts, r.body, now.Add(time.Hour), 5*time.Minute), "old timestamps are refused")
}

func TestSendClassifiesAnswers(t *testing.T) {
	tests := []struct {
		name       string
		status     int
		retryAfter string
		wantErr    bool
		permanent  bool
		delay      time.Duration
	}{
		{"ok", 200, "", false, false, 0},
		{"no content", 204, "", false, false, 0},
		{"bad request", 400, "", true, true, 0},
		{"unauthorized", 401, "", true, true, 0},
		{"gone", 410, "", true, true, 0},
		{"rate limited", 429, "7", true, false, 7 * time.Second},
		{"unavailable", 503, "", true, false, 0},
		{"server error with date", 500, "Fri, 27 Nov 2026 10:00:30 GMT", true, false, 30 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if tt.retryAfter != "" {
					w.Header().Set("Retry-After", tt.retryAfter)
				}
				w.WriteHeader(tt.status)
				io.WriteString(w, "nope")
			}))
			defer srv.Close()
			s := New([]Endpoint{{Name: "h", URL: srv.URL}}, nil)
			s.now = func() time.Time { return time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC) }
			err := s.Send(context.Background(), ticket.Action{Target: "h", Key: "k"})
			if !tt.wantErr {
				assert.NoError(t, err)
				return
			}
			require.Error(t, err)
			assert.Contains(t, err.Error(), strconv.Itoa(tt.status))
			assert.Equal(t, tt.permanent, outbox.IsPermanent(err))
			var ra interface{ RetryAfter() time.Duration }
			if tt.delay > 0 {
				require.ErrorAs(t, err, &ra)
				assert.Equal(t, tt.delay, ra.RetryAfter())
			}
		})
	}
}

func TestSendUnknownEndpointAndNetworkErrors(t *testing.T) {
	s := New(nil, nil)
	err := s.Send(context.Background(), ticket.Action{Target: "nope"})
	assert.True(t, outbox.IsPermanent(err))
	assert.ErrorContains(t, err, `no endpoint named "nope"`)

	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { time.Sleep(200 * time.Millisecond) }))
	defer srv.Close()
	s = New([]Endpoint{{Name: "slow", URL: srv.URL, Timeout: 20 * time.Millisecond}}, nil)
	err = s.Send(context.Background(), ticket.Action{Target: "slow"})
	require.Error(t, err)
	assert.False(t, outbox.IsPermanent(err), "timeouts are retried")
}

// TestRedirectsAreNotFollowed checks that a 302 (which would turn the POST
// into a body-less GET) and a 307 (which would resend body, signature and
// key) both fail permanently, naming the Location, and that nothing
// reaches the redirect's target.
func TestRedirectsAreNotFollowed(t *testing.T) {
	for _, status := range []int{http.StatusFound, http.StatusTemporaryRedirect, http.StatusPermanentRedirect, http.StatusMovedPermanently} {
		t.Run(strconv.Itoa(status), func(t *testing.T) {
			elsewhere := make(chan received, 1)
			other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				body, _ := io.ReadAll(r.Body)
				elsewhere <- received{r.Method, r.URL.Path, r.Header.Clone(), body}
			}))
			defer other.Close()
			location := other.URL + "/stolen"
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				http.Redirect(w, r, location, status)
			}))
			defer srv.Close()
			s := New([]Endpoint{{Name: "helpdesk", URL: srv.URL + "/hooks", Secret: "s3cret"}}, &http.Client{})
			err := s.Send(context.Background(), ticket.Action{Target: "helpdesk", Key: "k-1", Payload: []byte(`{"x":1}`)})
			require.Error(t, err)
			assert.True(t, outbox.IsPermanent(err), "a redirect is a configuration problem, not worth retrying")
			assert.Contains(t, err.Error(), strconv.Itoa(status))
			assert.Contains(t, err.Error(), location, "the error names where it was sent")
			select {
			case r := <-elsewhere:
				t.Fatalf("the redirect target received a %s %s", r.method, r.path)
			default:
			}
		})
	}
}
