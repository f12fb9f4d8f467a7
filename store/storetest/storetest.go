// Package storetest is the conformance suite every store.Store
// implementation must pass. An implementation's tests call Run with a
// function that opens a fresh, empty store, and RunShared with a function
// that opens several handles on one fresh database:
//
//	func TestConformance(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) store.Store { return openTemp(t) })
//	}
//
// The suite drives the store through its interface only, with real
// clocks passed where the contract takes a time, and never sleeps: lease
// and claim expiry are exercised by passing later times.
package storetest

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/triage-bot/triage/store"
	"github.com/triage-bot/triage/ticket"
)

// opener opens a Store on a fresh, empty database for one test and
// registers its Close with t.Cleanup; Close must tolerate being called
// again after the suite closed the store itself.
type opener = func(t *testing.T) store.Store

// noCap is Claim's maxAttempts for no cap on attempts.
const noCap = 0

// Run runs the conformance suite against stores made by open, each
// subtest on its own fresh database. open must return an empty store and
// register its Close with t.Cleanup; Close must tolerate a second call.
func Run(t *testing.T, open func(t *testing.T) store.Store) {
	t.Helper()
	tests := []struct {
		name string
		fn   func(t *testing.T, open opener)
	}{
		{"IngestRoundTrip", testIngestRoundTrip},
		{"IngestDefaults", testIngestDefaults},
		{"IngestInvalid", testIngestInvalid},
		{"IngestDuplicateTicketID", testIngestDuplicateTicketID},
		{"IngestDuplicateEventID", testIngestDuplicateEventID},
		{"IngestEmptyEventIDs", testIngestEmptyEventIDs},
		{"TicketNotFound", testTicketNotFound},
		{"Tickets", testTickets},
		{"TicketsDefaultLimit", testTicketsDefaultLimit},
		{"TicketsBeforeUnknown", testTicketsBeforeUnknown},
		{"HasMessageID", testHasMessageID},
		{"ClaimDueOnly", testClaimDueOnly},
		{"ClaimExpiredRunning", testClaimExpiredRunning},
		{"ClaimLimit", testClaimLimit},
		{"ClaimConcurrent", testClaimConcurrent},
		{"Transitions", testTransitions},
		{"Retry", testRetry},
		{"Fail", testFail},
		{"Suppress", testSuppress},
		{"Release", testRelease},
		{"Complete", testComplete},
		{"Requeue", testRequeue},
		{"Actions", testActions},
		{"ActionsDefaultLimit", testActionsDefaultLimit},
		{"CountActions", testCountActions},
		{"Cursor", testCursor},
		{"Lease", testLease},
		{"IngestBatch", testIngestBatch},
		{"CompleteBatch", testCompleteBatch},
		{"IngestClaimed", testIngestClaimed},
		{"ClaimMaxAttempts", testClaimMaxAttempts},
		{"ParkingRace", testParkingRace},
		{"Renew", testRenew},
		{"ReleaseClaims", testReleaseClaims},
		{"IngestPrepared", testIngestPrepared},
		{"Close", testClose},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.fn(t, open) })
	}
}

// RunShared runs the part of the suite that needs several handles on one
// database; open(t, n) returns n handles on one fresh, empty database
// (as separate processes or replicas would hold) and registers their
// Close with t.Cleanup. It checks that concurrent claimers spread over
// the handles never get the same action, and that a lease or a claim
// taken through one handle is seen by the others.
func RunShared(t *testing.T, open func(t *testing.T, n int) []store.Store) {
	t.Helper()
	t.Run("ClaimConcurrentHandles", func(t *testing.T) {
		stores := open(t, 4)
		require.Len(t, stores, 4)
		claimConcurrently(t, stores, 8, 500)
	})
	t.Run("LeaseAcrossHandles", func(t *testing.T) {
		stores := open(t, 2)
		require.Len(t, stores, 2)
		ctx := context.Background()
		now := time.Now()
		ok, err := stores[0].AcquireLease(ctx, "imap:support/INBOX", "a", now, time.Minute)
		require.NoError(t, err)
		require.True(t, ok)
		ok, err = stores[1].AcquireLease(ctx, "imap:support/INBOX", "b", now.Add(time.Second), time.Minute)
		require.NoError(t, err)
		assert.False(t, ok, "second handle must see the first handle's lease")
	})
	t.Run("TakeoverFromDeadReplica", func(t *testing.T) {
		stores := open(t, 2)
		require.Len(t, stores, 2)
		testTakeoverFromDeadReplica(t, stores[0], stores[1])
	})
	t.Run("TransitionsAcrossHandles", func(t *testing.T) {
		stores := open(t, 2)
		require.Len(t, stores, 2)
		ctx := context.Background()
		rec := newRecord("t1", base, "", 108)
		rec.Actions = []ticket.Action{newAction("t1", "k1")}
		require.NoError(t, stores[0].Ingest(ctx, rec))
		now := time.Now()
		got, err := stores[1].Claim(ctx, "w1", now, time.Minute, 10, noCap)
		require.NoError(t, err)
		require.Len(t, got, 1)
		got, err = stores[0].Claim(ctx, "w2", now, time.Minute, 10, noCap)
		require.NoError(t, err)
		assert.Empty(t, got)
		require.NoError(t, stores[0].Complete(ctx, rec.Actions[0].ID, "w1"))
		a := actionByID(t, stores[1], rec.Actions[0].ID)
		assert.Equal(t, ticket.StateDone, a.State)
	})
}

// base is a fixed reception time in the past; tickets in the suite are
// received at base plus some minutes, so their actions are due at once.
var base = time.Date(2026, 11, 20, 9, 30, 0, 0, time.UTC)

func newRecord(id string, received time.Time, eventID string, codes ...int) *store.Record {
	return &store.Record{
		Ticket: ticket.Ticket{
			ID:      id,
			Source:  "email",
			Channel: "support/INBOX",
			From:    "customer@example.com",
			Subject: "help with " + id,
			Parts: []ticket.Part{
				{Kind: ticket.KindBody, ContentType: "text/plain", Text: "body of " + id},
			},
		},
		EventID:    eventID,
		Annotation: json.RawMessage(`{"codes":[]}`),
		Category:   "agent-auth",
		Codes:      codes,
		Received:   received,
	}
}

func newAction(ticketID, key string) ticket.Action {
	return ticket.Action{
		TicketID: ticketID,
		Kind:     ticket.KindWebhook,
		Target:   "helpdesk",
		Rule:     "default",
		Payload:  []byte(`{"k":"` + key + `"}`),
		Key:      key,
	}
}

func ingest(t *testing.T, s store.Store, rec *store.Record) {
	t.Helper()
	require.NoError(t, s.Ingest(context.Background(), rec))
}

func actionByID(t *testing.T, s store.Store, id int64) ticket.Action {
	t.Helper()
	all, err := s.Actions(context.Background(), store.ActionQuery{Limit: 100000})
	require.NoError(t, err)
	for _, a := range all {
		if a.ID == id {
			return a
		}
	}
	require.Failf(t, "action not found", "action %d", id)
	return ticket.Action{}
}

// ingestActions stores n due actions spread over tickets of 10 actions each
// and returns their IDs.
func ingestActions(t *testing.T, s store.Store, prefix string, n int) []int64 {
	t.Helper()
	var ids []int64
	for i := 0; len(ids) < n; i++ {
		tid := fmt.Sprintf("%s-t%d", prefix, i)
		rec := newRecord(tid, base.Add(time.Duration(i)*time.Second), "", 108)
		for j := 0; j < 10 && len(ids)+j < n; j++ {
			rec.Actions = append(rec.Actions, newAction(tid, fmt.Sprintf("%s-k%d-%d", prefix, i, j)))
		}
		ingest(t, s, rec)
		for _, a := range rec.Actions {
			ids = append(ids, a.ID)
		}
	}
	return ids
}

func testIngestRoundTrip(t *testing.T, open opener) {
	s := open(t)
	ctx := context.Background()
	received := base.Add(1234567 * time.Microsecond)
	rec := &store.Record{
		Ticket: ticket.Ticket{
			ID:         "imap:support/INBOX/17/4711",
			Source:     "email",
			Channel:    "support/INBOX",
			From:       "Ana <ana@example.com>",
			To:         []string{"support@example.net"},
			Subject:    "ERR_NGROK_108 again",
			MessageID:  "abc@mail.example.com",
			InReplyTo:  "prev@mail.example.com",
			References: []string{"first@mail.example.com", "prev@mail.example.com"},
			Date:       time.Date(2026, 11, 20, 8, 0, 0, 0, time.UTC),
			Headers:    map[string]string{"Precedence": "bulk"},
			Parts: []ticket.Part{
				{Kind: ticket.KindSubject, Text: "ERR_NGROK_108 again"},
				{Kind: ticket.KindBody, ContentType: "text/html", Text: "My agent says ERR_NGROK_108.\nÜmlaut ✓"},
				{Kind: ticket.KindQuoted, ContentType: "text/plain", Text: "> earlier: ERR_NGROK_3200"},
				{Kind: ticket.KindAttachment, Name: "agent.log", ContentType: "text/plain", Text: "t=1 err=ERR_NGROK_108\x00\x01binary", Truncated: true},
				{Kind: ticket.KindBody, Forwarded: true, Text: ""},
			},
			Problems: []string{"unknown charset x-foo"},
		},
		EventID:    "<abc@mail.example.com>",
		Annotation: json.RawMessage(`{"codes":[{"code":108,"category":"agent-auth"},{"code":3200}],"primary":"agent-auth"}`),
		Category:   "agent-auth",
		Codes:      []int{108, 3200},
		Rules:      []string{"agent-team", "shadow:escalate"},
		Received:   received,
		Actions: []ticket.Action{
			{Kind: ticket.KindSlackPost, Target: "#agent", Rule: "agent-team", Payload: []byte("text \x00 with nul"), Key: "k-post"},
			{Kind: ticket.KindIMAPFlag, Target: "$Triaged", Rule: "agent-team", Key: "k-flag", NextAttempt: received.Add(time.Hour)},
			{Kind: ticket.KindEmailForward, Target: "oncall@example.net", Rule: "shadow:escalate", Key: "k-fwd", State: ticket.StateShadow},
		},
	}
	before := time.Now().Add(-time.Second)
	require.NoError(t, s.Ingest(ctx, rec))

	seen := map[int64]bool{}
	for i, a := range rec.Actions {
		assert.NotZero(t, a.ID, "action %d has an ID", i)
		assert.False(t, seen[a.ID], "action IDs are distinct")
		seen[a.ID] = true
		assert.Equal(t, rec.Ticket.ID, a.TicketID)
		assert.False(t, a.Created.Before(before), "Created is set")
		assert.False(t, a.Updated.Before(before), "Updated is set")
		assert.Equal(t, time.UTC, a.Created.Location())
		assert.Zero(t, a.Attempts)
	}
	assert.Equal(t, ticket.StatePending, rec.Actions[0].State, "empty state is stored as pending")
	assert.Equal(t, ticket.StatePending, rec.Actions[1].State)
	assert.Equal(t, ticket.StateShadow, rec.Actions[2].State)
	assert.False(t, rec.Actions[0].NextAttempt.IsZero(), "pending action is due")
	assert.True(t, rec.Actions[1].NextAttempt.Equal(received.Add(time.Hour)), "explicit NextAttempt kept")

	got, err := s.Ticket(ctx, rec.Ticket.ID)
	require.NoError(t, err)
	assert.Equal(t, rec.Ticket, got.Ticket, "ticket with parts' text round trips")
	assert.Equal(t, rec.EventID, got.EventID)
	assert.JSONEq(t, string(rec.Annotation), string(got.Annotation))
	assert.Equal(t, rec.Category, got.Category)
	assert.Equal(t, rec.Codes, got.Codes)
	assert.Equal(t, rec.Rules, got.Rules)
	assert.True(t, received.Equal(got.Received), "received %v, got %v", received, got.Received)
	assert.Equal(t, time.UTC, got.Received.Location())
	require.Len(t, got.Actions, 3)
	for i := range got.Actions {
		assertActionEqual(t, rec.Actions[i], got.Actions[i])
	}
}

func assertActionEqual(t *testing.T, want, got ticket.Action) {
	t.Helper()
	assert.Equal(t, want.ID, got.ID)
	assert.Equal(t, want.TicketID, got.TicketID)
	assert.Equal(t, want.Kind, got.Kind)
	assert.Equal(t, want.Target, got.Target)
	assert.Equal(t, want.Rule, got.Rule)
	assert.Equal(t, want.Payload, got.Payload)
	assert.Equal(t, want.Key, got.Key)
	assert.Equal(t, want.State, got.State)
	assert.Equal(t, want.Attempts, got.Attempts)
	assert.Equal(t, want.LastError, got.LastError)
	assertTimeEqual(t, want.NextAttempt, got.NextAttempt, "NextAttempt")
	assertTimeEqual(t, want.Created, got.Created, "Created")
	assertTimeEqual(t, want.Updated, got.Updated, "Updated")
}

func assertTimeEqual(t *testing.T, want, got time.Time, what string) {
	t.Helper()
	assert.True(t, want.Equal(got), "%s: want %v, got %v", what, want, got)
	if !got.IsZero() {
		assert.Equal(t, time.UTC, got.Location(), "%s is UTC", what)
	}
}

func testIngestDefaults(t *testing.T, open opener) {
	s := open(t)
	ctx := context.Background()
	rec := newRecord("t1", time.Time{}, "")
	rec.Annotation = nil
	rec.Category = ""
	rec.Actions = []ticket.Action{{Kind: ticket.KindAlert, Key: "k1"}}
	before := time.Now().Add(-time.Second)
	require.NoError(t, s.Ingest(ctx, rec))
	assert.False(t, rec.Received.Before(before), "zero Received is set to the time of ingest")
	assert.Equal(t, "t1", rec.Actions[0].TicketID, "empty TicketID is set")
	got, err := s.Ticket(ctx, "t1")
	require.NoError(t, err)
	assert.Empty(t, got.Codes)
	assert.Empty(t, got.Rules)
	assert.Empty(t, got.Annotation)
	assert.True(t, rec.Received.Equal(got.Received))

	claimed, err := s.Claim(ctx, "w", time.Now(), time.Minute, 10, noCap)
	require.NoError(t, err)
	require.Len(t, claimed, 1, "an action with zero NextAttempt is due at once")
}

func testIngestInvalid(t *testing.T, open opener) {
	s := open(t)
	ctx := context.Background()
	tests := []struct {
		name   string
		modify func(r *store.Record)
	}{
		{"empty ticket ID", func(r *store.Record) { r.Ticket.ID = "" }},
		{"invalid annotation JSON", func(r *store.Record) { r.Annotation = json.RawMessage(`{"codes":`) }},
		{"action of another ticket", func(r *store.Record) { r.Actions[0].TicketID = "other" }},
		{"action without kind", func(r *store.Record) { r.Actions[0].Kind = "" }},
		{"action already running", func(r *store.Record) { r.Actions[0].State = ticket.StateRunning }},
		{"action in an unknown state", func(r *store.Record) { r.Actions[0].State = "paused" }},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id := fmt.Sprintf("bad%d", i)
			rec := newRecord(id, base, "")
			rec.Actions = []ticket.Action{newAction(id, "key-"+id)}
			tt.modify(rec)
			err := s.Ingest(ctx, rec)
			require.Error(t, err)
			assert.NotErrorIs(t, err, store.ErrDuplicate)
			_, err = s.Ticket(ctx, id)
			assert.ErrorIs(t, err, store.ErrNotFound, "nothing stored")
		})
	}
	counts, err := s.CountActions(ctx)
	require.NoError(t, err)
	assert.Zero(t, counts[ticket.StatePending])
}

func testIngestDuplicateTicketID(t *testing.T, open opener) {
	s := open(t)
	ctx := context.Background()
	rec := newRecord("t1", base, "ev1", 108)
	rec.Actions = []ticket.Action{newAction("t1", "k1")}
	ingest(t, s, rec)

	dup := newRecord("t1", base.Add(time.Minute), "ev2", 3200)
	dup.Ticket.Subject = "changed"
	dup.Actions = []ticket.Action{newAction("t1", "k2"), newAction("t1", "k3")}
	err := s.Ingest(ctx, dup)
	require.ErrorIs(t, err, store.ErrDuplicate)

	got, err := s.Ticket(ctx, "t1")
	require.NoError(t, err)
	assert.Equal(t, "help with t1", got.Ticket.Subject, "stored ticket unchanged")
	assert.Equal(t, []int{108}, got.Codes)
	assert.Len(t, got.Actions, 1, "no extra actions")
	all, err := s.Actions(ctx, store.ActionQuery{})
	require.NoError(t, err)
	assert.Len(t, all, 1, "no extra actions anywhere")

	// The duplicate's event ID was not stored either.
	rec3 := newRecord("t3", base, "ev2")
	assert.NoError(t, s.Ingest(ctx, rec3))
}

func testIngestDuplicateEventID(t *testing.T, open opener) {
	s := open(t)
	ctx := context.Background()
	ingest(t, s, newRecord("slack:T1/C1/1.1", base, "Ev01"))
	dup := newRecord("slack:T1/C1/1.2", base, "Ev01")
	dup.Actions = []ticket.Action{newAction("slack:T1/C1/1.2", "k1")}
	err := s.Ingest(ctx, dup)
	require.ErrorIs(t, err, store.ErrDuplicate)
	_, err = s.Ticket(ctx, "slack:T1/C1/1.2")
	assert.ErrorIs(t, err, store.ErrNotFound)
	all, err := s.Actions(ctx, store.ActionQuery{})
	require.NoError(t, err)
	assert.Empty(t, all)
}

func testIngestEmptyEventIDs(t *testing.T, open opener) {
	s := open(t)
	for i := range 3 {
		ingest(t, s, newRecord(fmt.Sprintf("t%d", i), base, ""))
	}
	got, err := s.Tickets(context.Background(), store.TicketQuery{})
	require.NoError(t, err)
	assert.Len(t, got, 3)
}

func testTicketNotFound(t *testing.T, open opener) {
	s := open(t)
	_, err := s.Ticket(context.Background(), "nope")
	assert.ErrorIs(t, err, store.ErrNotFound)
}

func testTickets(t *testing.T, open opener) {
	s := open(t)
	ctx := context.Background()
	mk := func(id string, minutes int, category string, codes []int, from, subject, body string, extra ...ticket.Part) {
		rec := newRecord(id, base.Add(time.Duration(minutes)*time.Minute), "", codes...)
		rec.Category = category
		rec.Ticket.From = from
		rec.Ticket.Subject = subject
		rec.Ticket.Parts = append([]ticket.Part{{Kind: ticket.KindBody, Text: body}}, extra...)
		rec.Actions = []ticket.Action{newAction(id, "k-"+id)}
		ingest(t, s, rec)
	}
	mk("a", 0, "agent-auth", []int{108}, "ana@example.com", "session limit", "ERR_NGROK_108 on my laptop")
	mk("b", 1, "upstream-gateway", []int{3200, 108}, "bob@example.org", "Tunnel offline", "the endpoint is offline")
	mk("c", 2, "limits-billing", []int{727}, "carol@example.com", "rate limit", "too many requests, 50% dropped",
		ticket.Part{Kind: ticket.KindAttachment, Name: "agent.log", Text: "lvl=eror msg=\"Tunnel Session Failed\""})
	mk("d", 3, "", nil, "dave@example.net", "no code here", "errXngrok is not a code")
	mk("e", 4, "agent-auth", []int{10}, "ÉMILE@EXAMPLE.COM", "Straße", "ERR_NGROK_10")
	mk("f", 4, "agent-auth", []int{1080}, "fred@example.com", "same second as e", "err_ngrok_1080")

	tests := []struct {
		name string
		q    store.TicketQuery
		want []string
	}{
		{"all newest first", store.TicketQuery{}, []string{"f", "e", "d", "c", "b", "a"}},
		{"code", store.TicketQuery{Code: 108}, []string{"b", "a"}},
		{"code is not a substring match", store.TicketQuery{Code: 10}, []string{"e"}},
		{"second code of a ticket", store.TicketQuery{Code: 3200}, []string{"b"}},
		{"unknown code", store.TicketQuery{Code: 999}, nil},
		{"category", store.TicketQuery{Category: "agent-auth"}, []string{"f", "e", "a"}},
		{"text in body, case-insensitive substring", store.TicketQuery{Text: "err_NGROK_108"}, []string{"f", "a"}},
		{"text in body", store.TicketQuery{Text: "LAPTOP"}, []string{"a"}},
		{"text in subject", store.TicketQuery{Text: "TUNNEL OFF"}, []string{"b"}},
		{"text in attachment", store.TicketQuery{Text: "session failed"}, []string{"c"}},
		{"text in several fields", store.TicketQuery{Text: "tunnel"}, []string{"c", "b"}},
		{"text in sender", store.TicketQuery{Text: "@example.org"}, []string{"b"}},
		{"text non-ASCII case-insensitive", store.TicketQuery{Text: "émile"}, []string{"e"}},
		{"text non-ASCII", store.TicketQuery{Text: "straße"}, []string{"e"}},
		{"underscore is literal", store.TicketQuery{Text: "err_ngrok"}, []string{"f", "e", "a"}},
		{"percent is literal", store.TicketQuery{Text: "50%"}, []string{"c"}},
		{"since", store.TicketQuery{Since: base.Add(2 * time.Minute)}, []string{"f", "e", "d", "c"}},
		{"limit", store.TicketQuery{Limit: 2}, []string{"f", "e"}},
		{"before", store.TicketQuery{Before: "e", Limit: 2}, []string{"d", "c"}},
		{"before at same received time", store.TicketQuery{Before: "f", Limit: 1}, []string{"e"}},
		{"before the oldest", store.TicketQuery{Before: "a"}, nil},
		{"combined", store.TicketQuery{Code: 108, Category: "agent-auth", Text: "laptop", Since: base}, []string{"a"}},
		{"combined with before", store.TicketQuery{Category: "agent-auth", Before: "e"}, []string{"a"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := s.Tickets(ctx, tt.q)
			require.NoError(t, err)
			var ids []string
			for _, r := range got {
				ids = append(ids, r.Ticket.ID)
				assert.Empty(t, r.Actions, "Tickets lists without actions")
			}
			assert.Equal(t, tt.want, ids)
		})
	}

	// Paging with Before walks every ticket exactly once.
	var pages []string
	q := store.TicketQuery{Limit: 4}
	for {
		got, err := s.Tickets(ctx, q)
		require.NoError(t, err)
		if len(got) == 0 {
			break
		}
		for _, r := range got {
			pages = append(pages, r.Ticket.ID)
		}
		q.Before = got[len(got)-1].Ticket.ID
	}
	assert.Equal(t, []string{"f", "e", "d", "c", "b", "a"}, pages)

	// Listed records carry the same data as Ticket.
	list, err := s.Tickets(ctx, store.TicketQuery{Code: 727})
	require.NoError(t, err)
	require.Len(t, list, 1)
	one, err := s.Ticket(ctx, "c")
	require.NoError(t, err)
	assert.Equal(t, one.Ticket, list[0].Ticket)
	assert.Equal(t, one.Codes, list[0].Codes)
	assert.Equal(t, one.Category, list[0].Category)
	assert.True(t, one.Received.Equal(list[0].Received))
}

func testTicketsDefaultLimit(t *testing.T, open opener) {
	s := open(t)
	for i := range 101 {
		ingest(t, s, newRecord(fmt.Sprintf("t%03d", i), base.Add(time.Duration(i)*time.Second), ""))
	}
	got, err := s.Tickets(context.Background(), store.TicketQuery{})
	require.NoError(t, err)
	require.Len(t, got, 100)
	assert.Equal(t, "t100", got[0].Ticket.ID)
	assert.Equal(t, "t001", got[99].Ticket.ID)
}

func testTicketsBeforeUnknown(t *testing.T, open opener) {
	s := open(t)
	ingest(t, s, newRecord("t1", base, ""))
	_, err := s.Tickets(context.Background(), store.TicketQuery{Before: "nope"})
	assert.ErrorIs(t, err, store.ErrNotFound)
}

func testHasMessageID(t *testing.T, open opener) {
	s := open(t)
	ctx := context.Background()
	rec := newRecord("t1", base, "")
	rec.Ticket.MessageID = "m1@example.com"
	ingest(t, s, rec)
	ingest(t, s, newRecord("t2", base, "")) // no Message-ID

	tests := []struct {
		name, channel, messageID string
		want                     bool
	}{
		{"stored", "support/INBOX", "m1@example.com", true},
		{"other channel", "sales/INBOX", "m1@example.com", false},
		{"unknown", "support/INBOX", "m2@example.com", false},
		{"empty", "support/INBOX", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := s.HasMessageID(ctx, tt.channel, tt.messageID)
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

func testClaimDueOnly(t *testing.T, open opener) {
	s := open(t)
	ctx := context.Background()
	now := time.Now()
	rec := newRecord("t1", base, "")
	due := newAction("t1", "due")
	future := newAction("t1", "future")
	future.NextAttempt = now.Add(time.Hour)
	shadow := newAction("t1", "shadow")
	shadow.State = ticket.StateShadow
	done := newAction("t1", "done")
	done.State = ticket.StateDone
	failed := newAction("t1", "failed")
	failed.State = ticket.StateFailed
	rec.Actions = []ticket.Action{due, future, shadow, done, failed}
	ingest(t, s, rec)

	got, err := s.Claim(ctx, "w1", now, 1000*time.Hour, 10, noCap)
	require.NoError(t, err)
	require.Len(t, got, 1)
	assert.Equal(t, rec.Actions[0].ID, got[0].ID)
	assert.Equal(t, "due", got[0].Key)
	assert.Equal(t, ticket.StateRunning, got[0].State)
	assert.Equal(t, 1, got[0].Attempts)
	assert.Equal(t, rec.Actions[0].Payload, got[0].Payload)
	assert.Equal(t, "t1", got[0].TicketID)
	stored := actionByID(t, s, got[0].ID)
	assert.Equal(t, ticket.StateRunning, stored.State)
	assert.Equal(t, 1, stored.Attempts)

	// Once the future action is due it is claimed; shadow, done and failed
	// actions never are, however late it gets.
	got, err = s.Claim(ctx, "w1", now.Add(2*time.Hour), time.Hour, 10, noCap)
	require.NoError(t, err)
	require.Len(t, got, 1)
	assert.Equal(t, "future", got[0].Key)
	got, err = s.Claim(ctx, "w1", now.Add(100*time.Hour), time.Minute, 10, noCap)
	require.NoError(t, err)
	require.Len(t, got, 1, "only the running action whose claim expired comes back")
	assert.Equal(t, "future", got[0].Key)
	assert.Equal(t, 2, got[0].Attempts)

	got, err = s.Claim(ctx, "w1", now, time.Minute, 0, noCap)
	require.NoError(t, err)
	assert.Empty(t, got, "limit 0 claims nothing")
}

func testClaimExpiredRunning(t *testing.T, open opener) {
	s := open(t)
	ctx := context.Background()
	rec := newRecord("t1", base, "")
	rec.Actions = []ticket.Action{newAction("t1", "k1")}
	ingest(t, s, rec)
	now := time.Now()

	got, err := s.Claim(ctx, "w1", now, time.Minute, 10, noCap)
	require.NoError(t, err)
	require.Len(t, got, 1)

	got, err = s.Claim(ctx, "w2", now.Add(30*time.Second), time.Minute, 10, noCap)
	require.NoError(t, err)
	assert.Empty(t, got, "a running action with an unexpired claim is not claimed")

	got, err = s.Claim(ctx, "w2", now.Add(2*time.Minute), time.Minute, 10, noCap)
	require.NoError(t, err)
	require.Len(t, got, 1, "a running action whose claim expired is claimed again")
	assert.Equal(t, rec.Actions[0].ID, got[0].ID)
	assert.Equal(t, 2, got[0].Attempts)
	assert.Equal(t, ticket.StateRunning, got[0].State)
}

func testClaimLimit(t *testing.T, open opener) {
	s := open(t)
	ctx := context.Background()
	ids := ingestActions(t, s, "lim", 5)
	now := time.Now()
	seen := map[int64]bool{}
	for _, want := range []int{2, 2, 1, 0} {
		got, err := s.Claim(ctx, "w1", now, time.Minute, 2, noCap)
		require.NoError(t, err)
		assert.Len(t, got, want)
		for _, a := range got {
			assert.False(t, seen[a.ID], "action %d claimed twice", a.ID)
			seen[a.ID] = true
		}
	}
	assert.Len(t, seen, len(ids))
}

func testClaimConcurrent(t *testing.T, open opener) {
	s := open(t)
	claimConcurrently(t, []store.Store{s}, 8, 500)
}

// claimConcurrently ingests n actions through the first store and has
// workers goroutines, spread over the stores, claim until nothing is left.
// Each action must be claimed exactly once; none is completed, so a second
// claim could only come from two workers holding one action.
func claimConcurrently(t *testing.T, stores []store.Store, workers, n int) {
	t.Helper()
	ctx := context.Background()
	ids := ingestActions(t, stores[0], "cc", n)
	now := time.Now()

	var (
		mu      sync.Mutex
		claimed = map[int64][]string{}
		errs    []error
		wg      sync.WaitGroup
	)
	for w := range workers {
		s := stores[w%len(stores)]
		worker := fmt.Sprintf("worker-%d", w)
		wg.Go(func() {
			for {
				got, err := s.Claim(ctx, worker, now, time.Hour, 7, noCap)
				if err != nil {
					mu.Lock()
					errs = append(errs, fmt.Errorf("%s: %w", worker, err))
					mu.Unlock()
					return
				}
				if len(got) == 0 {
					return
				}
				mu.Lock()
				for _, a := range got {
					claimed[a.ID] = append(claimed[a.ID], worker)
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	require.Empty(t, errs)
	assert.Len(t, claimed, len(ids), "every action claimed")
	for _, id := range ids {
		assert.Len(t, claimed[id], 1, "action %d claimed by %v", id, claimed[id])
	}
	counts, err := stores[0].CountActions(ctx)
	require.NoError(t, err)
	assert.Equal(t, n, counts[ticket.StateRunning])
	assert.Zero(t, counts[ticket.StatePending])
}

// transition is one of the calls a worker makes on an action it claimed.
type transition struct {
	name string
	call func(s store.Store, id int64, worker string) error
}

var transitions = []transition{
	{"Complete", func(s store.Store, id int64, w string) error {
		return s.Complete(context.Background(), id, w)
	}},
	{"Retry", func(s store.Store, id int64, w string) error {
		return s.Retry(context.Background(), id, w, "503 from helpdesk", time.Now().Add(time.Minute))
	}},
	{"Fail", func(s store.Store, id int64, w string) error {
		return s.Fail(context.Background(), id, w, "400 from helpdesk")
	}},
	{"Release", func(s store.Store, id int64, w string) error {
		return s.Release(context.Background(), id, w)
	}},
}

func testTransitions(t *testing.T, open opener) {
	for _, tr := range transitions {
		t.Run(tr.name, func(t *testing.T) {
			s := open(t)
			ctx := context.Background()
			rec := newRecord("t1", base, "")
			rec.Actions = []ticket.Action{newAction("t1", "k1"), newAction("t1", "k2"), newAction("t1", "k3"), newAction("t1", "k4")}
			ingest(t, s, rec)
			now := time.Now()
			ids := []int64{rec.Actions[0].ID, rec.Actions[1].ID, rec.Actions[2].ID, rec.Actions[3].ID}

			// Not claimed at all: lease lost; unknown ID: not found.
			assert.ErrorIs(t, tr.call(s, ids[0], "w1"), store.ErrLeaseLost, "unclaimed action")
			assert.ErrorIs(t, tr.call(s, 1<<40, "w1"), store.ErrNotFound, "unknown action")

			got, err := s.Claim(ctx, "w1", now, time.Minute, 4, noCap)
			require.NoError(t, err)
			require.Len(t, got, 4)

			// Wrong worker.
			assert.ErrorIs(t, tr.call(s, ids[0], "w2"), store.ErrLeaseLost, "wrong worker")
			assert.Equal(t, ticket.StateRunning, actionByID(t, s, ids[0]).State, "wrong worker changes nothing")

			// Right worker.
			require.NoError(t, tr.call(s, ids[0], "w1"))
			assert.NotEqual(t, ticket.StateRunning, actionByID(t, s, ids[0]).State)
			if tr.name == "Fail" {
				assert.NoError(t, tr.call(s, ids[0], "w1"), "parking is idempotent: a second call finds the action parked")
				assert.Equal(t, ticket.StateFailed, actionByID(t, s, ids[0]).State)
			} else {
				assert.ErrorIs(t, tr.call(s, ids[0], "w1"), store.ErrLeaseLost, "a second call finds the action no longer held")
			}

			// The claim expired and another worker took the action over.
			got, err = s.Claim(ctx, "w2", now.Add(2*time.Minute), time.Minute, 10, noCap)
			require.NoError(t, err)
			var took []int64
			for _, a := range got {
				took = append(took, a.ID)
			}
			assert.Subset(t, took, ids[1:], "the expired claims pass to w2")
			assert.ErrorIs(t, tr.call(s, ids[1], "w1"), store.ErrLeaseLost, "claim passed to another worker")
			assert.Equal(t, ticket.StateRunning, actionByID(t, s, ids[1]).State)
			require.NoError(t, tr.call(s, ids[1], "w2"), "the new holder may finish it")

			// The claim expired but nobody took it: the worker still holds it.
			got, err = s.Claim(ctx, "w3", now.Add(5*time.Minute), time.Hour, 1, noCap)
			require.NoError(t, err)
			require.Len(t, got, 1)
			held := got[0].ID
			var idle int64
			for _, id := range ids[2:] {
				if id != held {
					idle = id
				}
			}
			require.NotZero(t, idle)
			assert.NoError(t, tr.call(s, idle, "w2"), "expired but not taken over")
		})
	}
}

func testComplete(t *testing.T, open opener) {
	s := open(t)
	ctx := context.Background()
	id := ingestActions(t, s, "c", 1)[0]
	now := time.Now()
	_, err := s.Claim(ctx, "w1", now, time.Minute, 1, noCap)
	require.NoError(t, err)
	before := actionByID(t, s, id)
	require.NoError(t, s.Complete(ctx, id, "w1"))
	a := actionByID(t, s, id)
	assert.Equal(t, ticket.StateDone, a.State)
	assert.Equal(t, 1, a.Attempts)
	assert.False(t, a.Updated.Before(before.Updated))
	got, err := s.Claim(ctx, "w2", now.Add(time.Hour), time.Minute, 10, noCap)
	require.NoError(t, err)
	assert.Empty(t, got, "done actions are never claimed")
}

func testRetry(t *testing.T, open opener) {
	s := open(t)
	ctx := context.Background()
	id := ingestActions(t, s, "r", 1)[0]
	now := time.Now()
	_, err := s.Claim(ctx, "w1", now, time.Minute, 1, noCap)
	require.NoError(t, err)
	next := now.Add(10 * time.Minute).Truncate(time.Millisecond)
	require.NoError(t, s.Retry(ctx, id, "w1", "503 Service Unavailable", next))
	a := actionByID(t, s, id)
	assert.Equal(t, ticket.StatePending, a.State)
	assert.Equal(t, 1, a.Attempts, "the attempt is counted")
	assert.Equal(t, "503 Service Unavailable", a.LastError)
	assertTimeEqual(t, next, a.NextAttempt, "NextAttempt")

	got, err := s.Claim(ctx, "w1", next.Add(-time.Second), time.Minute, 1, noCap)
	require.NoError(t, err)
	assert.Empty(t, got, "not due before next")
	got, err = s.Claim(ctx, "w2", next, time.Minute, 1, noCap)
	require.NoError(t, err)
	require.Len(t, got, 1, "due at next")
	assert.Equal(t, 2, got[0].Attempts)
	assert.Equal(t, "503 Service Unavailable", got[0].LastError, "last error kept while retrying")
}

func testFail(t *testing.T, open opener) {
	s := open(t)
	ctx := context.Background()
	id := ingestActions(t, s, "f", 1)[0]
	now := time.Now()
	_, err := s.Claim(ctx, "w1", now, time.Minute, 1, noCap)
	require.NoError(t, err)
	require.NoError(t, s.Fail(ctx, id, "w1", "404 channel_not_found"))
	a := actionByID(t, s, id)
	assert.Equal(t, ticket.StateFailed, a.State)
	assert.Equal(t, "404 channel_not_found", a.LastError)
	assert.Equal(t, 1, a.Attempts)
	got, err := s.Claim(ctx, "w2", now.Add(time.Hour), time.Minute, 10, noCap)
	require.NoError(t, err)
	assert.Empty(t, got, "failed actions are parked")
}

func testSuppress(t *testing.T, open opener) {
	s := open(t)
	ctx := context.Background()
	ids := ingestActions(t, s, "sup", 2)
	now := time.Now()
	_, err := s.Claim(ctx, "w1", now, time.Minute, 2, noCap)
	require.NoError(t, err)
	require.NoError(t, s.Suppress(ctx, ids[0], "w1", "suppressed: the sender is a robot"))
	require.NoError(t, s.Suppress(ctx, ids[0], "w1", "again"), "suppressing is idempotent")
	a := actionByID(t, s, ids[0])
	assert.Equal(t, ticket.StateSuppressed, a.State)
	assert.Equal(t, "suppressed: the sender is a robot", a.LastError)
	assert.Equal(t, 1, a.Attempts)
	assert.ErrorIs(t, s.Suppress(ctx, ids[1], "w2", "x"), store.ErrLeaseLost, "only the holder suppresses")
	assert.ErrorIs(t, s.Requeue(ctx, ids[0]), store.ErrNotFound, "not a failure: never offered for a retry")
	got, err := s.Claim(ctx, "w2", now.Add(time.Hour), time.Minute, 10, noCap)
	require.NoError(t, err)
	for _, g := range got {
		assert.NotEqual(t, ids[0], g.ID, "a suppressed action is final")
	}
	list, err := s.Actions(ctx, store.ActionQuery{State: ticket.StateSuppressed})
	require.NoError(t, err)
	require.Len(t, list, 1)
	assert.Equal(t, ids[0], list[0].ID)
	counts, err := s.CountActions(ctx)
	require.NoError(t, err)
	assert.Equal(t, 1, counts[ticket.StateSuppressed])
	assert.Zero(t, counts[ticket.StateFailed])
}

func testRelease(t *testing.T, open opener) {
	s := open(t)
	ctx := context.Background()
	id := ingestActions(t, s, "rel", 1)[0]
	now := time.Now()
	_, err := s.Claim(ctx, "w1", now, time.Hour, 1, noCap)
	require.NoError(t, err)
	require.NoError(t, s.Release(ctx, id, "w1"))
	a := actionByID(t, s, id)
	assert.Equal(t, ticket.StatePending, a.State)
	assert.Equal(t, 0, a.Attempts, "a released attempt is not counted")
	got, err := s.Claim(ctx, "w2", now, time.Minute, 1, noCap)
	require.NoError(t, err)
	require.Len(t, got, 1, "due at once")
	assert.Equal(t, 1, got[0].Attempts)

	// A retried-then-released action keeps its count of real attempts.
	require.NoError(t, s.Retry(ctx, id, "w2", "timeout", now))
	got, err = s.Claim(ctx, "w3", now, time.Minute, 1, noCap)
	require.NoError(t, err)
	require.Len(t, got, 1)
	assert.Equal(t, 2, got[0].Attempts)
	require.NoError(t, s.Release(ctx, id, "w3"))
	assert.Equal(t, 1, actionByID(t, s, id).Attempts)
}

func testRequeue(t *testing.T, open opener) {
	s := open(t)
	ctx := context.Background()
	ids := ingestActions(t, s, "rq", 3)
	now := time.Now()
	got, err := s.Claim(ctx, "w1", now, time.Minute, 3, noCap)
	require.NoError(t, err)
	require.Len(t, got, 3)
	// Two attempts, then failure: ids[0] is failed with 2 attempts; ids[1]
	// is done and ids[2] pending again.
	require.NoError(t, s.Retry(ctx, ids[0], "w1", "first", now))
	got, err = s.Claim(ctx, "w1", now, time.Minute, 1, noCap)
	require.NoError(t, err)
	require.Len(t, got, 1)
	require.NoError(t, s.Fail(ctx, ids[0], "w1", "second"))
	require.NoError(t, s.Complete(ctx, ids[1], "w1"))
	require.NoError(t, s.Release(ctx, ids[2], "w1"))
	require.Equal(t, 2, actionByID(t, s, ids[0]).Attempts)

	// An action parked at ingest (its template failed) has nothing to
	// send: it is failed, but not requeued.
	parked := newRecord("rq-parked", now, "")
	parked.Actions = []ticket.Action{{Kind: ticket.KindWebhook, Target: "helpdesk", Rule: "default", Key: "rq-parked",
		State: ticket.StateFailed, LastError: "never attempted: template: index out of range"}}
	ingest(t, s, parked)
	parkedRec, err := s.Ticket(ctx, "rq-parked")
	require.NoError(t, err)
	require.Len(t, parkedRec.Actions, 1)
	assert.Equal(t, ticket.StateFailed, parkedRec.Actions[0].State)
	assert.Equal(t, "never attempted: template: index out of range", parkedRec.Actions[0].LastError)

	tests := []struct {
		name string
		id   int64
	}{
		{"done", ids[1]},
		{"pending", ids[2]},
		{"unknown", 1 << 40},
		{"failed, but parked at ingest", parkedRec.Actions[0].ID},
	}
	for _, tt := range tests {
		t.Run("not failed: "+tt.name, func(t *testing.T) {
			assert.ErrorIs(t, s.Requeue(ctx, tt.id), store.ErrNotFound)
		})
	}

	require.NoError(t, s.Requeue(ctx, ids[0]))
	a := actionByID(t, s, ids[0])
	assert.Equal(t, ticket.StatePending, a.State)
	assert.Equal(t, 0, a.Attempts, "attempts reset")
	assert.Equal(t, ticket.StateDone, actionByID(t, s, ids[1]).State, "other actions untouched")
	got, err = s.Claim(ctx, "w2", now, time.Minute, 10, noCap)
	require.NoError(t, err)
	var claimedIDs []int64
	for _, g := range got {
		claimedIDs = append(claimedIDs, g.ID)
	}
	assert.Contains(t, claimedIDs, ids[0], "due at once")
	assert.ErrorIs(t, s.Requeue(ctx, ids[0]), store.ErrNotFound, "no longer failed")
}

func testActions(t *testing.T, open opener) {
	s := open(t)
	ctx := context.Background()
	r1 := newRecord("t1", base, "")
	r1.Actions = []ticket.Action{newAction("t1", "a"), newAction("t1", "b")}
	ingest(t, s, r1)
	r2 := newRecord("t2", base.Add(time.Minute), "")
	shadow := newAction("t2", "c")
	shadow.State = ticket.StateShadow
	r2.Actions = []ticket.Action{newAction("t2", "d"), shadow, newAction("t2", "e")}
	ingest(t, s, r2)
	_, err := s.Claim(ctx, "w1", time.Now(), time.Minute, 1, noCap) // claims one of them
	require.NoError(t, err)

	tests := []struct {
		name string
		q    store.ActionQuery
		want []string
	}{
		{"all newest first", store.ActionQuery{}, []string{"e", "c", "d", "b", "a"}},
		{"ticket", store.ActionQuery{TicketID: "t1"}, []string{"b", "a"}},
		{"state", store.ActionQuery{State: ticket.StateShadow}, []string{"c"}},
		{"state running", store.ActionQuery{State: ticket.StateRunning}, nil},
		{"ticket and state", store.ActionQuery{TicketID: "t2", State: ticket.StatePending}, nil},
		{"limit", store.ActionQuery{Limit: 2}, []string{"e", "c"}},
		{"unknown ticket", store.ActionQuery{TicketID: "t9"}, nil},
	}
	running, err := s.Actions(ctx, store.ActionQuery{State: ticket.StateRunning})
	require.NoError(t, err)
	require.Len(t, running, 1)
	claimedKey := running[0].Key
	for i := range tests {
		switch tests[i].name {
		case "state running":
			tests[i].want = []string{claimedKey}
		case "ticket and state":
			for _, k := range []string{"e", "d"} {
				if k != claimedKey {
					tests[i].want = append(tests[i].want, k)
				}
			}
		}
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := s.Actions(ctx, tt.q)
			require.NoError(t, err)
			var keys []string
			for _, a := range got {
				keys = append(keys, a.Key)
			}
			assert.Equal(t, tt.want, keys)
		})
	}
}

func testActionsDefaultLimit(t *testing.T, open opener) {
	s := open(t)
	ids := ingestActions(t, s, "dl", 101)
	got, err := s.Actions(context.Background(), store.ActionQuery{})
	require.NoError(t, err)
	require.Len(t, got, 100)
	assert.Equal(t, ids[100], got[0].ID)
	assert.Equal(t, ids[1], got[99].ID)
}

func testCountActions(t *testing.T, open opener) {
	s := open(t)
	ctx := context.Background()
	counts, err := s.CountActions(ctx)
	require.NoError(t, err)
	for _, st := range []ticket.ActionState{ticket.StatePending, ticket.StateRunning, ticket.StateDone, ticket.StateFailed, ticket.StateShadow} {
		assert.Zero(t, counts[st], "empty store: %s", st)
	}

	ids := ingestActions(t, s, "cnt", 6)
	rec := newRecord("shadowed", base, "")
	sh := newAction("shadowed", "sh")
	sh.State = ticket.StateShadow
	rec.Actions = []ticket.Action{sh}
	ingest(t, s, rec)
	now := time.Now()
	got, err := s.Claim(ctx, "w1", now, time.Minute, 4, noCap)
	require.NoError(t, err)
	require.Len(t, got, 4)
	require.NoError(t, s.Complete(ctx, got[0].ID, "w1"))
	require.NoError(t, s.Fail(ctx, got[1].ID, "w1", "boom"))
	require.Len(t, ids, 6)

	counts, err = s.CountActions(ctx)
	require.NoError(t, err)
	assert.Equal(t, 2, counts[ticket.StatePending])
	assert.Equal(t, 2, counts[ticket.StateRunning])
	assert.Equal(t, 1, counts[ticket.StateDone])
	assert.Equal(t, 1, counts[ticket.StateFailed])
	assert.Equal(t, 1, counts[ticket.StateShadow])
}

func testCursor(t *testing.T, open opener) {
	s := open(t)
	ctx := context.Background()
	v, err := s.Cursor(ctx, "imap:support/INBOX")
	require.NoError(t, err)
	assert.Equal(t, "", v, "no cursor yet")

	steps := []struct {
		source, value string
	}{
		{"imap:support/INBOX", "17/4711"},
		{"imap:support/INBOX", "17/4712"},
		{"imap:sales/INBOX", "3/1"},
		{"imap:support/INBOX", ""},
		{"imap:support/INBOX", "18/1"},
	}
	want := map[string]string{}
	for _, st := range steps {
		require.NoError(t, s.SetCursor(ctx, st.source, st.value))
		want[st.source] = st.value
		for src, w := range want {
			got, err := s.Cursor(ctx, src)
			require.NoError(t, err)
			assert.Equal(t, w, got, "cursor of %s after setting %s=%q", src, st.source, st.value)
		}
	}
}

func testLease(t *testing.T, open opener) {
	s := open(t)
	ctx := context.Background()
	now := time.Now()
	const name = "imap:support/INBOX"
	ttl := 30 * time.Second
	steps := []struct {
		desc   string
		holder string
		at     time.Duration
		want   bool
	}{
		{"first holder takes it", "a", 0, true},
		{"second holder refused", "b", 10 * time.Second, false},
		{"holder renews", "a", 20 * time.Second, true},
		{"renewal extended the lease", "b", 40 * time.Second, false},
		{"taken after expiry", "b", 51 * time.Second, true},
		{"old holder refused now", "a", 52 * time.Second, false},
	}
	for _, st := range steps {
		ok, err := s.AcquireLease(ctx, name, st.holder, now.Add(st.at), ttl)
		require.NoError(t, err, st.desc)
		assert.Equal(t, st.want, ok, st.desc)
	}

	ok, err := s.AcquireLease(ctx, "other", "a", now.Add(52*time.Second), ttl)
	require.NoError(t, err)
	assert.True(t, ok, "leases are independent by name")

	// Releasing a lease one does not hold changes nothing.
	require.NoError(t, s.ReleaseLease(ctx, name, "a"))
	ok, err = s.AcquireLease(ctx, name, "a", now.Add(53*time.Second), ttl)
	require.NoError(t, err)
	assert.False(t, ok, "b still holds it")

	// The holder releases: another may take it at once.
	require.NoError(t, s.ReleaseLease(ctx, name, "b"))
	ok, err = s.AcquireLease(ctx, name, "a", now.Add(54*time.Second), ttl)
	require.NoError(t, err)
	assert.True(t, ok, "free after release")

	require.NoError(t, s.ReleaseLease(ctx, "never-taken", "a"), "releasing an unknown lease is fine")
}

func testClose(t *testing.T, open opener) {
	s := open(t)
	ctx := context.Background()
	require.NoError(t, s.SetCursor(ctx, "x", "1"))
	require.NoError(t, s.Close())
	_, err := s.Cursor(ctx, "x")
	assert.Error(t, err, "a closed store refuses work")
	assert.NotPanics(t, func() { _ = s.Close() }, "closing twice")
}

// testIngestBatch checks that records in one batch succeed or fail alone.
func testIngestBatch(t *testing.T, open func(t *testing.T) store.Store) {
	s := open(t)
	ctx := context.Background()
	old := newRecord("old", base, "ev-old", 108)
	require.NoError(t, s.Ingest(ctx, old))

	fresh := newRecord("fresh", base.Add(time.Second), "", 3200)
	fresh.Actions = []ticket.Action{newAction("fresh", "k-fresh")}
	again := newRecord("old", base, "", 108)        // same ticket ID
	sameEvent := newRecord("other", base, "ev-old") // same event ID
	invalid := newRecord("", base, "")              // no ID
	clash := newRecord("clash", base, "")
	clash.Actions = []ticket.Action{newAction("clash", "k-twice"), newAction("clash", "k-twice")} // one key twice
	last := newRecord("last", base.Add(2*time.Second), "", 8012)
	last.Actions = []ticket.Action{newAction("last", "k-fresh")} // another ticket's key

	errs := s.IngestBatch(ctx, []*store.Record{fresh, again, sameEvent, invalid, clash, last})
	require.Len(t, errs, 6)
	assert.NoError(t, errs[0])
	assert.ErrorIs(t, errs[1], store.ErrDuplicate)
	assert.ErrorIs(t, errs[2], store.ErrDuplicate)
	assert.Error(t, errs[3])
	assert.ErrorIs(t, errs[4], store.ErrDuplicate, "two actions of one ticket with the same key")
	assert.NoError(t, errs[5], "keys are unique within a ticket, not across tickets")
	assert.NotZero(t, fresh.Actions[0].ID, "stored records are written back")
	assert.NotZero(t, last.Actions[0].ID)
	assert.Zero(t, clash.Actions[0].ID, "refused records are not")

	recs, err := s.Tickets(ctx, store.TicketQuery{})
	require.NoError(t, err)
	var ids []string
	for _, r := range recs {
		ids = append(ids, r.Ticket.ID)
	}
	assert.ElementsMatch(t, []string{"old", "fresh", "last"}, ids, "a refused record leaves nothing behind")
	acts, err := s.Actions(ctx, store.ActionQuery{TicketID: "clash"})
	require.NoError(t, err)
	assert.Empty(t, acts, "not even the first action of a refused record")
	_, err = s.Ticket(ctx, "clash")
	assert.ErrorIs(t, err, store.ErrNotFound)
	assert.Empty(t, s.IngestBatch(ctx, nil))
}

// testCompleteBatch checks that each action of a batch completes or fails
// alone.
func testCompleteBatch(t *testing.T, open func(t *testing.T) store.Store) {
	s := open(t)
	ctx := context.Background()
	rec := newRecord("t1", base, "", 108)
	rec.Actions = []ticket.Action{newAction("t1", "k1"), newAction("t1", "k2"), newAction("t1", "k3")}
	require.NoError(t, s.Ingest(ctx, rec))
	now := base.Add(time.Minute)
	mine, err := s.Claim(ctx, "w1", now, time.Minute, 2, noCap)
	require.NoError(t, err)
	require.Len(t, mine, 2)
	theirs, err := s.Claim(ctx, "w2", now, time.Minute, 1, noCap)
	require.NoError(t, err)
	require.Len(t, theirs, 1)

	errs := s.CompleteBatch(ctx, []int64{mine[0].ID, theirs[0].ID, 999999, mine[1].ID}, "w1")
	require.Len(t, errs, 4)
	assert.NoError(t, errs[0])
	assert.ErrorIs(t, errs[1], store.ErrLeaseLost)
	assert.ErrorIs(t, errs[2], store.ErrNotFound)
	assert.NoError(t, errs[3])
	counts, err := s.CountActions(ctx)
	require.NoError(t, err)
	assert.Equal(t, 2, counts[ticket.StateDone])
	assert.Equal(t, 1, counts[ticket.StateRunning])
	assert.Empty(t, s.CompleteBatch(ctx, nil, "w1"))
}

// testIngestClaimed stores a record whose due actions are claimed in the
// same transaction: they are running for the worker, whom nobody else
// displaces before the claim ends, and who can complete them; actions not
// yet due or not pending are stored as they are.
func testIngestClaimed(t *testing.T, open func(t *testing.T) store.Store) {
	s := open(t)
	ctx := context.Background()
	now := time.Now()
	later := newAction("t1", "later")
	later.NextAttempt = now.Add(time.Hour)
	shadow := newAction("t1", "shadow")
	shadow.State = ticket.StateShadow
	rec := newRecord("t1", base, "", 108)
	rec.Actions = []ticket.Action{newAction("t1", "due"), later, shadow}
	rec.Claim = &store.Claim{Worker: "w1", Until: now.Add(time.Minute)}
	ingest(t, s, rec)
	assert.Equal(t, ticket.StateRunning, rec.Actions[0].State)
	assert.Equal(t, 1, rec.Actions[0].Attempts)
	assert.Equal(t, ticket.StatePending, rec.Actions[1].State)
	assert.Equal(t, ticket.StateShadow, rec.Actions[2].State)
	assert.Equal(t, ticket.StateRunning, actionByID(t, s, rec.Actions[0].ID).State)

	got, err := s.Claim(ctx, "w2", now, time.Minute, 10, noCap)
	require.NoError(t, err)
	assert.Empty(t, got, "a claimed action is nobody else's until its claim ends")
	got, err = s.Claim(ctx, "w2", now.Add(2*time.Minute), time.Minute, 10, noCap)
	require.NoError(t, err)
	require.Len(t, got, 1, "after the claim ends the action is due again")
	assert.Equal(t, rec.Actions[0].ID, got[0].ID)
	assert.Equal(t, 2, got[0].Attempts)
	assert.ErrorIs(t, s.CompleteBatch(ctx, []int64{got[0].ID}, "w1")[0], store.ErrLeaseLost)

	rec2 := newRecord("t2", base, "", 108)
	rec2.Actions = []ticket.Action{newAction("t2", "due2")}
	rec2.Claim = &store.Claim{Worker: "w1", Until: now.Add(time.Minute)}
	ingest(t, s, rec2)
	assert.ErrorIs(t, s.CompleteBatch(ctx, []int64{rec2.Actions[0].ID}, "w2")[0], store.ErrLeaseLost)
	require.NoError(t, s.CompleteBatch(ctx, []int64{rec2.Actions[0].ID}, "w1")[0])
	assert.Equal(t, ticket.StateDone, actionByID(t, s, rec2.Actions[0].ID).State)

	bad := newRecord("t3", base, "", 108)
	bad.Claim = &store.Claim{}
	require.Error(t, s.Ingest(ctx, bad), "a claim needs a worker")
}

// testIngestPrepared stores a record flattened ahead with store.Prepare:
// it reads back as one stored the usual way, and duplicates are still
// refused.
func testIngestPrepared(t *testing.T, open func(t *testing.T) store.Store) {
	s := open(t)
	ctx := context.Background()
	rec := newRecord("t1", base, "ev1", 108, 3200)
	rec.Actions = []ticket.Action{newAction("t1", "k1")}
	require.NoError(t, store.Prepare(rec, time.Now()))
	require.NotNil(t, rec.Prepared)
	ingest(t, s, rec)
	got, err := s.Ticket(ctx, "t1")
	require.NoError(t, err)
	assert.Equal(t, rec.Ticket.Subject, got.Ticket.Subject)
	assert.Equal(t, rec.Ticket.Parts, got.Ticket.Parts)
	assert.Equal(t, []int{108, 3200}, got.Codes)
	require.Len(t, got.Actions, 1)
	assert.Equal(t, rec.Actions[0].ID, got.Actions[0].ID)
	assert.Equal(t, ticket.StatePending, got.Actions[0].State)

	again := newRecord("t1", base, "ev2", 108)
	require.NoError(t, store.Prepare(again, time.Now()))
	assert.ErrorIs(t, s.Ingest(ctx, again), store.ErrDuplicate)
	assert.Error(t, store.Prepare(newRecord("", base, "", 108), time.Now()), "an empty ticket ID is refused before any write")
}

// testClaimMaxAttempts checks that maxAttempts is a hard cap counted at
// claim time: an action whose claims ran out without an outcome, or one
// left pending with no attempt left, is parked by the next claimer, not
// attempted again.
func testClaimMaxAttempts(t *testing.T, open opener) {
	s := open(t)
	ctx := context.Background()
	ids := ingestActions(t, s, "max", 2)
	now := time.Now()

	// ids[0]: two claims that run out (a worker killed mid-attempt, twice).
	// ids[1]: one attempt that failed and asked for a retry.
	got, err := s.Claim(ctx, "w1", now, time.Minute, 2, 2)
	require.NoError(t, err)
	require.Len(t, got, 2)
	require.NoError(t, s.Retry(ctx, ids[1], "w1", "503 from helpdesk", now.Add(time.Hour)))
	got, err = s.Claim(ctx, "w2", now.Add(2*time.Minute), time.Minute, 10, 2)
	require.NoError(t, err)
	require.Len(t, got, 1)
	assert.Equal(t, ids[0], got[0].ID)
	assert.Equal(t, 2, got[0].Attempts)

	got, err = s.Claim(ctx, "w3", now.Add(4*time.Minute), time.Minute, 10, 2)
	require.NoError(t, err)
	require.Len(t, got, 1, "returned so the caller can report it")
	assert.Equal(t, ids[0], got[0].ID)
	assert.Equal(t, ticket.StateFailed, got[0].State, "out of attempts: parked, not claimed")
	assert.Equal(t, 2, got[0].Attempts, "never more than maxAttempts")
	assert.Contains(t, got[0].LastError, "gave up after 2 attempts")
	assert.Contains(t, got[0].LastError, "never finished")
	stored := actionByID(t, s, ids[0])
	assert.Equal(t, ticket.StateFailed, stored.State)
	assert.Equal(t, 2, stored.Attempts)
	assert.ErrorIs(t, s.Complete(ctx, ids[0], "w2"), store.ErrLeaseLost, "the old holder cannot record it")

	// A lower cap (the configuration changed) parks a pending action too,
	// keeping its last error.
	got, err = s.Claim(ctx, "w3", now.Add(2*time.Hour), time.Minute, 10, 1)
	require.NoError(t, err)
	require.Len(t, got, 1)
	assert.Equal(t, ticket.StateFailed, got[0].State)
	assert.Equal(t, 1, got[0].Attempts)
	assert.Contains(t, got[0].LastError, "503 from helpdesk")
	assert.NotContains(t, got[0].LastError, "never finished")

	got, err = s.Claim(ctx, "w3", now.Add(100*time.Hour), time.Minute, 10, 2)
	require.NoError(t, err)
	assert.Empty(t, got, "parked actions stay parked")
}

// testParkingRace: a worker on its last attempt loses its claim to a
// claimer, which parks the action as out of attempts; the worker's own
// Fail then succeeds without changing anything.
func testParkingRace(t *testing.T, open opener) {
	s := open(t)
	ctx := context.Background()
	id := ingestActions(t, s, "race", 1)[0]
	now := time.Now()
	got, err := s.Claim(ctx, "w1", now, time.Minute, 1, 1)
	require.NoError(t, err)
	require.Len(t, got, 1)
	got, err = s.Claim(ctx, "w2", now.Add(2*time.Minute), time.Minute, 1, 1)
	require.NoError(t, err)
	require.Len(t, got, 1)
	require.Equal(t, ticket.StateFailed, got[0].State)

	require.NoError(t, s.Fail(ctx, id, "w1", "400 from helpdesk"), "parking never fails on a claim race")
	a := actionByID(t, s, id)
	assert.Equal(t, ticket.StateFailed, a.State)
	assert.Equal(t, 1, a.Attempts)
	assert.Contains(t, a.LastError, "gave up after 1 attempts", "the first to park says why")

	// Held by another worker (not parked): Fail does not take it away.
	id2 := ingestActions(t, s, "race2", 1)[0]
	_, err = s.Claim(ctx, "w1", now, time.Minute, 1, noCap)
	require.NoError(t, err)
	got, err = s.Claim(ctx, "w2", now.Add(2*time.Minute), time.Minute, 1, noCap)
	require.NoError(t, err)
	require.Len(t, got, 1)
	require.Equal(t, id2, got[0].ID)
	assert.ErrorIs(t, s.Fail(ctx, id2, "w1", "400 from helpdesk"), store.ErrLeaseLost)
	assert.Equal(t, ticket.StateRunning, actionByID(t, s, id2).State)
}

// testRenew checks the heartbeat: renewed claims are not claimed by
// others, and Renew tells a worker which claims it no longer holds.
func testRenew(t *testing.T, open opener) {
	s := open(t)
	ctx := context.Background()
	ids := ingestActions(t, s, "renew", 3)
	now := time.Now()
	got, err := s.Claim(ctx, "w1", now, 10*time.Second, 3, noCap)
	require.NoError(t, err)
	require.Len(t, got, 3)

	held, err := s.Renew(ctx, "w1", ids, now.Add(13*time.Second))
	require.NoError(t, err)
	assert.ElementsMatch(t, ids, held)
	got, err = s.Claim(ctx, "w2", now.Add(11*time.Second), 10*time.Second, 10, noCap)
	require.NoError(t, err)
	assert.Empty(t, got, "a renewed claim is still held")

	held, err = s.Renew(ctx, "w2", ids, now.Add(time.Hour))
	require.NoError(t, err)
	assert.Empty(t, held, "another worker's claims are not renewed")

	require.NoError(t, s.Complete(ctx, ids[0], "w1"))
	held, err = s.Renew(ctx, "w1", append(ids, 1<<40), now.Add(16*time.Second))
	require.NoError(t, err)
	assert.ElementsMatch(t, ids[1:], held, "finished and unknown actions are not held")

	got, err = s.Claim(ctx, "w2", now.Add(17*time.Second), 10*time.Second, 10, noCap)
	require.NoError(t, err)
	require.Len(t, got, 2, "not renewed in time: taken over")
	held, err = s.Renew(ctx, "w1", ids, now.Add(20*time.Second))
	require.NoError(t, err)
	assert.Empty(t, held, "the old holder learns it lost them")
	assert.Equal(t, ticket.StateDone, actionByID(t, s, ids[0]).State)

	held, err = s.Renew(ctx, "w1", nil, now)
	require.NoError(t, err)
	assert.Empty(t, held)
}

// testReleaseClaims ends every claim at once, attempts still counted.
func testReleaseClaims(t *testing.T, open opener) {
	s := open(t)
	ctx := context.Background()
	ids := ingestActions(t, s, "rc", 5)
	now := time.Now()
	got, err := s.Claim(ctx, "w1", now, time.Hour, 4, noCap)
	require.NoError(t, err)
	require.Len(t, got, 4)
	require.NoError(t, s.Complete(ctx, ids[0], "w1"))
	require.NoError(t, s.Fail(ctx, ids[1], "w1", "400"))
	got, err = s.Claim(ctx, "w2", now, time.Hour, 4, noCap)
	require.NoError(t, err)
	require.Len(t, got, 1, "ids[4]")

	n, err := s.ReleaseClaims(ctx)
	require.NoError(t, err)
	assert.Equal(t, 3, n, "every running action, whoever held it")
	for _, id := range ids[2:] {
		a := actionByID(t, s, id)
		assert.Equal(t, ticket.StatePending, a.State)
		assert.Equal(t, 1, a.Attempts, "the attempt may have been made: it counts")
	}
	assert.Equal(t, ticket.StateDone, actionByID(t, s, ids[0]).State)
	assert.Equal(t, ticket.StateFailed, actionByID(t, s, ids[1]).State)
	got, err = s.Claim(ctx, "w3", now, time.Minute, 10, noCap)
	require.NoError(t, err)
	assert.Len(t, got, 3, "due at once")
	assert.ErrorIs(t, s.Complete(ctx, ids[4], "w2"), store.ErrLeaseLost, "the old claim is gone")

	n, err = s.ReleaseClaims(ctx)
	require.NoError(t, err)
	assert.Equal(t, 3, n)
	n, err = s.ReleaseClaims(ctx)
	require.NoError(t, err)
	assert.Zero(t, n)
}

// testTakeoverFromDeadReplica: a replica claims with a short lease and
// renews it; once it dies (stops renewing) another replica takes its
// actions over one lease after the last renewal.
func testTakeoverFromDeadReplica(t *testing.T, live, dead store.Store) {
	ctx := context.Background()
	ids := ingestActions(t, live, "dead", 3)
	now := time.Now()
	lease := 10 * time.Second
	got, err := dead.Claim(ctx, "dead/0", now, lease, 10, 8)
	require.NoError(t, err)
	require.Len(t, got, 3)
	held, err := dead.Renew(ctx, "dead/0", ids, now.Add(3*time.Second+lease))
	require.NoError(t, err)
	require.Len(t, held, 3)
	got, err = live.Claim(ctx, "live/0", now.Add(12*time.Second), lease, 10, 8)
	require.NoError(t, err)
	assert.Empty(t, got, "renewed: still held")
	// The replica dies after its renewal at 3s: the claims run out at 13s.
	got, err = live.Claim(ctx, "live/0", now.Add(14*time.Second), lease, 10, 8)
	require.NoError(t, err)
	require.Len(t, got, 3, "taken over within 15s")
	for _, a := range got {
		assert.Equal(t, ticket.StateRunning, a.State)
		assert.Equal(t, 2, a.Attempts)
	}
	for _, id := range ids {
		assert.ErrorIs(t, dead.Complete(ctx, id, "dead/0"), store.ErrLeaseLost)
		require.NoError(t, live.Complete(ctx, id, "live/0"))
	}
}
