// Package maildir reads support mail from a local Maildir — the delivery
// target of Postfix, Dovecot's LDA, fetchmail or mbsync — and files
// handled mail into per-category folders.
//
// The source takes each message in new/, hands it to the pipeline, and
// only after the ticket is stored moves it to cur/ with the Dovecot keyword
// "$triaged" (a lowercase Maildir flag letter declared in the folder's
// dovecot-keywords file), so Dovecot users see the keyword in their
// client. Nothing is ever deleted. A message is identified by its unique
// name (the file name without its ":2," info), so a crash between storing
// and moving only makes the next pass find a duplicate, which is skipped.
package maildir

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"

	"github.com/triage-bot/triage/outbox"
	"github.com/triage-bot/triage/pipeline"
	"github.com/triage-bot/triage/store"
	"github.com/triage-bot/triage/ticket"
)

// Source watches one Maildir's new/ folder.
type Source struct {
	name    string
	path    string
	keyword string
	// Batch caps the messages handed over per pass (0: 2000), so a huge
	// backlog does not starve other sources.
	Batch int
	// Listed caps the names one reading of new/ keeps, the oldest ones
	// (0: 50,000, about 3 MiB); passes take their batches from them until
	// they run out, and only then is new/ read again.
	Listed int
	// Workers is how many messages are in flight at once (0: 64 per CPU,
	// at most 128).
	Workers int

	mu     sync.Mutex
	letter byte // the keyword's flag letter, once known

	listMu  sync.Mutex
	backlog []string // names read from new/, oldest first, not yet handed over
}

// flagLetter returns the keyword's Maildir flag letter, declaring it on
// first use. Dovecot never renumbers keywords, so it is looked up once.
func (s *Source) flagLetter() (byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.letter != 0 {
		return s.letter, nil
	}
	l, err := keywordLetter(s.path, s.keyword)
	if err == nil {
		s.letter = l
	}
	return l, err
}

// NewSource returns a source named name for the Maildir at path.
func NewSource(name, path, keyword string) *Source {
	if keyword == "" {
		keyword = "$triaged"
	}
	return &Source{name: name, path: path, keyword: keyword}
}

// Name returns "maildir:<name>".
func (s *Source) Name() string { return "maildir:" + s.name }

// TicketID returns the ticket ID of the message with unique name u.
func (s *Source) TicketID(u string) string { return "maildir:" + s.name + "/" + u }

// uniqueName strips the ":2,flags" info from a Maildir file name.
func uniqueName(file string) string {
	if i := strings.Index(file, ":2,"); i >= 0 {
		return file[:i]
	}
	return file
}

// Poll hands over messages in new/ (oldest name first, up to Batch of
// them; see next) and moves each to cur/ with the keyword once it is
// stored.
func (s *Source) Poll(ctx context.Context, ingest func(context.Context, pipeline.Incoming) error) (int, error) {
	for _, d := range []string{"new", "cur", "tmp"} {
		if err := os.MkdirAll(filepath.Join(s.path, d), 0o700); err != nil {
			return 0, fmt.Errorf("maildir %s: %w", s.name, err)
		}
	}
	letter, err := s.flagLetter()
	if err != nil {
		return 0, fmt.Errorf("maildir %s: %w", s.name, err)
	}
	names, err := s.next()
	if err != nil {
		return 0, fmt.Errorf("maildir %s: list new/: %w", s.name, err)
	}
	// Several messages are parsed at once: parsing is most of the work,
	// and the pipeline commits concurrent tickets together.
	workers := s.Workers
	if workers <= 0 {
		// Many more messages in flight than CPUs: while some wait for
		// their commit, others parse, and the pipeline's group commit
		// gets bigger batches (measured on 2 cores, 20,000 mails, before
		// later speedups: 2 in flight 15 s, 16 7.4 s, 48 6.3 s, 128
		// 5.4 s; at the end 64 4.2-4.3 s and 128 3.8-3.9 s, for 11 MiB
		// more; each holds one parsed message).
		workers = min(128, 64*runtime.GOMAXPROCS(0))
	}
	var (
		mu    sync.Mutex
		next  int
		n     int
		first error
		wg    sync.WaitGroup
	)
	take := func() (string, bool) {
		mu.Lock()
		defer mu.Unlock()
		if first != nil || next == len(names) || ctx.Err() != nil {
			return "", false
		}
		next++
		return names[next-1], true
	}
	for range min(workers, len(names)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				name, ok := take()
				if !ok {
					return
				}
				err := s.handle(ctx, name, letter, ingest)
				mu.Lock()
				if err != nil && first == nil {
					first = err
				} else if err == nil {
					n++
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return n, first
}

// movesItself reports whether rec's actions include a maildir.move the
// outbox took at ingest (claimed then, not shadow, not waiting in the
// store).
func movesItself(rec *store.Record) bool {
	if rec.Claim == nil {
		return false
	}
	for _, a := range rec.Actions {
		if a.Kind == ticket.KindMaildirMove && a.State == ticket.StateRunning {
			return true
		}
	}
	return false
}

// readers recycles the read buffers of messages in flight: a fresh 64 KiB
// buffer per message was most of what ingest allocated.
var readers = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, 64<<10) }}

// next returns the names for one pass: up to Batch of the oldest names
// in new/. It reads new/ only when the names read last time are used up,
// so a backlog is read once, not once per batch, and is handed over
// oldest first as a whole (Maildir names begin with the delivery time;
// tickets stored in that order also keep the store's indexes on ticket
// IDs append-only). Mail arriving meanwhile is newer than all of it and
// comes next. A name whose message is gone by its turn (another reader
// took it) is skipped by handle.
func (s *Source) next() ([]string, error) {
	batch, listed := s.Batch, s.Listed
	if batch <= 0 {
		batch = 2000
	}
	if listed <= 0 {
		listed = 50000
	}
	s.listMu.Lock()
	defer s.listMu.Unlock()
	if len(s.backlog) == 0 {
		names, err := listNew(filepath.Join(s.path, "new"), max(listed, batch))
		if err != nil {
			return nil, err
		}
		s.backlog = names
	}
	names := s.backlog[:min(batch, len(s.backlog))]
	s.backlog = s.backlog[len(names):]
	if len(s.backlog) == 0 {
		s.backlog = nil // let the listing go
	}
	return names, nil
}

// listNew returns the n oldest message names in dir (by name), oldest
// first. It reads the whole directory, holding at most about 2n names at
// a time: a huge backlog is not held in memory whole.
func listNew(dir string, n int) ([]string, error) {
	f, err := os.Open(dir)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var names []string
	for {
		entries, err := f.ReadDir(1024)
		for _, e := range entries {
			if e.Type().IsRegular() && !strings.HasPrefix(e.Name(), ".") {
				names = append(names, e.Name())
			}
		}
		if len(names) > 2*n {
			slices.Sort(names)
			names = names[:n]
		}
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err
		}
	}
	slices.Sort(names)
	if len(names) > n {
		names = names[:n]
	}
	return slices.Clip(names), nil
}

// handle hands one message in new/ to ingest and, once it is stored,
// moves it to cur/ with the keyword's flag.
func (s *Source) handle(ctx context.Context, name string, letter byte, ingest func(context.Context, pipeline.Incoming) error) error {
	src := filepath.Join(s.path, "new", name)
	f, err := os.Open(src)
	if errors.Is(err, fs.ErrNotExist) {
		return nil // another reader (or a maildir.move action) took it
	}
	if err != nil {
		return fmt.Errorf("maildir %s: %w", s.name, err)
	}
	u := uniqueName(name)
	br := readers.Get().(*bufio.Reader)
	br.Reset(f)
	moving := false
	err = ingest(ctx, pipeline.Incoming{ID: s.TicketID(u), Source: "email", Channel: s.name, Raw: br,
		OnStored: func(rec *store.Record) { moving = movesItself(rec) }})
	br.Reset(nil)
	readers.Put(br)
	f.Close()
	if err != nil {
		return err
	}
	if moving && name == u {
		// A maildir.move action is already on its way with this message
		// and marks it as it moves it out of new/: one rename instead of
		// two. Should it fail or wait, the message is still in new/ when
		// next listed, is found stored (a duplicate), and is marked then.
		return nil
	}
	dst := filepath.Join(s.path, "cur", u+":2,"+addFlag(flagsOf(name), letter))
	if err := rename(src, dst); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("maildir %s: mark %s handled: %w", s.name, u, err)
	}
	return nil
}

func flagsOf(file string) string {
	if i := strings.Index(file, ":2,"); i >= 0 {
		return file[i+3:]
	}
	return ""
}

// addFlag adds a flag letter keeping Maildir's sorted order.
func addFlag(flags string, f byte) string {
	if strings.IndexByte(flags, f) >= 0 {
		return flags
	}
	b := []byte(flags + string(f))
	slices.Sort(b)
	return string(b)
}

// keywordMu serialises edits of dovecot-keywords within this process.
var keywordMu sync.Mutex

// keywordLetter returns the Maildir flag letter (a–z) for a keyword,
// declaring it in dir/dovecot-keywords (lines "N keyword") when missing,
// the way Dovecot does.
func keywordLetter(dir, keyword string) (byte, error) {
	keywordMu.Lock()
	defer keywordMu.Unlock()
	path := filepath.Join(dir, "dovecot-keywords")
	data, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return 0, err
	}
	used := map[int]bool{}
	for _, line := range strings.Split(string(data), "\n") {
		num, name, ok := strings.Cut(strings.TrimSpace(line), " ")
		if !ok {
			continue
		}
		i, err := strconv.Atoi(num)
		if err != nil || i < 0 || i > 25 {
			continue
		}
		if name == keyword {
			return byte('a' + i), nil
		}
		used[i] = true
	}
	for i := 0; i < 26; i++ {
		if used[i] {
			continue
		}
		content := string(data)
		if content != "" && !strings.HasSuffix(content, "\n") {
			content += "\n"
		}
		content += fmt.Sprintf("%d %s\n", i, keyword)
		tmp := path + ".tmp"
		if err := os.WriteFile(tmp, []byte(content), 0o600); err != nil {
			return 0, err
		}
		if err := os.Rename(tmp, path); err != nil {
			return 0, err
		}
		return byte('a' + i), nil
	}
	return 0, fmt.Errorf("no free keyword letter in %s (all 26 in use)", path)
}

// MoveSink carries out maildir.move actions: it moves a handled message
// from the source Maildir's cur/ into the Maildir++ subfolder named by the
// action's target (e.g. ".agent-auth/cur/"), creating the folder.
type MoveSink struct {
	sources map[string]*Source // source name → source

	mu      sync.Mutex
	created map[string]bool // folders known to exist
}

// NewMoveSink returns a sink for the messages of these sources.
func NewMoveSink(sources ...*Source) *MoveSink {
	m := &MoveSink{sources: map[string]*Source{}, created: map[string]bool{}}
	for _, s := range sources {
		m.sources[s.name] = s
	}
	return m
}

// InPlace marks the sink as outbox.InPlace: a repeated move finds the
// message in its folder already and does nothing, so the outbox may
// record its successes once per batch.
func (m *MoveSink) InPlace() {}

// Send moves the message; it is idempotent: a message already in the
// destination folder counts as moved.
func (m *MoveSink) Send(ctx context.Context, a ticket.Action) error {
	rest, ok := strings.CutPrefix(a.TicketID, "maildir:")
	name, u, ok2 := strings.Cut(rest, "/")
	if !ok || !ok2 {
		return outbox.Permanent(fmt.Errorf("maildir.move: ticket %s did not come from a Maildir source", a.TicketID))
	}
	src, ok := m.sources[name]
	if !ok {
		return outbox.Permanent(fmt.Errorf("maildir.move: no Maildir source named %q", name))
	}
	root := src.path
	// The name the source gave the message in cur/, when it came from new/
	// without flags: found with one stat instead of a directory scan.
	var guesses []string
	if letter, err := src.flagLetter(); err == nil {
		guesses = append(guesses, u+":2,"+string(letter))
	}
	folder := strings.Trim(a.Target, "./ ")
	if folder == "" || strings.ContainsAny(folder, "/\\") || strings.Contains(folder, "..") {
		return outbox.Permanent(fmt.Errorf("maildir.move: folder %q is not a plain folder name", a.Target))
	}
	dstDir := filepath.Join(root, "."+folder)
	if err := m.ensureFolder(dstDir); err != nil {
		return fmt.Errorf("maildir.move: %w", err)
	}
	// Look where the message should be, in the order it travels (new/ →
	// cur/ → the folder), so a concurrent move by the source is never
	// missed; stat the likely names first, scan folders only as a last
	// resort.
	curDir, newDir, dstCur := filepath.Join(root, "cur"), filepath.Join(root, "new"), filepath.Join(dstDir, "cur")
	target := u + ":2,"
	if len(guesses) > 0 {
		target = guesses[0]
	}
	// Renamed at once from where it most likely is, without a stat first
	// (a rename that finds nothing costs no more than a stat, and stats
	// wait on the directory's lock while the source renames in it):
	// still in new/, where the source leaves a message whose move it saw
	// handed over at ingest (movesItself), marked here as it moves; or
	// under the name the source gave it in cur/.
	for _, from := range []string{filepath.Join(newDir, u), filepath.Join(curDir, target)} {
		switch err := rename(from, filepath.Join(dstCur, target)); {
		case err == nil:
			return nil
		case !errors.Is(err, fs.ErrNotExist):
			return fmt.Errorf("maildir.move: %w", err)
		}
	}
	for _, scan := range []bool{false, true} {
		file, err := findUnique(curDir, u, guesses, scan)
		if err != nil {
			return fmt.Errorf("maildir.move: %w", err)
		}
		if file != "" {
			if err := rename(filepath.Join(curDir, file), filepath.Join(dstCur, file)); err != nil {
				return fmt.Errorf("maildir.move: %w", err)
			}
			return nil
		}
		if done, _ := findUnique(dstCur, u, guesses, scan); done != "" {
			return nil // moved before: a repeat after a crash
		}
	}
	return outbox.Permanent(fmt.Errorf("maildir.move: message %s is in neither %s/cur nor the destination", u, root))
}

// findUnique returns the file in dir whose unique name is u, or "". It
// tries the likely names, and with scan also reads the folder.
func findUnique(dir, u string, guesses []string, scan bool) (string, error) {
	for _, g := range append([]string{u}, guesses...) {
		if _, err := os.Stat(filepath.Join(dir, g)); err == nil {
			return g, nil
		}
	}
	if !scan {
		return "", nil
	}
	matches, err := filepath.Glob(filepath.Join(dir, globEscape(u)+":2,*"))
	if err != nil || len(matches) == 0 {
		return "", err
	}
	return filepath.Base(matches[0]), nil
}

func globEscape(s string) string {
	r := strings.NewReplacer(`*`, `\*`, `?`, `\?`, `[`, `\[`, `\`, `\\`)
	return r.Replace(s)
}

// ensureFolder creates a Maildir++ folder once per process.
func (m *MoveSink) ensureFolder(dir string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.created[dir] {
		return nil
	}
	for _, d := range []string{"cur", "new", "tmp"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o700); err != nil {
			return err
		}
	}
	m.created[dir] = true
	return nil
}

// rename is os.Rename without its extra lstat of the new name (which
// only guards against renaming onto a directory; Maildir file names never
// name one): one system call per message moved instead of two.
func rename(from, to string) error {
	if err := syscall.Rename(from, to); err != nil {
		return &os.LinkError{Op: "rename", Old: from, New: to, Err: err}
	}
	return nil
}
