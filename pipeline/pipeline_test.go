package pipeline

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/triage-bot/triage/annotate"
	"github.com/triage-bot/triage/catalog"
	"github.com/triage-bot/triage/route"
	"github.com/triage-bot/triage/store"
	"github.com/triage-bot/triage/store/sqlite"
	"github.com/triage-bot/triage/ticket"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

func newPipeline(t *testing.T) (*Pipeline, *sqlite.Store) {
	t.Helper()
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "t.db"))
	require.NoError(t, err)
	t.Cleanup(func() { st.Close() })
	cat, err := catalog.Default()
	require.NoError(t, err)
	rules, err := route.Parse("r.yaml", []byte(`
routes:
  rules:
    - name: try new helpdesk
      shadow: true
      actions: [{kind: webhook, target: new-helpdesk}]
    - name: agent
      match: {category: [agent-auth]}
      actions: [{kind: webhook, target: helpdesk}]
  default:
    actions: [{kind: jsonl, target: /tmp/x.jsonl}]
`), route.Options{})
	require.NoError(t, err)
	return &Pipeline{Catalog: cat, Rules: rules, Store: st, Log: quiet}, st
}

func TestIngestStoresTicketAnnotationAndActionsTogether(t *testing.T) {
	p, st := newPipeline(t)
	var stored []*store.Record
	p.Stored = func(r *store.Record) { stored = append(stored, r) }
	ctx := context.Background()
	rec, err := p.Ingest(ctx, Incoming{ID: "t1", Source: "email", Channel: "support",
		Raw: strings.NewReader("From: a@example.com\nSubject: help\nMessage-ID: <1@x>\n\nagent says ERR_NGROK_108\n\n> old: ERR_NGROK_3200\n")})
	require.NoError(t, err)
	assert.Equal(t, "agent-auth", rec.Category)
	assert.Equal(t, []int{108, 3200}, rec.Codes)
	assert.Equal(t, []string{"shadow:try new helpdesk", "agent"}, rec.Rules)
	require.Len(t, rec.Actions, 2)
	assert.Equal(t, ticket.StateShadow, rec.Actions[0].State, "a shadow rule's actions are recorded, never run")
	assert.Equal(t, "new-helpdesk", rec.Actions[0].Target)
	assert.Equal(t, ticket.StatePending, rec.Actions[1].State)
	assert.Len(t, stored, 1)

	got, err := st.Ticket(ctx, "t1")
	require.NoError(t, err)
	assert.Equal(t, "help", got.Ticket.Subject)
	assert.Len(t, got.Actions, 2)
	assert.Contains(t, string(got.Annotation), `"quoted_only":true`)

	_, err = p.Ingest(ctx, Incoming{ID: "t1", Source: "email", Raw: strings.NewReader("Subject: x\n\ny\n")})
	assert.ErrorIs(t, err, ErrDuplicate, "redelivery is recognised")
	assert.Len(t, stored, 1)
	counts, err := st.CountActions(ctx)
	require.NoError(t, err)
	assert.Equal(t, 1, counts[ticket.StatePending], "a redelivery plans nothing more")
	assert.Equal(t, 1, counts[ticket.StateShadow])
}

// fakeDispatcher records what ingest hands it.
type fakeDispatcher struct {
	claim  *store.Claim
	handed [][]ticket.Action
}

func (f *fakeDispatcher) Claim() *store.Claim { return f.claim }
func (f *fakeDispatcher) Dispatch(_ context.Context, _ *store.Claim, as []ticket.Action) {
	f.handed = append(f.handed, as)
}

func TestIngestHandsClaimedActionsToTheDispatcher(t *testing.T) {
	p, st := newPipeline(t)
	d := &fakeDispatcher{claim: &store.Claim{Worker: "me/direct", Until: time.Now().Add(time.Minute)}}
	p.Dispatcher = d
	ctx := context.Background()
	rec, err := p.Ingest(ctx, Incoming{ID: "t1", Source: "email", Raw: strings.NewReader("Subject: help\n\nagent says ERR_NGROK_108\n")})
	require.NoError(t, err)
	require.Len(t, rec.Actions, 2)
	assert.Equal(t, ticket.StateShadow, rec.Actions[0].State, "shadow actions are never claimed")
	assert.Equal(t, ticket.StateRunning, rec.Actions[1].State)
	require.Len(t, d.handed, 1)
	require.Len(t, d.handed[0], 1)
	assert.Equal(t, rec.Actions[1].ID, d.handed[0][0].ID)
	assert.Equal(t, "webhook", d.handed[0][0].Kind)

	// The claim is the dispatcher's: its worker completes the action.
	require.NoError(t, st.CompleteBatch(ctx, []int64{rec.Actions[1].ID}, "me/direct")[0])

	// A dispatcher not taking work (no claim) leaves actions pending.
	d.claim = nil
	rec, err = p.Ingest(ctx, Incoming{ID: "t2", Source: "email", Raw: strings.NewReader("Subject: help\n\nERR_NGROK_108\n")})
	require.NoError(t, err)
	assert.Equal(t, ticket.StatePending, rec.Actions[1].State)
	assert.Len(t, d.handed, 1, "nothing handed without a claim")
}

func TestUnreadableMail(t *testing.T) {
	p, st := newPipeline(t)
	ctx := context.Background()
	rec, err := p.Ingest(ctx, Incoming{ID: "poison", Source: "email", Raw: strings.NewReader("")})
	require.NoError(t, err, "a source must never be blocked by one bad message")
	require.NotEmpty(t, rec.Ticket.Problems)
	assert.Contains(t, rec.Ticket.Problems[0], "could not read the message")
	assert.Equal(t, []string{"shadow:try new helpdesk", "default"}, rec.Rules)
	_, err = st.Ticket(ctx, "poison")
	require.NoError(t, err)

	_, err = p.Ingest(ctx, Incoming{ID: "strict", Source: "api", Raw: strings.NewReader(""), Strict: true})
	assert.ErrorIs(t, err, ErrBadInput, "the API answers 400 instead")
	_, err = p.Ingest(ctx, Incoming{ID: "nothing"})
	assert.Error(t, err)
}

// fakeSource hands over queued tickets and records what was acknowledged.
type fakeSource struct {
	name  string
	mu    sync.Mutex
	queue []Incoming
	acked []string
	err   error
}

func (f *fakeSource) Name() string { return f.name }

func (f *fakeSource) Poll(ctx context.Context, ingest func(context.Context, Incoming) error) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return 0, f.err
	}
	n := 0
	for len(f.queue) > 0 && n < 2 {
		in := f.queue[0]
		if err := ingest(ctx, in); err != nil {
			return n, err
		}
		f.acked = append(f.acked, in.ID)
		f.queue = f.queue[1:]
		n++
	}
	return n, nil
}

func text(id, body string) Incoming {
	return Incoming{ID: id, Source: "api", Ticket: &ticket.Ticket{Parts: []ticket.Part{{Kind: ticket.KindBody, Text: body}}}}
}

func TestRunnerOnceDrainsAndAcksAfterStoring(t *testing.T) {
	p, _ := newPipeline(t)
	src := &fakeSource{name: "fake", queue: []Incoming{text("a", "ERR_NGROK_108"), text("b", "x"), text("a", "again"), text("c", "ERR_NGROK_3200")}}
	r := &Runner{Pipeline: p, Log: quiet}
	n, err := r.Once(context.Background(), []SourceSpec{{Source: src}})
	require.NoError(t, err)
	assert.Equal(t, 4, n)
	assert.Equal(t, []string{"a", "b", "a", "c"}, src.acked, "a duplicate is acknowledged too")
	h := r.Health()
	require.Len(t, h, 1)
	assert.False(t, h[0].LastSuccess.IsZero())
}

func TestRunnerHealthGoesStale(t *testing.T) {
	p, _ := newPipeline(t)
	now := time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)
	r := &Runner{Pipeline: p, Log: quiet, Now: func() time.Time { return now }}
	src := &fakeSource{name: "imap:support"}
	_, err := r.Once(context.Background(), []SourceSpec{{Source: src, StaleAfter: time.Minute}})
	require.NoError(t, err)
	assert.False(t, r.Health()[0].Stale)

	src.err = errors.New("connection refused")
	now = now.Add(30 * time.Second)
	_, err = r.Once(context.Background(), []SourceSpec{{Source: src, StaleAfter: time.Minute}})
	require.Error(t, err)
	h := r.Health()[0]
	assert.False(t, h.Stale, "one failed pass is not yet stale")
	assert.Equal(t, "connection refused", h.LastError)

	now = now.Add(2 * time.Minute)
	h = r.Health()[0]
	assert.True(t, h.Stale, "no successful pass for longer than StaleAfter")
}

func TestRunnerLeasesLetOneReplicaPoll(t *testing.T) {
	pA, st := newPipeline(t)
	src := &fakeSource{name: "shared", queue: []Incoming{text("x", "ERR_NGROK_108")}}
	other := &fakeSource{name: "shared", queue: []Incoming{text("y", "ERR_NGROK_108")}}
	now := time.Now()
	a := &Runner{Pipeline: pA, Leases: st, Holder: "replica-a", Log: quiet, Now: func() time.Time { return now }}
	b := &Runner{Pipeline: pA, Leases: st, Holder: "replica-b", Log: quiet, Now: func() time.Time { return now }}
	spec := func(s Source) []SourceSpec { return []SourceSpec{{Source: s, Interval: time.Second}} }

	_, err := a.Once(context.Background(), spec(src))
	require.NoError(t, err)
	n, err := b.Once(context.Background(), spec(other))
	require.NoError(t, err)
	assert.Zero(t, n, "replica b stands by while a holds the lease")
	assert.True(t, b.Health()[0].Standby)

	now = now.Add(time.Minute) // a's lease expired: a died
	n, err = b.Once(context.Background(), spec(other))
	require.NoError(t, err)
	assert.Equal(t, 1, n, "b takes over")
}

func TestRunnerRunStopsWithContextAndWakes(t *testing.T) {
	p, _ := newPipeline(t)
	src := &fakeSource{name: "wake"}
	wake := make(chan struct{}, 1)
	r := &Runner{Pipeline: p, Log: quiet}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = r.Run(ctx, []SourceSpec{{Source: src, Interval: time.Hour, Wake: wake}}); close(done) }()
	require.Eventually(t, func() bool { return len(r.Health()) == 1 && !r.Health()[0].LastSuccess.IsZero() }, 5*time.Second, 10*time.Millisecond)
	src.mu.Lock()
	src.queue = append(src.queue, text("w", "ERR_NGROK_108"))
	src.mu.Unlock()
	wake <- struct{}{}
	require.Eventually(t, func() bool {
		src.mu.Lock()
		defer src.mu.Unlock()
		return len(src.acked) == 1
	}, 5*time.Second, 10*time.Millisecond, "Wake starts a pass before the interval")
	cancel()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not stop")
	}
}

// TestIngestBoundsWhatOneMessageStores: a mail naming 5,000 codes is
// stored with every code in its list but an annotation of bounded size,
// and its actions' payloads are bounded too.
func TestIngestBoundsWhatOneMessageStores(t *testing.T) {
	p, st := newPipeline(t)
	ctx := context.Background()
	f, err := os.Open("../route/testdata/fanout-5000-codes.eml")
	require.NoError(t, err)
	defer f.Close()
	rec, err := p.Ingest(ctx, Incoming{ID: "fanout", Source: "email", Channel: "support", Raw: f})
	require.NoError(t, err)
	got, err := st.Ticket(ctx, "fanout")
	require.NoError(t, err)
	assert.Len(t, got.Codes, 5000, "the ticket keeps every code")
	t.Logf("annotation: %d bytes", len(got.Annotation))
	assert.Less(t, len(got.Annotation), 128<<10, "the annotation is bounded")
	var ann annotate.Annotation
	require.NoError(t, json.Unmarshal(got.Annotation, &ann))
	assert.Len(t, ann.Codes, annotate.StoredCodes)
	assert.Equal(t, 5000-annotate.StoredCodes, ann.MoreCodes)
	for _, a := range rec.Actions {
		assert.Less(t, len(a.Payload), 128<<10, "%s payload", a.Kind)
	}
}

// TestIngestStoresWhatRoutingPlanned: an action that does not render for
// a ticket leaves the others planned and the ticket stored, with the
// reason on it, instead of refusing the ticket for ever.
func TestIngestStoresWhatRoutingPlanned(t *testing.T) {
	p, st := newPipeline(t)
	rules, err := route.Parse("r.yaml", []byte(`
routes:
  rules:
    - name: by subject
      actions:
        - {kind: imap.move, target: "{{.Ticket.Subject}}", allow_customer_folders: true}
        - {kind: webhook, target: helpdesk}
`), route.Options{})
	require.NoError(t, err)
	p.Rules = rules
	ctx := context.Background()
	rec, err := p.Ingest(ctx, Incoming{ID: "trash", Source: "email", Raw: strings.NewReader("From: a@example.com\nSubject: Trash\n\nhello\n")})
	require.NoError(t, err)
	require.Len(t, rec.Actions, 2)
	assert.Equal(t, ticket.KindIMAPMove, rec.Actions[0].Kind)
	assert.True(t, route.Parked(rec.Actions[0]), "parked: failed, never attempted, with the reason")
	assert.Contains(t, rec.Actions[0].LastError, "special-use mailbox Trash")
	assert.Equal(t, ticket.KindWebhook, rec.Actions[1].Kind)
	assert.Equal(t, ticket.StatePending, rec.Actions[1].State)
	got, err := st.Ticket(ctx, "trash")
	require.NoError(t, err)
	require.Len(t, got.Ticket.Problems, 1)
	assert.Contains(t, got.Ticket.Problems[0], `special-use mailbox Trash`)
}
