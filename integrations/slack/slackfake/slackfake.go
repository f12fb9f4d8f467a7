// Package slackfake is an in-process Slack for tests that speaks Slack's
// wire format: the Web API methods the bot calls (form or JSON bodies,
// {"ok":false,"error":"…"} envelopes, HTTP 429 with Retry-After), file
// downloads with the bot token, a Socket Mode websocket (hello,
// events_api and slash_commands envelopes, acks, disconnect requests,
// dropped connections, redelivery of unacknowledged envelopes), and a
// helper that signs Events API requests.
//
// It counts every call, so tests can assert "exactly one reply".
package slackfake

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

// Identities of the fake workspace.
const (
	TeamID    = "T0FAKE"
	BotUserID = "UBOT"
	BotID     = "BBOT"
	BotToken  = "xoxb-fake-bot-token"
	AppToken  = "xapp-fake-app-token"
	// SigningSecret is the secret Sign uses by default in tests.
	SigningSecret = "fake-signing-secret"
)

// Message is a message the fake holds.
type Message struct {
	Channel  string          `json:"channel"`
	TS       string          `json:"ts"`
	ThreadTS string          `json:"thread_ts,omitempty"`
	User     string          `json:"user,omitempty"`
	BotID    string          `json:"bot_id,omitempty"`
	Text     string          `json:"text"`
	Blocks   json.RawMessage `json:"blocks,omitempty"`
	Metadata json.RawMessage `json:"metadata,omitempty"`
	// Updates counts chat.update calls on this message.
	Updates int `json:"-"`
	// Reactions are emoji names added with reactions.add.
	Reactions []string `json:"-"`
}

// Server is the fake Slack.
type Server struct {
	// URL is the base URL; the Web API is at URL+"/api/".
	URL string
	srv *httptest.Server

	mu        sync.Mutex
	messages  map[string][]*Message // by channel, in ts order
	calls     map[string]int
	failures  map[string][]failure
	files     map[string][]byte
	nextTS    int64
	nextEnv   int
	conns     map[*websocket.Conn]*sync.Mutex
	pending   []envelope // not acknowledged yet, in order
	acks      map[string]json.RawMessage
	connects  int
	delivered map[string]int // envelope ID → deliveries
	latency   time.Duration
	channels  map[string]channel
}

// channel is a conversation conversations.info knows.
type channel struct {
	name   string
	member bool
}

type failure struct {
	code       string
	retryAfter int // seconds; >0 means HTTP 429
}

type envelope struct {
	ID   string
	Type string
	Body json.RawMessage
}

// New starts a fake; it stops when the test ends (call Close).
func New() *Server {
	s := &Server{
		messages: map[string][]*Message{}, calls: map[string]int{}, failures: map[string][]failure{},
		files: map[string][]byte{}, nextTS: 1700000000, conns: map[*websocket.Conn]*sync.Mutex{},
		acks: map[string]json.RawMessage{}, delivered: map[string]int{}, channels: map[string]channel{},
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/api/", s.api)
	mux.HandleFunc("/files/", s.file)
	mux.HandleFunc("/socket", s.socket)
	s.srv = httptest.NewServer(mux)
	s.URL = s.srv.URL
	return s
}

// APIURL is the base URL to give slack.OptionAPIURL (with the trailing /).
func (s *Server) APIURL() string { return s.URL + "/api/" }

// Close stops the server and drops every connection.
func (s *Server) Close() {
	s.DropConnections()
	s.srv.Close()
}

// Calls returns how often a Web API method was called (failed calls too).
func (s *Server) Calls(method string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls[method]
}

// Fail makes the next n calls of method answer {"ok":false,"error":code}.
func (s *Server) Fail(method, code string, n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for range n {
		s.failures[method] = append(s.failures[method], failure{code: code})
	}
}

// RateLimit makes the next n calls of method answer HTTP 429 with
// Retry-After: retryAfter seconds and error "ratelimited".
func (s *Server) RateLimit(method string, n, retryAfter int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for range n {
		s.failures[method] = append(s.failures[method], failure{code: "ratelimited", retryAfter: retryAfter})
	}
}

// SetLatency makes every Web API call wait between d/2 and 3d/2 (at
// random) before it is answered, as calls to Slack take tens of
// milliseconds that vary: races between calls that a local server would
// answer at once, in order, show up then.
func (s *Server) SetLatency(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.latency = d
}

// AddChannel makes conversations.info know a channel by its ID, with
// its name and whether the bot is a member. Channels not added answer
// channel_not_found, as a private channel the bot is not in does.
func (s *Server) AddChannel(id, name string, botIsMember bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.channels[id] = channel{name: name, member: botIsMember}
}

// AddFile makes a file downloadable at FileURL(id) with the bot token.
func (s *Server) AddFile(id string, content []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.files[id] = content
}

// FileURL is the url_private_download of a file added with AddFile.
func (s *Server) FileURL(id string) string { return s.URL + "/files/" + id }

// AddMessage stores a message written by a person (as if a user had
// posted it) and returns it.
func (s *Server) AddMessage(m Message) *Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	if m.TS == "" {
		m.TS = s.ts()
	}
	cp := m
	s.messages[m.Channel] = append(s.messages[m.Channel], &cp)
	return &cp
}

// Messages returns copies of a channel's messages, in order.
func (s *Server) Messages(channel string) []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Message, 0, len(s.messages[channel]))
	for _, m := range s.messages[channel] {
		out = append(out, *m)
	}
	return out
}

// BotReplies returns the bot's messages in the thread of ts.
func (s *Server) BotReplies(channel, ts string) []Message {
	var out []Message
	for _, m := range s.Messages(channel) {
		if m.ThreadTS == ts && m.TS != ts && m.BotID == BotID {
			out = append(out, m)
		}
	}
	return out
}

// ts returns a new, increasing message timestamp. Caller holds s.mu.
func (s *Server) ts() string {
	s.nextTS++
	return fmt.Sprintf("%d.%06d", s.nextTS, s.nextTS%1000000)
}

func (s *Server) find(channel, ts string) *Message {
	for _, m := range s.messages[channel] {
		if m.TS == ts {
			return m
		}
	}
	return nil
}

// params reads a Web API request's arguments from the query, a form body
// or a JSON body, as Slack accepts all three.
func params(r *http.Request) (url.Values, error) {
	v := r.URL.Query()
	ct := r.Header.Get("Content-Type")
	switch {
	case strings.HasPrefix(ct, "application/json"):
		var m map[string]any
		if err := json.NewDecoder(r.Body).Decode(&m); err != nil && !errors.Is(err, io.EOF) {
			return nil, err
		}
		for k, val := range m {
			switch x := val.(type) {
			case string:
				v.Set(k, x)
			default:
				b, _ := json.Marshal(x)
				v.Set(k, string(b))
			}
		}
	case r.Method == http.MethodPost:
		if err := r.ParseForm(); err != nil {
			return nil, err
		}
		for k, vals := range r.PostForm {
			v[k] = vals
		}
	}
	return v, nil
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func fail(w http.ResponseWriter, code string) {
	writeJSON(w, http.StatusOK, map[string]any{"ok": false, "error": code})
}

func token(r *http.Request, p url.Values) string {
	if t, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok {
		return t
	}
	return p.Get("token")
}

func (s *Server) api(w http.ResponseWriter, r *http.Request) {
	method := strings.TrimPrefix(r.URL.Path, "/api/")
	p, err := params(r)
	s.mu.Lock()
	s.calls[method]++
	latency := s.latency
	var f *failure
	if q := s.failures[method]; len(q) > 0 {
		f = &q[0]
		s.failures[method] = q[1:]
	}
	s.mu.Unlock()
	if latency > 0 {
		time.Sleep(latency/2 + rand.N(latency))
	}
	if err != nil {
		fail(w, "invalid_arguments")
		return
	}
	if f != nil {
		if f.retryAfter > 0 {
			w.Header().Set("Retry-After", strconv.Itoa(f.retryAfter))
			writeJSON(w, http.StatusTooManyRequests, map[string]any{"ok": false, "error": f.code})
			return
		}
		fail(w, f.code)
		return
	}
	tok := token(r, p)
	want := BotToken
	if method == "apps.connections.open" {
		want = AppToken
	}
	if tok == "" {
		fail(w, "not_authed")
		return
	}
	if tok != want {
		fail(w, "invalid_auth")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	switch method {
	case "auth.test":
		writeJSON(w, 200, map[string]any{"ok": true, "url": "https://fake.slack.com/", "team": "Fake", "user": "triage",
			"team_id": TeamID, "user_id": BotUserID, "bot_id": BotID})
	case "apps.connections.open":
		writeJSON(w, 200, map[string]any{"ok": true, "url": "ws" + strings.TrimPrefix(s.URL, "http") + "/socket"})
	case "chat.postMessage":
		ch := p.Get("channel")
		if ch == "" {
			fail(w, "channel_not_found")
			return
		}
		if p.Get("text") == "" && p.Get("blocks") == "" {
			fail(w, "no_text")
			return
		}
		if ts := p.Get("thread_ts"); ts != "" && s.find(ch, ts) == nil {
			fail(w, "thread_not_found")
			return
		}
		m := &Message{Channel: ch, TS: s.ts(), ThreadTS: p.Get("thread_ts"), User: BotUserID, BotID: BotID,
			Text: p.Get("text"), Blocks: rawOrNil(p.Get("blocks")), Metadata: rawOrNil(p.Get("metadata"))}
		s.messages[ch] = append(s.messages[ch], m)
		writeJSON(w, 200, map[string]any{"ok": true, "channel": ch, "ts": m.TS, "message": m})
	case "chat.update":
		m := s.find(p.Get("channel"), p.Get("ts"))
		if m == nil {
			fail(w, "message_not_found")
			return
		}
		if m.BotID != BotID {
			fail(w, "cant_update_message")
			return
		}
		if t := p.Get("text"); t != "" {
			m.Text = t
		}
		if b := p.Get("blocks"); b != "" {
			m.Blocks = rawOrNil(b)
		}
		if md := p.Get("metadata"); md != "" {
			m.Metadata = rawOrNil(md)
		}
		m.Updates++
		writeJSON(w, 200, map[string]any{"ok": true, "channel": m.Channel, "ts": m.TS, "text": m.Text})
	case "conversations.replies":
		ch, ts := p.Get("channel"), p.Get("ts")
		parent := s.find(ch, ts)
		if parent == nil {
			fail(w, "thread_not_found")
			return
		}
		out := []*Message{parent}
		for _, m := range s.messages[ch] {
			if m.ThreadTS == ts && m.TS != ts {
				out = append(out, m)
			}
		}
		writeJSON(w, 200, map[string]any{"ok": true, "messages": withMeta(out, p.Get("include_all_metadata")), "has_more": false})
	case "conversations.history":
		ch := p.Get("channel")
		all := s.messages[ch]
		var out []*Message
		for i := len(all) - 1; i >= 0 && len(out) < 1000; i-- { // newest first
			if all[i].ThreadTS == "" || all[i].ThreadTS == all[i].TS {
				out = append(out, all[i])
			}
		}
		writeJSON(w, 200, map[string]any{"ok": true, "messages": withMeta(out, p.Get("include_all_metadata")), "has_more": false})
	case "chat.getPermalink":
		ch, ts := p.Get("channel"), p.Get("message_ts")
		if s.find(ch, ts) == nil {
			fail(w, "message_not_found")
			return
		}
		writeJSON(w, 200, map[string]any{"ok": true, "channel": ch,
			"permalink": "https://fake.slack.com/archives/" + ch + "/p" + strings.ReplaceAll(ts, ".", "")})
	case "conversations.info":
		ch, ok := s.channels[p.Get("channel")]
		if !ok {
			fail(w, "channel_not_found")
			return
		}
		writeJSON(w, 200, map[string]any{"ok": true, "channel": map[string]any{"id": p.Get("channel"), "name": ch.name,
			"is_channel": true, "is_member": ch.member, "is_archived": false}})
	case "reactions.add":
		m := s.find(p.Get("channel"), p.Get("timestamp"))
		if m == nil {
			fail(w, "message_not_found")
			return
		}
		name := p.Get("name")
		for _, r := range m.Reactions {
			if r == name {
				fail(w, "already_reacted")
				return
			}
		}
		m.Reactions = append(m.Reactions, name)
		writeJSON(w, 200, map[string]any{"ok": true})
	default:
		fail(w, "unknown_method")
	}
}

func rawOrNil(s string) json.RawMessage {
	if s == "" {
		return nil
	}
	return json.RawMessage(s)
}

// withMeta renders messages as Slack does: metadata only when asked for.
func withMeta(ms []*Message, include string) []map[string]any {
	out := make([]map[string]any, 0, len(ms))
	for _, m := range ms {
		o := map[string]any{"type": "message", "ts": m.TS, "text": m.Text}
		if m.User != "" {
			o["user"] = m.User
		}
		if m.BotID != "" {
			o["bot_id"] = m.BotID
		}
		if m.ThreadTS != "" {
			o["thread_ts"] = m.ThreadTS
		}
		if len(m.Blocks) > 0 {
			o["blocks"] = m.Blocks
		}
		if len(m.Metadata) > 0 && (include == "1" || include == "true") {
			o["metadata"] = m.Metadata
		}
		out = append(out, o)
	}
	return out
}

func (s *Server) file(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("Authorization") != "Bearer "+BotToken {
		// Slack answers a sign-in page, not an error, without the token.
		w.Header().Set("Content-Type", "text/html")
		_, _ = io.WriteString(w, "<html>sign in</html>")
		return
	}
	s.mu.Lock()
	s.calls["files.download"]++
	b, ok := s.files[strings.TrimPrefix(r.URL.Path, "/files/")]
	s.mu.Unlock()
	if !ok {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", "text/plain")
	_, _ = w.Write(b)
}

// Sign returns the X-Slack-Signature for body sent at ts, as Slack
// computes it: v0= HMAC-SHA256 over "v0:<ts>:<body>".
func Sign(secret string, ts int64, body []byte) string {
	mac := hmac.New(sha256.New, []byte(secret))
	fmt.Fprintf(mac, "v0:%d:", ts)
	mac.Write(body)
	return "v0=" + hex.EncodeToString(mac.Sum(nil))
}

// SignedRequest builds a signed POST as Slack sends it to an Events API
// or slash command URL; contentType is application/json for events and
// application/x-www-form-urlencoded for commands.
func SignedRequest(target, secret string, at time.Time, contentType string, body []byte) *http.Request {
	req, _ := http.NewRequest(http.MethodPost, target, strings.NewReader(string(body)))
	ts := at.Unix()
	req.Header.Set("Content-Type", contentType)
	req.Header.Set("X-Slack-Request-Timestamp", strconv.FormatInt(ts, 10))
	req.Header.Set("X-Slack-Signature", Sign(secret, ts, body))
	return req
}

// EventCallback wraps an event as the Events API and Socket Mode deliver
// it ("type":"event_callback").
func EventCallback(eventID string, event any) []byte {
	b, _ := json.Marshal(map[string]any{
		"token": "legacy", "team_id": TeamID, "api_app_id": "AFAKE", "type": "event_callback",
		"event_id": eventID, "event_time": time.Now().Unix(), "event": event,
		"authorizations": []map[string]any{{"team_id": TeamID, "user_id": BotUserID, "is_bot": true}},
	})
	return b
}

// socket serves the Socket Mode websocket.
func (s *Server) socket(w http.ResponseWriter, r *http.Request) {
	// Slack's clients send Origin: https://api.slack.com.
	up := websocket.Upgrader{CheckOrigin: func(*http.Request) bool { return true }}
	c, err := up.Upgrade(w, r, nil)
	if err != nil {
		return
	}
	wmu := &sync.Mutex{}
	s.mu.Lock()
	s.conns[c] = wmu
	s.connects++
	n := len(s.conns)
	pending := append([]envelope(nil), s.pending...)
	s.mu.Unlock()
	write := func(v any) error {
		wmu.Lock()
		defer wmu.Unlock()
		_ = c.SetWriteDeadline(time.Now().Add(5 * time.Second))
		return c.WriteJSON(v)
	}
	if write(map[string]any{"type": "hello", "num_connections": n,
		"debug_info":      map[string]any{"host": "fake", "approximate_connection_time": 3600},
		"connection_info": map[string]any{"app_id": "AFAKE"}}) != nil {
		s.forget(c)
		return
	}
	// Slack redelivers what was never acknowledged on another connection.
	for _, e := range pending {
		_ = s.send(c, wmu, e, 1)
	}
	done := make(chan struct{})
	go func() { // Slack pings; slack-go's client reconnects without them.
		t := time.NewTicker(300 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				wmu.Lock()
				err := c.WriteControl(websocket.PingMessage, []byte("ping"), time.Now().Add(time.Second))
				wmu.Unlock()
				if err != nil {
					return
				}
			}
		}
	}()
	defer close(done)
	defer s.forget(c)
	for {
		var ack struct {
			EnvelopeID string          `json:"envelope_id"`
			Payload    json.RawMessage `json:"payload"`
		}
		if err := c.ReadJSON(&ack); err != nil {
			return
		}
		s.mu.Lock()
		if _, seen := s.acks[ack.EnvelopeID]; !seen {
			s.acks[ack.EnvelopeID] = ack.Payload
		}
		for i, e := range s.pending {
			if e.ID == ack.EnvelopeID {
				s.pending = append(s.pending[:i], s.pending[i+1:]...)
				break
			}
		}
		s.mu.Unlock()
	}
}

func (s *Server) forget(c *websocket.Conn) {
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
	_ = c.Close()
}

func (s *Server) send(c *websocket.Conn, wmu *sync.Mutex, e envelope, retry int) error {
	s.mu.Lock()
	s.delivered[e.ID]++
	s.mu.Unlock()
	wmu.Lock()
	defer wmu.Unlock()
	_ = c.SetWriteDeadline(time.Now().Add(5 * time.Second))
	return c.WriteJSON(map[string]any{"type": e.Type, "envelope_id": e.ID, "payload": e.Body,
		"accepts_response_payload": e.Type != "events_api", "retry_attempt": retry, "retry_reason": retryReason(retry)})
}

func retryReason(n int) string {
	if n == 0 {
		return ""
	}
	return "timeout"
}

// deliver queues an envelope and sends it on one open connection (if
// any); it stays pending until acknowledged and is redelivered to every
// new connection until then.
func (s *Server) deliver(typ string, body []byte) string {
	s.mu.Lock()
	s.nextEnv++
	e := envelope{ID: fmt.Sprintf("env-%06d", s.nextEnv), Type: typ, Body: body}
	s.pending = append(s.pending, e)
	var c *websocket.Conn
	var wmu *sync.Mutex
	for k, v := range s.conns {
		c, wmu = k, v
		break
	}
	s.mu.Unlock()
	if c != nil {
		_ = s.send(c, wmu, e, 0)
	}
	return e.ID
}

// SendEvent delivers an event_callback body as an events_api envelope
// and returns the envelope ID.
func (s *Server) SendEvent(body []byte) string { return s.deliver("events_api", body) }

// SendCommand delivers a slash command as a slash_commands envelope.
func (s *Server) SendCommand(command, text, channel, user string) string {
	b, _ := json.Marshal(map[string]string{"token": "legacy", "team_id": TeamID, "channel_id": channel,
		"user_id": user, "command": command, "text": text, "response_url": s.URL + "/response", "trigger_id": "trig"})
	return s.deliver("slash_commands", b)
}

// Redeliver sends an already acknowledged envelope again with a new
// envelope ID and the same body, as Slack does when an ack was lost.
func (s *Server) Redeliver(body []byte) string { return s.deliver("events_api", body) }

// Acked returns the ack payload of an envelope and whether it was acked.
func (s *Server) Acked(envelopeID string) (json.RawMessage, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.acks[envelopeID]
	return p, ok
}

// Pending is how many envelopes wait for an ack.
func (s *Server) Pending() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.pending)
}

// Connections is how many Socket Mode connections are open now;
// Connects how many were ever opened.
func (s *Server) Connections() (open, ever int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.conns), s.connects
}

// Disconnect asks every connected client to reconnect, as Slack does
// before it rotates a connection.
func (s *Server) Disconnect() {
	s.mu.Lock()
	conns := make(map[*websocket.Conn]*sync.Mutex, len(s.conns))
	for c, m := range s.conns {
		conns[c] = m
	}
	s.mu.Unlock()
	for c, m := range conns {
		m.Lock()
		_ = c.WriteJSON(map[string]any{"type": "disconnect", "reason": "refresh_requested",
			"debug_info": map[string]any{"host": "fake"}})
		m.Unlock()
	}
}

// DropConnections closes every Socket Mode connection without a word.
func (s *Server) DropConnections() {
	s.mu.Lock()
	conns := make([]*websocket.Conn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	s.mu.Unlock()
	for _, c := range conns {
		_ = c.Close()
	}
}
