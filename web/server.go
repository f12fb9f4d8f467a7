// Package web is the bot's HTTP face: the ticket API (POST/GET
// /v1/tickets), health (/healthz, /readyz), Prometheus metrics (/metrics)
// and the dashboard (dashboard.go). It knows nothing of IMAP or Slack.
package web

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/triage-bot/triage/metrics"
	"github.com/triage-bot/triage/normalize"
	"github.com/triage-bot/triage/pipeline"
	"github.com/triage-bot/triage/store"
	"github.com/triage-bot/triage/ticket"
)

// Ingester stores tickets (the pipeline).
type Ingester interface {
	Ingest(ctx context.Context, in pipeline.Incoming) (*store.Record, error)
}

// Tickets reads stored tickets.
type Tickets interface {
	Ticket(ctx context.Context, id string) (*store.Record, error)
	Tickets(ctx context.Context, q store.TicketQuery) ([]store.Record, error)
}

// Server serves the API, health and metrics.
type Server struct {
	Ingester Ingester
	Tickets  Tickets
	// Tokens are the accepted API bearer tokens; with none, /v1 refuses
	// every request.
	Tokens []string
	// MaxBody bounds a POST body; 0 means 10 MiB.
	MaxBody int64
	// Sources reports each source's health for /readyz.
	Sources func() []pipeline.Health
	// Ping checks the store for /readyz.
	Ping    func(ctx context.Context) error
	Metrics *metrics.Metrics
	Log     *slog.Logger
	// NewID makes ticket IDs for API tickets without an Idempotency-Key.
	NewID func() string
	// Routes are more handlers by pattern ("POST /slack/events", "GET /"),
	// added by integrations and the dashboard.
	Routes map[string]http.Handler
}

// Handler returns the routes.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		io.WriteString(w, "ok\n")
	})
	mux.HandleFunc("GET /readyz", s.readyz)
	if s.Metrics != nil {
		mux.Handle("GET /metrics", promhttp.HandlerFor(s.Metrics.Registry, promhttp.HandlerOpts{}))
	}
	mux.HandleFunc("POST /v1/tickets", s.auth(s.postTicket))
	mux.HandleFunc("GET /v1/tickets", s.auth(s.listTickets))
	mux.HandleFunc("GET /v1/tickets/{id...}", s.auth(s.getTicket))
	for pattern, h := range s.Routes {
		mux.Handle(pattern, h)
	}
	return s.recover(mux)
}

func (s *Server) recover(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if p := recover(); p != nil {
				if p == http.ErrAbortHandler {
					panic(p)
				}
				s.Metrics.Panic("http")
				s.Log.Error("http handler panicked", "path", r.URL.Path, "panic", p)
				writeError(w, http.StatusInternalServerError, "internal error")
			}
		}()
		h.ServeHTTP(w, r)
	})
}

type readiness struct {
	Ready   bool              `json:"ready"`
	Store   string            `json:"store"`
	Sources []pipeline.Health `json:"sources"`
	Problem string            `json:"problem,omitempty"`
}

// readyz fails when the store does not answer or a source has been stale
// longer than its limit, naming it — a poller that stalled must not look
// healthy.
func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	rd := readiness{Ready: true, Store: "ok"}
	if s.Ping != nil {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		if err := s.Ping(ctx); err != nil {
			rd.Ready, rd.Store, rd.Problem = false, err.Error(), "store: "+err.Error()
		}
	}
	if s.Sources != nil {
		rd.Sources = s.Sources()
		var stale []string
		for _, h := range rd.Sources {
			if h.Stale {
				msg := h.Name + " has not completed a pass since " + h.LastSuccess.UTC().Format(time.RFC3339)
				if h.LastSuccess.IsZero() {
					msg = h.Name + " has not completed a pass since start"
				}
				if h.LastError != "" {
					msg += " (last error: " + h.LastError + ")"
				}
				stale = append(stale, msg)
			}
		}
		if len(stale) > 0 {
			rd.Ready = false
			rd.Problem = strings.Join(append([]string{rd.Problem}, stale...), "; ")
			rd.Problem = strings.TrimPrefix(rd.Problem, "; ")
		}
	}
	code := http.StatusOK
	if !rd.Ready {
		code = http.StatusServiceUnavailable
	}
	writeJSON(w, code, rd)
}

func (s *Server) auth(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if len(s.Tokens) == 0 {
			writeError(w, http.StatusUnauthorized, "the API is disabled: set http.api_tokens (or TRIAGE_API_TOKEN) to enable it")
			return
		}
		got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok {
			w.Header().Set("WWW-Authenticate", `Bearer realm="triage"`)
			writeError(w, http.StatusUnauthorized, "missing bearer token (Authorization: Bearer <token>)")
			return
		}
		for _, t := range s.Tokens {
			if t != "" && subtle.ConstantTimeCompare([]byte(got), []byte(t)) == 1 {
				h(w, r)
				return
			}
		}
		w.Header().Set("WWW-Authenticate", `Bearer realm="triage", error="invalid_token"`)
		writeError(w, http.StatusUnauthorized, "invalid bearer token")
	}
}

// newTicket is the JSON body of POST /v1/tickets.
type newTicket struct {
	Text    string `json:"text"`
	Subject string `json:"subject"`
	From    string `json:"from"`
	Channel string `json:"channel"`
}

// ticketResponse is what the API returns for a ticket.
type ticketResponse struct {
	ID         string          `json:"id"`
	Duplicate  bool            `json:"duplicate,omitempty"`
	Received   time.Time       `json:"received"`
	Category   string          `json:"category"`
	Codes      []int           `json:"codes"`
	Rules      []string        `json:"rules,omitempty"`
	Annotation json.RawMessage `json:"annotation"`
	Actions    []ticket.Action `json:"actions,omitempty"`
	Ticket     *ticket.Ticket  `json:"ticket,omitempty"`
}

func response(rec *store.Record, full bool) ticketResponse {
	tr := ticketResponse{ID: rec.Ticket.ID, Received: rec.Received, Category: rec.Category, Codes: rec.Codes, Rules: rec.Rules, Annotation: rec.Annotation, Actions: rec.Actions}
	if tr.Codes == nil {
		tr.Codes = []int{}
	}
	for i := range tr.Actions {
		tr.Actions[i].Payload = nil
	}
	if full {
		t := rec.Ticket
		tr.Ticket = &t
	}
	return tr
}

func (s *Server) postTicket(w http.ResponseWriter, r *http.Request) {
	max := s.MaxBody
	if max <= 0 {
		max = 10 << 20
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, max))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			writeError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("body larger than %d bytes", max))
			return
		}
		writeError(w, http.StatusBadRequest, "read body: "+err.Error())
		return
	}
	key := strings.TrimSpace(r.Header.Get("Idempotency-Key"))
	if len(key) > 200 {
		writeError(w, http.StatusBadRequest, "Idempotency-Key longer than 200 characters")
		return
	}
	in := pipeline.Incoming{Source: "api", Channel: "api"}
	if key != "" {
		in.ID, in.EventID = "api:"+key, "api:"+key
	} else if s.NewID != nil {
		in.ID = "api:" + s.NewID()
	} else {
		in.ID = "api:" + strconv.FormatInt(time.Now().UnixNano(), 36)
	}
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	switch ct {
	case "message/rfc822":
		in.Raw, in.Strict = strings.NewReader(string(body)), true
	case "application/json", "":
		var nt newTicket
		dec := json.NewDecoder(strings.NewReader(string(body)))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&nt); err != nil {
			writeError(w, http.StatusBadRequest, "bad JSON: "+err.Error()+` (want {"text": "...", "subject": "...", "from": "...", "channel": "..."})`)
			return
		}
		if strings.TrimSpace(nt.Text) == "" && strings.TrimSpace(nt.Subject) == "" {
			writeError(w, http.StatusBadRequest, `"text" (or "subject") is required`)
			return
		}
		t, err := normalize.Text("api", strings.NewReader(nt.Text), normalize.Limits{})
		if err != nil {
			writeError(w, http.StatusBadRequest, err.Error())
			return
		}
		t.From, t.Subject = nt.From, nt.Subject
		if nt.Subject != "" {
			t.Parts = append([]ticket.Part{{Kind: ticket.KindSubject, Text: nt.Subject}}, t.Parts...)
		}
		if nt.Channel != "" {
			in.Channel = nt.Channel
		}
		in.Ticket = t
	default:
		writeError(w, http.StatusUnsupportedMediaType, "Content-Type must be application/json or message/rfc822")
		return
	}
	rec, err := s.Ingester.Ingest(r.Context(), in)
	if errors.Is(err, store.ErrDuplicate) {
		rec, err = s.Tickets.Ticket(r.Context(), in.ID)
		if err != nil {
			writeError(w, http.StatusInternalServerError, "stored before, but cannot be read: "+err.Error())
			return
		}
		resp := response(rec, false)
		resp.Duplicate = true
		writeJSON(w, http.StatusOK, resp)
		return
	}
	if errors.Is(err, pipeline.ErrBadInput) {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	if err != nil {
		s.Log.Error("api: ingest", "ticket_id", in.ID, "err", err)
		writeError(w, http.StatusInternalServerError, "could not store the ticket: "+err.Error())
		return
	}
	writeJSON(w, http.StatusCreated, response(rec, false))
}

func (s *Server) listTickets(w http.ResponseWriter, r *http.Request) {
	q := store.TicketQuery{Category: r.URL.Query().Get("category"), Text: r.URL.Query().Get("q"), Before: r.URL.Query().Get("before")}
	if c := r.URL.Query().Get("code"); c != "" {
		n, err := parseCode(c)
		if err != nil {
			writeError(w, http.StatusBadRequest, err.Error())
			return
		}
		q.Code = n
	}
	if l := r.URL.Query().Get("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 || n > 1000 {
			writeError(w, http.StatusBadRequest, "limit must be a number from 1 to 1000")
			return
		}
		q.Limit = n
	}
	recs, err := s.Tickets.Tickets(r.Context(), q)
	if err != nil {
		writeError(w, http.StatusInternalServerError, err.Error())
		return
	}
	out := make([]ticketResponse, 0, len(recs))
	for i := range recs {
		out = append(out, response(&recs[i], false))
	}
	writeJSON(w, http.StatusOK, map[string]any{"tickets": out})
}

func (s *Server) getTicket(w http.ResponseWriter, r *http.Request) {
	rec, err := s.Tickets.Ticket(r.Context(), r.PathValue("id"))
	if errors.Is(err, store.ErrNotFound) {
		writeError(w, http.StatusNotFound, "no ticket with that ID")
		return
	}
	if err != nil {
		writeError(w, http.StatusInternalServerError, err.Error())
		return
	}
	writeJSON(w, http.StatusOK, response(rec, true))
}

func parseCode(s string) (int, error) {
	s = strings.ToLower(strings.TrimSpace(s))
	s = strings.TrimPrefix(s, "err_ngrok_")
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("code %q is not an ngrok error code", s)
	}
	return n, nil
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

func writeError(w http.ResponseWriter, code int, msg string) {
	writeJSON(w, code, map[string]string{"error": msg})
}
