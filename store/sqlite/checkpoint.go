package sqlite

import (
	"context"
	"database/sql"
	"os"
	"time"
)

// The write-ahead log grows with every commit until a checkpoint copies
// it into the database file. SQLite does that in the committing
// connection by default, so the one writer (ingest, claims, completions)
// stops for it. A checkpointer does it from its own connection instead,
// in PASSIVE mode, which never waits for (nor blocks) readers or the
// writer; the writer's own automatic checkpoint stays as a fallback for
// a log that grows far past the threshold anyway.
const (
	// checkpointBytes is the log size at which the checkpointer acts.
	checkpointBytes = 8 << 20
	// checkpointPoll is how often it looks at the log's size.
	checkpointPoll = 50 * time.Millisecond
	// fallbackCheckpointPages is the writer's own automatic checkpoint
	// threshold (pages of 4 KiB; SQLite's default is 1000).
	fallbackCheckpointPages = 16384
)

type checkpointer struct {
	db   *sql.DB
	stop context.CancelFunc
	done chan struct{}
}

// startCheckpointer checkpoints through db (a connection of its own)
// whenever the log file at wal exceeds checkpointBytes, until close.
func startCheckpointer(db *sql.DB, wal string) *checkpointer {
	db.SetMaxOpenConns(1)
	ctx, stop := context.WithCancel(context.Background())
	c := &checkpointer{db: db, stop: stop, done: make(chan struct{})}
	go func() {
		defer close(c.done)
		t := time.NewTicker(checkpointPoll)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			if st, err := os.Stat(wal); err != nil || st.Size() < checkpointBytes {
				continue
			}
			// A failure (another process checkpointing, a busy file) is
			// left to the next round or the writer's fallback.
			_, _ = db.ExecContext(ctx, "PRAGMA wal_checkpoint(PASSIVE)")
		}
	}()
	return c
}

// close stops the checkpointer and closes its connection.
func (c *checkpointer) close() error {
	c.stop()
	<-c.done
	return c.db.Close()
}
