package web

import (
	"maps"
	"slices"

	"github.com/triage-bot/triage/redact"
	"github.com/triage-bot/triage/store"
	"github.com/triage-bot/triage/ticket"
)

// redactRecord returns a copy of rec in which every piece of customer text
// — sender, recipients, subject, text parts and their names, kept
// headers, problems, and its actions' targets, errors and payloads — has
// passed through redact.String, the step outgoing text passes. Every view
// of a ticket (the API and the dashboard) shows this copy; the store keeps
// the text as received.
func redactRecord(rec *store.Record) *store.Record {
	out := *rec
	out.Ticket = redactTicket(rec.Ticket)
	out.Actions = redactActions(rec.Actions)
	return &out
}

func redactTicket(t ticket.Ticket) ticket.Ticket {
	t.From = redact.String(t.From)
	t.Subject = redact.String(t.Subject)
	t.To = slices.Clone(t.To)
	for i := range t.To {
		t.To[i] = redact.String(t.To[i])
	}
	if t.Headers != nil {
		h := maps.Clone(t.Headers)
		for k, v := range h {
			h[k] = redact.String(v)
		}
		t.Headers = h
	}
	t.Parts = slices.Clone(t.Parts)
	for i := range t.Parts {
		t.Parts[i].Text = redact.String(t.Parts[i].Text)
		t.Parts[i].Name = redact.String(t.Parts[i].Name)
	}
	t.Problems = slices.Clone(t.Problems)
	for i := range t.Problems {
		t.Problems[i] = redact.String(t.Problems[i])
	}
	return t
}

// redactActions returns a copy of as with targets, errors and payloads
// redacted (payload text was redacted when planned; this is a second look).
func redactActions(as []ticket.Action) []ticket.Action {
	if as == nil {
		return nil
	}
	out := slices.Clone(as)
	for i := range out {
		out[i].Target = redact.String(out[i].Target)
		out[i].LastError = redact.String(out[i].LastError)
		if out[i].Payload != nil {
			out[i].Payload = redact.Bytes(out[i].Payload)
		}
	}
	return out
}
