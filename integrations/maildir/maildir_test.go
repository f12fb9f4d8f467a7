package maildir

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/triage-bot/triage/catalog"
	"github.com/triage-bot/triage/outbox"
	"github.com/triage-bot/triage/pipeline"
	"github.com/triage-bot/triage/route"
	"github.com/triage-bot/triage/store"
	"github.com/triage-bot/triage/store/sqlite"
	"github.com/triage-bot/triage/ticket"
)

var (
	_ pipeline.Source = (*Source)(nil)
	_ outbox.InPlace  = (*MoveSink)(nil)
)

func writeMail(t *testing.T, dir, name, body string) {
	t.Helper()
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "new"), 0o700))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "new", name), []byte(body), 0o600))
}

func list(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	var out []string
	for _, e := range entries {
		out = append(out, e.Name())
	}
	sort.Strings(out)
	return out
}

func TestPollMovesOnlyStoredMail(t *testing.T) {
	dir := t.TempDir()
	writeMail(t, dir, "100.M1.host", "Subject: a\n\nERR_NGROK_108\n")
	writeMail(t, dir, "101.M2.host", "Subject: b\n\nhello\n")
	writeMail(t, dir, "102.M3.host", "Subject: c\n\nbye\n")
	s := NewSource("support", dir, "")
	s.Workers = 1 // one at a time, so the failure stops the pass at a known place
	assert.Equal(t, "maildir:support", s.Name())

	var got []string
	fail := errors.New("database is down")
	n, err := s.Poll(context.Background(), func(ctx context.Context, in pipeline.Incoming) error {
		if in.ID == "maildir:support/101.M2.host" {
			return fail
		}
		body, _ := io.ReadAll(in.Raw)
		assert.NotEmpty(t, body)
		assert.Equal(t, "email", in.Source)
		assert.Equal(t, "support", in.Channel)
		got = append(got, in.ID)
		return nil
	})
	assert.ErrorIs(t, err, fail)
	assert.Equal(t, 1, n)
	assert.Equal(t, []string{"maildir:support/100.M1.host"}, got)
	assert.Equal(t, []string{"101.M2.host", "102.M3.host"}, list(t, filepath.Join(dir, "new")), "unstored mail stays in new/")
	assert.Equal(t, []string{"100.M1.host:2,a"}, list(t, filepath.Join(dir, "cur")))
	kw, err := os.ReadFile(filepath.Join(dir, "dovecot-keywords"))
	require.NoError(t, err)
	assert.Equal(t, "0 $triaged\n", string(kw))

	n, err = s.Poll(context.Background(), func(ctx context.Context, in pipeline.Incoming) error { return nil })
	require.NoError(t, err)
	assert.Equal(t, 2, n)
	assert.Empty(t, list(t, filepath.Join(dir, "new")))
	assert.Len(t, list(t, filepath.Join(dir, "cur")), 3, "nothing is deleted")
}

func TestPollInParallel(t *testing.T) {
	dir := t.TempDir()
	for i := range 200 {
		writeMail(t, dir, fmt.Sprintf("%d.M%d.host", 1000+i, i), "Subject: x\n\nERR_NGROK_108\n")
	}
	s := NewSource("support", dir, "")
	s.Workers, s.Batch = 4, 150
	var mu sync.Mutex
	seen := map[string]int{}
	ingest := func(ctx context.Context, in pipeline.Incoming) error {
		mu.Lock()
		seen[in.ID]++
		mu.Unlock()
		return nil
	}
	n, err := s.Poll(context.Background(), ingest)
	require.NoError(t, err)
	assert.Equal(t, 150, n, "a pass hands over at most Batch messages")
	n, err = s.Poll(context.Background(), ingest)
	require.NoError(t, err)
	assert.Equal(t, 50, n)
	assert.Len(t, seen, 200)
	for id, c := range seen {
		assert.Equal(t, 1, c, id)
	}
	assert.Len(t, list(t, filepath.Join(dir, "cur")), 200)
}

func TestKeywordLetterReusesDovecotKeywords(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "dovecot-keywords"), []byte("0 $Junk\n1 $triaged\n3 Other"), 0o600))
	l, err := keywordLetter(dir, "$triaged")
	require.NoError(t, err)
	assert.Equal(t, byte('b'), l)
	l, err = keywordLetter(dir, "$new")
	require.NoError(t, err)
	assert.Equal(t, byte('c'), l)
	data, _ := os.ReadFile(filepath.Join(dir, "dovecot-keywords"))
	assert.Equal(t, "0 $Junk\n1 $triaged\n3 Other\n2 $new\n", string(data))
	assert.Equal(t, "Sab", addFlag("Sa", 'b'))
	assert.Equal(t, "Sa", addFlag("S", 'a'))
	assert.Equal(t, "S", addFlag("S", 'S'))
}

func TestMoveSink(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "cur"), 0o700))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "cur", "100.M1.host:2,Sa"), []byte("x"), 0o600))
	m := NewMoveSink(NewSource("support", dir, ""))
	a := ticket.Action{TicketID: "maildir:support/100.M1.host", Kind: ticket.KindMaildirMove, Target: "agent-auth"}
	require.NoError(t, m.Send(context.Background(), a))
	assert.Equal(t, []string{"100.M1.host:2,Sa"}, list(t, filepath.Join(dir, ".agent-auth", "cur")))
	assert.Empty(t, list(t, filepath.Join(dir, "cur")))
	require.NoError(t, m.Send(context.Background(), a), "moving again is a no-op")

	// A message whose ticket is stored but not yet marked handled is moved
	// straight from new/, marked with the keyword.
	writeMail(t, dir, "200.M2.host", "x")
	require.NoError(t, m.Send(context.Background(), ticket.Action{TicketID: "maildir:support/200.M2.host", Target: "agent-auth"}))
	assert.Equal(t, []string{"100.M1.host:2,Sa", "200.M2.host:2,a"}, list(t, filepath.Join(dir, ".agent-auth", "cur")))
	assert.Empty(t, list(t, filepath.Join(dir, "new")))

	for _, bad := range []ticket.Action{
		{TicketID: "slack:T/C/1", Target: "x"},
		{TicketID: "maildir:other/1", Target: "x"},
		{TicketID: "maildir:support/100.M1.host", Target: "../escape"},
		{TicketID: "maildir:support/404.M1.host", Target: "x"},
	} {
		err := m.Send(context.Background(), bad)
		assert.True(t, outbox.IsPermanent(err), "%+v: %v", bad, err)
	}
}

func TestListNewKeepsTheOldest(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{"5.a", "3.c", "1.e", "4.b", "2.d", ".hidden"} {
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte("x"), 0o600))
	}
	require.NoError(t, os.Mkdir(filepath.Join(dir, "0.dir"), 0o700))

	all, err := listNew(dir, 10)
	require.NoError(t, err)
	assert.Equal(t, []string{"1.e", "2.d", "3.c", "4.b", "5.a"}, all, "messages only, oldest name first")

	some, err := listNew(dir, 2)
	require.NoError(t, err)
	assert.Equal(t, []string{"1.e", "2.d"}, some, "the oldest, however the directory orders them")

	// More names than one read of the directory returns, and than twice n.
	big := t.TempDir()
	var want []string
	for i := range 3000 {
		name := fmt.Sprintf("%d.M%dP1.host", 1790000000+(i*7919)%3000, i)
		require.NoError(t, os.WriteFile(filepath.Join(big, name), nil, 0o600))
		want = append(want, name)
	}
	slices.Sort(want)
	got, err := listNew(big, 100)
	require.NoError(t, err)
	assert.Equal(t, want[:100], got)

	_, err = listNew(filepath.Join(dir, "missing"), 3)
	assert.Error(t, err)
}

func TestPassesTakeTheBacklogOldestFirst(t *testing.T) {
	md := t.TempDir()
	for _, d := range []string{"new", "cur", "tmp"} {
		require.NoError(t, os.MkdirAll(filepath.Join(md, d), 0o700))
	}
	var names []string
	for i := range 30 {
		name := fmt.Sprintf("%d.M%dP1.host", 1790000000+(i*7)%30, i)
		require.NoError(t, os.WriteFile(filepath.Join(md, "new", name), []byte("Subject: s\r\n\r\nbody\r\n"), 0o600))
		names = append(names, name)
	}
	slices.Sort(names)
	s := NewSource("b", md, "")
	s.Workers, s.Batch, s.Listed = 1, 4, 10
	var seen []string
	ingest := func(_ context.Context, in pipeline.Incoming) error {
		seen = append(seen, strings.TrimPrefix(in.ID, "maildir:b/"))
		return nil
	}
	n, err := s.Poll(context.Background(), ingest)
	require.NoError(t, err)
	assert.Equal(t, 4, n)
	// Mail delivered meanwhile waits until the names already read are
	// used up; one taken by someone else is skipped.
	late := "1780000000.M99P1.host" // older by name, but read later
	require.NoError(t, os.WriteFile(filepath.Join(md, "new", late), []byte("Subject: s\r\n\r\nbody\r\n"), 0o600))
	require.NoError(t, os.Remove(filepath.Join(md, "new", names[5])))
	for {
		n, err := s.Poll(context.Background(), ingest)
		require.NoError(t, err)
		if n == 0 {
			break
		}
	}
	want := slices.Concat(names[:5], names[6:10], []string{late}, names[10:])
	for i := range want {
		want[i] = uniqueName(want[i])
	}
	assert.Equal(t, want, seen)
	left, err := os.ReadDir(filepath.Join(md, "new"))
	require.NoError(t, err)
	assert.Empty(t, left)
}

// TestMoveHandedOverAtIngestMarksTheMessage checks the one-rename path: a
// message whose maildir.move the outbox took at ingest stays in new/ for
// the move, which marks it; one whose move never comes is marked when the
// source meets it again as a duplicate.
func TestMoveHandedOverAtIngestMarksTheMessage(t *testing.T) {
	dir := t.TempDir()
	writeMail(t, dir, "100.M1.host", "Subject: x\n\nERR_NGROK_108\n")
	writeMail(t, dir, "101.M2.host", "Subject: y\n\nERR_NGROK_3200\n")
	writeMail(t, dir, "102.M3.host", "Subject: z\n\nno code\n")
	s := NewSource("support", dir, "")
	moved := func(id string) *store.Record {
		return &store.Record{Claim: &store.Claim{Worker: "w/direct"}, Actions: []ticket.Action{
			{TicketID: id, Kind: ticket.KindJSONL, State: ticket.StateRunning},
			{TicketID: id, Kind: ticket.KindMaildirMove, Target: "agent-auth", State: ticket.StateRunning},
		}}
	}
	var mu sync.Mutex
	stored := map[string]bool{}
	ingest := func(_ context.Context, in pipeline.Incoming) error {
		mu.Lock()
		dup := stored[in.ID]
		stored[in.ID] = true
		mu.Unlock()
		if dup {
			return nil // a duplicate: the runner acknowledges it as done
		}
		switch in.ID {
		case "maildir:support/100.M1.host", "maildir:support/101.M2.host":
			in.OnStored(moved(in.ID))
		case "maildir:support/102.M3.host":
			// A move stored pending (not handed over) or a shadow one
			// leaves the marking to the source.
			in.OnStored(&store.Record{Actions: []ticket.Action{{Kind: ticket.KindMaildirMove, State: ticket.StatePending}}})
		}
		return nil
	}
	n, err := s.Poll(context.Background(), ingest)
	require.NoError(t, err)
	assert.Equal(t, 3, n)
	assert.Equal(t, []string{"100.M1.host", "101.M2.host"}, list(t, filepath.Join(dir, "new")), "left for their moves")
	assert.Equal(t, []string{"102.M3.host:2,a"}, list(t, filepath.Join(dir, "cur")))

	m := NewMoveSink(s)
	require.NoError(t, m.Send(context.Background(), ticket.Action{TicketID: "maildir:support/100.M1.host", Target: "agent-auth"}))
	assert.Equal(t, []string{"100.M1.host:2,a"}, list(t, filepath.Join(dir, ".agent-auth", "cur")), "moved out of new/ and marked")

	// 101's move has not run: the next pass meets it again, stored.
	n, err = s.Poll(context.Background(), ingest)
	require.NoError(t, err)
	assert.Equal(t, 1, n)
	assert.Empty(t, list(t, filepath.Join(dir, "new")))
	assert.Equal(t, []string{"101.M2.host:2,a", "102.M3.host:2,a"}, list(t, filepath.Join(dir, "cur")))
	require.NoError(t, m.Send(context.Background(), ticket.Action{TicketID: "maildir:support/101.M2.host", Target: "agent-auth"}))
	assert.Equal(t, []string{"100.M1.host:2,a", "101.M2.host:2,a"}, list(t, filepath.Join(dir, ".agent-auth", "cur")))
	assert.Equal(t, []string{"102.M3.host:2,a"}, list(t, filepath.Join(dir, "cur")), "nothing is deleted")
}

// countingSource counts the passes the runner makes over a source.
type countingSource struct {
	*Source
	passes int
}

func (c *countingSource) Poll(ctx context.Context, ingest func(context.Context, pipeline.Incoming) error) (int, error) {
	c.passes++
	return c.Source.Poll(ctx, ingest)
}

// TestPoisonMailDoesNotStallTheMailbox: a route template that fails on
// one mail (here only on a mail without a subject) parks that mail's
// action and lets the ticket, and every mail after it, through in the
// same pass.
func TestPoisonMailDoesNotStallTheMailbox(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	const mails = 1000
	for i := range mails {
		subject := fmt.Sprintf("Subject: tunnel %d down\n", i)
		if i == 17 {
			subject = "" // the poison: {{index .Codes 99}} is reached only here
		}
		writeMail(t, dir, fmt.Sprintf("%d.M%d.host", 1000+i, i), "From: a@example.com\n"+subject+"\nERR_NGROK_108\n")
	}
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "t.db"))
	require.NoError(t, err)
	t.Cleanup(func() { st.Close() })
	cat, err := catalog.Default()
	require.NoError(t, err)
	rules, err := route.Parse("triage.yaml", []byte(`
routes:
  default:
    actions:
      - kind: webhook
        target: helpdesk
        template: "{{if .Ticket.Subject}}{{.Ticket.Subject}}{{else}}{{(index .Codes 99).Name}}{{end}}"
`), route.Options{})
	require.NoError(t, err)
	p := &pipeline.Pipeline{Catalog: cat, Rules: rules, Store: st}
	src := &countingSource{Source: NewSource("support", dir, "")}
	r := &pipeline.Runner{Pipeline: p}

	n, err := r.Once(ctx, []pipeline.SourceSpec{{Source: src}})
	require.NoError(t, err, "no pass fails")
	assert.Equal(t, mails, n)
	assert.Equal(t, 2, src.passes, "one pass takes everything, one more finds new/ empty")
	assert.Empty(t, list(t, filepath.Join(dir, "new")), "every mail was acknowledged")
	assert.Len(t, list(t, filepath.Join(dir, "cur")), mails)

	counts, err := st.CountActions(ctx)
	require.NoError(t, err)
	assert.Equal(t, mails-1, counts[ticket.StatePending])
	assert.Equal(t, 1, counts[ticket.StateFailed])

	rec, err := st.Ticket(ctx, "maildir:support/1017.M17.host")
	require.NoError(t, err, "the poison mail's ticket is stored")
	require.Len(t, rec.Actions, 1)
	a := rec.Actions[0]
	assert.Equal(t, ticket.StateFailed, a.State, "parked")
	assert.Zero(t, a.Attempts, "never attempted")
	assert.Contains(t, a.LastError, `rule "default": action 1 (webhook): template`)
	assert.Contains(t, a.LastError, "index out of range")
	assert.True(t, route.Parked(a))
	assert.ErrorIs(t, st.Requeue(ctx, a.ID), store.ErrNotFound, "nothing was rendered, so there is nothing to retry")
}
