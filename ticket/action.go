package ticket

import "time"

// ActionState is where an action is in the outbox.
type ActionState string

// Action states. An action moves pending → running → done, or back to
// pending for a retry, or to failed after its last attempt, or to
// suppressed when its sink held it back on purpose (a reply to a robot,
// or to a sender answered already): final like done, not a failure, never
// retried. Shadow actions are recorded for review and never run.
const (
	StatePending    ActionState = "pending"
	StateRunning    ActionState = "running"
	StateDone       ActionState = "done"
	StateFailed     ActionState = "failed"
	StateSuppressed ActionState = "suppressed"
	StateShadow     ActionState = "shadow"
)

// Action kinds carried out by sinks.
const (
	KindWebhook      = "webhook"
	KindJSONL        = "jsonl"
	KindMaildirMove  = "maildir.move"
	KindSlackReply   = "slack.reply"
	KindSlackPost    = "slack.post"
	KindSlackReact   = "slack.react"
	KindIMAPFlag     = "imap.flag"
	KindIMAPMove     = "imap.move"
	KindEmailReply   = "email.reply"
	KindEmailForward = "email.forward"
	KindAlert        = "alert"

	// Zendesk
	KindZendeskNote   = "zendesk.note"
	KindZendeskTag    = "zendesk.tag"
	KindZendeskAssign = "zendesk.assign"
	// Freshdesk
	KindFreshdeskNote   = "freshdesk.note"
	KindFreshdeskTag    = "freshdesk.tag"
	KindFreshdeskAssign = "freshdesk.assign"
	// Front
	KindFrontNote   = "front.note"
	KindFrontTag    = "front.tag"
	KindFrontAssign = "front.assign"
)

// Help Scout
const (
	// KindHelpScoutNote adds a private note to the conversation.
	KindHelpScoutNote = "helpscout.note"
	// KindHelpScoutTag adds tags to the conversation.
	KindHelpScoutTag = "helpscout.tag"
	// KindHelpScoutAssign assigns the conversation to a user or team, or
	// moves it to another inbox.
	KindHelpScoutAssign = "helpscout.assign"
)

// Action is one side effect planned for a ticket and carried out through
// the outbox.
type Action struct {
	// ID is assigned by the store.
	ID int64 `json:"id"`
	// TicketID is the ticket the action belongs to.
	TicketID string `json:"ticket_id"`
	// Kind names the sink: "webhook", "slack.reply", "imap.move", …
	Kind string `json:"kind"`
	// Target says where within the sink: a webhook's name, a channel, a
	// folder, an address.
	Target string `json:"target,omitempty"`
	// Rule is the routing rule that planned it.
	Rule string `json:"rule,omitempty"`
	// Payload is the rendered, redacted content the sink sends (JSON for
	// webhooks, text or Block Kit for Slack, …).
	Payload []byte `json:"payload,omitempty"`
	// Key is the idempotency key, stable for the same ticket, rule and
	// action: a receiver that has seen it must not act again.
	Key string `json:"key"`
	// State is the action's outbox state.
	State ActionState `json:"state"`
	// Attempts counts runs so far.
	Attempts int `json:"attempts"`
	// NextAttempt is when a pending action is due.
	NextAttempt time.Time `json:"next_attempt,omitzero"`
	// LastError is the error of the last failed attempt, short and without
	// secrets.
	LastError string `json:"last_error,omitempty"`
	// Created and Updated are set by the store.
	Created time.Time `json:"created,omitzero"`
	Updated time.Time `json:"updated,omitzero"`
}
