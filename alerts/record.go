package alerts

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/triage-bot/triage/annotate"
	"github.com/triage-bot/triage/catalog"
	"github.com/triage-bot/triage/route"
	"github.com/triage-bot/triage/store"
	"github.com/triage-bot/triage/ticket"
)

// Source is the Ticket.Source of alert tickets.
const Source = "alert"

// IDPrefix starts every alert ticket's ID.
const IDPrefix = "alert:"

// maxSamples bounds the sample ticket IDs listed in an alert.
const maxSamples = 10

// Payload is an alert action's payload: the usual route.Payload (ticket
// view, rule, kind, target, rendered text) plus the alert itself.
type Payload struct {
	route.Payload
	Alert Alert `json:"alert"`
}

// Recorder turns alerts into ticket records with planned actions.
type Recorder struct {
	catalog *catalog.Catalog
	actions map[string]*route.Rules
}

// NewRecorder returns a recorder; actions holds each rule's compiled
// actions (route rules with only default actions), by rule name.
func NewRecorder(cat *catalog.Catalog, actions map[string]*route.Rules) *Recorder {
	return &Recorder{catalog: cat, actions: actions}
}

// Record builds the synthetic ticket for a, its annotation and its
// actions, ready for store.Ingest. received is when the bot raised it.
func (r *Recorder) Record(a Alert, received time.Time) (*store.Record, error) {
	rules := r.actions[a.Rule]
	if rules == nil {
		return nil, fmt.Errorf("alerts: no actions for rule %q", a.Rule)
	}
	subject := fmt.Sprintf("Spike: %d tickets with %s within %s", a.Count, a.Key, a.WindowText())
	var b strings.Builder
	fmt.Fprintf(&b, "%d tickets with %s arrived between %s and %s (threshold %d within %s, rule %q).\n",
		a.Count, a.Key, a.First.UTC().Format(time.RFC3339), a.At.UTC().Format(time.RFC3339), a.Threshold, a.WindowText(), a.Rule)
	if a.Code != 0 {
		fmt.Fprintf(&b, "Many customers reporting %s at once is often an incident on ngrok's side.\n", a.Key)
	}
	samples := a.Samples
	if len(samples) > maxSamples {
		samples = samples[len(samples)-maxSamples:]
	}
	fmt.Fprintf(&b, "Sample tickets: %s\n", strings.Join(samples, ", "))
	t := &ticket.Ticket{
		ID:      a.TicketID(),
		Source:  Source,
		Channel: a.Rule,
		From:    "triage",
		Subject: subject,
		Date:    a.At.UTC(),
		Parts:   []ticket.Part{{Kind: ticket.KindSubject, Text: subject}, {Kind: ticket.KindBody, Text: b.String()}},
	}
	_, ann := annotate.Ticket(t, r.catalog)
	if a.Per == PerCategory {
		ann.Primary = catalog.Category(a.Category)
	}
	dec, err := rules.Decide(route.Input{Ticket: t, Annotation: ann})
	if err != nil {
		return nil, fmt.Errorf("alerts: plan actions for %s: %w", t.ID, err)
	}
	a.Samples = samples
	for i := range dec.Actions {
		var p Payload
		if err := json.Unmarshal(dec.Actions[i].Payload, &p.Payload); err != nil {
			return nil, fmt.Errorf("alerts: payload for %s: %w", t.ID, err)
		}
		p.Alert = a
		body, err := json.Marshal(p)
		if err != nil {
			return nil, fmt.Errorf("alerts: payload for %s: %w", t.ID, err)
		}
		dec.Actions[i].Payload = body
		dec.Actions[i].Rule = "alert:" + a.Rule
	}
	annJSON, err := json.Marshal(ann)
	if err != nil {
		return nil, fmt.Errorf("alerts: annotation for %s: %w", t.ID, err)
	}
	rec := &store.Record{
		Ticket:     *t,
		Annotation: annJSON,
		Category:   string(ann.Primary),
		Rules:      []string{"alert:" + a.Rule},
		Received:   received.UTC(),
		Actions:    dec.Actions,
	}
	for _, c := range ann.Codes {
		rec.Codes = append(rec.Codes, c.Code)
	}
	return rec, nil
}
