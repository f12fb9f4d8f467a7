// Package metrics holds the bot's Prometheus collectors, in the triage_
// namespace, with bounded label values (per category and source, never per
// code or ticket). One Metrics value is made by the composition root and
// handed to the stages that count.
package metrics

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// Metrics are the collectors. A nil *Metrics is valid and counts nothing,
// so tests and one-shot commands need not build one.
type Metrics struct {
	// Registry holds every collector below.
	Registry *prometheus.Registry

	tickets     *prometheus.CounterVec
	codes       *prometheus.CounterVec
	actions     *prometheus.CounterVec
	actionState *prometheus.GaugeVec
	sourceLag   *prometheus.GaugeVec
	sourceOK    *prometheus.GaugeVec
	panics      *prometheus.CounterVec
	duplicates  *prometheus.CounterVec
	repliesHeld *prometheus.CounterVec
}

// New registers the collectors on a fresh registry, with the Go and
// process collectors.
func New() *Metrics {
	r := prometheus.NewRegistry()
	m := &Metrics{
		Registry: r,
		tickets: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "triage", Name: "tickets_total",
			Help: "Tickets stored, by source and primary category (none when no code).",
		}, []string{"source", "category"}),
		codes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "triage", Name: "codes_seen_total",
			Help: "Distinct codes per ticket, by category.",
		}, []string{"category"}),
		actions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "triage", Name: "action_attempts_total",
			Help: "Action attempts by kind and result (done, retry, failed, suppressed, released).",
		}, []string{"kind", "result"}),
		actionState: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: "triage", Name: "actions",
			Help: "Actions in the outbox by state.",
		}, []string{"state"}),
		sourceLag: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: "triage", Name: "source_last_success_timestamp_seconds",
			Help: "When each source last completed a pass (Unix time).",
		}, []string{"source"}),
		sourceOK: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: "triage", Name: "source_up",
			Help: "1 when the source's last pass succeeded, 0 when it failed.",
		}, []string{"source"}),
		panics: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "triage", Name: "panics_total",
			Help: "Recovered panics by component.",
		}, []string{"component"}),
		duplicates: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "triage", Name: "duplicate_deliveries_total",
			Help: "Redelivered tickets recognised and skipped, by source.",
		}, []string{"source"}),
		repliesHeld: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "triage", Name: "email_replies_held_total",
			Help: "Email replies held back, by reason class (sender_auth, budget, domain_budget, window, robot, address, own_address).",
		}, []string{"reason"}),
	}
	r.MustRegister(m.tickets, m.codes, m.actions, m.actionState, m.sourceLag, m.sourceOK, m.panics, m.duplicates, m.repliesHeld,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	for _, c := range []string{"pipeline", "outbox", "source", "http", "alerts", "normalize"} {
		m.panics.WithLabelValues(c)
	}
	return m
}

// Ticket counts a stored ticket and its distinct codes' categories.
func (m *Metrics) Ticket(source, category string, codeCategories []string) {
	if m == nil {
		return
	}
	if category == "" {
		category = "none"
	}
	m.tickets.WithLabelValues(source, category).Inc()
	for _, c := range codeCategories {
		m.codes.WithLabelValues(c).Inc()
	}
}

// Duplicate counts a redelivery that was recognised.
func (m *Metrics) Duplicate(source string) {
	if m != nil {
		m.duplicates.WithLabelValues(source).Inc()
	}
}

// Action counts one action attempt's result.
func (m *Metrics) Action(kind, result string) {
	if m != nil {
		m.actions.WithLabelValues(kind, result).Inc()
	}
}

// ActionStates sets the outbox gauge from counts by state.
func (m *Metrics) ActionStates(counts map[string]int) {
	if m == nil {
		return
	}
	for _, s := range []string{"pending", "running", "done", "failed", "suppressed", "shadow"} {
		m.actionState.WithLabelValues(s).Set(float64(counts[s]))
	}
}

// Source records a source pass: its time (Unix seconds) and success.
func (m *Metrics) Source(name string, unix float64, ok bool) {
	if m == nil {
		return
	}
	if ok {
		m.sourceLag.WithLabelValues(name).Set(unix)
		m.sourceOK.WithLabelValues(name).Set(1)
	} else {
		m.sourceOK.WithLabelValues(name).Set(0)
	}
}

// ReplyHeld counts an email reply held back, by reason class.
func (m *Metrics) ReplyHeld(reason string) {
	if m != nil {
		m.repliesHeld.WithLabelValues(reason).Inc()
	}
}

// Panic counts a recovered panic in component.
func (m *Metrics) Panic(component string) {
	if m != nil {
		m.panics.WithLabelValues(component).Inc()
	}
}
