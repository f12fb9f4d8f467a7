package postgres

// migrations are the schema's versions in order: migrations[i] brings the
// database from version i to version i+1. Append new versions; never edit
// one that has shipped. The numbering matches the sqlite package's.
//
// Column choices:
//   - times are timestamptz (microseconds, UTC on the wire);
//   - tickets.event_id and tickets.message_id are NULL when empty, so the
//     unique constraint on event_id lets any number of tickets lack one;
//   - tickets.codes is an integer[] in order of importance, searched with
//     codes @> ARRAY[n] through a GIN index;
//   - tickets.ticket is the ticket.Ticket as json, parts' text included;
//     json, not jsonb, because jsonb rejects \u0000 and reorders keys;
//   - tickets.search is the lower-cased sender, subject and parts' text
//     (NUL bytes dropped), searched with strpos — literal, no wildcards;
//   - actions.key is NULL when empty, unique within its ticket otherwise
//     (version 3; it was unique across all actions before);
//   - actions.id is an identity column: IDs grow with time, so "newest
//     first" is id DESC.
var migrations = []string{
	// 1: tickets and the outbox.
	`
CREATE TABLE tickets (
	id         text PRIMARY KEY,
	event_id   text UNIQUE,
	source     text NOT NULL,
	channel    text NOT NULL,
	from_addr  text NOT NULL,
	subject    text NOT NULL,
	message_id text,
	category   text NOT NULL,
	codes      integer[] NOT NULL,
	ticket     json NOT NULL,
	annotation json,
	rules      json NOT NULL,
	received   timestamptz NOT NULL,
	search     text NOT NULL
);
CREATE INDEX tickets_received ON tickets (received, id);
CREATE INDEX tickets_category ON tickets (category, received, id);
CREATE INDEX tickets_codes ON tickets USING gin (codes);
CREATE INDEX tickets_message_id ON tickets (channel, message_id) WHERE message_id IS NOT NULL;

CREATE TABLE actions (
	id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	ticket_id    text NOT NULL REFERENCES tickets (id),
	kind         text NOT NULL,
	target       text NOT NULL,
	rule         text NOT NULL,
	payload      bytea,
	key          text UNIQUE,
	state        text NOT NULL CHECK (state IN ('pending', 'running', 'done', 'failed', 'shadow')),
	attempts     integer NOT NULL DEFAULT 0,
	next_attempt timestamptz NOT NULL,
	claimed_by   text,
	claim_until  timestamptz,
	last_error   text NOT NULL DEFAULT '',
	created      timestamptz NOT NULL,
	updated      timestamptz NOT NULL
);
CREATE INDEX actions_due ON actions (state, next_attempt, id);
CREATE INDEX actions_claim ON actions (state, claim_until);
CREATE INDEX actions_ticket ON actions (ticket_id, id);
`,
	// 2: source cursors and leases.
	`
CREATE TABLE cursors (
	source  text PRIMARY KEY,
	value   text NOT NULL,
	updated timestamptz NOT NULL
);

CREATE TABLE leases (
	name   text PRIMARY KEY,
	holder text NOT NULL,
	until  timestamptz NOT NULL
);
`,
	// 3: action keys unique within their ticket, in one index that also
	// finds a ticket's actions (see the sqlite package's version 3).
	`
ALTER TABLE actions DROP CONSTRAINT actions_key_key;
DROP INDEX actions_ticket;
CREATE UNIQUE INDEX actions_ticket_key ON actions (ticket_id, key);
`,
	// 4: the suppressed state (see the sqlite package's version 4); the
	// replies parked as failed with a "suppressed: " reason become it.
	`
ALTER TABLE actions DROP CONSTRAINT actions_state_check;
ALTER TABLE actions ADD CONSTRAINT actions_state_check
	CHECK (state IN ('pending', 'running', 'done', 'failed', 'suppressed', 'shadow'));
UPDATE actions SET state = 'suppressed'
	WHERE state = 'failed' AND kind = 'email.reply' AND starts_with(last_error, 'suppressed: ');
`,
}
