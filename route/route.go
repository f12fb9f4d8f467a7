// Package route decides what happens to a ticket: routing rules written in
// YAML (the `routes:` section of triage.yaml) are compiled once, with every
// problem in them reported at once, and then Decide plans the actions for
// each ticket. It plans; it never carries anything out (that is the
// outbox's job) and it does no I/O.
//
// Semantics, in short (route/REFERENCE.md is the full reference):
//
//   - Rules are tried in the order written. A rule matches when every
//     condition in its `match:` holds; a list means "any of"; an empty or
//     missing `match:` matches every ticket.
//   - The first matching rule's actions are planned and evaluation stops,
//     unless the rule says `continue: true`.
//   - A `shadow: true` rule is evaluated and its actions are planned with
//     State ticket.StateShadow (recorded, never run); it never stops
//     evaluation and never counts as a match for the default. `continue`
//     has no effect on a shadow rule.
//   - When no non-shadow rule matched, the `default:` actions are planned.
//
// Every action carries a JSON Payload (see Payload) and an idempotency Key.
// All customer text that goes into a payload or a template (subject, body
// excerpt, rendered text) passes through redact.String first.
//
// Rules is immutable after Compile and safe for concurrent use.
package route

import (
	"errors"
	"fmt"
	"slices"
	"text/template"

	"github.com/triage-bot/triage/annotate"
	"github.com/triage-bot/triage/ticket"
)

// Options tunes Compile.
type Options struct {
	// Kinds lists the action kinds this process can carry out; an action of
	// another kind is a configuration error. Nil means every kind in Kinds().
	Kinds []string
}

// Kinds returns every action kind known to the ticket package, in a
// stable order.
func Kinds() []string {
	return []string{
		ticket.KindWebhook, ticket.KindJSONL, ticket.KindMaildirMove,
		ticket.KindSlackReply, ticket.KindSlackPost, ticket.KindSlackReact,
		ticket.KindIMAPFlag, ticket.KindIMAPMove,
		ticket.KindEmailReply, ticket.KindEmailForward, ticket.KindAlert,
		ticket.KindZendeskNote, ticket.KindZendeskTag, ticket.KindZendeskAssign, // Zendesk
		ticket.KindFreshdeskNote, ticket.KindFreshdeskTag, ticket.KindFreshdeskAssign,
		ticket.KindFrontNote, ticket.KindFrontTag, ticket.KindFrontAssign,
		ticket.KindHelpScoutNote, ticket.KindHelpScoutTag, ticket.KindHelpScoutAssign,
	}
}

// Sources returns the ticket sources a rule may name in `source:`.
func Sources() []string {
	return []string{"email", "slack", "api", "file", "zendesk", "freshdesk", "front", "helpscout"}
}

// DefaultRule is the name recorded in Decision.Matched and Action.Rule when
// the default actions apply. No rule may have this name.
const DefaultRule = "default"

// ShadowPrefix is put before a shadow rule's name in Decision.Matched.
const ShadowPrefix = "shadow:"

// Rules is a compiled set of routing rules.
type Rules struct {
	file   string
	rules  []*rule
	def    []*action
	limits Limits
}

// rule is one compiled rule.
type rule struct {
	name    string
	line    int
	match   matcher
	actions []*action
	cont    bool
	shadow  bool
}

// action is one compiled action of a rule or of the default.
type action struct {
	kind   string
	target *template.Template // nil: the literal targetText
	text   *template.Template // never nil: the given or the kind's default
	// targetFn and textFn, when set, write what target and text would
	// (see renderers).
	targetFn, textFn renderer
	// targetText is the target as written.
	targetText string
	line       int
	targetLine int // where the target is written (line when it is not)
}

// Input is what Decide looks at.
type Input struct {
	// Ticket is the normalized ticket. A nil Ticket is treated as an empty one.
	Ticket *ticket.Ticket
	// Annotation is what annotate found in it.
	Annotation annotate.Annotation
}

// Decision is what the rules say to do with one ticket.
type Decision struct {
	// Matched names the rules that matched, in order; shadow rules as
	// "shadow:<name>"; DefaultRule when the default applied.
	Matched []string `json:"matched"`
	// Actions are the planned actions: TicketID, Kind, Target (rendered),
	// Rule, Payload, Key and State (ticket.StatePending, or
	// ticket.StateShadow for a shadow rule's) are set; the store sets the
	// rest.
	Actions []ticket.Action `json:"actions"`
}

// Names returns the rule names in order (the default is not included).
func (r *Rules) Names() []string {
	out := make([]string, len(r.rules))
	for i, ru := range r.rules {
		out[i] = ru.name
	}
	return out
}

// Decide plans the actions for one ticket. It is pure: the same input
// gives the same Decision, keys included.
//
// It fails only when a template fails while rendering (e.g. index out of
// range for this ticket, or a target that renders empty for a kind that
// needs one). The Decision then still holds every action, in order: each
// one that failed is parked in its place (see Parked), and each is named,
// with its rule, in the joined error. The caller stores the ticket with
// the decision as it is: one bad template never stops a ticket, and so
// never stops its source.
func (r *Rules) Decide(in Input) (Decision, error) {
	t := in.Ticket
	if t == nil {
		t = &ticket.Ticket{}
	}
	v := newView(t, in.Annotation)
	v.lim = r.limits.withDefaults()
	var (
		d        Decision
		errs     []error
		matched  bool
		planRule = func(name string, state ticket.ActionState, acts []*action) {
			for i, a := range acts {
				act, err := a.plan(v, name, i, state)
				if errors.Is(err, errNothingToPlan) {
					continue
				}
				if err != nil {
					errs = append(errs, err)
					act = a.parked(v, name, i, state, err)
				}
				d.Actions = append(d.Actions, act)
			}
		}
	)
	for _, ru := range r.rules {
		if !ru.match.matches(v) {
			continue
		}
		if ru.shadow {
			d.Matched = append(d.Matched, ShadowPrefix+ru.name)
			planRule(ru.name, ticket.StateShadow, ru.actions)
			continue
		}
		matched = true
		d.Matched = append(d.Matched, ru.name)
		planRule(ru.name, ticket.StatePending, ru.actions)
		if !ru.cont {
			break
		}
	}
	if !matched {
		d.Matched = append(d.Matched, DefaultRule)
		planRule(DefaultRule, ticket.StatePending, r.def)
	}
	return d, errors.Join(errs...)
}

// kinds returns the enabled kinds: o.Kinds, or every kind when nil.
func (o Options) kinds() []string {
	if o.Kinds == nil {
		return Kinds()
	}
	return o.Kinds
}

// kindAllowed reports whether kind is enabled.
func (o Options) kindAllowed(kind string) bool { return slices.Contains(o.kinds(), kind) }

// Parked reports whether a was parked at ingest because its template
// failed for its ticket: it is failed (or shadow) with the error in
// LastError, has no payload and was never attempted. Such an action has
// nothing to send, so it is never requeued; fixing the rule helps the
// tickets that come after.
func Parked(a ticket.Action) bool {
	return len(a.Payload) == 0 && a.Attempts == 0 && a.LastError != "" &&
		(a.State == ticket.StateFailed || a.State == ticket.StateShadow)
}

// parked is the action a would have planned, failed with err: the target
// as written, no payload, the error as its last error. A shadow rule's
// stays shadow (it would never run anyway).
func (a *action) parked(v *view, ruleName string, index int, state ticket.ActionState, err error) ticket.Action {
	if state != ticket.StateShadow {
		state = ticket.StateFailed
	}
	return ticket.Action{
		TicketID:  v.t.ID,
		Kind:      a.kind,
		Target:    a.targetText,
		Rule:      ruleName,
		Key:       Key(v.t.ID, ruleName, a.kind, a.targetText, index),
		State:     state,
		LastError: "never attempted: " + err.Error(),
	}
}

// renderError names the rule and action of a template that failed at run
// time.
func renderError(ruleName string, i int, kind, what string, err error) error {
	return fmt.Errorf("route: rule %q: action %d (%s): %s: %w", ruleName, i+1, kind, what, err)
}
