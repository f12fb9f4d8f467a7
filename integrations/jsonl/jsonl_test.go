package jsonl

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/triage-bot/triage/outbox"
	"github.com/triage-bot/triage/ticket"
)

var _ outbox.Sink = (*Sink)(nil)

func TestAppendOncePerKey(t *testing.T) {
	path := filepath.Join(t.TempDir(), "logs", "tickets.jsonl")
	s := New()
	a := ticket.Action{TicketID: "t1", Rule: "r", Target: path, Key: "k1", Payload: []byte(`{"x":1}`)}
	require.NoError(t, s.Send(context.Background(), a))
	require.NoError(t, s.Send(context.Background(), a), "a repeat after a crash writes nothing")
	b := a
	b.Key, b.TicketID, b.Payload = "k2", "t2", []byte("not json")
	require.NoError(t, s.Send(context.Background(), b))
	require.NoError(t, s.Close())

	// A new process (a new sink) finds the keys in the file's tail.
	s2 := New()
	require.NoError(t, s2.Send(context.Background(), a))
	require.NoError(t, s2.Send(context.Background(), b))
	require.NoError(t, s2.Close())

	data, err := os.ReadFile(path)
	require.NoError(t, err)
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	require.Len(t, lines, 2)
	var l line
	require.NoError(t, json.Unmarshal([]byte(lines[0]), &l))
	assert.Equal(t, "k1", l.Key)
	assert.Equal(t, "t1", l.Ticket)
	assert.JSONEq(t, `{"x":1}`, string(l.Payload))
	require.NoError(t, json.Unmarshal([]byte(lines[1]), &l))
	assert.JSONEq(t, `"not json"`, string(l.Payload))
}

func TestNoTarget(t *testing.T) {
	err := New().Send(context.Background(), ticket.Action{Key: "k"})
	assert.True(t, outbox.IsPermanent(err))
}
