package imap

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	goimap "github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
	"github.com/emersion/go-imap/v2/imapserver"
	"github.com/emersion/go-imap/v2/imapserver/imapmemserver"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/triage-bot/triage/outbox"
	"github.com/triage-bot/triage/pipeline"
	"github.com/triage-bot/triage/store"
	"github.com/triage-bot/triage/ticket"
)

// testServer is an IMAP server the suite runs against: go-imap's
// in-memory server, or a real Dovecot.
type testServer struct {
	name string
	addr string
	// restart stops and starts the server on the same address (Dovecot).
	restart func(t *testing.T)
	// spy sees the in-memory server's commands (nil for Dovecot).
	spy *spy
}

func (s *testServer) account() Account {
	return Account{Name: "support", Host: s.addr, TLS: "plain", Username: "bot", Password: "secret", Auth: "password",
		Idle: true, Timeout: 5 * time.Second, Triaged: "$triaged"}
}

// admin is a second client that plays the mail server's other users:
// delivering, inspecting and recreating mailboxes.
func (s *testServer) admin(t *testing.T) *imapclient.Client {
	t.Helper()
	c, err := imapclient.DialInsecure(s.addr, nil)
	require.NoError(t, err)
	require.NoError(t, c.Login("bot", "secret").Wait())
	t.Cleanup(func() { c.Close() })
	return c
}

func appendMsg(t *testing.T, c *imapclient.Client, mailbox, raw string, flags ...goimap.Flag) {
	t.Helper()
	cmd := c.Append(mailbox, int64(len(raw)), &goimap.AppendOptions{Flags: flags})
	_, err := cmd.Write([]byte(raw))
	require.NoError(t, err)
	require.NoError(t, cmd.Close())
	_, err = cmd.Wait()
	require.NoError(t, err)
}

// messages returns the mailbox's messages: UID → flags, and Message-IDs.
func messages(t *testing.T, c *imapclient.Client, mailbox string) map[string][]string {
	t.Helper()
	sel, err := c.Select(mailbox, &goimap.SelectOptions{ReadOnly: true}).Wait()
	require.NoError(t, err)
	out := map[string][]string{}
	if sel.NumMessages == 0 {
		return out
	}
	var all goimap.SeqSet
	all.AddRange(1, sel.NumMessages)
	msgs, err := c.Fetch(all, &goimap.FetchOptions{Flags: true, Envelope: true}).Collect()
	require.NoError(t, err)
	for _, m := range msgs {
		if m.Envelope == nil {
			continue // moved away while we fetched: only its flags came
		}
		var fl []string
		for _, f := range m.Flags {
			fl = append(fl, string(f))
		}
		slices.Sort(fl)
		out[m.Envelope.MessageID] = fl
	}
	return out
}

func mkmail(id, from, subject, body string) string {
	return "From: " + from + "\r\nTo: support@example.com\r\nSubject: " + subject + "\r\nMessage-ID: <" + id +
		">\r\nDate: Fri, 27 Nov 2026 03:00:00 +0000\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n" + body + "\r\n"
}

func newMemServer(t *testing.T, caps ...goimap.Cap) *testServer {
	t.Helper()
	u := imapmemserver.NewUser("bot", "secret")
	require.NoError(t, u.Create("INBOX", nil))
	set := goimap.CapSet{goimap.CapIMAP4rev1: {}}
	if len(caps) == 0 {
		set[goimap.CapIMAP4rev2] = struct{}{}
	}
	for _, c := range caps {
		set[c] = struct{}{}
	}
	sp := &spy{}
	srv := imapserver.New(&imapserver.Options{
		NewSession: func(*imapserver.Conn) (imapserver.Session, *imapserver.GreetingData, error) {
			return &spySession{user: u, spy: sp}, nil, nil
		},
		Caps: set, InsecureAuth: true, Logger: discardLogger{},
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return &testServer{name: "memserver", addr: ln.Addr().String(), spy: sp}
}

// spy counts the in-memory server's STORE, MOVE, COPY and EXPUNGE
// commands by how many messages they name, and can refuse those that
// name more than one (a server that rejects a batched command).
type spy struct {
	mu       sync.Mutex
	cmds     []string        // "STORE 3", "MOVE 3", "EXPUNGE all", "UID EXPUNGE 2"
	refuse   map[string]bool // commands refused on several messages
	selects  map[string]int  // SELECTs by mailbox
	searches int             // SEARCH commands
}

// takeSearches returns the SEARCH commands seen since the last call.
func (s *spy) takeSearches() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := s.searches
	s.searches = 0
	return n
}

func (s *spy) selected(mailbox string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.selects[mailbox]
}

func (s *spy) record(cmd string, set goimap.NumSet) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := countNums(set)
	s.cmds = append(s.cmds, fmt.Sprintf("%s %d", cmd, n))
	if s.refuse[cmd] && n > 1 {
		return &goimap.Error{Type: goimap.StatusResponseTypeNo, Text: "test server refuses commands on several messages"}
	}
	return nil
}

// take returns the commands seen since the last take and forgets them.
func (s *spy) take() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := s.cmds
	s.cmds = nil
	return out
}

// refuseSets makes the server refuse cmds when they name several
// messages, until the test ends.
func (s *spy) refuseSets(t *testing.T, cmds ...string) {
	s.mu.Lock()
	s.refuse = map[string]bool{}
	for _, c := range cmds {
		s.refuse[c] = true
	}
	s.mu.Unlock()
	t.Cleanup(func() {
		s.mu.Lock()
		s.refuse = nil
		s.mu.Unlock()
	})
}

// countNums counts the numbers of a set with static bounds.
func countNums(set goimap.NumSet) int {
	n := 0
	switch set := set.(type) {
	case goimap.UIDSet:
		for _, r := range set {
			n += int(r.Stop-r.Start) + 1
		}
	case goimap.SeqSet:
		for _, r := range set {
			n += int(r.Stop-r.Start) + 1
		}
	}
	return n
}

// spySession is an in-memory server session that shows its commands to
// the spy.
type spySession struct {
	*imapmemserver.UserSession
	user *imapmemserver.User
	spy  *spy
}

func (s *spySession) Login(username, password string) error {
	if err := s.user.Login(username, password); err != nil {
		return err
	}
	s.UserSession = imapmemserver.NewUserSession(s.user)
	return nil
}

func (s *spySession) Select(mailbox string, opts *goimap.SelectOptions) (*goimap.SelectData, error) {
	s.spy.mu.Lock()
	if s.spy.selects == nil {
		s.spy.selects = map[string]int{}
	}
	s.spy.selects[mailbox]++
	s.spy.mu.Unlock()
	return s.UserSession.Select(mailbox, opts)
}

func (s *spySession) Search(kind imapserver.NumKind, criteria *goimap.SearchCriteria, opts *goimap.SearchOptions) (*goimap.SearchData, error) {
	s.spy.mu.Lock()
	s.spy.searches++
	s.spy.mu.Unlock()
	return s.UserSession.Search(kind, criteria, opts)
}

func (s *spySession) Store(w *imapserver.FetchWriter, set goimap.NumSet, flags *goimap.StoreFlags, opts *goimap.StoreOptions) error {
	if err := s.spy.record("STORE", set); err != nil {
		return err
	}
	return s.UserSession.Store(w, set, flags, opts)
}

func (s *spySession) Move(w *imapserver.MoveWriter, set goimap.NumSet, dest string) error {
	if err := s.spy.record("MOVE", set); err != nil {
		return err
	}
	return s.UserSession.Move(w, set, dest)
}

func (s *spySession) Copy(set goimap.NumSet, dest string) (*goimap.CopyData, error) {
	if err := s.spy.record("COPY", set); err != nil {
		return nil, err
	}
	return s.UserSession.Copy(set, dest)
}

func (s *spySession) Expunge(w *imapserver.ExpungeWriter, uids *goimap.UIDSet) error {
	if uids == nil {
		s.spy.mu.Lock()
		s.spy.cmds = append(s.spy.cmds, "EXPUNGE all")
		s.spy.mu.Unlock()
	} else if err := s.spy.record("UID EXPUNGE", *uids); err != nil {
		return err
	}
	return s.UserSession.Expunge(w, uids)
}

type discardLogger struct{}

func (discardLogger) Printf(string, ...any) {}

// repoRoot finds the module root for the Dovecot script.
func repoRoot(t *testing.T) string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

// NewDovecot starts a throwaway Dovecot through scripts/dovecot-test-server.sh.
// It skips when dovecot is not installed, and fails under CI=true.
func newDovecot(t *testing.T) *testServer {
	t.Helper()
	if _, err := exec.LookPath("dovecot"); err != nil || os.Geteuid() != 0 {
		if os.Getenv("CI") == "true" {
			t.Fatalf("dovecot is required in CI (apt-get install -y dovecot-imapd; tests run as root)")
		}
		t.Skip("dovecot not installed or not root: apt-get install -y dovecot-imapd to run the Dovecot tests")
	}
	dir := t.TempDir()
	script := filepath.Join(repoRoot(t), "scripts", "dovecot-test-server.sh")
	out, err := exec.Command(script, "start", dir).CombinedOutput()
	require.NoError(t, err, "start dovecot: %s", out)
	addr := strings.TrimSpace(string(out))
	t.Cleanup(func() { _ = exec.Command(script, "stop", dir).Run() })
	_, port, _ := net.SplitHostPort(addr)
	return &testServer{name: "dovecot", addr: addr, restart: func(t *testing.T) {
		out, err := exec.Command(script, "stop", dir).CombinedOutput()
		require.NoError(t, err, "stop dovecot: %s", out)
		cmd := exec.Command(script, "start", dir)
		cmd.Env = append(os.Environ(), "PORT="+port)
		out, err = cmd.CombinedOutput()
		require.NoError(t, err, "restart dovecot: %s", out)
	}}
}

// servers runs f against the in-memory server and, when available, Dovecot.
func servers(t *testing.T, f func(t *testing.T, s *testServer)) {
	t.Run("memserver", func(t *testing.T) { f(t, newMemServer(t)) })
	t.Run("dovecot", func(t *testing.T) { f(t, newDovecot(t)) })
}

// fakeStore is the store as the source and sinks see it.
type fakeStore struct {
	mu      sync.Mutex
	cursors map[string]string
	msgIDs  map[string]bool
	tickets map[string]*store.Record
}

func newFakeStore() *fakeStore {
	return &fakeStore{cursors: map[string]string{}, msgIDs: map[string]bool{}, tickets: map[string]*store.Record{}}
}

func (f *fakeStore) Cursor(_ context.Context, k string) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.cursors[k], nil
}

func (f *fakeStore) SetCursor(_ context.Context, k, v string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.cursors[k] = v
	return nil
}

func (f *fakeStore) HasMessageID(_ context.Context, channel, id string) (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.msgIDs[channel+" "+id], nil
}

func (f *fakeStore) Ticket(_ context.Context, id string) (*store.Record, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if r, ok := f.tickets[id]; ok {
		return r, nil
	}
	return nil, store.ErrNotFound
}

// ingester records what a source hands over, like the pipeline would.
type ingester struct {
	st   *fakeStore
	mu   sync.Mutex
	got  []pipeline.Incoming
	ids  []string
	fail func(pipeline.Incoming) error
}

func (in *ingester) ingest(_ context.Context, inc pipeline.Incoming) error {
	if in.fail != nil {
		if err := in.fail(inc); err != nil {
			return err
		}
	}
	var msgID string
	if inc.Raw != nil {
		b := make([]byte, 4096)
		n, _ := inc.Raw.Read(b)
		msgID = messageID(b[:n])
	} else if inc.Ticket != nil {
		msgID = inc.Ticket.MessageID
	}
	in.mu.Lock()
	in.got = append(in.got, inc)
	in.ids = append(in.ids, msgID)
	in.mu.Unlock()
	in.st.mu.Lock()
	in.st.msgIDs[inc.Channel+" "+msgID] = true
	in.st.tickets[inc.ID] = &store.Record{Ticket: ticket.Ticket{ID: inc.ID, MessageID: msgID}}
	in.st.mu.Unlock()
	return nil
}

func TestSource(t *testing.T) {
	servers(t, func(t *testing.T, s *testServer) {
		ctx := context.Background()
		admin := s.admin(t)

		t.Run("first run skips history, then takes new mail without setting \\Seen", func(t *testing.T) {
			st := newFakeStore()
			in := &ingester{st: st}
			appendMsg(t, admin, "INBOX", mkmail("old-1@x", "ana@example.com", "old", "ERR_NGROK_108"))
			src := NewSource(s.account(), "INBOX", st, nil)
			defer src.Close()
			n, err := src.Poll(ctx, in.ingest)
			require.NoError(t, err)
			assert.Zero(t, n, "history before the first run is not processed")
			appendMsg(t, admin, "INBOX", mkmail("new-1@x", "ana@example.com", "new", "ERR_NGROK_108"))
			n, err = src.Poll(ctx, in.ingest)
			require.NoError(t, err)
			assert.Equal(t, 1, n)
			assert.Equal(t, []string{"new-1@x"}, in.ids)
			assert.Regexp(t, `^imap:support/INBOX/\d+/\d+$`, in.got[0].ID)
			assert.Equal(t, "support/INBOX", in.got[0].Channel)
			msgs := messages(t, admin, "INBOX")
			assert.Equal(t, []string{"$triaged"}, msgs["new-1@x"], "acknowledged, and not \\Seen")
			assert.Empty(t, msgs["old-1@x"])
			n, err = src.Poll(ctx, in.ingest)
			require.NoError(t, err)
			assert.Zero(t, n, "nothing twice")
		})
	})
}

func TestSourceBackfillErrorsAndRescan(t *testing.T) {
	servers(t, func(t *testing.T, s *testServer) {
		ctx := context.Background()
		admin := s.admin(t)
		require.NoError(t, admin.Create("Support", nil).Wait())
		for i := 1; i <= 3; i++ {
			appendMsg(t, admin, "Support", mkmail(fmt.Sprintf("m%d@x", i), "ana@example.com", "s", "body"))
		}
		st := newFakeStore()
		fails := true
		in := &ingester{st: st, fail: func(inc pipeline.Incoming) error {
			if fails && len(st.msgIDs) == 1 {
				return errors.New("store down")
			}
			return nil
		}}
		acct := s.account()
		acct.Backfill = true
		src := NewSource(acct, "Support", st, nil)
		defer src.Close()

		n, err := src.Poll(ctx, in.ingest)
		assert.ErrorContains(t, err, "store down")
		assert.Equal(t, 1, n)
		msgs := messages(t, admin, "Support")
		assert.Equal(t, []string{"$triaged"}, msgs["m1@x"])
		assert.Empty(t, msgs["m2@x"], "not acknowledged: its ticket was not stored")

		fails = false
		n, err = src.Poll(ctx, in.ingest)
		require.NoError(t, err)
		assert.Equal(t, 2, n)
		assert.Equal(t, []string{"m1@x", "m2@x", "m3@x"}, in.ids)

		// The mailbox is deleted and recreated (UIDVALIDITY changes) with
		// the same mail plus one new message: only the new one is handed over.
		require.NoError(t, admin.Unselect().Wait())
		require.NoError(t, admin.Delete("Support").Wait())
		require.NoError(t, admin.Create("Support", nil).Wait())
		for i := 1; i <= 4; i++ {
			appendMsg(t, admin, "Support", mkmail(fmt.Sprintf("m%d@x", i), "ana@example.com", "s", "body"))
		}
		total := 0
		for {
			n, err := src.Poll(ctx, in.ingest)
			require.NoError(t, err)
			if n == 0 {
				break
			}
			total += n
		}
		assert.Equal(t, []string{"m1@x", "m2@x", "m3@x", "m4@x"}, in.ids, "nothing processed twice")
		msgs = messages(t, admin, "Support")
		for i := 1; i <= 4; i++ {
			assert.Equal(t, []string{"$triaged"}, msgs[fmt.Sprintf("m%d@x", i)])
		}
	})
}

func TestSourceOversized(t *testing.T) {
	s := newMemServer(t)
	admin := s.admin(t)
	body := strings.Repeat("ERR_NGROK_108 is all over my log\r\n", 8000) // ≈ 270 KB
	appendMsg(t, admin, "INBOX", mkmail("big@x", "ana@example.com", "big", body))
	st := newFakeStore()
	in := &ingester{st: st}
	acct := s.account()
	acct.Backfill, acct.MaxMessageBytes = true, 64<<10
	src := NewSource(acct, "INBOX", st, nil)
	defer src.Close()
	n, err := src.Poll(context.Background(), in.ingest)
	require.NoError(t, err)
	require.Equal(t, 1, n)
	tk := in.got[0].Ticket
	require.NotNil(t, tk, "an oversized message is normalized by the source")
	assert.Equal(t, "big@x", tk.MessageID)
	assert.Contains(t, strings.Join(tk.Problems, "\n"), "only its headers and first 0.1 MiB were read")
}

// TestSourceDrainWindow drains a mailbox in passes of Batch messages: one
// SELECT and SEARCH serve the whole drain, and still every message is
// handed over once and acknowledged, a failed one is taken again, and
// mail arriving mid-drain comes after.
func TestSourceDrainWindow(t *testing.T) {
	tests := []struct {
		name        string
		fail        string // Message-ID whose first ingest fails
		lateAt      int    // deliver late@x after this many passes (0: never)
		wantSelects int    // SELECTs of the drain (in-memory server)
	}{
		{"one SELECT for the drain", "", 0, 2}, // the last pass finds nothing new
		{"a failed message is taken again", "d4@x", 0, -1},
		{"mail arriving mid-drain comes after", "", 2, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			servers(t, func(t *testing.T, s *testServer) {
				ctx := context.Background()
				admin := s.admin(t)
				require.NoError(t, admin.Create("Drain", nil).Wait())
				var want []string
				for i := range 10 {
					id := fmt.Sprintf("d%d@x", i)
					want = append(want, id)
					appendMsg(t, admin, "Drain", mkmail(id, "ana@example.com", "s", "ERR_NGROK_108"))
				}
				st := newFakeStore()
				failed := false
				in := &ingester{st: st, fail: func(inc pipeline.Incoming) error {
					b := make([]byte, 4096)
					n, _ := inc.Raw.(io.ReaderAt).ReadAt(b, 0)
					if messageID(b[:n]) == tt.fail && !failed {
						failed = true
						return errors.New("store down")
					}
					return nil
				}}
				acct := s.account()
				acct.Backfill, acct.Batch, acct.Inflight = true, 3, 2
				src := NewSource(acct, "Drain", st, nil)
				defer src.Close()
				before := 0
				if s.spy != nil {
					before = s.spy.selected("Drain")
				}
				for pass := 1; pass < 20; pass++ {
					n, err := src.Poll(ctx, in.ingest)
					if tt.fail != "" && err != nil {
						require.ErrorContains(t, err, "store down")
						continue
					}
					require.NoError(t, err)
					if pass == tt.lateAt {
						appendMsg(t, admin, "Drain", mkmail("late@x", "ana@example.com", "s", "b"))
						want = append(want, "late@x")
					}
					if n == 0 {
						break
					}
				}
				assert.ElementsMatch(t, want, in.ids, "each message once")
				if tt.lateAt > 0 {
					assert.Equal(t, "late@x", in.ids[len(in.ids)-1], "new mail after the mail found before it")
				}
				msgs := messages(t, admin, "Drain")
				for _, id := range want {
					assert.Equal(t, []string{"$triaged"}, msgs[id], id)
				}
				if s.spy != nil && tt.wantSelects >= 0 {
					assert.Equal(t, tt.wantSelects, s.spy.selected("Drain")-before-1, "SELECTs by the source (less the check above)")
				}
			})
		})
	}
}

func TestWatcherWakesOnAppend(t *testing.T) {
	servers(t, func(t *testing.T, s *testServer) {
		admin := s.admin(t)
		acct := s.account()
		acct.Noop = 500 * time.Millisecond // exercise the liveness cycle too
		w := NewWatcher(acct, "INBOX", nil)
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- w.Run(ctx) }()
		defer func() { cancel(); <-done }()

		waitWake := func(what string, within time.Duration) {
			t.Helper()
			select {
			case <-w.Wake():
			case <-time.After(within):
				t.Fatalf("no wake-up within %s after %s", within, what)
			}
		}
		waitWake("connecting", 10*time.Second)
		time.Sleep(1200 * time.Millisecond) // let a NOOP cycle pass while idling
		drain(w.Wake())
		appendMsg(t, admin, "INBOX", mkmail("w1@x", "ana@example.com", "s", "b"))
		waitWake("APPEND", 2*time.Second)

		if s.restart == nil {
			return
		}
		// A restart mid-IDLE: the watcher reconnects and wakes the source
		// so nothing delivered meanwhile waits for the next poll.
		s.restart(t)
		drain(w.Wake())
		admin2 := s.admin(t)
		appendMsg(t, admin2, "INBOX", mkmail("w2@x", "ana@example.com", "s", "b"))
		waitWake("restart and APPEND", 15*time.Second)
	})
}

func drain(c <-chan struct{}) {
	for {
		select {
		case <-c:
		default:
			return
		}
	}
}

func TestSourceSurvivesServerRestart(t *testing.T) {
	s := newDovecot(t)
	ctx := context.Background()
	admin := s.admin(t)
	st := newFakeStore()
	in := &ingester{st: st}
	acct := s.account()
	acct.Backfill = true
	src := NewSource(acct, "INBOX", st, nil)
	defer src.Close()
	appendMsg(t, admin, "INBOX", mkmail("r1@x", "ana@example.com", "s", "b"))
	_, err := src.Poll(ctx, in.ingest)
	require.NoError(t, err)
	s.restart(t)
	admin = s.admin(t)
	appendMsg(t, admin, "INBOX", mkmail("r2@x", "ana@example.com", "s", "b"))
	deadline := time.Now().Add(30 * time.Second)
	for len(in.ids) < 2 && time.Now().Before(deadline) {
		_, _ = src.Poll(ctx, in.ingest) // the first pass after the restart may fail: the old connection is dead
	}
	assert.Equal(t, []string{"r1@x", "r2@x"}, in.ids)
}

func TestActions(t *testing.T) {
	servers(t, func(t *testing.T, s *testServer) {
		ctx := context.Background()
		admin := s.admin(t)
		st := newFakeStore()
		in := &ingester{st: st}
		acct := s.account()
		acct.Backfill = true
		acct.CreateFolders = true
		acct.Folders = map[string]string{"agent-auth": "Triage.agent-auth"}
		if s.name == "memserver" {
			acct.Folders["agent-auth"] = "Triage/agent-auth"
		}
		appendMsg(t, admin, "INBOX", mkmail("a1@x", "ana@example.com", "s", "ERR_NGROK_108"))
		appendMsg(t, admin, "INBOX", mkmail("a2@x", "bob@example.com", "s", "hello"))
		// A message the user marked \Deleted but did not expunge: a move of
		// another message must leave it alone.
		appendMsg(t, admin, "INBOX", mkmail("keep@x", "eve@example.com", "s", "x"), goimap.FlagDeleted)
		src := NewSource(acct, "INBOX", st, nil)
		defer src.Close()
		_, err := src.Poll(ctx, in.ingest)
		require.NoError(t, err)
		require.Len(t, in.got, 3)

		acts := NewActions([]Account{acct}, st, nil)
		defer acts.Close()
		id := in.got[0].ID
		flag := ticket.Action{TicketID: id, Kind: ticket.KindIMAPFlag, Target: "$ngrok-108 $triage-agent-auth", Key: "k1"}
		require.NoError(t, acts.FlagSink().Send(ctx, flag))
		require.NoError(t, acts.FlagSink().Send(ctx, flag), "a repeat is harmless")
		move := ticket.Action{TicketID: id, Kind: ticket.KindIMAPMove, Target: "agent-auth", Key: "k2"}
		require.NoError(t, acts.MoveSink().Send(ctx, move))
		require.NoError(t, acts.MoveSink().Send(ctx, move), "a repeat finds it moved")

		inbox := messages(t, admin, "INBOX")
		assert.NotContains(t, inbox, "a1@x")
		assert.Contains(t, inbox, "a2@x")
		assert.Contains(t, inbox, "keep@x", "nothing the bot did not move is expunged")
		moved := messages(t, admin, acct.Folders["agent-auth"])
		assert.Equal(t, []string{"$ngrok-108", "$triage-agent-auth", "$triaged"}, moved["a1@x"])

		// A flag after the move still finds the message in its new folder.
		st.tickets[id].Actions = []ticket.Action{move}
		require.NoError(t, acts.FlagSink().Send(ctx, ticket.Action{TicketID: id, Kind: ticket.KindIMAPFlag, Target: `\Flagged`, Key: "k3"}))
		moved = messages(t, admin, acct.Folders["agent-auth"])
		assert.Contains(t, moved["a1@x"], `\Flagged`)

		err = acts.FlagSink().Send(ctx, ticket.Action{TicketID: in.got[1].ID, Kind: ticket.KindIMAPFlag, Target: `\Deleted`})
		assert.True(t, outbox.IsPermanent(err), "never \\Deleted: %v", err)
		err = acts.MoveSink().Send(ctx, ticket.Action{TicketID: "slack:T/C/1", Kind: ticket.KindIMAPMove, Target: "x"})
		assert.True(t, outbox.IsPermanent(err))
	})
}

func TestMoveRefusedWithoutMoveOrUIDPlus(t *testing.T) {
	s := newMemServer(t, goimap.CapIdle) // IMAP4rev1 + IDLE: no MOVE, no UIDPLUS
	ctx := context.Background()
	admin := s.admin(t)
	require.NoError(t, admin.Create("Done", nil).Wait())
	appendMsg(t, admin, "INBOX", mkmail("a1@x", "ana@example.com", "s", "b"))
	appendMsg(t, admin, "INBOX", mkmail("del@x", "eve@example.com", "s", "b"), goimap.FlagDeleted)
	st := newFakeStore()
	in := &ingester{st: st}
	acct := s.account()
	acct.Backfill = true
	src := NewSource(acct, "INBOX", st, nil)
	defer src.Close()
	_, err := src.Poll(ctx, in.ingest)
	require.NoError(t, err)
	acts := NewActions([]Account{acct}, st, nil)
	defer acts.Close()
	err = acts.MoveSink().Send(ctx, ticket.Action{TicketID: in.got[0].ID, Kind: ticket.KindIMAPMove, Target: "Done"})
	require.Error(t, err)
	assert.True(t, outbox.IsPermanent(err))
	assert.Contains(t, err.Error(), "neither MOVE nor UIDPLUS")
	assert.Len(t, messages(t, admin, "INBOX"), 2, "nothing expunged")
}

func TestCheck(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name string
		srv  *testServer
		edit func(*Account)
		want []string
	}{
		{"full server", newMemServer(t), nil, nil},
		{"old server", newMemServer(t, goimap.CapUIDPlus), nil, []string{"no MOVE: imap.move falls back"}},
		{"bare server", newMemServer(t, goimap.Cap("X-NONE")), nil, []string{"no MOVE and no UIDPLUS"}},
		{"wrong password", newMemServer(t), func(a *Account) { a.Password = "nope" }, []string{"auth failed"}},
		{"missing mailbox", newMemServer(t), func(a *Account) { a.Mailboxes = []string{"INBOX", "Nope"} }, []string{"mailbox Nope: cannot open it"}},
		{"nothing listening", &testServer{addr: "127.0.0.1:1"}, nil, []string{"cannot connect"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := tt.srv.account()
			if tt.edit != nil {
				tt.edit(&a)
			}
			got := Check(ctx, a)
			require.Len(t, got, len(tt.want), "%q", got)
			for i, w := range tt.want {
				assert.Contains(t, got[i], w)
			}
		})
	}
}

func TestParseTicketID(t *testing.T) {
	tests := []struct {
		id      string
		acct    string
		mailbox string
		v, uid  uint32
		ok      bool
	}{
		{"imap:support/INBOX/17/42", "support", "INBOX", 17, 42, true},
		{"imap:support/Support/EU/17/42", "support", "Support/EU", 17, 42, true},
		{"imap:support/17/42", "", "", 0, 0, false},
		{"maildir:x/y", "", "", 0, 0, false},
		{"imap:support/INBOX/x/42", "", "", 0, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.id, func(t *testing.T) {
			a, m, v, u, ok := ParseTicketID(tt.id)
			assert.Equal(t, tt.ok, ok)
			if ok {
				assert.Equal(t, []any{tt.acct, tt.mailbox, tt.v, tt.uid}, []any{a, m, v, u})
				assert.Equal(t, tt.id, TicketID(a, m, v, u))
			}
		})
	}
}

func TestXOAUTH2(t *testing.T) {
	mech, ir, err := (&xoauth2{user: "ana@example.com", token: "ya29.tok"}).Start()
	require.NoError(t, err)
	assert.Equal(t, "XOAUTH2", mech)
	assert.Equal(t, "user=ana@example.com\x01auth=Bearer ya29.tok\x01\x01", string(ir))
}

func TestSourceStartDate(t *testing.T) {
	servers(t, func(t *testing.T, s *testServer) {
		admin := s.admin(t)
		old, recent := mkmail("old@x", "ana@example.com", "s", "b"), mkmail("recent@x", "ana@example.com", "s", "b")
		for _, m := range []struct {
			raw string
			at  time.Time
		}{{old, time.Date(2020, 1, 2, 0, 0, 0, 0, time.UTC)}, {recent, time.Now().Add(-time.Hour)}} {
			cmd := admin.Append("INBOX", int64(len(m.raw)), &goimap.AppendOptions{Time: m.at})
			_, err := cmd.Write([]byte(m.raw))
			require.NoError(t, err)
			require.NoError(t, cmd.Close())
			_, err = cmd.Wait()
			require.NoError(t, err)
		}
		st := newFakeStore()
		in := &ingester{st: st}
		acct := s.account()
		acct.StartDate = time.Now().Add(-48 * time.Hour)
		src := NewSource(acct, "INBOX", st, nil)
		defer src.Close()
		n, err := src.Poll(context.Background(), in.ingest)
		require.NoError(t, err)
		assert.Equal(t, 1, n)
		assert.Equal(t, []string{"recent@x"}, in.ids, "mail older than the start date is left alone")
	})
}

// TestSourceInflight ingests many messages at once: each is handed over
// once and acknowledged, and after a failure the cursor stops before the
// failed message while the stored ones after it are acknowledged and
// skipped by the next pass.
func TestSourceInflight(t *testing.T) {
	servers(t, func(t *testing.T, s *testServer) {
		ctx := context.Background()
		admin := s.admin(t)
		require.NoError(t, admin.Create("Burst", nil).Wait())
		for i := range 40 {
			appendMsg(t, admin, "Burst", mkmail(fmt.Sprintf("b%d@x", i), "ana@example.com", "s", "ERR_NGROK_3200"))
		}
		st := newFakeStore()
		failing := "b7@x"
		in := &ingester{st: st, fail: func(inc pipeline.Incoming) error {
			b := make([]byte, 4096)
			n, _ := inc.Raw.(io.ReaderAt).ReadAt(b, 0)
			if messageID(b[:n]) == failing {
				return errors.New("store down")
			}
			return nil
		}}
		acct := s.account()
		acct.Backfill, acct.Inflight = true, 8
		src := NewSource(acct, "Burst", st, nil)
		defer src.Close()

		_, err := src.Poll(ctx, in.ingest)
		assert.ErrorContains(t, err, "store down")
		msgs := messages(t, admin, "Burst")
		assert.Empty(t, msgs[failing], "the failed message is not acknowledged")
		assert.Equal(t, []string{"$triaged"}, msgs["b0@x"])

		failing = ""
		for {
			n, err := src.Poll(ctx, in.ingest)
			require.NoError(t, err)
			if n == 0 {
				break
			}
		}
		seen := map[string]int{}
		for _, id := range in.ids {
			seen[id]++
		}
		assert.Len(t, seen, 40, "every message handed over")
		for id, n := range seen {
			assert.Equal(t, 1, n, "%s handed over once", id)
		}
		msgs = messages(t, admin, "Burst")
		for i := range 40 {
			assert.Equal(t, []string{"$triaged"}, msgs[fmt.Sprintf("b%d@x", i)])
		}
	})
}

// seedBatch delivers one message per Message-ID into mailbox, takes them
// in through a source and returns each Message-ID's ticket ID.
func seedBatch(t *testing.T, s *testServer, admin *imapclient.Client, st *fakeStore, acct Account, mailbox string, ids ...string) map[string]string {
	t.Helper()
	ctx := context.Background()
	onServer := mailbox // as the admin, who writes the server's separator
	if boxes, err := admin.List("", "", nil).Collect(); err == nil && len(boxes) > 0 {
		onServer = serverName(mailbox, boxes[0].Delim)
	}
	if mailbox != "INBOX" {
		require.NoError(t, admin.Create(onServer, nil).Wait())
	}
	for _, id := range ids {
		appendMsg(t, admin, onServer, mkmail(id, "ana@example.com", "s", "ERR_NGROK_108"))
	}
	in := &ingester{st: st}
	acct.Backfill = true
	src := NewSource(acct, mailbox, st, nil)
	defer src.Close()
	for {
		n, err := src.Poll(ctx, in.ingest)
		require.NoError(t, err)
		if n == 0 {
			break
		}
	}
	out := map[string]string{}
	for i, inc := range in.got {
		out[in.ids[i]] = inc.ID
	}
	require.Len(t, out, len(ids))
	if s.spy != nil {
		s.spy.take() // the source's own commands
	}
	return out
}

// expunge removes the message with Message-ID id from mailbox, as
// another client would.
func expunge(t *testing.T, admin *imapclient.Client, mailbox, id string) {
	t.Helper()
	_, err := admin.Select(mailbox, nil).Wait()
	require.NoError(t, err)
	data, err := admin.UIDSearch(&goimap.SearchCriteria{Header: []goimap.SearchCriteriaHeaderField{{Key: "Message-ID", Value: "<" + id + ">"}}}, nil).Wait()
	require.NoError(t, err)
	uids := data.AllUIDs()
	require.Len(t, uids, 1)
	set := goimap.UIDSetNum(uids...)
	require.NoError(t, admin.Store(set, &goimap.StoreFlags{Op: goimap.StoreFlagsAdd, Silent: true, Flags: []goimap.Flag{goimap.FlagDeleted}}, nil).Close())
	require.NoError(t, admin.UIDExpunge(set).Close())
	require.NoError(t, admin.Unselect().Wait())
}

// TestSinksAreBatchSinks: both sinks take a claim's actions at once and
// are in place (a repeat changes nothing), so the outbox records their
// successes once per batch.
func TestSinksAreBatchSinks(t *testing.T) {
	acts := NewActions(nil, nil, nil)
	for name, sink := range map[string]outbox.Sink{"imap.flag": acts.FlagSink(), "imap.move": acts.MoveSink()} {
		_, ok := sink.(outbox.BatchSink)
		assert.True(t, ok, "%s is a BatchSink", name)
		_, ok = sink.(outbox.InPlace)
		assert.True(t, ok, "%s is InPlace", name)
	}
}

// TestBatchFlag sends a claim's imap.flag actions across two targets in
// one batch: one UID STORE per target, flags on exactly those messages; a
// repeat changes nothing; a message gone from the mailbox fails alone; a
// server that refuses the batched STORE gets the actions one at a time.
func TestBatchFlag(t *testing.T) {
	servers(t, func(t *testing.T, s *testServer) {
		ctx := context.Background()
		admin := s.admin(t)
		st := newFakeStore()
		acct := s.account()
		ids := []string{"f0@x", "f1@x", "f2@x", "f3@x", "f4@x", "f5@x", "f6@x", "f7@x", "other@x"}
		tickets := seedBatch(t, s, admin, st, acct, "Flags", ids...)
		acts := NewActions([]Account{acct}, st, nil)
		defer acts.Close()
		sink := acts.FlagSink().(outbox.BatchSink)

		// Interleaved targets, as a claim would hand them over.
		var batch []ticket.Action
		want := map[string][]string{"other@x": {"$triaged"}}
		for i, id := range ids[:8] {
			target := "$kw-a"
			want[id] = []string{"$kw-a", "$triaged"}
			if i%2 == 1 {
				target = "$kw-b  $kw-c" // the same keywords however spaced
				if i == 3 {
					target = "$kw-b $kw-c"
				}
				want[id] = []string{"$kw-b", "$kw-c", "$triaged"}
			}
			batch = append(batch, ticket.Action{TicketID: tickets[id], Kind: ticket.KindIMAPFlag, Target: target, Key: id})
		}
		flagsOf := func() map[string][]string { return messages(t, admin, "Flags") }

		t.Run("flags across two keyword sets", func(t *testing.T) {
			errs := sink.SendBatch(ctx, batch)
			require.Len(t, errs, len(batch))
			for i, err := range errs {
				assert.NoError(t, err, batch[i].Key)
			}
			assert.Equal(t, want, flagsOf(), "exactly those messages, exactly those flags")
			if s.spy != nil {
				assert.Equal(t, []string{"STORE 4", "STORE 4"}, s.spy.take(), "one UID STORE per keyword set")
			}
		})
		t.Run("a repeat changes nothing", func(t *testing.T) {
			for i, err := range sink.SendBatch(ctx, batch) {
				assert.NoError(t, err, batch[i].Key)
			}
			assert.Equal(t, want, flagsOf())
		})
		t.Run("a message gone from the mailbox fails alone", func(t *testing.T) {
			expunge(t, admin, "Flags", "f5@x")
			delete(want, "f5@x")
			more := append(slices.Clone(batch), ticket.Action{TicketID: tickets["other@x"], Kind: ticket.KindIMAPFlag, Target: `\Flagged`, Key: "other"})
			want["other@x"] = []string{`\Flagged`, "$triaged"}
			slices.Sort(want["other@x"])
			errs := sink.SendBatch(ctx, more)
			require.Len(t, errs, len(more))
			for i, err := range errs {
				if more[i].Key == "f5@x" {
					assert.True(t, outbox.IsPermanent(err), "the vanished message: %v", err)
					assert.ErrorContains(t, err, "no longer in Flags")
					continue
				}
				assert.NoError(t, err, more[i].Key)
			}
			assert.Equal(t, want, flagsOf())
		})
		t.Run("bad targets and tickets fail alone", func(t *testing.T) {
			bad := []ticket.Action{
				{TicketID: tickets["f0@x"], Kind: ticket.KindIMAPFlag, Target: `\Deleted`, Key: "deleted"},
				{TicketID: "slack:T/C/1", Kind: ticket.KindIMAPFlag, Target: "$x", Key: "slack"},
				{TicketID: "imap:nobody/INBOX/1/1", Kind: ticket.KindIMAPFlag, Target: "$x", Key: "account"},
				{TicketID: tickets["f0@x"], Kind: ticket.KindIMAPFlag, Target: " ", Key: "empty"},
				{TicketID: tickets["f2@x"], Kind: ticket.KindIMAPFlag, Target: "$kw-d", Key: "good"},
			}
			errs := sink.SendBatch(ctx, bad)
			for i := range 4 {
				assert.True(t, outbox.IsPermanent(errs[i]), "%s: %v", bad[i].Key, errs[i])
			}
			assert.NoError(t, errs[4])
			assert.Equal(t, []string{"$kw-a", "$kw-d", "$triaged"}, flagsOf()["f2@x"], "never \\Deleted")
		})
		t.Run("after a UIDVALIDITY change the message is found by Message-ID", func(t *testing.T) {
			_, _, v, uid, ok := ParseTicketID(tickets["f6@x"])
			require.True(t, ok)
			stale := TicketID(acct.Name, "Flags", v+1, uid)
			st.mu.Lock()
			st.tickets[stale] = &store.Record{Ticket: ticket.Ticket{ID: stale, MessageID: "f6@x"}}
			st.mu.Unlock()
			errs := sink.SendBatch(ctx, []ticket.Action{
				{TicketID: stale, Kind: ticket.KindIMAPFlag, Target: "$kw-v", Key: "stale"},
				{TicketID: tickets["f0@x"], Kind: ticket.KindIMAPFlag, Target: "$kw-v", Key: "f0"},
			})
			assert.NoError(t, errs[0])
			assert.NoError(t, errs[1])
			assert.Contains(t, flagsOf()["f6@x"], "$kw-v")
			assert.Contains(t, flagsOf()["f0@x"], "$kw-v")
		})
		t.Run("messages their move took away are flagged where it put them", func(t *testing.T) {
			// The move ran first (or a run stopped after it): the flags
			// are set in the destination, found there by Message-ID with
			// one FETCH, not looked up one by one (two SEARCHes each).
			require.NoError(t, admin.Create("Moved", nil).Wait())
			moved := []string{"f1@x", "f3@x", "f7@x"}
			st.mu.Lock()
			for _, id := range moved {
				rec := st.tickets[tickets[id]]
				rec.Actions = append(rec.Actions, ticket.Action{TicketID: tickets[id], Kind: ticket.KindIMAPMove, Target: "Moved"})
			}
			st.mu.Unlock()
			_, err := admin.Select("Flags", nil).Wait()
			require.NoError(t, err)
			for _, id := range moved {
				data, err := admin.UIDSearch(&goimap.SearchCriteria{Header: []goimap.SearchCriteriaHeaderField{{Key: "Message-ID", Value: "<" + id + ">"}}}, nil).Wait()
				require.NoError(t, err)
				require.Len(t, data.AllUIDs(), 1)
				_, err = admin.Move(goimap.UIDSetNum(data.AllUIDs()...), "Moved").Wait()
				require.NoError(t, err)
			}
			require.NoError(t, admin.Unselect().Wait())
			var kw []ticket.Action
			for _, id := range append([]string{"f0@x"}, moved...) {
				kw = append(kw, ticket.Action{TicketID: tickets[id], Kind: ticket.KindIMAPFlag, Target: "$kw-m", Key: id})
			}
			if s.spy != nil {
				s.spy.takeSearches()
			}
			for i, err := range sink.SendBatch(ctx, kw) {
				assert.NoError(t, err, kw[i].Key)
			}
			assert.Contains(t, flagsOf()["f0@x"], "$kw-m")
			there := messages(t, admin, "Moved")
			for _, id := range moved {
				assert.Contains(t, there[id], "$kw-m", id)
			}
			if s.spy != nil {
				assert.Zero(t, s.spy.takeSearches(), "no message looked up on its own")
			}
		})
		if s.spy == nil {
			return
		}
		t.Run("a refused batched STORE falls back to one at a time", func(t *testing.T) {
			s.spy.refuseSets(t, "STORE")
			var again []ticket.Action
			for _, id := range []string{"f0@x", "f2@x", "f4@x"} {
				again = append(again, ticket.Action{TicketID: tickets[id], Kind: ticket.KindIMAPFlag, Target: "$kw-e", Key: id})
			}
			s.spy.take()
			for i, err := range sink.SendBatch(ctx, again) {
				assert.NoError(t, err, again[i].Key)
			}
			assert.Equal(t, []string{"STORE 3", "STORE 1", "STORE 1", "STORE 1"}, s.spy.take())
			for _, id := range []string{"f0@x", "f2@x", "f4@x"} {
				assert.Contains(t, flagsOf()[id], "$kw-e")
			}
			assert.NotContains(t, flagsOf()["f6@x"], "$kw-e")
		})
	})
}

// TestBatchMove moves a claim's imap.move actions to two folders: exactly
// those messages move (one UID MOVE per folder, or UID COPY + STORE +
// UID EXPUNGE of exactly those UIDs without MOVE), a message marked
// \Deleted by the user survives, a repeat changes nothing, and a message
// gone from the mailbox fails alone.
func TestBatchMove(t *testing.T) {
	run := func(t *testing.T, s *testServer, hasMove bool) {
		ctx := context.Background()
		admin := s.admin(t)
		st := newFakeStore()
		acct := s.account()
		acct.CreateFolders = true
		acct.Folders = map[string]string{"agent-auth": "DoneB"}
		ids := []string{"m0@x", "m1@x", "m2@x", "m3@x", "m4@x", "m5@x", "m6@x"}
		tickets := seedBatch(t, s, admin, st, acct, "Moves", ids...)
		// Marked \Deleted by the user, not expunged: it must survive.
		appendMsg(t, admin, "Moves", mkmail("keep@x", "eve@example.com", "s", "x"), goimap.FlagDeleted)
		// DoneA exists; DoneB is created by the first move there.
		require.NoError(t, admin.Create("DoneA", nil).Wait())
		acts := NewActions([]Account{acct}, st, nil)
		defer acts.Close()
		sink := acts.MoveSink().(outbox.BatchSink)

		var batch []ticket.Action
		for i, id := range ids[:6] {
			target := "DoneA"
			if i%2 == 1 {
				target = "agent-auth" // → DoneB
			}
			batch = append(batch, ticket.Action{TicketID: tickets[id], Kind: ticket.KindIMAPMove, Target: target, Key: id})
		}
		// Already where it should go: nothing to do.
		batch = append(batch, ticket.Action{TicketID: tickets["m6@x"], Kind: ticket.KindIMAPMove, Target: "Moves", Key: "stay"})
		keys := func(m map[string][]string) []string { return slices.Sorted(maps.Keys(m)) }
		check := func(t *testing.T) {
			t.Helper()
			src := messages(t, admin, "Moves")
			assert.Equal(t, []string{"keep@x", "m6@x"}, keys(src), "nothing else left, nothing else expunged")
			assert.Equal(t, []string{`\Deleted`}, src["keep@x"], "the user's \\Deleted message is untouched")
			a, b := messages(t, admin, "DoneA"), messages(t, admin, "DoneB")
			assert.Equal(t, []string{"m0@x", "m2@x", "m4@x"}, keys(a))
			assert.Equal(t, []string{"m1@x", "m3@x", "m5@x"}, keys(b))
			for id, fl := range a {
				assert.Contains(t, fl, "$triaged", "acknowledged before it left: %s", id)
				assert.NotContains(t, fl, `\Deleted`, id)
			}
		}

		t.Run("moves to two folders", func(t *testing.T) {
			errs := sink.SendBatch(ctx, batch)
			require.Len(t, errs, len(batch))
			for i, err := range errs {
				assert.NoError(t, err, batch[i].Key)
			}
			check(t)
			if s.spy != nil {
				cmds := s.spy.take()
				assert.NotContains(t, cmds, "EXPUNGE all", "never a plain EXPUNGE")
				// A STORE of $triaged that also shows which UIDs exist,
				// then one move per folder; DoneB is missing at first.
				if hasMove {
					assert.Equal(t, []string{"STORE 3", "MOVE 3", "STORE 3", "MOVE 3", "MOVE 3"}, cmds, "one UID MOVE per folder")
				} else {
					assert.Equal(t, []string{"STORE 3", "COPY 3", "STORE 3", "UID EXPUNGE 3", "STORE 3", "COPY 3", "COPY 3", "STORE 3", "UID EXPUNGE 3"}, cmds,
						"one UID COPY + STORE \\Deleted + UID EXPUNGE of those UIDs per folder")
				}
			}
		})
		t.Run("a repeat finds them moved and changes nothing", func(t *testing.T) {
			if s.spy != nil {
				s.spy.takeSearches()
			}
			for i, err := range sink.SendBatch(ctx, batch) {
				assert.NoError(t, err, batch[i].Key)
			}
			check(t)
			if s.spy != nil {
				assert.NotContains(t, s.spy.take(), "EXPUNGE all")
				// Found in their destinations with one FETCH per folder,
				// not looked up one by one (two SEARCHes each).
				assert.Zero(t, s.spy.takeSearches())
			}
		})
		t.Run("a message gone from everywhere fails alone", func(t *testing.T) {
			appendMsg(t, admin, "Moves", mkmail("g0@x", "ana@example.com", "s", "b"))
			appendMsg(t, admin, "Moves", mkmail("g1@x", "ana@example.com", "s", "b"))
			in := &ingester{st: st}
			src := NewSource(acct, "Moves", st, nil) // the cursor is in st
			defer src.Close()
			_, err := src.Poll(ctx, in.ingest)
			require.NoError(t, err)
			got := map[string]string{}
			for i, inc := range in.got {
				got[in.ids[i]] = inc.ID
			}
			require.Contains(t, got, "g0@x")
			require.Contains(t, got, "g1@x")
			expunge(t, admin, "Moves", "g0@x")
			more := []ticket.Action{
				{TicketID: got["g0@x"], Kind: ticket.KindIMAPMove, Target: "DoneA", Key: "gone"},
				{TicketID: got["g1@x"], Kind: ticket.KindIMAPMove, Target: "DoneA", Key: "here"},
			}
			errs := sink.SendBatch(ctx, more)
			assert.True(t, outbox.IsPermanent(errs[0]), "%v", errs[0])
			assert.ErrorContains(t, errs[0], "is in neither Moves nor DoneA")
			assert.NoError(t, errs[1])
			assert.Contains(t, messages(t, admin, "DoneA"), "g1@x")
			assert.Equal(t, []string{"keep@x", "m6@x"}, keys(messages(t, admin, "Moves")))
		})
		if s.spy == nil {
			return
		}
		t.Run("a refused batched move falls back to one at a time", func(t *testing.T) {
			appendMsg(t, admin, "Moves", mkmail("r0@x", "ana@example.com", "s", "b"))
			appendMsg(t, admin, "Moves", mkmail("r1@x", "ana@example.com", "s", "b"))
			in := &ingester{st: st}
			src := NewSource(acct, "Moves", st, nil)
			defer src.Close()
			_, err := src.Poll(ctx, in.ingest)
			require.NoError(t, err)
			require.Len(t, in.got, 2)
			s.spy.refuseSets(t, "MOVE", "COPY")
			s.spy.take()
			errs := sink.SendBatch(ctx, []ticket.Action{
				{TicketID: in.got[0].ID, Kind: ticket.KindIMAPMove, Target: "DoneA"},
				{TicketID: in.got[1].ID, Kind: ticket.KindIMAPMove, Target: "DoneA"},
			})
			assert.NoError(t, errs[0])
			assert.NoError(t, errs[1])
			cmds := s.spy.take()
			if hasMove {
				// create_folders: a refused MOVE is tried again after CREATE.
				assert.Equal(t, []string{"STORE 2", "MOVE 2", "MOVE 2", "STORE 1", "MOVE 1", "STORE 1", "MOVE 1"}, cmds)
			}
			assert.NotContains(t, cmds, "EXPUNGE all")
			done := messages(t, admin, "DoneA")
			assert.Contains(t, done, "r0@x")
			assert.Contains(t, done, "r1@x")
			assert.Equal(t, []string{"keep@x", "m6@x"}, keys(messages(t, admin, "Moves")))
		})
	}
	servers(t, func(t *testing.T, s *testServer) { run(t, s, true) })
	t.Run("memserver without MOVE", func(t *testing.T) { run(t, newMemServer(t, goimap.CapUIDPlus), false) })
}

// TestBatchMoveRefusedWithoutMoveOrUIDPlus: a batch changes nothing on a
// server where a safe move is impossible.
func TestBatchMoveRefusedWithoutMoveOrUIDPlus(t *testing.T) {
	s := newMemServer(t, goimap.CapIdle) // IMAP4rev1 + IDLE: no MOVE, no UIDPLUS
	ctx := context.Background()
	admin := s.admin(t)
	require.NoError(t, admin.Create("Done", nil).Wait())
	st := newFakeStore()
	tickets := seedBatch(t, s, admin, st, s.account(), "INBOX", "a1@x", "a2@x")
	appendMsg(t, admin, "INBOX", mkmail("del@x", "eve@example.com", "s", "b"), goimap.FlagDeleted)
	acts := NewActions([]Account{s.account()}, st, nil)
	defer acts.Close()
	errs := acts.MoveSink().(outbox.BatchSink).SendBatch(ctx, []ticket.Action{
		{TicketID: tickets["a1@x"], Kind: ticket.KindIMAPMove, Target: "Done"},
		{TicketID: tickets["a2@x"], Kind: ticket.KindIMAPMove, Target: "Done"},
	})
	for _, err := range errs {
		assert.True(t, outbox.IsPermanent(err), "%v", err)
		assert.ErrorContains(t, err, "neither MOVE nor UIDPLUS")
	}
	assert.Len(t, messages(t, admin, "INBOX"), 3, "nothing expunged")
	assert.NotContains(t, s.spy.take(), "EXPUNGE all")
}

// TestBatchPool runs batches from several workers at once on a pool of
// connections: each gets its own connection, and every flag lands.
func TestBatchPool(t *testing.T) {
	servers(t, func(t *testing.T, s *testServer) {
		ctx := context.Background()
		admin := s.admin(t)
		st := newFakeStore()
		acct := s.account()
		acct.ActionConns = 3
		var ids []string
		for i := range 24 {
			ids = append(ids, fmt.Sprintf("p%d@x", i))
		}
		tickets := seedBatch(t, s, admin, st, acct, "Pool", ids...)
		acts := NewActions([]Account{acct}, st, nil)
		defer acts.Close()
		sink := acts.FlagSink().(outbox.BatchSink)
		var wg sync.WaitGroup
		errs := make([][]error, 4)
		for w := range 4 {
			var batch []ticket.Action
			for _, id := range ids[w*6 : w*6+6] {
				batch = append(batch, ticket.Action{TicketID: tickets[id], Kind: ticket.KindIMAPFlag, Target: fmt.Sprintf("$w%d", w)})
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs[w] = sink.SendBatch(ctx, batch)
			}()
		}
		wg.Wait()
		for w := range 4 {
			for _, err := range errs[w] {
				assert.NoError(t, err)
			}
		}
		msgs := messages(t, admin, "Pool")
		for i, id := range ids {
			assert.Equal(t, []string{"$triaged", fmt.Sprintf("$w%d", i/6)}, msgs[id], id)
		}
		require.NoError(t, acts.Close())
		require.NoError(t, acts.FlagSink().Send(ctx, ticket.Action{TicketID: tickets["p0@x"], Kind: ticket.KindIMAPFlag, Target: "$after-close"}), "usable after Close")
	})
}

// TestPoolSeesMovesOfOtherConnections: a connection of the pool that
// did not make a move learns of it before it acts, so a flag after a move
// made on another connection finds the message in its new folder.
func TestPoolSeesMovesOfOtherConnections(t *testing.T) {
	servers(t, func(t *testing.T, s *testServer) {
		ctx := context.Background()
		admin := s.admin(t)
		require.NoError(t, admin.Create("Done", nil).Wait())
		st := newFakeStore()
		acct := s.account()
		acct.ActionConns = 2
		tickets := seedBatch(t, s, admin, st, acct, "INBOX", "a@x", "b@x")
		acts := NewActions([]Account{acct}, st, nil)
		defer acts.Close()
		flag, move := acts.FlagSink(), acts.MoveSink()
		// Both connections select INBOX (the pool hands them out in turn).
		require.NoError(t, flag.Send(ctx, ticket.Action{TicketID: tickets["a@x"], Kind: ticket.KindIMAPFlag, Target: "$one"}))
		require.NoError(t, flag.Send(ctx, ticket.Action{TicketID: tickets["b@x"], Kind: ticket.KindIMAPFlag, Target: "$one"}))
		mv := ticket.Action{TicketID: tickets["a@x"], Kind: ticket.KindIMAPMove, Target: "Done"}
		require.NoError(t, move.Send(ctx, mv)) // on the first connection
		st.mu.Lock()
		st.tickets[tickets["a@x"]].Actions = []ticket.Action{mv}
		st.mu.Unlock()
		// On the second, whose last look at INBOX still showed a@x.
		errs := flag.(outbox.BatchSink).SendBatch(ctx, []ticket.Action{
			{TicketID: tickets["a@x"], Kind: ticket.KindIMAPFlag, Target: "$two"},
			{TicketID: tickets["b@x"], Kind: ticket.KindIMAPFlag, Target: "$two"},
		})
		assert.NoError(t, errs[0])
		assert.NoError(t, errs[1])
		assert.Contains(t, messages(t, admin, "Done")["a@x"], "$two", "flagged where it is now")
		assert.Contains(t, messages(t, admin, "INBOX")["b@x"], "$two")
		require.NoError(t, move.Send(ctx, mv), "a repeat on the other connection finds it moved")
	})
}

// TestFlagRacingItsMove runs each message's keyword and its move the way
// the outbox does when they fall into two claims: on two workers at once,
// over two connections. Every keyword recorded done must be on the mail
// in its new folder (on Dovecot a STORE racing a MOVE of the same message
// used to answer OK and lose the keyword in 1–2 of 3,000 mails).
func TestFlagRacingItsMove(t *testing.T) {
	servers(t, func(t *testing.T, s *testServer) {
		ctx := context.Background()
		admin := s.admin(t)
		st := newFakeStore()
		acct := s.account()
		acct.ActionConns = 2
		acct.CreateFolders = true
		const n = 400
		var ids []string
		for i := range n {
			ids = append(ids, fmt.Sprintf("race%d@x", i))
		}
		tickets := seedBatch(t, s, admin, st, acct, "INBOX", ids...)
		// The ticket's actions, as the store would show them, and the
		// claim order: each message's keyword, then its move.
		var all []ticket.Action
		for i, id := range ids {
			fl := ticket.Action{TicketID: tickets[id], Kind: ticket.KindIMAPFlag, Target: fmt.Sprintf("$kw-%d", i%3), Key: "f" + id}
			mv := ticket.Action{TicketID: tickets[id], Kind: ticket.KindIMAPMove, Target: fmt.Sprintf("Race%d", i%2), Key: "m" + id}
			st.mu.Lock()
			st.tickets[tickets[id]].Actions = []ticket.Action{fl, mv}
			st.mu.Unlock()
			all = append(all, fl, mv)
		}
		acts := NewActions([]Account{acct}, st, nil)
		defer acts.Close()
		flag, move := acts.FlagSink().(outbox.BatchSink), acts.MoveSink().(outbox.BatchSink)
		// Claims of 7 actions (odd, so a message's keyword and move often
		// fall into two claims), taken by 4 workers; a claim runs its
		// keywords, then its moves, as outbox.sendAll does.
		claims := make(chan []ticket.Action, len(all))
		for len(all) > 0 {
			k := min(7, len(all))
			claims <- all[:k]
			all = all[k:]
		}
		close(claims)
		var wg sync.WaitGroup
		var mu sync.Mutex
		var failed []string
		for range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for claim := range claims {
					var fl, mv []ticket.Action
					for _, a := range claim {
						if a.Kind == ticket.KindIMAPFlag {
							fl = append(fl, a)
						} else {
							mv = append(mv, a)
						}
					}
					for _, step := range []struct {
						sink outbox.BatchSink
						as   []ticket.Action
					}{{flag, fl}, {move, mv}} {
						if len(step.as) == 0 {
							continue
						}
						for i, err := range step.sink.SendBatch(ctx, step.as) {
							if err != nil {
								mu.Lock()
								failed = append(failed, fmt.Sprintf("%s: %v", step.as[i].Key, err))
								mu.Unlock()
							}
						}
					}
				}
			}()
		}
		wg.Wait()
		assert.Empty(t, failed, "every action done")
		assert.Empty(t, messages(t, admin, "INBOX"), "every mail moved")
		boxes := []map[string][]string{messages(t, admin, "Race0"), messages(t, admin, "Race1")}
		lost := 0
		for i, id := range ids {
			flags, ok := boxes[i%2][id]
			if !assert.True(t, ok, "%s in Race%d", id, i%2) {
				continue
			}
			if !slices.Contains(flags, fmt.Sprintf("$kw-%d", i%3)) {
				lost++
			}
			assert.Contains(t, flags, "$triaged", id)
		}
		assert.Zero(t, lost, "keywords lost to their move, of %d", n)
	})
}

// TestFoldersWithSlash: folders are written with '/' in the config and
// reach the server with its own separator ('.' on Dovecot's Maildir
// layout, which refuses "Triage/Agent"); Check says which configured
// folders are missing and whether a move will create them.
func TestFoldersWithSlash(t *testing.T) {
	servers(t, func(t *testing.T, s *testServer) {
		ctx := context.Background()
		admin := s.admin(t)
		boxes, err := admin.List("", "", nil).Collect()
		require.NoError(t, err)
		require.Len(t, boxes, 1)
		sep := string(boxes[0].Delim)
		st := newFakeStore()
		acct := s.account()
		acct.Folders = map[string]string{"agent-auth": "Triage/Agent", "limits-billing": "Triage/Billing"}
		acct.Mailboxes = []string{"Support/In"}
		tickets := seedBatch(t, s, admin, st, acct, "Support/In", "s0@x", "s1@x")

		got := Check(ctx, acct)
		require.Len(t, got, 2, "%q", got)
		assert.Contains(t, got[0], "folder Triage/Agent")
		assert.Contains(t, got[0], "does not exist: moves there will fail")
		acct.CreateFolders = true
		got = Check(ctx, acct)
		require.Len(t, got, 2, "%q", got)
		assert.Contains(t, got[1], "folder Triage/Billing")
		assert.Contains(t, got[1], "will be created by the first move there")

		acts := NewActions([]Account{acct}, st, nil)
		defer acts.Close()
		moves := []ticket.Action{
			{TicketID: tickets["s0@x"], Kind: ticket.KindIMAPMove, Target: "agent-auth"},
			{TicketID: tickets["s1@x"], Kind: ticket.KindIMAPMove, Target: "limits-billing"},
		}
		st.mu.Lock()
		st.tickets[tickets["s0@x"]].Actions = moves[:1]
		st.mu.Unlock()
		errs := acts.MoveSink().(outbox.BatchSink).SendBatch(ctx, moves)
		assert.NoError(t, errs[0])
		assert.NoError(t, errs[1])
		require.NoError(t, acts.FlagSink().Send(ctx, ticket.Action{TicketID: tickets["s0@x"], Kind: ticket.KindIMAPFlag, Target: "$late"}),
			"a keyword after the move finds the mail in the translated folder")
		assert.Contains(t, messages(t, admin, "Triage"+sep+"Agent"), "s0@x")
		assert.Contains(t, messages(t, admin, "Triage"+sep+"Billing"), "s1@x")
		assert.Empty(t, messages(t, admin, "Support"+sep+"In"))
		assert.Empty(t, Check(ctx, acct), "every folder exists now")
	})
}

// TestWrongPassword: a refused login says "authentication failed for
// <user>" once per pass, marks the source blocked (not ready) through the
// runner, and the IDLE watcher waits quietly instead of reporting a lost
// connection on every retry.
func TestWrongPassword(t *testing.T) {
	s := newMemServer(t)
	acct := s.account()
	acct.Password = "wrong"
	st := newFakeStore()
	src := NewSource(acct, "INBOX", st, nil)
	defer src.Close()
	runner := &pipeline.Runner{Log: slog.New(slog.DiscardHandler)}
	ctx := context.Background()
	_, err := runner.Once(ctx, []pipeline.SourceSpec{{Source: src, Interval: time.Second}})
	require.Error(t, err)
	assert.ErrorIs(t, err, ErrAuth)
	assert.ErrorContains(t, err, "imap support: authentication failed for bot")
	h := runner.Health()
	require.Len(t, h, 1)
	assert.Equal(t, "authentication failed for bot", h[0].Blocked, "not ready, and why")

	var logs bytes.Buffer
	w := NewWatcher(acct, "INBOX", slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelInfo})))
	wctx, cancel := context.WithTimeout(ctx, 1500*time.Millisecond)
	defer cancel()
	require.NoError(t, w.Run(wctx))
	assert.NotContains(t, logs.String(), "IDLE connection lost", "a refused login is not a lost connection")
}

// TestMovesOfWorkersCombine: move batches sent while another is being
// carried out are carried out together, one UID MOVE per folder for all.
func TestMovesOfWorkersCombine(t *testing.T) {
	s := newMemServer(t)
	ctx := context.Background()
	admin := s.admin(t)
	require.NoError(t, admin.Create("DoneA", nil).Wait())
	require.NoError(t, admin.Create("DoneB", nil).Wait())
	st := newFakeStore()
	acct := s.account()
	ids := []string{"c0@x", "c1@x", "c2@x", "c3@x", "c4@x", "c5@x"}
	tickets := seedBatch(t, s, admin, st, acct, "INBOX", ids...)
	acts := NewActions([]Account{acct}, st, nil)
	defer acts.Close()
	sink := acts.MoveSink().(outbox.BatchSink)

	acts.moves.run.Lock() // a batch in progress
	results := make([][]error, 3)
	var wg sync.WaitGroup
	for w := range 3 {
		batch := []ticket.Action{
			{TicketID: tickets[ids[2*w]], Kind: ticket.KindIMAPMove, Target: "DoneA"},
			{TicketID: tickets[ids[2*w+1]], Kind: ticket.KindIMAPMove, Target: "DoneB"},
		}
		wg.Add(1)
		go func() { defer wg.Done(); results[w] = sink.SendBatch(ctx, batch) }()
	}
	require.Eventually(t, func() bool {
		acts.moves.mu.Lock()
		defer acts.moves.mu.Unlock()
		return len(acts.moves.queue) == 3
	}, 5*time.Second, time.Millisecond)
	acts.moves.run.Unlock()
	wg.Wait()
	for w, errs := range results {
		require.Len(t, errs, 2, "worker %d", w)
		assert.NoError(t, errs[0])
		assert.NoError(t, errs[1])
	}
	assert.Equal(t, []string{"STORE 3", "MOVE 3", "STORE 3", "MOVE 3"}, s.spy.take(), "one STORE and one MOVE per folder for the three batches")
	assert.Len(t, messages(t, admin, "DoneA"), 3)
	assert.Len(t, messages(t, admin, "DoneB"), 3)
	assert.Empty(t, messages(t, admin, "INBOX"))
}

// TestFlagsOfWorkersCombine: flag batches sent while another is being
// carried out are carried out together, one UID STORE per keyword set
// for all.
func TestFlagsOfWorkersCombine(t *testing.T) {
	s := newMemServer(t)
	ctx := context.Background()
	admin := s.admin(t)
	st := newFakeStore()
	acct := s.account()
	ids := []string{"k0@x", "k1@x", "k2@x", "k3@x", "k4@x", "k5@x"}
	tickets := seedBatch(t, s, admin, st, acct, "INBOX", ids...)
	acts := NewActions([]Account{acct}, st, nil)
	defer acts.Close()
	sink := acts.FlagSink().(outbox.BatchSink)

	acts.flags.run.Lock() // a batch in progress
	results := make([][]error, 3)
	var wg sync.WaitGroup
	for w := range 3 {
		batch := []ticket.Action{
			{TicketID: tickets[ids[2*w]], Kind: ticket.KindIMAPFlag, Target: "$kw-a"},
			{TicketID: tickets[ids[2*w+1]], Kind: ticket.KindIMAPFlag, Target: "$kw-b $kw-c"},
		}
		wg.Add(1)
		go func() { defer wg.Done(); results[w] = sink.SendBatch(ctx, batch) }()
	}
	require.Eventually(t, func() bool {
		acts.flags.mu.Lock()
		defer acts.flags.mu.Unlock()
		return len(acts.flags.queue) == 3
	}, 5*time.Second, time.Millisecond)
	acts.flags.run.Unlock()
	wg.Wait()
	for w, errs := range results {
		require.Len(t, errs, 2, "worker %d", w)
		assert.NoError(t, errs[0])
		assert.NoError(t, errs[1])
	}
	assert.Equal(t, []string{"STORE 3", "STORE 3"}, s.spy.take(), "one STORE per keyword set for the three batches")
	got := messages(t, admin, "INBOX")
	for i, id := range ids {
		want := []string{"$kw-a", "$triaged"}
		if i%2 == 1 {
			want = []string{"$kw-b", "$kw-c", "$triaged"}
		}
		assert.Equal(t, want, got[id], id)
	}
}
