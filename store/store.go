// Package store defines what the pipeline, the outbox and the web layer
// keep: tickets with their annotations, the outbox of actions, source
// cursors and leases. Two implementations share one contract: sqlite (the
// embedded default, CGO-free) and postgres (several replicas). The
// storetest package is the conformance suite both must pass.
package store

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/triage-bot/triage/ticket"
)

// ErrDuplicate is returned by Ingest when the ticket ID or the source
// event ID is already stored. Nothing was changed: redelivery is a no-op.
var ErrDuplicate = errors.New("store: already stored")

// ErrNotFound is returned when a ticket or action does not exist.
var ErrNotFound = errors.New("store: not found")

// ErrLeaseLost is returned by an outbox call made by a worker whose claim
// on the action has expired and passed to another worker.
var ErrLeaseLost = errors.New("store: action claimed by another worker")

// Record is a stored ticket with what the bot made of it.
type Record struct {
	// Ticket is the normalized ticket (parts' text included).
	Ticket ticket.Ticket `json:"ticket"`
	// EventID is the source's delivery ID (Slack event_id, Message-ID for
	// mail), unique when not empty.
	EventID string `json:"event_id,omitempty"`
	// Annotation is the annotate.Annotation as JSON (the store does not
	// interpret it).
	Annotation json.RawMessage `json:"annotation"`
	// Category is the annotation's primary category ("" when no code), kept
	// as a column for queries and metrics.
	Category string `json:"category"`
	// Codes are the distinct codes, kept as a column for search.
	Codes []int `json:"codes"`
	// Rules names the routing rules that matched, in order; a shadow rule is
	// listed with a "shadow:" prefix.
	Rules []string `json:"rules,omitempty"`
	// Received is when the bot took the ticket in.
	Received time.Time `json:"received"`
	// Actions are the actions planned for the ticket.
	Actions []ticket.Action `json:"actions,omitempty"`
	// Claim, when set, claims the record's due pending actions for a
	// worker in the same transaction that stores them: they are stored
	// running, with their first attempt counted, as if Claim had returned
	// them — sparing the outbox a claim transaction for work it is handed
	// directly. Not stored.
	Claim *Claim `json:"-"`
	// Prepared, when set by Prepare, is the record's row, flattened by
	// the caller ahead of the write so that the store's one writer does
	// not spend its time encoding. Not stored.
	Prepared *Row `json:"-"`
}

// Claim is a worker's hold on actions until a time, after which any
// worker may claim them again.
type Claim struct {
	Worker string
	Until  time.Time
}

// TicketQuery selects tickets, newest first.
type TicketQuery struct {
	// Code, when not 0, keeps tickets with that code.
	Code int
	// Category, when set, keeps tickets whose primary category it is.
	Category string
	// Text, when set, keeps tickets whose sender, subject or text contains it
	// (case-insensitive).
	Text string
	// Since, when not zero, keeps tickets received at or after it.
	Since time.Time
	// Limit caps the result; 0 means 100.
	Limit int
	// Before, when set, is a ticket ID: page to tickets older than it.
	Before string
}

// ActionQuery selects actions, newest first.
type ActionQuery struct {
	// State, when set, keeps actions in that state.
	State ticket.ActionState
	// TicketID, when set, keeps that ticket's actions.
	TicketID string
	// Limit caps the result; 0 means 100.
	Limit int
}

// Store is the contract both implementations meet. All methods are safe
// for concurrent use, also from several processes sharing one database.
//
// The outbox's lease model: a worker holds an action under a claim (its
// name and a time, claimed_by and claim_until) from Claim, or from Ingest
// with Record.Claim, until it records the outcome (Complete, Retry,
// Fail, Release). While it works it renews the claims it holds (Renew,
// one statement per worker every third of the lease), so a claim runs
// out only when its holder died or could not reach the store for a whole
// lease; another worker may then claim the action again, and the old
// holder's calls get ErrLeaseLost. A holder that cannot renew in time, or
// learns from Renew that a claim is gone, stops before sending: one
// claim, one sender. Attempts are counted when claimed, so MaxAttempts
// holds across crashes. ReleaseClaims ends every claim at once for a
// process that knows their holders are dead (SQLite: one process).
type Store interface {
	// Ingest writes a ticket, its annotation and its planned actions in one
	// transaction, assigning action IDs (written back into rec.Actions) and
	// setting actions' Created/Updated. A ticket whose ID or EventID is
	// already stored returns ErrDuplicate and changes nothing, as does a
	// record with two actions of the same non-empty Key (keys are unique
	// within a ticket; route.Key derives them from the ticket's ID, so
	// tickets never share one). Actions whose State is empty are stored
	// as pending, due at once.
	Ingest(ctx context.Context, rec *Record) error
	// Ticket returns one ticket with its actions, or ErrNotFound.
	Ticket(ctx context.Context, id string) (*Record, error)
	// Tickets lists tickets (without their actions), newest first.
	Tickets(ctx context.Context, q TicketQuery) ([]Record, error)
	// HasMessageID reports whether a ticket with this mail Message-ID from
	// this channel is stored (used to deduplicate rescans).
	HasMessageID(ctx context.Context, channel, messageID string) (bool, error)

	// Claim marks up to limit due actions (pending with NextAttempt ≤ now,
	// or running whose claim expired before now) as running for worker
	// until now+lease, incrementing Attempts, and returns them. Two
	// workers never hold the same action at once.
	//
	// Attempts are counted here, when an action is claimed, so that
	// maxAttempts is a hard cap even when a worker dies or loses its claim
	// mid-attempt and never records an outcome: a due action that already
	// has maxAttempts attempts is not claimed but parked as failed in the
	// same transaction (its last error says it gave up) and returned with
	// State failed, so the caller can report it; it counts toward limit.
	// maxAttempts ≤ 0 sets no cap.
	//
	// A claim lasts lease; a worker that is still working renews it (Renew)
	// long before it runs out, so lease can be short (seconds) and a dead
	// process's actions are taken over soon after it died.
	Claim(ctx context.Context, worker string, now time.Time, lease time.Duration, limit, maxAttempts int) ([]ticket.Action, error)
	// Renew extends worker's claim on each of ids until until, in one
	// statement however many ids (a worker's heartbeat), and returns the
	// ids worker still holds (running and claimed by worker, whether or
	// not the claim had expired). An id missing from the result was
	// finished, released or taken over by another worker: its holder must
	// stop working on it, must not send it, and records nothing for it.
	Renew(ctx context.Context, worker string, ids []int64, until time.Time) ([]int64, error)
	// Complete marks a claimed action done. ErrLeaseLost if worker no
	// longer holds it.
	Complete(ctx context.Context, id int64, worker string) error
	// CompleteBatch marks several claimed actions done in one transaction;
	// the i-th error is as Complete's for ids[i].
	CompleteBatch(ctx context.Context, ids []int64, worker string) []error
	// Retry records a failed attempt and makes the action pending again,
	// due at next. ErrLeaseLost if worker no longer holds it.
	Retry(ctx context.Context, id int64, worker, errMsg string, next time.Time) error
	// Fail records the last failed attempt and parks the action as failed.
	// Parking is idempotent: an action that is failed already (parked by
	// a claimer that found it out of attempts, or by an earlier call)
	// stays as it is and Fail returns nil. ErrLeaseLost if the action is
	// neither held by worker nor failed (done, pending, or held by another
	// worker).
	Fail(ctx context.Context, id int64, worker, errMsg string) error
	// Suppress records that the sink held the action back on purpose
	// (reason says why) and ends it as suppressed: final, like done, and
	// not a failure, so Requeue refuses it. Idempotent like Fail: an
	// action suppressed already stays as it is and Suppress returns nil.
	// ErrLeaseLost if the action is neither held by worker nor suppressed.
	Suppress(ctx context.Context, id int64, worker, reason string) error
	// Release gives a claimed action back, pending and due at once, without
	// counting the attempt: only for an action whose attempt never started
	// (claimed, then shutdown began). ErrLeaseLost if worker no longer
	// holds it.
	Release(ctx context.Context, id int64, worker string) error
	// ReleaseClaims ends every claim at once: every running action becomes
	// pending, due at once, its attempt still counted (it may have been
	// made). It returns how many. Only for a process that knows every
	// claim belongs to a dead process: a SQLite database is worked by one
	// `triage run` at a time, which calls it when it starts, so nothing
	// its killed predecessor claimed waits for the claim to run out.
	ReleaseClaims(ctx context.Context) (int, error)
	// Requeue makes a failed action pending again, due at once, with its
	// attempts reset (the dashboard's retry button). ErrNotFound if there is
	// no failed action with that ID, or if it failed without an attempt:
	// an action parked at ingest because its template failed
	// (route.Parked) has nothing to send.
	Requeue(ctx context.Context, id int64) error
	// Actions lists actions, newest first.
	Actions(ctx context.Context, q ActionQuery) ([]ticket.Action, error)
	// CountActions returns the number of actions per state.
	CountActions(ctx context.Context) (map[ticket.ActionState]int, error)

	// Cursor returns a source's saved position ("" when none).
	Cursor(ctx context.Context, source string) (string, error)
	// SetCursor saves a source's position.
	SetCursor(ctx context.Context, source, value string) error

	// AcquireLease takes or renews the named lease for holder until
	// now+ttl; it returns false when another holder has an unexpired lease.
	AcquireLease(ctx context.Context, name, holder string, now time.Time, ttl time.Duration) (bool, error)
	// ReleaseLease gives up the lease if holder has it.
	ReleaseLease(ctx context.Context, name, holder string) error

	// IngestBatch stores several records in one transaction, each as if by
	// Ingest: the i-th error is the i-th record's (nil, ErrDuplicate, or a
	// failure), and one record's refusal does not affect the others. A
	// failed commit fails every record not already refused. One commit for
	// many tickets is what lets a busy source keep up.
	IngestBatch(ctx context.Context, recs []*Record) []error

	// Close releases the store's resources.
	Close() error
}
