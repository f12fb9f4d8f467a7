package slack

import (
	"encoding/json"
	"io"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"time"

	slackapi "github.com/slack-go/slack"
)

// maxRequestBytes bounds an Events API or slash command request.
const maxRequestBytes = 1 << 20

// verify reads a request body and checks Slack's signature (v0
// HMAC-SHA256 over "v0:<ts>:<body>") and that the timestamp is within
// five minutes. It answers 401 (or 400/413) itself and returns nil then.
func (b *Bot) verify(w http.ResponseWriter, r *http.Request) []byte {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxRequestBytes))
	if err != nil {
		http.Error(w, "request too large or unreadable", http.StatusRequestEntityTooLarge)
		return nil
	}
	ts, err := strconv.ParseInt(r.Header.Get("X-Slack-Request-Timestamp"), 10, 64)
	if err != nil || math.Abs(b.now().Sub(time.Unix(ts, 0)).Seconds()) > 300 {
		b.log.Warn("slack: request refused: timestamp missing or more than 5 minutes off", "path", r.URL.Path)
		http.Error(w, "stale or missing timestamp", http.StatusUnauthorized)
		return nil
	}
	v, err := slackapi.NewSecretsVerifier(r.Header, b.cfg.SigningSecret)
	if err == nil {
		_, _ = v.Write(body)
		err = v.Ensure()
	}
	if err != nil {
		b.log.Warn("slack: request refused: bad signature", "path", r.URL.Path)
		http.Error(w, "bad signature", http.StatusUnauthorized)
		return nil
	}
	return body
}

// EventsHandler serves POST /slack/events: it verifies the request,
// answers url_verification, stores the event and only then answers 200.
// A retry (X-Slack-Retry-Num) of a stored event is recognised by its
// event_id and changes nothing. A failure to store answers 500, so Slack
// retries.
func (b *Bot) EventsHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body := b.verify(w, r)
		if body == nil {
			return
		}
		var cb callback
		if _, err := decodeLenient(body, &cb); err != nil {
			http.Error(w, "not JSON", http.StatusBadRequest)
			return
		}
		if cb.Type == "url_verification" {
			w.Header().Set("Content-Type", "text/plain")
			_, _ = io.WriteString(w, cb.Challenge)
			return
		}
		if n := r.Header.Get("X-Slack-Retry-Num"); n != "" {
			b.log.Info("slack: event redelivered", "event_id", cb.EventID, "retry_num", n, "retry_reason", r.Header.Get("X-Slack-Retry-Reason"))
		}
		if err := b.HandleEvent(r.Context(), body); err != nil {
			b.log.Error("slack: event not stored; Slack will retry", "event_id", cb.EventID, "err", err)
			http.Error(w, "not stored, retry", http.StatusInternalServerError)
			return
		}
		w.WriteHeader(http.StatusOK)
	})
}

// CommandsHandler serves POST /slack/commands: the slash command,
// answered at once and ephemerally from the catalog.
func (b *Bot) CommandsHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body := b.verify(w, r)
		if body == nil {
			return
		}
		form, err := url.ParseQuery(string(body))
		if err != nil {
			http.Error(w, "not a form", http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(b.Command(form.Get("text")))
	})
}
