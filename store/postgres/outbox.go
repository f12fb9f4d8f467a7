package postgres

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/triage-bot/triage/store"
	"github.com/triage-bot/triage/ticket"
)

const actionColumns = `id, ticket_id, kind, target, rule, payload, key, state, attempts, next_attempt, last_error, created, updated`

func scanAction(row pgx.Row) (ticket.Action, error) {
	var (
		a                             ticket.Action
		key                           *string
		state                         string
		nextAttempt, created, updated time.Time
	)
	if err := row.Scan(&a.ID, &a.TicketID, &a.Kind, &a.Target, &a.Rule, &a.Payload, &key, &state,
		&a.Attempts, &nextAttempt, &a.LastError, &created, &updated); err != nil {
		return a, err
	}
	if len(a.Payload) == 0 {
		a.Payload = nil
	}
	if key != nil {
		a.Key = *key
	}
	a.State = ticket.ActionState(state)
	a.NextAttempt = nextAttempt.UTC()
	a.Created = created.UTC()
	a.Updated = updated.UTC()
	return a, nil
}

// scanActions reads and closes rows.
func scanActions(rows pgx.Rows) ([]ticket.Action, error) {
	defer rows.Close()
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

// Claim marks up to limit due actions as running for worker until
// now+lease and returns them, oldest due first; see store.Store. Rows are
// picked with FOR UPDATE SKIP LOCKED, so concurrent claimers in any
// replica take disjoint actions without waiting on each other. limit ≤ 0
// claims nothing. Shadow, done and failed actions are never claimed; a
// due action out of attempts is parked and returned failed.
func (s *Store) Claim(ctx context.Context, worker string, now time.Time, lease time.Duration, limit, maxAttempts int) ([]ticket.Action, error) {
	if limit <= 0 {
		return nil, nil
	}
	// Each kind of due action is picked on its own index, so a claim costs
	// O(limit·log n) however long the backlog is; rows another replica has
	// locked are skipped. $6 > 0 caps attempts (see store.Store.Claim).
	const exhausted = `($6::integer > 0 AND attempts >= $6::integer)`
	rows, err := s.pool.Query(ctx, `WITH
		pending AS (SELECT id, next_attempt AS due FROM actions
			WHERE state = 'pending' AND next_attempt <= $3
			ORDER BY next_attempt, id LIMIT $4 FOR UPDATE SKIP LOCKED),
		expired AS (SELECT id, claim_until AS due FROM actions
			WHERE state = 'running' AND claim_until < $3
			ORDER BY claim_until, id LIMIT $4 FOR UPDATE SKIP LOCKED)
		UPDATE actions
		SET state = CASE WHEN `+exhausted+` THEN 'failed' ELSE 'running' END,
			claimed_by = CASE WHEN `+exhausted+` THEN NULL ELSE $1 END,
			claim_until = CASE WHEN `+exhausted+` THEN NULL ELSE $2::timestamptz END,
			last_error = CASE WHEN `+exhausted+` THEN 'gave up after ' || attempts || ' attempts (outbox.max_attempts is ' || $6::integer || ')'
				|| CASE WHEN state = 'running' THEN '; the last one never finished: its worker stopped or lost its claim' ELSE '' END
				|| CASE WHEN last_error <> '' THEN '; last error: ' || last_error ELSE '' END
				ELSE last_error END,
			attempts = CASE WHEN `+exhausted+` THEN attempts ELSE attempts + 1 END,
			updated = $5
		WHERE id IN (
			SELECT id FROM (SELECT id, due FROM pending UNION ALL SELECT id, due FROM expired) AS due_actions
			ORDER BY due, id LIMIT $4)
		RETURNING `+actionColumns,
		worker, store.DBTime(now.Add(lease)), store.DBTime(now), limit, store.DBTime(time.Now()), max(maxAttempts, 0))
	if err != nil {
		return nil, fmt.Errorf("postgres: claim actions: %w", err)
	}
	out, err := scanActions(rows)
	if err != nil {
		return nil, fmt.Errorf("postgres: claim actions: %w", err)
	}
	slices.SortFunc(out, func(a, b ticket.Action) int {
		if c := a.NextAttempt.Compare(b.NextAttempt); c != 0 {
			return c
		}
		return cmp.Compare(a.ID, b.ID)
	})
	return out, nil
}

// finish applies set (an SQL SET list whose parameters start at $4) to
// action id if worker holds it (running and claimed by worker, whether or
// not the claim has expired). It returns store.ErrLeaseLost when the
// action is not held by worker and store.ErrNotFound when there is no
// such action; an action not held but already in state already (when
// not "") is left as it is and nil returned.
func (s *Store) finish(ctx context.Context, stage string, id int64, worker, already, set string, args ...any) error {
	args = append([]any{id, worker, store.DBTime(time.Now())}, args...)
	tag, err := s.pool.Exec(ctx, `UPDATE actions SET `+set+`, claimed_by = NULL, claim_until = NULL, updated = $3
		WHERE id = $1 AND state = 'running' AND claimed_by = $2`, args...)
	if err != nil {
		return fmt.Errorf("postgres: %s action %d: %w", stage, id, err)
	}
	if tag.RowsAffected() == 1 {
		return nil
	}
	var state string
	err = s.pool.QueryRow(ctx, `SELECT state FROM actions WHERE id = $1`, id).Scan(&state)
	if errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("postgres: %s action %d: %w", stage, id, store.ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("postgres: %s action %d: %w", stage, id, err)
	}
	if already != "" && state == already {
		return nil
	}
	return fmt.Errorf("postgres: %s action %d by %q: %w", stage, id, worker, store.ErrLeaseLost)
}

// Complete marks the action done. It returns store.ErrLeaseLost when
// worker does not hold the action (never claimed it, already finished it,
// or its expired claim passed to another worker) and store.ErrNotFound
// for an unknown ID. A worker whose claim expired but was not taken over
// still holds the action.
func (s *Store) Complete(ctx context.Context, id int64, worker string) error {
	return s.finish(ctx, "complete", id, worker, "", `state = 'done'`)
}

// CompleteBatch marks several actions done in one statement; the i-th
// error is as Complete's for ids[i].
func (s *Store) CompleteBatch(ctx context.Context, ids []int64, worker string) []error {
	errs := make([]error, len(ids))
	if len(ids) == 0 {
		return errs
	}
	rows, err := s.pool.Query(ctx, `UPDATE actions SET state = 'done', claimed_by = NULL, claim_until = NULL, updated = $3
		WHERE id = ANY($1) AND state = 'running' AND claimed_by = $2 RETURNING id`, ids, worker, store.DBTime(time.Now()))
	if err != nil {
		for i := range errs {
			errs[i] = fmt.Errorf("postgres: complete action %d: %w", ids[i], err)
		}
		return errs
	}
	done := map[int64]bool{}
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err == nil {
			done[id] = true
		}
	}
	rows.Close()
	for i, id := range ids {
		if rows.Err() != nil {
			errs[i] = fmt.Errorf("postgres: complete action %d: %w", id, rows.Err())
		} else if !done[id] {
			// Not held: say whether it exists at all, as Complete does.
			errs[i] = s.finish(ctx, "complete", id, worker, "", `state = 'done'`)
		}
	}
	return errs
}

// Retry records the failed attempt's error and makes the action pending,
// due at next. Errors as for Complete.
func (s *Store) Retry(ctx context.Context, id int64, worker, errMsg string, next time.Time) error {
	return s.finish(ctx, "retry", id, worker, "", `state = 'pending', last_error = $4, next_attempt = $5`,
		store.Clean(errMsg), store.DBTime(next))
}

// Fail records the last attempt's error and parks the action as failed
// until Requeue. An action parked already is left as it is (nil). Other
// errors as for Complete.
func (s *Store) Fail(ctx context.Context, id int64, worker, errMsg string) error {
	return s.finish(ctx, "fail", id, worker, string(ticket.StateFailed), `state = 'failed', last_error = $4`, store.Clean(errMsg))
}

// Suppress ends the action as suppressed with the reason in last_error
// (see store.Store.Suppress).
func (s *Store) Suppress(ctx context.Context, id int64, worker, reason string) error {
	return s.finish(ctx, "suppress", id, worker, string(ticket.StateSuppressed), `state = 'suppressed', last_error = $4`, store.Clean(reason))
}

// Release makes the action pending and due at once without counting the
// attempt. Errors as for Complete.
func (s *Store) Release(ctx context.Context, id int64, worker string) error {
	return s.finish(ctx, "release", id, worker, "",
		`state = 'pending', attempts = greatest(attempts - 1, 0), next_attempt = least(next_attempt, $3)`)
}

// Renew extends worker's claims on ids until until in one statement and
// returns the ids it still holds; see store.Store.
func (s *Store) Renew(ctx context.Context, worker string, ids []int64, until time.Time) ([]int64, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	rows, err := s.pool.Query(ctx, `UPDATE actions SET claim_until = $1
		WHERE id = ANY($3) AND state = 'running' AND claimed_by = $2 RETURNING id`, store.DBTime(until), worker, ids)
	if err != nil {
		return nil, fmt.Errorf("postgres: renew claims of %q: %w", worker, err)
	}
	held, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return nil, fmt.Errorf("postgres: renew claims of %q: %w", worker, err)
	}
	return held, nil
}

// ReleaseClaims makes every running action pending and due at once,
// attempts kept; see store.Store. With several replicas on one database
// it would take actions from live workers: only a process that knows it
// is alone may call it.
func (s *Store) ReleaseClaims(ctx context.Context) (int, error) {
	tag, err := s.pool.Exec(ctx, `UPDATE actions
		SET state = 'pending', claimed_by = NULL, claim_until = NULL, next_attempt = least(next_attempt, $1), updated = $1
		WHERE state = 'running'`, store.DBTime(time.Now()))
	if err != nil {
		return 0, fmt.Errorf("postgres: release every claim: %w", err)
	}
	return int(tag.RowsAffected()), nil
}

// Requeue makes a failed action pending, due at once, with no attempts;
// its last error is kept. store.ErrNotFound when no failed action has
// this ID.
func (s *Store) Requeue(ctx context.Context, id int64) error {
	tag, err := s.pool.Exec(ctx, `UPDATE actions
		SET state = 'pending', attempts = 0, next_attempt = least(next_attempt, $2), updated = $2
		WHERE id = $1 AND state = 'failed' AND attempts > 0`, id, store.DBTime(time.Now()))
	if err != nil {
		return fmt.Errorf("postgres: requeue action %d: %w", id, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("postgres: requeue action %d: no failed action: %w", id, store.ErrNotFound)
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
		args = append(args, string(q.State))
		where = append(where, fmt.Sprintf(`state = $%d`, len(args)))
	}
	if q.TicketID != "" {
		args = append(args, q.TicketID)
		where = append(where, fmt.Sprintf(`ticket_id = $%d`, len(args)))
	}
	query := `SELECT ` + actionColumns + ` FROM actions`
	if len(where) > 0 {
		query += ` WHERE ` + strings.Join(where, ` AND `)
	}
	args = append(args, store.QueryLimit(q.Limit))
	query += fmt.Sprintf(` ORDER BY id DESC LIMIT $%d`, len(args))
	rows, err := s.pool.Query(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("postgres: actions: %w", err)
	}
	out, err := scanActions(rows)
	if err != nil {
		return nil, fmt.Errorf("postgres: actions: %w", err)
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
	rows, err := s.pool.Query(ctx, `SELECT state, count(*) FROM actions GROUP BY state`)
	if err != nil {
		return nil, fmt.Errorf("postgres: count actions: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var (
			state string
			n     int
		)
		if err := rows.Scan(&state, &n); err != nil {
			return nil, fmt.Errorf("postgres: count actions: %w", err)
		}
		out[ticket.ActionState(state)] = n
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("postgres: count actions: %w", err)
	}
	return out, nil
}
