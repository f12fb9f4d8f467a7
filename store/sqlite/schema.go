package sqlite

// migrations are the schema's versions in order: migrations[i] brings the
// database from version i to version i+1. Append new versions; never edit
// one that has shipped.
//
// Column choices:
//   - times are INTEGER Unix microseconds in UTC (the same precision as
//     PostgreSQL's timestamptz), so comparisons are integer comparisons;
//   - tickets.event_id and tickets.message_id are NULL when empty, so the
//     unique index on event_id lets any number of tickets lack one;
//   - tickets.codes is the distinct codes in order as ",108,3200," (""
//     when none), searched with instr(codes, ',108,');
//   - tickets.ticket is the ticket.Ticket as JSON, parts' text included;
//   - tickets.search is the lower-cased sender, subject and parts' text,
//     searched with instr (no LIKE, so % and _ are literal);
//   - actions.key is NULL when empty, unique within its ticket otherwise
//     (version 3; it was unique across all actions before);
//   - actions.id is AUTOINCREMENT, so IDs are never reused and grow with
//     time ("newest first" is id DESC).
var migrations = []string{
	// 1: tickets and the outbox.
	`
CREATE TABLE tickets (
	id         TEXT PRIMARY KEY,
	event_id   TEXT UNIQUE,
	source     TEXT NOT NULL,
	channel    TEXT NOT NULL,
	from_addr  TEXT NOT NULL,
	subject    TEXT NOT NULL,
	message_id TEXT,
	category   TEXT NOT NULL,
	codes      TEXT NOT NULL,
	ticket     TEXT NOT NULL,
	annotation TEXT,
	rules      TEXT NOT NULL,
	received   INTEGER NOT NULL,
	search     TEXT NOT NULL
) STRICT;
CREATE INDEX tickets_received ON tickets (received, id);
CREATE INDEX tickets_category ON tickets (category, received, id);
CREATE INDEX tickets_message_id ON tickets (channel, message_id) WHERE message_id IS NOT NULL;

CREATE TABLE actions (
	id           INTEGER PRIMARY KEY AUTOINCREMENT,
	ticket_id    TEXT NOT NULL REFERENCES tickets (id),
	kind         TEXT NOT NULL,
	target       TEXT NOT NULL,
	rule         TEXT NOT NULL,
	payload      BLOB,
	key          TEXT UNIQUE,
	state        TEXT NOT NULL CHECK (state IN ('pending', 'running', 'done', 'failed', 'shadow')),
	attempts     INTEGER NOT NULL DEFAULT 0,
	next_attempt INTEGER NOT NULL,
	claimed_by   TEXT,
	claim_until  INTEGER,
	last_error   TEXT NOT NULL DEFAULT '',
	created      INTEGER NOT NULL,
	updated      INTEGER NOT NULL
) STRICT;
CREATE INDEX actions_due ON actions (state, next_attempt, id);
CREATE INDEX actions_claim ON actions (state, claim_until);
CREATE INDEX actions_ticket ON actions (ticket_id, id);
`,
	// 2: source cursors and leases.
	`
CREATE TABLE cursors (
	source  TEXT PRIMARY KEY,
	value   TEXT NOT NULL,
	updated INTEGER NOT NULL
) STRICT;

CREATE TABLE leases (
	name   TEXT PRIMARY KEY,
	holder TEXT NOT NULL,
	until  INTEGER NOT NULL
) STRICT;
`,
	// 3: action keys unique within their ticket, in one index that also
	// finds a ticket's actions. Keys are random (a hash), so a unique
	// index on the key alone took a write to a random page for every
	// action: about a tenth of the time of storing a ticket. A key
	// derives from its ticket's ID (route.Key), so keys of different
	// tickets cannot meet anyway. The column's UNIQUE constraint cannot
	// be dropped in place: the table is rebuilt, IDs and sequence kept.
	`
CREATE TABLE actions_v3 (
	id           INTEGER PRIMARY KEY AUTOINCREMENT,
	ticket_id    TEXT NOT NULL REFERENCES tickets (id),
	kind         TEXT NOT NULL,
	target       TEXT NOT NULL,
	rule         TEXT NOT NULL,
	payload      BLOB,
	key          TEXT,
	state        TEXT NOT NULL CHECK (state IN ('pending', 'running', 'done', 'failed', 'shadow')),
	attempts     INTEGER NOT NULL DEFAULT 0,
	next_attempt INTEGER NOT NULL,
	claimed_by   TEXT,
	claim_until  INTEGER,
	last_error   TEXT NOT NULL DEFAULT '',
	created      INTEGER NOT NULL,
	updated      INTEGER NOT NULL
) STRICT;
INSERT INTO sqlite_sequence (name, seq) SELECT 'actions_v3', seq FROM sqlite_sequence WHERE name = 'actions';
INSERT INTO actions_v3 (id, ticket_id, kind, target, rule, payload, key, state, attempts, next_attempt,
	claimed_by, claim_until, last_error, created, updated)
	SELECT id, ticket_id, kind, target, rule, payload, key, state, attempts, next_attempt,
		claimed_by, claim_until, last_error, created, updated FROM actions;
DROP TABLE actions;
ALTER TABLE actions_v3 RENAME TO actions;
CREATE INDEX actions_due ON actions (state, next_attempt, id);
CREATE INDEX actions_claim ON actions (state, claim_until);
CREATE UNIQUE INDEX actions_ticket_key ON actions (ticket_id, key);
`,
	// 4: the suppressed state (a reply held back on purpose is not a
	// failure). A CHECK constraint cannot be changed in place: the table
	// is rebuilt as in version 3, IDs and sequence kept.
	`
CREATE TABLE actions_v4 (
	id           INTEGER PRIMARY KEY AUTOINCREMENT,
	ticket_id    TEXT NOT NULL REFERENCES tickets (id),
	kind         TEXT NOT NULL,
	target       TEXT NOT NULL,
	rule         TEXT NOT NULL,
	payload      BLOB,
	key          TEXT,
	state        TEXT NOT NULL CHECK (state IN ('pending', 'running', 'done', 'failed', 'suppressed', 'shadow')),
	attempts     INTEGER NOT NULL DEFAULT 0,
	next_attempt INTEGER NOT NULL,
	claimed_by   TEXT,
	claim_until  INTEGER,
	last_error   TEXT NOT NULL DEFAULT '',
	created      INTEGER NOT NULL,
	updated      INTEGER NOT NULL
) STRICT;
INSERT INTO sqlite_sequence (name, seq) SELECT 'actions_v4', seq FROM sqlite_sequence WHERE name = 'actions';
INSERT INTO actions_v4 (id, ticket_id, kind, target, rule, payload, key, state, attempts, next_attempt,
	claimed_by, claim_until, last_error, created, updated)
	SELECT id, ticket_id, kind, target, rule, payload, key,
		CASE WHEN state = 'failed' AND kind = 'email.reply' AND last_error LIKE 'suppressed: %' THEN 'suppressed' ELSE state END,
		attempts, next_attempt, claimed_by, claim_until, last_error, created, updated FROM actions;
DROP TABLE actions;
ALTER TABLE actions_v4 RENAME TO actions;
CREATE INDEX actions_due ON actions (state, next_attempt, id);
CREATE INDEX actions_claim ON actions (state, claim_until);
CREATE UNIQUE INDEX actions_ticket_key ON actions (ticket_id, key);
`,
}
