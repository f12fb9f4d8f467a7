package sqlite

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/triage-bot/triage/store"
	"github.com/triage-bot/triage/ticket"
)

const actionColumns = `id, ticket_id, kind, target, rule, payload, key, state, attempts, next_attempt, last_error, created, updated`

func scanAction(sc scanner) (ticket.Action, error) {
	var (
		a                             ticket.Action
		key                           sql.NullString
		state                         string
		nextAttempt, created, updated int64
	)
	if err := sc.Scan(&a.ID, &a.TicketID, &a.Kind, &a.Target, &a.Rule, &a.Payload, &key, &state,
		&a.Attempts, &nextAttempt, &a.LastError, &created, &updated); err != nil {
		return a, err
	}
	if len(a.Payload) == 0 {
		a.Payload = nil
	}
	a.Key = key.String
	a.State = ticket.ActionState(state)
	a.NextAttempt = fromMicros(nextAttempt)
	a.Created = fromMicros(created)
	a.Updated = fromMicros(updated)
	return a, nil
}

// scanActions reads and closes rows.
func scanActions(rows *sql.Rows) ([]ticket.Action, error) {
	defer func() { _ = rows.Close() }()
	var out []ticket.Action
	for rows.Next() {
		a, err := scanAction(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, rows.Err()
}

// claimSQL picks due actions; each branch is limited on its own index
// first, so a claim costs O(limit·log n) however long the backlog is. A
// picked action that already has ?6 attempts (when ?6 > 0) is parked as
// failed instead of claimed (see store.Store.Claim).
var claimSQL = `UPDATE actions
		SET state = CASE WHEN ` + exhausted + ` THEN 'failed' ELSE 'running' END,
			claimed_by = CASE WHEN ` + exhausted + ` THEN NULL ELSE ?1 END,
			claim_until = CASE WHEN ` + exhausted + ` THEN NULL ELSE ?2 END,
			last_error = CASE WHEN ` + exhausted + ` THEN ` + gaveUp + ` ELSE last_error END,
			attempts = CASE WHEN ` + exhausted + ` THEN attempts ELSE attempts + 1 END,
			updated = ?3
		WHERE id IN (
			SELECT id FROM (
				SELECT * FROM (SELECT id, next_attempt AS due FROM actions
					WHERE state = 'pending' AND next_attempt <= ?4 ORDER BY next_attempt, id LIMIT ?5)
				UNION ALL
				SELECT * FROM (SELECT id, claim_until AS due FROM actions
					WHERE state = 'running' AND claim_until < ?4 ORDER BY claim_until, id LIMIT ?5)
			) ORDER BY due, id LIMIT ?5)
		RETURNING ` + actionColumns

// exhausted says whether a picked action has no attempt left (?6 is
// the cap; 0 means none); gaveUp is the error it is parked with, from
// the row's values before the update.
const (
	exhausted = `(?6 > 0 AND attempts >= ?6)`
	gaveUp    = `'gave up after ' || attempts || ' attempts (outbox.max_attempts is ' || ?6 || ')'
		|| CASE WHEN state = 'running' THEN '; the last one never finished: its worker stopped or lost its claim' ELSE '' END
		|| CASE WHEN last_error <> '' THEN '; last error: ' || last_error ELSE '' END`
)

// Claim marks up to limit due actions as running for worker until
// now+lease and returns them, oldest due first; see store.Store. It runs
// in a BEGIN IMMEDIATE transaction, so claimers in this and other
// processes are serialized and never get the same action. limit ≤ 0
// claims nothing. Shadow, done and failed actions are never claimed; a
// due action out of attempts is parked and returned failed.
func (s *Store) Claim(ctx context.Context, worker string, now time.Time, lease time.Duration, limit, maxAttempts int) ([]ticket.Action, error) {
	if limit <= 0 {
		return nil, nil
	}
	// Look before taking the write lock: idle workers poll often, and an
	// empty claim must not queue behind (or hold up) ingest.
	var due int
	err := s.read.QueryRowContext(ctx, `SELECT EXISTS (
		SELECT 1 FROM actions WHERE state = 'pending' AND next_attempt <= ?
		UNION ALL SELECT 1 FROM actions WHERE state = 'running' AND claim_until < ?)`, micros(now), micros(now)).Scan(&due)
	if err != nil {
		return nil, fmt.Errorf("sqlite: claim actions: %w", err)
	}
	if due == 0 {
		return nil, nil
	}
	tx, ctx, err := s.begin(ctx)
	if err != nil {
		return nil, fmt.Errorf("sqlite: claim actions: begin: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	claim, err := s.stmt(ctx, tx, claimSQL)
	if err != nil {
		return nil, fmt.Errorf("sqlite: claim actions: %w", err)
	}
	rows, err := claim.QueryContext(ctx,
		worker, micros(now.Add(lease)), micros(time.Now()), micros(now), limit, max(maxAttempts, 0))
	if err != nil {
		return nil, fmt.Errorf("sqlite: claim actions: %w", err)
	}
	out, err := scanActions(rows)
	if err != nil {
		return nil, fmt.Errorf("sqlite: claim actions: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("sqlite: claim actions: commit: %w", err)
	}
	slices.SortFunc(out, func(a, b ticket.Action) int {
		if c := a.NextAttempt.Compare(b.NextAttempt); c != 0 {
			return c
		}
		return cmp.Compare(a.ID, b.ID)
	})
	return out, nil
}

// renewSQL extends a worker's claims on the ids in ?3 (a JSON array).
const renewSQL = `UPDATE actions SET claim_until = ?1
		WHERE state = 'running' AND claimed_by = ?2 AND id IN (SELECT value FROM json_each(?3))
		RETURNING id`

// Renew extends worker's claims on ids until until in one statement and
// returns the ids it still holds; see store.Store.
func (s *Store) Renew(ctx context.Context, worker string, ids []int64, until time.Time) ([]int64, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	list, err := json.Marshal(ids)
	if err != nil {
		return nil, fmt.Errorf("sqlite: renew claims of %q: %w", worker, err)
	}
	rows, err := s.write.QueryContext(ctx, renewSQL, micros(until), worker, string(list))
	if err != nil {
		return nil, fmt.Errorf("sqlite: renew claims of %q: %w", worker, err)
	}
	defer func() { _ = rows.Close() }()
	held := make([]int64, 0, len(ids))
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("sqlite: renew claims of %q: %w", worker, err)
		}
		held = append(held, id)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: renew claims of %q: %w", worker, err)
	}
	return held, nil
}

// ReleaseClaims makes every running action pending and due at once,
// attempts kept; see store.Store.
func (s *Store) ReleaseClaims(ctx context.Context) (int, error) {
	now := micros(time.Now())
	res, err := s.write.ExecContext(ctx, `UPDATE actions
		SET state = 'pending', claimed_by = NULL, claim_until = NULL, next_attempt = min(next_attempt, ?1), updated = ?1
		WHERE state = 'running'`, now)
	if err != nil {
		return 0, fmt.Errorf("sqlite: release every claim: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("sqlite: release every claim: %w", err)
	}
	return int(n), nil
}

// finish applies set (an SQL SET list with its args) to action id if
// worker holds it (running and claimed by worker, whether or not the
// claim has expired). It returns store.ErrLeaseLost when the action is
// not held by worker and store.ErrNotFound when there is no such action;
// an action not held but already in state already (when not "") is left
// as it is and nil returned.
func (s *Store) finish(ctx context.Context, stage string, id int64, worker, already, set string, args ...any) error {
	tx, ctx, err := s.begin(ctx)
	if err != nil {
		return fmt.Errorf("sqlite: %s action %d: begin: %w", stage, id, err)
	}
	defer func() { _ = tx.Rollback() }()
	args = append(args, micros(time.Now()), id, worker)
	upd, err := s.stmt(ctx, tx, finishSQL(set))
	if err != nil {
		return fmt.Errorf("sqlite: %s action %d: %w", stage, id, err)
	}
	res, err := upd.ExecContext(ctx, args...)
	if err != nil {
		return fmt.Errorf("sqlite: %s action %d: %w", stage, id, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("sqlite: %s action %d: %w", stage, id, err)
	}
	if n == 0 {
		var state string
		err := tx.QueryRowContext(ctx, `SELECT state FROM actions WHERE id = ?`, id).Scan(&state)
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("sqlite: %s action %d: %w", stage, id, store.ErrNotFound)
		}
		if err != nil {
			return fmt.Errorf("sqlite: %s action %d: %w", stage, id, err)
		}
		if already != "" && state == already {
			return nil
		}
		return fmt.Errorf("sqlite: %s action %d by %q: %w", stage, id, worker, store.ErrLeaseLost)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("sqlite: %s action %d: commit: %w", stage, id, err)
	}
	return nil
}

// The SET lists of the four ways a claimed action ends.
const (
	completeSet = `state = 'done'`
	retrySet    = `state = 'pending', last_error = ?, next_attempt = ?`
	failSet     = `state = 'failed', last_error = ?`
	suppressSet = `state = 'suppressed', last_error = ?`
	releaseSet  = `state = 'pending', attempts = max(attempts - 1, 0), next_attempt = min(next_attempt, ?)`
)

// finishSQL is the statement that ends a claim with set.
func finishSQL(set string) string {
	return `UPDATE actions SET ` + set + `, claimed_by = NULL, claim_until = NULL, updated = ?
		WHERE id = ? AND state = 'running' AND claimed_by = ?`
}

// Complete marks the action done. It returns store.ErrLeaseLost when
// worker does not hold the action (never claimed it, already finished it,
// or its expired claim passed to another worker) and store.ErrNotFound
// for an unknown ID. A worker whose claim expired but was not taken over
// still holds the action.
func (s *Store) Complete(ctx context.Context, id int64, worker string) error {
	return s.finish(ctx, "complete", id, worker, "", completeSet)
}

// CompleteBatch marks several actions done in one transaction; the i-th
// error is as Complete's for ids[i].
func (s *Store) CompleteBatch(ctx context.Context, ids []int64, worker string) []error {
	errs := make([]error, len(ids))
	if len(ids) == 0 {
		return errs
	}
	fail := func(err error) []error {
		for i := range errs {
			errs[i] = fmt.Errorf("sqlite: complete action %d: %w", ids[i], err)
		}
		return errs
	}
	tx, ctx, err := s.begin(ctx)
	if err != nil {
		return fail(err)
	}
	defer func() { _ = tx.Rollback() }()
	upd, err := s.stmt(ctx, tx, finishSQL(completeSet))
	if err != nil {
		return fail(err)
	}
	now := micros(time.Now())
	for i, id := range ids {
		res, err := upd.ExecContext(ctx, now, id, worker)
		if err != nil {
			return fail(err)
		}
		if n, err := res.RowsAffected(); err != nil {
			return fail(err)
		} else if n == 0 {
			var one int
			err := tx.QueryRowContext(ctx, `SELECT 1 FROM actions WHERE id = ?`, id).Scan(&one)
			switch {
			case errors.Is(err, sql.ErrNoRows):
				errs[i] = fmt.Errorf("sqlite: complete action %d: %w", id, store.ErrNotFound)
			case err != nil:
				return fail(err)
			default:
				errs[i] = fmt.Errorf("sqlite: complete action %d by %q: %w", id, worker, store.ErrLeaseLost)
			}
		}
	}
	if err := tx.Commit(); err != nil {
		return fail(err)
	}
	return errs
}

// Retry records the failed attempt's error and makes the action pending,
// due at next. Errors as for Complete.
func (s *Store) Retry(ctx context.Context, id int64, worker, errMsg string, next time.Time) error {
	return s.finish(ctx, "retry", id, worker, "", retrySet, errMsg, micros(next))
}

// Fail records the last attempt's error and parks the action as failed
// until Requeue. An action parked already is left as it is (nil). Other
// errors as for Complete.
func (s *Store) Fail(ctx context.Context, id int64, worker, errMsg string) error {
	return s.finish(ctx, "fail", id, worker, string(ticket.StateFailed), failSet, errMsg)
}

// Suppress ends the action as suppressed with the reason in last_error
// (see store.Store.Suppress).
func (s *Store) Suppress(ctx context.Context, id int64, worker, reason string) error {
	return s.finish(ctx, "suppress", id, worker, string(ticket.StateSuppressed), suppressSet, reason)
}

// Release makes the action pending and due at once without counting the
// attempt. Errors as for Complete.
func (s *Store) Release(ctx context.Context, id int64, worker string) error {
	return s.finish(ctx, "release", id, worker, "", releaseSet, micros(time.Now()))
}

// Requeue makes a failed action pending, due at once, with no attempts;
// its last error is kept. store.ErrNotFound when no failed action has
// this ID.
func (s *Store) Requeue(ctx context.Context, id int64) error {
	now := micros(time.Now())
	res, err := s.write.ExecContext(ctx, `UPDATE actions
		SET state = 'pending', attempts = 0, next_attempt = min(next_attempt, ?), updated = ?
		WHERE id = ? AND state = 'failed' AND attempts > 0`, now, now, id)
	if err != nil {
		return fmt.Errorf("sqlite: requeue action %d: %w", id, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("sqlite: requeue action %d: %w", id, err)
	}
	if n == 0 {
		return fmt.Errorf("sqlite: requeue action %d: no failed action: %w", id, store.ErrNotFound)
	}
	return nil
}

// Actions lists actions, newest (highest ID) first.
func (s *Store) Actions(ctx context.Context, q store.ActionQuery) ([]ticket.Action, error) {
	var (
		where []string
		args  []any
	)
	if q.State != "" {
		where = append(where, `state = ?`)
		args = append(args, string(q.State))
	}
	if q.TicketID != "" {
		where = append(where, `ticket_id = ?`)
		args = append(args, q.TicketID)
	}
	query := `SELECT ` + actionColumns + ` FROM actions`
	if len(where) > 0 {
		query += ` WHERE ` + strings.Join(where, ` AND `)
	}
	query += ` ORDER BY id DESC LIMIT ?`
	args = append(args, store.QueryLimit(q.Limit))
	rows, err := s.read.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("sqlite: actions: %w", err)
	}
	out, err := scanActions(rows)
	if err != nil {
		return nil, fmt.Errorf("sqlite: actions: %w", err)
	}
	return out, nil
}

// CountActions returns the number of actions in each state; every state
// of the ticket package is present, zero when no action is in it.
func (s *Store) CountActions(ctx context.Context) (map[ticket.ActionState]int, error) {
	out := map[ticket.ActionState]int{
		ticket.StatePending: 0, ticket.StateRunning: 0, ticket.StateDone: 0,
		ticket.StateFailed: 0, ticket.StateShadow: 0,
	}
	rows, err := s.read.QueryContext(ctx, `SELECT state, count(*) FROM actions GROUP BY state`)
	if err != nil {
		return nil, fmt.Errorf("sqlite: count actions: %w", err)
	}
	defer func() { _ = rows.Close() }()
	for rows.Next() {
		var (
			state string
			n     int
		)
		if err := rows.Scan(&state, &n); err != nil {
			return nil, fmt.Errorf("sqlite: count actions: %w", err)
		}
		out[ticket.ActionState(state)] = n
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: count actions: %w", err)
	}
	return out, nil
}
