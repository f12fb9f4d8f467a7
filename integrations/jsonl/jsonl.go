// Package jsonl carries out jsonl actions: it appends the action's payload
// as one line to a local file (a log of tickets a team can grep, tail or
// ship elsewhere).
package jsonl

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"

	"github.com/triage-bot/triage/outbox"
	"github.com/triage-bot/triage/ticket"
)

// tailCheck is how much of the end of the file is searched for the key
// before appending: a repeat after a crash is always among the last lines.
const tailCheck = 256 << 10

// Sink appends payloads to files named by the action's target.
type Sink struct {
	mu sync.Mutex
}

// New returns a sink.
func New() *Sink { return &Sink{} }

// line is one record of the file.
type line struct {
	Key     string          `json:"key"`
	Ticket  string          `json:"ticket_id"`
	Rule    string          `json:"rule,omitempty"`
	Payload json.RawMessage `json:"payload"`
}

// Send appends {"key", "ticket_id", "rule", "payload"} as one line. It is
// idempotent: when the key is already among the file's last lines (a
// repeat after a crash), nothing is written.
func (s *Sink) Send(ctx context.Context, a ticket.Action) error {
	if a.Target == "" {
		return outbox.Permanent(fmt.Errorf("jsonl: the action has no target file"))
	}
	payload := json.RawMessage(a.Payload)
	if !json.Valid(payload) {
		b, _ := json.Marshal(string(a.Payload))
		payload = b
	}
	data, err := json.Marshal(line{Key: a.Key, Ticket: a.TicketID, Rule: a.Rule, Payload: payload})
	if err != nil {
		return outbox.Permanent(fmt.Errorf("jsonl: %w", err))
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := os.MkdirAll(filepath.Dir(a.Target), 0o755); err != nil {
		return fmt.Errorf("jsonl: %w", err)
	}
	f, err := os.OpenFile(a.Target, os.O_RDWR|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("jsonl: %w", err)
	}
	defer f.Close()
	if seen, err := hasKeyNearEnd(f, a.Key); err != nil {
		return fmt.Errorf("jsonl: %w", err)
	} else if seen {
		return nil
	}
	// No fsync per line: a process crash keeps what was written (the
	// kernel has it), and syncing each line would cap throughput at the
	// disk's flush rate.
	if _, err := f.Write(append(data, '\n')); err != nil {
		return fmt.Errorf("jsonl: append to %s: %w", a.Target, err)
	}
	return nil
}

func hasKeyNearEnd(f *os.File, key string) (bool, error) {
	st, err := f.Stat()
	if err != nil {
		return false, err
	}
	off := max(0, st.Size()-tailCheck)
	buf := make([]byte, st.Size()-off)
	if _, err := f.ReadAt(buf, off); err != nil && err != io.EOF {
		return false, err
	}
	return bytes.Contains(buf, []byte(`{"key":"`+key+`"`)), nil
}
