package jsonl

import (
	"context"
	"encoding/json"
	"fmt"
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

// line is one record of the file, as the tests read it back.
type line struct {
	Key     string          `json:"key"`
	Ticket  string          `json:"ticket_id"`
	Rule    string          `json:"rule,omitempty"`
	Payload json.RawMessage `json:"payload"`
}

func TestAppendOncePerKey(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "logs", "tickets.jsonl")
	s := New(dir)
	a := ticket.Action{TicketID: "t1", Rule: "r", Target: path, Key: "k1", Payload: []byte(`{"x":1}`)}
	require.NoError(t, s.Send(context.Background(), a))
	require.NoError(t, s.Send(context.Background(), a), "a repeat after a crash writes nothing")
	b := a
	b.Key, b.TicketID, b.Payload = "k2", "t2", []byte("not json")
	require.NoError(t, s.Send(context.Background(), b))
	require.NoError(t, s.Close())

	// A new process (a new sink) finds the keys in the file's tail.
	s2 := New(dir)
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

var (
	_ outbox.BatchSink = (*Sink)(nil)
	_ outbox.InPlace   = (*Sink)(nil)
)

func TestSendBatch(t *testing.T) {
	dir := t.TempDir()
	one, two := filepath.Join(dir, "one.jsonl"), filepath.Join(dir, "two.jsonl")
	s := New(dir)
	defer s.Close()
	ctx := context.Background()
	act := func(key, target string) ticket.Action {
		return ticket.Action{TicketID: "t-" + key, Target: target, Key: key, Payload: []byte(`{"k":"` + key + `"}`)}
	}
	require.NoError(t, s.Send(ctx, act("old", one)))
	errs := s.SendBatch(ctx, []ticket.Action{
		act("a", one), act("b", two), act("old", one), act("c", one), act("a", one), act("d", ""),
	})
	require.Len(t, errs, 6)
	for i, err := range errs[:5] {
		assert.NoError(t, err, "action %d", i)
	}
	assert.True(t, outbox.IsPermanent(errs[5]), "no target: that action alone fails")
	keys := func(path string) []string {
		data, err := os.ReadFile(path)
		require.NoError(t, err)
		var out []string
		for _, l := range strings.Split(strings.TrimSpace(string(data)), "\n") {
			var v line
			require.NoError(t, json.Unmarshal([]byte(l), &v))
			out = append(out, v.Key)
		}
		return out
	}
	assert.Equal(t, []string{"old", "a", "c"}, keys(one), "each key once, in order, whether seen before or twice in the batch")
	assert.Equal(t, []string{"b"}, keys(two))
}

func TestLineEncoding(t *testing.T) {
	for _, payload := range []string{`{"x":1}`, "{\n  \"x\": [1, 2]\n}", "not json", `"<b>&"`, ""} {
		a := ticket.Action{Key: "k", TicketID: "t<1>", Rule: "r", Payload: []byte(payload)}
		got := appendLine(nil, a)
		require.True(t, strings.HasSuffix(string(got), "\n"))
		require.Equal(t, 1, strings.Count(string(got), "\n"), "one line: %q", got)
		raw := json.RawMessage(a.Payload)
		if !json.Valid(raw) {
			raw, _ = json.Marshal(payload)
		}
		want, err := json.Marshal(line{Key: a.Key, Ticket: a.TicketID, Rule: a.Rule, Payload: raw})
		require.NoError(t, err)
		assert.JSONEq(t, string(want), string(got), "payload %q", payload)
	}
}

// TestTargetsStayUnderAllowedDirs: a target rendered from customer text
// that leaves data_dir fails permanently, naming the reason, and writes
// nothing; the batch's other actions go through.
func TestTargetsStayUnderAllowedDirs(t *testing.T) {
	base := t.TempDir()
	data, outside := filepath.Join(base, "data"), filepath.Join(base, "elsewhere")
	require.NoError(t, os.MkdirAll(data, 0o755))
	require.NoError(t, os.MkdirAll(outside, 0o755))
	require.NoError(t, os.Symlink(outside, filepath.Join(data, "out")))
	s := New(data)
	defer s.Close()
	bad := []string{
		data + "/by-sender/../../../../../../" + outside + "/x.jsonl",
		data + "/by-sender/../../elsewhere/x.jsonl",
		filepath.Join(outside, "abs.jsonl"),
		filepath.Join(data, "out", "through-link.jsonl"),
	}
	var as []ticket.Action
	for i, p := range bad {
		as = append(as, ticket.Action{TicketID: "t", Target: p, Key: fmt.Sprint("bad-", i), Payload: []byte(`{}`)})
	}
	good := filepath.Join(data, "by-sender", "%2e%2e", "ana.jsonl")
	as = append(as, ticket.Action{TicketID: "t", Target: good, Key: "good", Payload: []byte(`{}`)})
	errs := s.SendBatch(context.Background(), as)
	for i := range bad {
		require.Error(t, errs[i], bad[i])
		assert.True(t, outbox.IsPermanent(errs[i]), "retrying cannot help: %s", bad[i])
		assert.ErrorContains(t, errs[i], "outside the allowed directories")
	}
	assert.NoError(t, errs[len(bad)], "a %%2e%%2e stays a plain name inside data_dir")
	assert.FileExists(t, good)
	entries, err := os.ReadDir(outside)
	require.NoError(t, err)
	assert.Empty(t, entries, "nothing was written outside data_dir")
}
