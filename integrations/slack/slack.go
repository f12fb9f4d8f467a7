// Package slack connects the bot to one Slack workspace: it turns the
// messages of the configured channels into tickets (over Socket Mode or
// the Events API), and carries out slack.reply, slack.post and
// slack.react actions from the outbox.
//
// Every event is stored (pipeline ingest, one transaction) before it is
// acknowledged; a redelivered event (same event_id, or the same message
// again) is a no-op. Actions are idempotent per action key: a reply
// carries its key in the message metadata, and the sink looks for it in
// the thread before posting, so a crash between posting and recording
// does not post twice.
package slack

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	slackapi "github.com/slack-go/slack"

	"github.com/triage-bot/triage/catalog"
	"github.com/triage-bot/triage/normalize"
	"github.com/triage-bot/triage/pipeline"
	"github.com/triage-bot/triage/store"
	"github.com/triage-bot/triage/ticket"
)

// Config is what the integration needs (see config.Slack).
type Config struct {
	// BotToken (xoxb-…) calls the Web API and fetches files.
	BotToken string
	// AppToken (xapp-…) opens Socket Mode connections.
	AppToken string
	// SigningSecret verifies Events API and slash command requests.
	SigningSecret string
	// Channels are the channel IDs read; "*" reads all.
	Channels []string
	// TriageChannels maps a category (or "default") to a channel ID.
	TriageChannels map[string]string
	// Emoji maps a category (or "default") to an emoji name.
	Emoji map[string]string
	// AnswerBots makes other bots' messages tickets.
	AnswerBots bool
	// MaxFileBytes caps one fetched file. Default 1 MiB.
	MaxFileBytes int64
	// Command is the slash command, e.g. "/ngrok-error".
	Command string
	// APIURL is the Web API base URL ending in "/". Default Slack's.
	APIURL string
	// Limits bound normalized text.
	Limits normalize.Limits
	// Panicked, when set, counts a panic recovered while reading a
	// message (metrics).
	Panicked func()
	// SharedStore says several replicas may share the store
	// (PostgreSQL): the actions about one message are then ordered
	// across them by a lease in the store, not only within this process.
	SharedStore bool
}

// Ingester stores a ticket with its planned actions (pipeline.Pipeline).
type Ingester interface {
	Ingest(ctx context.Context, in pipeline.Incoming) (*store.Record, error)
}

// Store is what the integration needs of the store: tickets to find a
// message's thread, direct ingest of app-mention answers, the cursor
// table for small durable state, and leases to act on one message at a
// time across replicas.
type Store interface {
	Ingest(ctx context.Context, rec *store.Record) error
	Ticket(ctx context.Context, id string) (*store.Record, error)
	Cursor(ctx context.Context, source string) (string, error)
	SetCursor(ctx context.Context, source, value string) error
	AcquireLease(ctx context.Context, name, holder string, now time.Time, ttl time.Duration) (bool, error)
	ReleaseLease(ctx context.Context, name, holder string) error
}

// Bot is one workspace connection: the event source, the HTTP handlers
// and the sinks share it.
type Bot struct {
	cfg  Config
	api  *slackapi.Client
	ing  Ingester
	st   Store
	cat  *catalog.Catalog
	log  *slog.Logger
	http *http.Client
	now  func() time.Time
	// read is normalize.SlackMessage; tests replace it.
	read func(normalize.SlackInput, normalize.Limits) *ticket.Ticket

	mu    sync.Mutex
	ident *slackapi.AuthTestResponse
	// serial orders the sinks' actions about one customer message in
	// this process; holder names this Bot in the store's leases, which
	// order them across replicas (lockMessage).
	serial serial
	holder string
	// socket is the Socket Mode connection's state, for /readyz.
	socket socketState
}

// New returns a Bot; it does no I/O. A nil log discards.
func New(cfg Config, ing Ingester, st Store, cat *catalog.Catalog, log *slog.Logger) *Bot {
	if cfg.APIURL == "" {
		cfg.APIURL = "https://slack.com/api/"
	}
	if cfg.MaxFileBytes <= 0 {
		cfg.MaxFileBytes = 1 << 20
	}
	if cfg.Command == "" {
		cfg.Command = "/ngrok-error"
	}
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	hc := &http.Client{Timeout: 30 * time.Second}
	opts := []slackapi.Option{slackapi.OptionAPIURL(cfg.APIURL), slackapi.OptionHTTPClient(hc)}
	if cfg.AppToken != "" {
		opts = append(opts, slackapi.OptionAppLevelToken(cfg.AppToken))
	}
	return &Bot{cfg: cfg, api: slackapi.New(cfg.BotToken, opts...), ing: ing, st: st, cat: cat, log: log, http: hc, now: time.Now,
		read: normalize.SlackMessage, holder: holderID()}
}

// holderID names one Bot in the store's leases: host, process and a
// random part, so two Bots never share a name, even in one process.
func holderID() string {
	host, _ := os.Hostname()
	var r [6]byte
	_, _ = rand.Read(r[:])
	return fmt.Sprintf("%s-%d-%x", host, os.Getpid(), r)
}

// identity returns the bot's user and bot IDs (auth.test, cached).
func (b *Bot) identity(ctx context.Context) (*slackapi.AuthTestResponse, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.ident != nil {
		return b.ident, nil
	}
	r, err := b.api.AuthTestContext(ctx)
	if err != nil {
		return nil, fmt.Errorf("slack: auth.test: %w", err)
	}
	b.ident = r
	return r, nil
}

// callback is the outer event_callback document.
type callback struct {
	Type      string          `json:"type"`
	TeamID    string          `json:"team_id"`
	EventID   string          `json:"event_id"`
	EventTime int64           `json:"event_time"`
	Event     json.RawMessage `json:"event"`
	Challenge string          `json:"challenge"`
}

// message is a message event, or the message inside message_changed.
type message struct {
	Type            string          `json:"type"`
	Subtype         string          `json:"subtype"`
	Channel         string          `json:"channel"`
	User            string          `json:"user"`
	BotID           string          `json:"bot_id"`
	Team            string          `json:"team"`
	Text            string          `json:"text"`
	TS              string          `json:"ts"`
	ThreadTS        string          `json:"thread_ts"`
	Blocks          json.RawMessage `json:"blocks"`
	Attachments     json.RawMessage `json:"attachments"`
	Files           []file          `json:"files"`
	Message         *message        `json:"message"`
	PreviousMessage *message        `json:"previous_message"`
	DeletedTS       string          `json:"deleted_ts"`

	// problems are what could not be read of the event, for the ticket.
	problems []string
}

type file struct {
	ID                 string `json:"id"`
	Name               string `json:"name"`
	Mimetype           string `json:"mimetype"`
	Filetype           string `json:"filetype"`
	Size               int64  `json:"size"`
	URLPrivate         string `json:"url_private"`
	URLPrivateDownload string `json:"url_private_download"`
	Preview            string `json:"preview"`
}

// TicketID returns "slack:<team>/<channel>/<ts>".
func TicketID(team, channel, ts string) string {
	return "slack:" + team + "/" + channel + "/" + ts
}

// parseTicketID splits a ticket ID (with an optional "#edit-…" or
// "#mention" suffix) into channel and message ts.
func parseTicketID(id string) (channel, ts string, err error) {
	base, _, _ := strings.Cut(id, "#")
	rest, ok := strings.CutPrefix(base, "slack:")
	parts := strings.Split(rest, "/")
	if !ok || len(parts) != 3 || parts[1] == "" || parts[2] == "" {
		return "", "", fmt.Errorf("ticket %q is not a Slack message (slack:<team>/<channel>/<ts>)", id)
	}
	return parts[1], parts[2], nil
}

func (b *Bot) channelWanted(ch string) bool {
	return slices.Contains(b.cfg.Channels, "*") || slices.Contains(b.cfg.Channels, ch)
}

// errIgnored is not an error: the event is acknowledged and dropped.
var errIgnored = errors.New("ignored")

// HandleEvent stores what an event_callback body says and returns nil
// when it may be acknowledged: stored, a duplicate, or nothing to store.
// An error means it was not stored; do not acknowledge, so Slack
// delivers it again.
//
// An event that is JSON but has a field of the wrong type is read as far
// as it can be: the message becomes a ticket that names the field in its
// Problems. Only a body that is not JSON at all is dropped (logged).
func (b *Bot) HandleEvent(ctx context.Context, body []byte) error {
	var cb callback
	if _, err := decodeLenient(body, &cb); err != nil {
		b.log.Warn("slack: unreadable event; acknowledged and dropped", "err", err)
		return nil
	}
	if cb.Type != "event_callback" {
		return nil
	}
	var m message
	problem, err := decodeLenient(cb.Event, &m)
	if err != nil {
		b.log.Warn("slack: unreadable event; acknowledged and dropped", "event_id", cb.EventID, "err", err)
		return nil
	}
	if problem != "" {
		b.log.Warn("slack: event partly unreadable; stored with what could be read", "event_id", cb.EventID, "problem", problem)
		m.problems = append(m.problems, problem)
	}
	err = b.handle(ctx, cb, &m)
	switch {
	case errors.Is(err, errIgnored), errors.Is(err, pipeline.ErrDuplicate):
		return nil
	case errors.Is(err, pipeline.ErrBadInput):
		b.log.Warn("slack: event cannot be read as a ticket; acknowledged", "event_id", cb.EventID, "err", err)
		return nil
	}
	return err
}

func (b *Bot) handle(ctx context.Context, cb callback, m *message) error {
	switch m.Type {
	case "app_mention":
		return b.mention(ctx, cb, m)
	case "message":
	default:
		return errIgnored
	}
	if !b.channelWanted(m.Channel) {
		return errIgnored
	}
	switch m.Subtype {
	case "", "file_share", "thread_broadcast", "bot_message":
		return b.newMessage(ctx, cb, m, m.Channel, "")
	case "message_changed":
		if m.Message == nil {
			return errIgnored
		}
		return b.edited(ctx, cb, m)
	case "message_deleted":
		id := TicketID(cb.TeamID, m.Channel, m.DeletedTS)
		b.log.Info("slack: message deleted; its ticket and actions stay", "ticket_id", id, "event_id", cb.EventID)
		if err := b.st.SetCursor(ctx, "slack-deleted:"+m.Channel+"/"+m.DeletedTS, b.now().UTC().Format(time.RFC3339)); err != nil {
			return fmt.Errorf("slack: record deletion of %s: %w", id, err)
		}
		return errIgnored
	}
	return errIgnored
}

// fromRobot reports whether m should be ignored as the bot's own or
// another bot's message.
func (b *Bot) fromRobot(ctx context.Context, m *message) (bool, error) {
	id, err := b.identity(ctx)
	if err != nil {
		return false, err
	}
	if m.User == id.UserID || (m.BotID != "" && m.BotID == id.BotID) {
		return true, nil
	}
	if (m.BotID != "" || m.Subtype == "bot_message") && !b.cfg.AnswerBots {
		return true, nil
	}
	return false, nil
}

func (b *Bot) mentionsBot(ctx context.Context, text string) bool {
	id, err := b.identity(ctx)
	return err == nil && strings.Contains(text, "<@"+id.UserID+">")
}

// decodeLenient decodes JSON into v as far as it can. A value of the
// wrong type leaves its field unset and is returned as a problem for a
// person; err is only for data that is not JSON.
func decodeLenient(data []byte, v any) (problem string, err error) {
	err = json.Unmarshal(data, v)
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		field := te.Field
		if len(field) > 80 {
			field = strings.ToValidUTF8(field[:80], "") + "…"
		}
		kind, _, _ := strings.Cut(te.Value, " ")
		return fmt.Sprintf("the event's field %q holds a value of the wrong kind (%s); it was not read", field, kind), nil
	}
	return "", err
}

// normalize reads a message into a ticket (normalize.SlackMessage). The
// normalizer is written not to panic on any input; should it panic all
// the same, the panic is counted and logged, and the ticket keeps the
// message's text unconverted with the panic in its Problems, so that the
// message is still stored and acknowledged.
func (b *Bot) normalize(m *message, files []normalize.SlackFile, lim normalize.Limits) (t *ticket.Ticket) {
	defer func() {
		p := recover()
		if p == nil {
			return
		}
		if b.cfg.Panicked != nil {
			b.cfg.Panicked()
		}
		b.log.Error("slack: reading a message panicked; it is stored with its text unconverted", "ts", m.TS, "panic", p)
		limit := lim.MaxPartBytes
		if limit <= 0 {
			limit = normalize.DefaultMaxPartBytes
		}
		text, cut := m.Text, false
		if int64(len(text)) > limit {
			text, cut = text[:limit], true
		}
		t = &ticket.Ticket{Source: "slack", Problems: append(slices.Clone(m.problems),
			"the message could not be read (an internal error, counted and logged); its text is kept as it came")}
		if text = strings.ToValidUTF8(text, ""); text != "" {
			t.Parts = []ticket.Part{{Kind: ticket.KindBody, ContentType: "text/plain", Text: text, Truncated: cut}}
		}
	}()
	t = b.read(normalize.SlackInput{Text: m.Text, Blocks: m.Blocks, Attachments: m.Attachments, Files: files}, lim)
	t.Problems = append(t.Problems, m.problems...)
	return t
}

// ticketFor normalizes a message.
func (b *Bot) ticketFor(ctx context.Context, m *message) *ticket.Ticket {
	files := b.fetchFiles(ctx, m.Files)
	t := b.normalize(m, files, b.cfg.Limits)
	t.From = m.User
	if t.From == "" {
		t.From = m.BotID
	}
	t.MessageID = m.TS
	if m.ThreadTS != "" && m.ThreadTS != m.TS {
		t.InReplyTo = m.ThreadTS
	}
	t.Date = tsTime(m.TS)
	return t
}

func tsTime(ts string) time.Time {
	sec, frac, _ := strings.Cut(ts, ".")
	s, err := strconv.ParseInt(sec, 10, 64)
	if err != nil {
		return time.Time{}
	}
	us, _ := strconv.ParseInt((frac + "000000")[:6], 10, 64)
	return time.Unix(s, us*1000).UTC()
}

// newMessage ingests a new message (suffix "" ) or an edit of it.
func (b *Bot) newMessage(ctx context.Context, cb callback, m *message, channel, suffix string) error {
	robot, err := b.fromRobot(ctx, m)
	if err != nil {
		return err
	}
	if robot {
		return errIgnored
	}
	if b.mentionsBot(ctx, m.Text) {
		return errIgnored // answered as an app_mention
	}
	t := b.ticketFor(ctx, m)
	return b.ingest(ctx, cb, channel, TicketID(cb.TeamID, channel, m.TS)+suffix, t)
}

func (b *Bot) ingest(ctx context.Context, cb callback, channel, id string, t *ticket.Ticket) error {
	_, err := b.ing.Ingest(ctx, pipeline.Incoming{ID: id, EventID: cb.EventID, Source: "slack", Channel: channel, Ticket: t})
	if err != nil && !errors.Is(err, pipeline.ErrDuplicate) {
		return fmt.Errorf("slack: store message %s: %w", id, err)
	}
	return err
}

// edited handles message_changed: a new ticket per real change of the
// text, none for unfurls and metadata revisions.
func (b *Bot) edited(ctx context.Context, cb callback, m *message) error {
	nm := *m.Message
	nm.problems = m.problems
	if nm.Channel == "" {
		nm.Channel = m.Channel
	}
	newText := b.plainText(&nm)
	if p := m.PreviousMessage; p != nil {
		if b.plainText(p) == newText {
			return errIgnored // unfurl, thread metadata: same words
		}
	} else if rec, err := b.st.Ticket(ctx, TicketID(cb.TeamID, m.Channel, nm.TS)); err == nil {
		if bodyOf(&rec.Ticket) == bodyOf(b.normalize(&nm, nil, b.cfg.Limits)) {
			return errIgnored
		}
	}
	h := sha256.Sum256([]byte(newText))
	return b.newMessage(ctx, cb, &nm, m.Channel, "#edit-"+hex.EncodeToString(h[:6]))
}

func (b *Bot) plainText(m *message) string {
	return bodyOf(b.normalize(m, nil, normalize.Limits{}))
}

func bodyOf(t *ticket.Ticket) string {
	var parts []string
	for _, p := range t.Parts {
		if p.Kind != ticket.KindAttachment {
			parts = append(parts, p.Text)
		}
	}
	return strings.Join(parts, "\n")
}

// textLike reports whether a shared file is worth reading as text.
func textLike(f file) bool {
	switch strings.ToLower(path.Ext(f.Name)) {
	case ".log", ".txt", ".text", ".json", ".yml", ".yaml", ".out", ".err":
		return true
	}
	return strings.HasPrefix(f.Mimetype, "text/") || f.Filetype == "text" || f.Filetype == "log"
}

// fetchFiles downloads text-like files with the bot token, each cut at
// MaxFileBytes. Failures are logged and the file is skipped.
func (b *Bot) fetchFiles(ctx context.Context, files []file) []normalize.SlackFile {
	var out []normalize.SlackFile
	for _, f := range files {
		if !textLike(f) {
			continue
		}
		u := f.URLPrivateDownload
		if u == "" {
			u = f.URLPrivate
		}
		text, truncated, err := b.download(ctx, u)
		if err != nil {
			b.log.Warn("slack: could not fetch a shared file; the ticket goes on without it", "file_id", f.ID, "err", err)
			if f.Preview != "" {
				out = append(out, normalize.SlackFile{Name: f.Name, ContentType: f.Mimetype, Text: f.Preview, Truncated: true})
			}
			continue
		}
		out = append(out, normalize.SlackFile{Name: f.Name, ContentType: f.Mimetype, Text: text, Truncated: truncated})
	}
	return out
}

// download fetches a Slack file URL; the token only goes to Slack's own
// hosts (*.slack.com) or the configured API host.
func (b *Bot) download(ctx context.Context, raw string) (string, bool, error) {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return "", false, fmt.Errorf("bad file URL")
	}
	api, _ := url.Parse(b.cfg.APIURL)
	slackHost := u.Scheme == "https" && (u.Hostname() == "slack.com" || strings.HasSuffix(u.Hostname(), ".slack.com"))
	if !slackHost && (api == nil || u.Host != api.Host) {
		return "", false, fmt.Errorf("file host %q is not Slack's; the token is not sent there", u.Host)
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second) // Slack wants its ack within 3 s
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, raw, nil)
	if err != nil {
		return "", false, err
	}
	req.Header.Set("Authorization", "Bearer "+b.cfg.BotToken)
	resp, err := b.http.Do(req)
	if err != nil {
		return "", false, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return "", false, fmt.Errorf("HTTP %d", resp.StatusCode)
	}
	if ct := resp.Header.Get("Content-Type"); strings.HasPrefix(ct, "text/html") {
		return "", false, errors.New("the file download got a Slack sign-in page: the bot token lacks files:read")
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, b.cfg.MaxFileBytes+1))
	if err != nil {
		return "", false, err
	}
	if int64(len(data)) > b.cfg.MaxFileBytes {
		return string(data[:b.cfg.MaxFileBytes]), true, nil
	}
	return string(data), false, nil
}
