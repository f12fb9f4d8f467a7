package alerts

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"

	"github.com/triage-bot/triage/annotate"
	"github.com/triage-bot/triage/catalog"
	"github.com/triage-bot/triage/route"
	"github.com/triage-bot/triage/store"
	"github.com/triage-bot/triage/store/sqlite"
	"github.com/triage-bot/triage/ticket"
)

func compileActions(t *testing.T, src string) *route.Rules {
	t.Helper()
	var n yaml.Node
	require.NoError(t, yaml.Unmarshal([]byte(src), &n))
	r, err := route.Compile("alerts.yaml", &n, route.Options{})
	require.NoError(t, err)
	return r
}

type fixture struct {
	st  *sqlite.Store
	cat *catalog.Catalog
	clk *clock
	n   int
}

func (f *fixture) ingest(t *testing.T, code int) {
	t.Helper()
	f.n++
	tk := &ticket.Ticket{ID: fmt.Sprintf("api:t%d", f.n), Source: "api", From: fmt.Sprintf("c%d@example.com", f.n),
		Parts: []ticket.Part{{Kind: ticket.KindBody, Text: fmt.Sprintf("tunnel down: ERR_NGROK_%d", code)}}}
	_, ann := annotate.Ticket(tk, f.cat)
	b, err := json.Marshal(ann)
	require.NoError(t, err)
	rec := &store.Record{Ticket: *tk, Annotation: b, Category: string(ann.Primary), Received: f.clk.Now()}
	for _, c := range ann.Codes {
		rec.Codes = append(rec.Codes, c.Code)
	}
	require.NoError(t, f.st.Ingest(context.Background(), rec))
}

func (f *fixture) worker(holder string) *Worker {
	rule := Rule{Name: "ngrok incident", Codes: []int{3004, 10000}, Threshold: 3, Window: 15 * time.Minute, Quiet: 15 * time.Minute}
	return &Worker{
		Detector: NewDetector([]Rule{rule}),
		Recorder: NewRecorder(f.cat, map[string]*route.Rules{rule.Name: compileActions(&testing.T{}, `
default:
  actions:
    - kind: slack.post
      target: "#support-incidents"
    - kind: webhook
      target: pagerduty
`)}),
		Store: f.st, Holder: holder, Poll: time.Second, Lookback: rule.Window, Now: f.clk.Now,
	}
}

func alertTickets(t *testing.T, st store.Store) []store.Record {
	t.Helper()
	recs, err := st.Tickets(context.Background(), store.TicketQuery{Text: "spike", Limit: 100})
	require.NoError(t, err)
	var out []store.Record
	for _, r := range recs {
		if r.Ticket.Source == Source {
			full, err := st.Ticket(context.Background(), r.Ticket.ID)
			require.NoError(t, err)
			out = append(out, *full)
		}
	}
	return out
}

func TestWorkerRaisesThroughTheOutbox(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "a.db"))
	require.NoError(t, err)
	defer st.Close()
	cat, err := catalog.Default()
	require.NoError(t, err)
	f := &fixture{st: st, cat: cat, clk: newClock()}
	w := f.worker("replica-a")
	other := f.worker("replica-b")

	n, err := w.Pass(ctx)
	require.NoError(t, err)
	assert.Zero(t, n)
	for range 3 {
		f.clk.Advance(time.Minute)
		f.ingest(t, 3004)
		f.ingest(t, 108) // not in the rule
	}
	f.clk.Advance(time.Second)
	n, err = w.Pass(ctx)
	require.NoError(t, err)
	assert.Equal(t, 1, n, "one alert")
	n, err = other.Pass(ctx)
	require.NoError(t, err)
	assert.Zero(t, n, "the other replica has no lease")

	got := alertTickets(t, st)
	require.Len(t, got, 1)
	rec := got[0]
	assert.Regexp(t, `^alert:ERR_NGROK_3004:\d+:ngrok incident$`, rec.Ticket.ID)
	assert.Equal(t, []int{3004}, rec.Codes)
	require.Len(t, rec.Actions, 2)
	assert.Equal(t, ticket.KindSlackPost, rec.Actions[0].Kind)
	assert.Equal(t, "#support-incidents", rec.Actions[0].Target)
	assert.Equal(t, ticket.StatePending, rec.Actions[0].State)
	var p Payload
	require.NoError(t, json.Unmarshal(rec.Actions[1].Payload, &p))
	assert.Equal(t, "ERR_NGROK_3004", p.Alert.Key)
	assert.Equal(t, 3, p.Alert.Count)
	assert.Equal(t, 15*time.Minute, p.Alert.Window)
	assert.Equal(t, []string{"api:t1", "api:t3", "api:t5"}, p.Alert.Samples)
	assert.Contains(t, p.Text, "Spike: 3 tickets with ERR_NGROK_3004 within 15m")
	require.NotEmpty(t, p.Ticket.Codes)
	assert.Equal(t, "upstream-gateway", p.Ticket.Codes[0].Category)

	// More of the same burst: no new alert; a restarted worker (new
	// process) restores the state and does not alert again either.
	f.clk.Advance(time.Minute)
	f.ingest(t, 3004)
	n, err = w.Pass(ctx)
	require.NoError(t, err)
	assert.Zero(t, n)
	restarted := f.worker("replica-a")
	f.clk.Advance(time.Minute)
	f.ingest(t, 3004)
	n, err = restarted.Pass(ctx)
	require.NoError(t, err)
	assert.Zero(t, n)

	// After the quiet period a new burst alerts again.
	f.clk.Advance(time.Hour)
	for range 3 {
		f.clk.Advance(time.Minute)
		f.ingest(t, 3004)
	}
	n, err = restarted.Pass(ctx)
	require.NoError(t, err)
	assert.Equal(t, 1, n)
	assert.Len(t, alertTickets(t, st), 2)
}
