// Package web is the bot's HTTP face: the ticket API (POST/GET
// /v1/tickets), health (/healthz, /readyz), Prometheus metrics (/metrics)
// and the dashboard (dashboard.go). It knows nothing of IMAP or Slack.
//
// What every route promises:
//   - Only requests whose Host header names this server are served: a
//     loopback name or address (127.0.0.1, localhost, [::1], with or
//     without a port) or one of Server.PublicHosts. Anything else gets 421
//     Misdirected Request and no data, so a web page that rebinds its own
//     DNS name to 127.0.0.1 cannot read the API or the dashboard.
//   - Connections are bounded in time (Timeouts): a slow header, a slow
//     body, a slow reader or an idle keep-alive is closed.
//   - Customer text is shown only after redact.String, the same step that
//     outgoing text passes (redactRecord).
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
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/triage-bot/triage/metrics"
	"github.com/triage-bot/triage/normalize"
	"github.com/triage-bot/triage/pipeline"
	"github.com/triage-bot/triage/route"
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
	// PublicHosts are the host names (or IP addresses) besides loopback
	// ones that a request's Host header may name, without port, e.g.
	// "triage.example.com". Compared case-insensitively.
	PublicHosts []string
	// MetricsToken, when set, must be sent as "Authorization: Bearer
	// <token>" to read /metrics.
	MetricsToken string
	// Timeouts bound each connection of HTTPServer.
	Timeouts Timeouts
}

// Timeouts bound a connection's phases; a zero field takes its default.
type Timeouts struct {
	// ReadHeader bounds reading a request's headers. Default 10s.
	ReadHeader time.Duration
	// Read bounds reading a whole request, body included. Default 30s.
	Read time.Duration
	// Write bounds the time from the end of the request headers to the
	// end of the response. Default 60s.
	Write time.Duration
	// Idle bounds how long a keep-alive connection waits for its next
	// request. Default 120s.
	Idle time.Duration
}

// Default timeouts.
const (
	DefaultReadHeaderTimeout = 10 * time.Second
	DefaultReadTimeout       = 30 * time.Second
	DefaultWriteTimeout      = 60 * time.Second
	DefaultIdleTimeout       = 120 * time.Second
)

// HTTPServer returns an http.Server for Handler with the timeouts set.
func (s *Server) HTTPServer() *http.Server {
	or := func(d, def time.Duration) time.Duration {
		if d > 0 {
			return d
		}
		return def
	}
	return &http.Server{
		Handler:           s.Handler(),
		ReadHeaderTimeout: or(s.Timeouts.ReadHeader, DefaultReadHeaderTimeout),
		ReadTimeout:       or(s.Timeouts.Read, DefaultReadTimeout),
		WriteTimeout:      or(s.Timeouts.Write, DefaultWriteTimeout),
		IdleTimeout:       or(s.Timeouts.Idle, DefaultIdleTimeout),
		MaxHeaderBytes:    64 << 10,
	}
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
		mux.Handle("GET /metrics", s.metricsAuth(promhttp.HandlerFor(s.Metrics.Registry, promhttp.HandlerOpts{})))
	}
	mux.HandleFunc("POST /v1/tickets", s.auth(s.postTicket))
	mux.HandleFunc("GET /v1/tickets", s.auth(s.listTickets))
	mux.HandleFunc("GET /v1/tickets/{id...}", s.auth(s.getTicket))
	for pattern, h := range s.Routes {
		mux.Handle(pattern, h)
	}
	return s.checkHost(s.recover(mux))
}

// checkHost answers 421 Misdirected Request, with no data, to a request
// whose Host header is neither a loopback name nor one of PublicHosts.
func (s *Server) checkHost(h http.Handler) http.Handler {
	public := map[string]bool{}
	for _, p := range s.PublicHosts {
		public[normalHost(p)] = true
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		host := normalHost(r.Host)
		if host == "" || !loopbackName(host) && !public[host] {
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			w.Header().Set("Connection", "close")
			w.WriteHeader(http.StatusMisdirectedRequest)
			io.WriteString(w, "misdirected request: this server does not answer to that host name (see http.public_hosts)\n")
			return
		}
		h.ServeHTTP(w, r)
	})
}

// normalHost returns a Host header's (or a configured name's) host part,
// lower case, without port, brackets or a trailing dot.
func normalHost(h string) string {
	h = strings.ToLower(strings.TrimSpace(h))
	if host, _, err := net.SplitHostPort(h); err == nil {
		h = host
	}
	h = strings.TrimSuffix(strings.TrimPrefix(h, "["), "]")
	return strings.TrimSuffix(h, ".")
}

// loopbackName reports whether a normalHost value names this machine's
// loopback interface.
func loopbackName(h string) bool {
	if h == "localhost" {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}

// fromLoopback reports whether the request came over a loopback connection.
func fromLoopback(r *http.Request) bool {
	ip := net.ParseIP(clientAddr(r))
	return ip != nil && ip.IsLoopback()
}

// metricsAuth requires MetricsToken, when set, as a bearer token.
func (s *Server) metricsAuth(h http.Handler) http.Handler {
	if s.MetricsToken == "" {
		return h
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok || subtle.ConstantTimeCompare([]byte(got), []byte(s.MetricsToken)) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="triage metrics"`)
			writeError(w, http.StatusUnauthorized, "/metrics needs the metrics token (Authorization: Bearer <http.metrics_token>)")
			return
		}
		h.ServeHTTP(w, r)
	})
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
// healthy. To a request from another machine (a load balancer, a probe)
// it names the stale source and since when, but not the errors, which
// may quote customer subjects, paths or server names.
func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	local := fromLoopback(r)
	rd := readiness{Ready: true, Store: "ok"}
	if s.Ping != nil {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		if err := s.Ping(ctx); err != nil {
			msg := "not answering (ask from the machine itself for details)"
			if local {
				msg = err.Error()
			}
			rd.Ready, rd.Store, rd.Problem = false, msg, "store: "+msg
		}
	}
	if s.Sources != nil {
		rd.Sources = s.Sources()
		var stale []string
		for i, h := range rd.Sources {
			if !local {
				rd.Sources[i].LastError, rd.Sources[i].Blocked = "", ""
			}
			if h.Blocked != "" {
				msg := h.Name + ": cannot work until a person acts (ask from the machine itself for details)"
				if local {
					msg = h.Name + ": " + h.Blocked
				}
				stale = append(stale, msg)
				continue
			}
			if h.Stale {
				msg := h.Name + " has not completed a pass since " + h.LastSuccess.UTC().Format(time.RFC3339)
				if h.LastSuccess.IsZero() {
					msg = h.Name + " has not completed a pass since start"
				}
				if h.LastError != "" && local {
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
	// Problems names each action parked at ingest because its template
	// failed for this ticket (route.Parked): the ticket is stored and its
	// other actions run.
	Problems []string       `json:"problems,omitempty"`
	Ticket   *ticket.Ticket `json:"ticket,omitempty"`
}

// response is what the API shows of rec: always redacted (redactRecord).
func response(rec *store.Record, full bool) ticketResponse {
	rec = redactRecord(rec)
	tr := ticketResponse{ID: rec.Ticket.ID, Received: rec.Received, Category: rec.Category, Codes: rec.Codes, Rules: rec.Rules, Annotation: rec.Annotation, Actions: rec.Actions}
	if tr.Codes == nil {
		tr.Codes = []int{}
	}
	for i := range tr.Actions {
		if route.Parked(tr.Actions[i]) {
			tr.Problems = append(tr.Problems, tr.Actions[i].LastError)
		}
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
