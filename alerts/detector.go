// Package alerts spots spikes: when Threshold tickets with the same code
// (or category) arrive within a Window, it raises one alert, and not again
// for that code until the count has fallen below the threshold at least
// Quiet after the alert (hysteresis). An alert is stored as a synthetic
// ticket "alert:<code-or-category>:<unix>:<rule>" whose actions (a Slack
// post, a webhook) go through the outbox like any other action.
//
// The Detector is pure: it is fed ticket times and codes and keeps, per
// rule and key, only the last Threshold arrivals, so memory is bounded by
// the number of distinct codes seen within a window. The Worker feeds it
// by polling the store under a lease, so with several replicas only one
// alerts.
package alerts

import (
	"fmt"
	"slices"
	"sort"
	"strconv"
	"time"
)

// Per says what a rule counts.
type Per string

// What a rule may count.
const (
	PerCode     Per = "code"
	PerCategory Per = "category"
)

// Rule is one spike rule.
type Rule struct {
	// Name identifies the rule.
	Name string
	// Per is PerCode (each code on its own) or PerCategory (the ticket's
	// primary category).
	Per Per
	// Codes, when not empty, limits the rule to these codes.
	Codes []int
	// Categories, when not empty, limits the rule to codes of these
	// categories (PerCode) or these primary categories (PerCategory).
	Categories []string
	// Threshold tickets within Window raise an alert (at least 1).
	Threshold int
	// Window is the sliding window.
	Window time.Duration
	// Quiet is the least time between two alerts for one key.
	Quiet time.Duration
}

// Observation is one ticket as the detector sees it.
type Observation struct {
	// ID is the ticket's ID (kept as a sample in alerts).
	ID string
	// At is when the ticket arrived.
	At time.Time
	// Codes are the ticket's distinct codes, with CodeCategories[i] the
	// category of Codes[i] (may be shorter: unknown categories).
	Codes          []int
	CodeCategories []string
	// Category is the ticket's primary category ("" without a code).
	Category string
}

// Alert is one spike.
type Alert struct {
	// Rule is the rule's name.
	Rule string `json:"rule"`
	// Per is what the rule counts.
	Per Per `json:"per"`
	// Key is "ERR_NGROK_<n>" or the category.
	Key string `json:"key"`
	// Code is the code (PerCode), else 0.
	Code int `json:"code,omitempty"`
	// Category is the category (PerCategory), else "".
	Category string `json:"category,omitempty"`
	// Count tickets arrived within Window (at least Threshold).
	Count     int           `json:"count"`
	Threshold int           `json:"threshold"`
	Window    time.Duration `json:"window"`
	// First is the arrival of the oldest counted ticket; At of the one that
	// crossed the threshold.
	First time.Time `json:"first"`
	At    time.Time `json:"at"`
	// Samples are the counted tickets' IDs, oldest first.
	Samples []string `json:"samples"`
}

// TicketID is the alert's synthetic ticket ID; it is the same when the
// same tickets are observed again, so a replay stores nothing twice.
func (a Alert) TicketID() string {
	return "alert:" + a.Key + ":" + strconv.FormatInt(a.At.Unix(), 10) + ":" + a.Rule
}

// WindowText is the window for people ("15m").
func (a Alert) WindowText() string { return shortDuration(a.Window) }

func shortDuration(d time.Duration) string {
	s := d.String()
	for _, suffix := range []string{"m0s", "h0m"} {
		if len(s) > len(suffix) && s[len(s)-len(suffix):] == suffix {
			s = s[:len(s)-len(suffix)+1]
		}
	}
	return s
}

// arrival is one counted ticket.
type arrival struct {
	at time.Time
	id string
}

// series is the state of one rule and key.
type series struct {
	// last holds the most recent arrivals (at most Threshold), oldest first.
	last      []arrival
	armed     bool
	lastAlert time.Time
}

type seriesKey struct {
	rule int
	key  string
}

// Detector turns observations into alerts. It is not safe for concurrent
// use.
type Detector struct {
	rules   []Rule
	codes   []map[int]bool
	cats    []map[string]bool
	state   map[seriesKey]*series
	observe int
}

// NewDetector returns a detector for rules; a Threshold below 1 counts
// as 1, a Quiet below 0 as 0.
func NewDetector(rules []Rule) *Detector {
	d := &Detector{state: map[seriesKey]*series{}}
	for _, r := range rules {
		r.Threshold = max(r.Threshold, 1)
		r.Quiet = max(r.Quiet, 0)
		if r.Per != PerCategory {
			r.Per = PerCode
		}
		var cs map[int]bool
		if len(r.Codes) > 0 {
			cs = map[int]bool{}
			for _, c := range r.Codes {
				cs[c] = true
			}
		}
		var ks map[string]bool
		if len(r.Categories) > 0 {
			ks = map[string]bool{}
			for _, k := range r.Categories {
				ks[k] = true
			}
		}
		d.rules, d.codes, d.cats = append(d.rules, r), append(d.codes, cs), append(d.cats, ks)
	}
	return d
}

// Observe counts one ticket and returns the alerts it raises (usually
// none). Observations should come roughly in time order; a late one is
// counted where it belongs.
func (d *Detector) Observe(o Observation) []Alert {
	var out []Alert
	for i, r := range d.rules {
		switch r.Per {
		case PerCategory:
			if o.Category == "" || d.cats[i] != nil && !d.cats[i][o.Category] {
				continue
			}
			if d.codes[i] != nil && !slices.ContainsFunc(o.Codes, func(c int) bool { return d.codes[i][c] }) {
				continue
			}
			if a, ok := d.count(i, o.Category, o); ok {
				a.Category = o.Category
				out = append(out, a)
			}
		default:
			for j, c := range o.Codes {
				if d.codes[i] != nil && !d.codes[i][c] {
					continue
				}
				if d.cats[i] != nil && (j >= len(o.CodeCategories) || !d.cats[i][o.CodeCategories[j]]) {
					continue
				}
				if a, ok := d.count(i, fmt.Sprintf("ERR_NGROK_%d", c), o); ok {
					a.Code = c
					out = append(out, a)
				}
			}
		}
	}
	d.observe++
	if d.observe%1024 == 0 {
		d.sweep(o.At)
	}
	return out
}

// count adds o to rule i's series for key and reports an alert when the
// threshold is crossed while armed.
func (d *Detector) count(i int, key string, o Observation) (Alert, bool) {
	r := d.rules[i]
	k := seriesKey{i, key}
	s := d.state[k]
	if s == nil {
		s = &series{armed: true}
		d.state[k] = s
	}
	if !s.armed && s.within(o.At, r.Window) < r.Threshold && !o.At.Before(s.lastAlert.Add(r.Quiet)) {
		s.armed = true
	}
	s.add(arrival{o.At, o.ID}, r.Threshold)
	n := s.within(o.At, r.Window)
	if !s.armed || n < r.Threshold {
		return Alert{}, false
	}
	s.armed, s.lastAlert = false, o.At
	a := Alert{Rule: r.Name, Per: r.Per, Key: key, Count: n, Threshold: r.Threshold, Window: r.Window, At: o.At}
	for _, x := range s.last[len(s.last)-n:] {
		a.Samples = append(a.Samples, x.id)
	}
	a.First = s.last[len(s.last)-n].at
	return a, true
}

// within counts the kept arrivals in (at-window, at].
func (s *series) within(at time.Time, window time.Duration) int {
	n := 0
	for _, x := range s.last {
		if at.Sub(x.at) < window && !x.at.After(at) {
			n++
		}
	}
	return n
}

// add inserts a in time order, keeping the newest keep arrivals.
func (s *series) add(a arrival, keep int) {
	i := sort.Search(len(s.last), func(i int) bool { return s.last[i].at.After(a.at) })
	s.last = slices.Insert(s.last, i, a)
	if len(s.last) > keep {
		s.last = s.last[len(s.last)-keep:]
	}
}

// sweep forgets series that are back to their initial state.
func (d *Detector) sweep(now time.Time) {
	for k, s := range d.state {
		r := d.rules[k.rule]
		idle := len(s.last) == 0 || now.Sub(s.last[len(s.last)-1].at) >= r.Window
		if idle && (s.armed || now.Sub(s.lastAlert) >= r.Quiet) {
			delete(d.state, k)
		}
	}
}

// Raised is an alert a rule raised for a key, kept across restarts.
type Raised struct {
	Rule string    `json:"rule"`
	Key  string    `json:"key"`
	At   time.Time `json:"at"`
}

// Raised lists the keys that raised an alert and are not re-armed yet.
func (d *Detector) Raised() []Raised {
	var out []Raised
	for k, s := range d.state {
		if !s.armed {
			out = append(out, Raised{Rule: d.rules[k.rule].Name, Key: k.key, At: s.lastAlert})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Rule+out[i].Key < out[j].Rule+out[j].Key })
	return out
}

// Restore marks keys as having raised an alert (from Raised of an earlier
// run); rules no longer configured are ignored.
func (d *Detector) Restore(raised []Raised) {
	for _, x := range raised {
		for i, r := range d.rules {
			if r.Name != x.Rule {
				continue
			}
			k := seriesKey{i, x.Key}
			s := d.state[k]
			if s == nil {
				s = &series{}
				d.state[k] = s
			}
			s.armed, s.lastAlert = false, x.At
		}
	}
}
