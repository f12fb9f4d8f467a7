// Package jsonl carries out jsonl actions: it appends the action's payload
// as one line to a local file (a log of tickets a team can grep, tail or
// ship elsewhere).
//
// A target is a path that a template may have built from ticket fields,
// so files are opened only under the allowed directories (package
// internal/confine): a target that leaves them — "../", an absolute path,
// a symbolic link pointing out — fails permanently with the reason, and
// the action is parked.
package jsonl

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"sync"

	"github.com/triage-bot/triage/internal/confine"
	"github.com/triage-bot/triage/outbox"
	"github.com/triage-bot/triage/ticket"
)

// tailCheck is how much of the end of a file is read for keys when it is
// opened: a repeat after a crash is always among the last lines.
const tailCheck = 256 << 10

// Sink appends payloads to files named by the action's target. Files
// stay open between actions.
type Sink struct {
	dirs  *confine.Dirs
	mu    sync.Mutex
	files map[string]*file
}

// file is an open target with the keys most recently written to it.
type file struct {
	f      *os.File
	recent map[string]bool
	order  []string
}

// recentKeys bounds the keys remembered per file: a repeat is always of
// an action that was in flight moments ago.
const recentKeys = 4096

// New returns a sink that writes only under the allowed directories
// (data_dir and allowed_dirs); with none, every target is refused.
func New(allowed ...string) *Sink {
	return &Sink{dirs: confine.New(allowed...), files: map[string]*file{}}
}

// Send appends {"key", "ticket_id", "rule", "payload"} as one line. It is
// idempotent: a key already among the file's recent lines (a repeat after
// a crash, found in the file's tail when it is opened, or a retry in this
// process) is not written again.
func (s *Sink) Send(ctx context.Context, a ticket.Action) error {
	return s.SendBatch(ctx, []ticket.Action{a})[0]
}

// InPlace marks the sink as outbox.InPlace: a repeat is found among the
// file's recent keys and not written again, so the outbox may record its
// successes once per batch.
func (s *Sink) InPlace() {}

// SendBatch is Send for many actions, with one write per file: the
// outbox hands a claimed batch's jsonl actions over together.
func (s *Sink) SendBatch(ctx context.Context, as []ticket.Action) []error {
	errs := make([]error, len(as))
	lines := make([][]byte, len(as))
	var targets []string
	byTarget := map[string][]int{}
	for i, a := range as {
		if a.Target == "" {
			errs[i] = outbox.Permanent(fmt.Errorf("jsonl: the action has no target file"))
			continue
		}
		lines[i] = appendLine(nil, a)
		if _, ok := byTarget[a.Target]; !ok {
			targets = append(targets, a.Target)
		}
		byTarget[a.Target] = append(byTarget[a.Target], i)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, target := range targets {
		idx := byTarget[target]
		fail := func(err error) {
			for _, i := range idx {
				errs[i] = err
			}
		}
		f, err := s.open(target)
		if errors.Is(err, confine.ErrOutside) {
			fail(outbox.Permanent(fmt.Errorf("jsonl: target %w (allowed: data_dir and allowed_dirs)", err)))
			continue
		}
		if err != nil {
			fail(fmt.Errorf("jsonl: %w", err))
			continue
		}
		var buf []byte
		var keys []string
		for _, i := range idx {
			if k := as[i].Key; f.recent[k] || slices.Contains(keys, k) {
				continue
			}
			buf = append(buf, lines[i]...)
			keys = append(keys, as[i].Key)
		}
		if len(buf) == 0 {
			continue
		}
		// No fsync per line: a process crash keeps what was written (the
		// kernel has it), and syncing each line would cap throughput at
		// the disk's flush rate.
		if _, err := f.f.Write(buf); err != nil {
			f.f.Close()
			delete(s.files, target)
			fail(fmt.Errorf("jsonl: append to %s: %w", target, err))
			continue
		}
		for _, k := range keys {
			f.remember(k)
		}
	}
	return errs
}

// appendLine appends a's line, {"key", "ticket_id", "rule", "payload"}, as
// json.Marshal would write it, without re-encoding the payload (most of
// the line): it is copied as it is when it is valid JSON and stored as a
// JSON string otherwise.
func appendLine(b []byte, a ticket.Action) []byte {
	str := func(b []byte, s string) []byte {
		q, _ := json.Marshal(s)
		return append(b, q...)
	}
	b = append(b, `{"key":`...)
	b = str(b, a.Key)
	b = append(b, `,"ticket_id":`...)
	b = str(b, a.TicketID)
	if a.Rule != "" {
		b = append(b, `,"rule":`...)
		b = str(b, a.Rule)
	}
	b = append(b, `,"payload":`...)
	p := bytes.TrimSpace(a.Payload)
	switch {
	case !json.Valid(p):
		b = str(b, string(a.Payload))
	case bytes.ContainsAny(p, "\n\r"):
		// Indented JSON: one line it must be.
		var c bytes.Buffer
		_ = json.Compact(&c, p)
		b = append(b, c.Bytes()...)
	default:
		b = append(b, p...)
	}
	return append(b, '}', '\n')
}

func (f *file) remember(key string) {
	if len(f.order) == recentKeys {
		delete(f.recent, f.order[0])
		f.order = f.order[1:]
	}
	f.recent[key] = true
	f.order = append(f.order, key)
}

// open returns the open file for path, reading the keys in its tail the
// first time.
func (s *Sink) open(path string) (*file, error) {
	if f, ok := s.files[path]; ok {
		return f, nil
	}
	osf, err := s.dirs.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	f := &file{f: osf, recent: map[string]bool{}}
	keys, err := tailKeys(osf)
	if err != nil {
		osf.Close()
		return nil, err
	}
	for _, k := range keys {
		f.remember(k)
	}
	s.files[path] = f
	return f, nil
}

// Close closes the open files.
func (s *Sink) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	var errs []error
	for p, f := range s.files {
		errs = append(errs, f.f.Close())
		delete(s.files, p)
	}
	return errors.Join(errs...)
}

// tailKeys returns the keys of the complete lines in the file's last
// tailCheck bytes.
func tailKeys(f *os.File) ([]string, error) {
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	off := max(0, st.Size()-tailCheck)
	buf := make([]byte, st.Size()-off)
	if _, err := f.ReadAt(buf, off); err != nil && err != io.EOF {
		return nil, err
	}
	var keys []string
	for _, l := range bytes.Split(buf, []byte("\n")) {
		var k struct {
			Key string `json:"key"`
		}
		if json.Unmarshal(l, &k) == nil && k.Key != "" {
			keys = append(keys, k.Key)
		}
	}
	return keys, nil
}
