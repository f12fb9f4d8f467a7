package catalog

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"
)

// DefaultSyncURL is ngrok's public error reference table.
const DefaultSyncURL = "https://raw.githubusercontent.com/ngrok/ngrok-docs/main/snippets/errors/_err_ngrok_list.mdx"

// OfficialFile is the file in the data directory that holds the synced
// official messages.
const OfficialFile = "ngrok-official.json"

const (
	maxSyncBytes = 16 << 20
	// minRows is the fewest rows a real reference table has; fewer means
	// the download is not the table.
	minRows = 100
)

// Official is ngrok's reference as last synced.
type Official struct {
	// Source is the URL or file it came from.
	Source string `json:"source"`
	// Fetched is when it was synced.
	Fetched time.Time `json:"fetched"`
	// Messages maps code to ngrok's message.
	Messages map[int]string `json:"messages"`
}

// SyncOptions configures Sync.
type SyncOptions struct {
	// From is a URL (http/https) or a file path; empty means DefaultSyncURL.
	From string
	// DataDir is where OfficialFile is written.
	DataDir string
	// Client fetches URLs; nil means a client with Timeout.
	Client *http.Client
	// Timeout bounds the download; zero means 30 s.
	Timeout time.Duration
	// Force accepts a table that lost more than half of the codes of the
	// previous sync.
	Force bool
	// Now returns the current time; nil means time.Now.
	Now func() time.Time
}

// SyncReport says what changed since the previous sync.
type SyncReport struct {
	Source   string
	Total    int
	Added    []int
	Changed  []int
	Removed  []int
	First    bool // there was no previous sync
	FilePath string
}

// Sync fetches ngrok's reference table, checks it, stores the official
// messages in opts.DataDir and reports what changed. On any error the
// previously stored data is left untouched.
func Sync(ctx context.Context, opts SyncOptions) (*SyncReport, error) {
	from := opts.From
	if from == "" {
		from = DefaultSyncURL
	}
	data, err := fetch(ctx, from, opts)
	if err != nil {
		return nil, err
	}
	msgs, err := ParseReference(data)
	if err != nil {
		return nil, fmt.Errorf("catalog sync: %s: %w", from, err)
	}
	path := filepath.Join(opts.DataDir, OfficialFile)
	prev, err := ReadOfficial(opts.DataDir)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	rep := &SyncReport{Source: from, Total: len(msgs), FilePath: path, First: prev == nil}
	old := map[int]string{}
	if prev != nil {
		old = prev.Messages
	}
	if !opts.Force && len(msgs) < len(old)/2 {
		return nil, fmt.Errorf("catalog sync: %s has %d codes, fewer than half of the %d synced before; not replacing them (use --force if this is right)", from, len(msgs), len(old))
	}
	for code, m := range msgs {
		if o, ok := old[code]; !ok {
			rep.Added = append(rep.Added, code)
		} else if o != m {
			rep.Changed = append(rep.Changed, code)
		}
	}
	for code := range old {
		if _, ok := msgs[code]; !ok {
			rep.Removed = append(rep.Removed, code)
		}
	}
	slices.Sort(rep.Added)
	slices.Sort(rep.Changed)
	slices.Sort(rep.Removed)
	now := time.Now
	if opts.Now != nil {
		now = opts.Now
	}
	out, err := json.MarshalIndent(Official{Source: from, Fetched: now().UTC(), Messages: msgs}, "", " ")
	if err != nil {
		return nil, fmt.Errorf("catalog sync: %w", err)
	}
	if err := writeAtomic(path, out); err != nil {
		return nil, fmt.Errorf("catalog sync: %w", err)
	}
	return rep, nil
}

func fetch(ctx context.Context, from string, opts SyncOptions) ([]byte, error) {
	if !strings.HasPrefix(from, "http://") && !strings.HasPrefix(from, "https://") {
		f, err := os.Open(from)
		if err != nil {
			return nil, fmt.Errorf("catalog sync: %w", err)
		}
		defer f.Close()
		return readCapped(f, from)
	}
	timeout := opts.Timeout
	if timeout == 0 {
		timeout = 30 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	client := opts.Client
	if client == nil {
		client = &http.Client{Timeout: timeout}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, from, nil)
	if err != nil {
		return nil, fmt.Errorf("catalog sync: %w", err)
	}
	req.Header.Set("User-Agent", "triage-catalog-sync")
	resp, err := client.Do(req)
	if err != nil {
		if reason := unreachable(err); reason != "" {
			return nil, &fetchError{msg: fmt.Sprintf("catalog sync: cannot reach %s (%s); "+
				"without the network, fetch the table elsewhere and run: triage catalog sync --from FILE", req.URL.Host, reason), err: err}
		}
		if errors.Is(err, context.DeadlineExceeded) || errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return nil, fmt.Errorf("catalog sync: %s did not answer within %s: %w", from, timeout, err)
		}
		return nil, fmt.Errorf("catalog sync: fetch %s: %w", from, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("catalog sync: %s answered %s", from, resp.Status)
	}
	data, err := readCapped(resp.Body, from)
	if err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("catalog sync: %s did not finish within %s: %w", from, timeout, err)
		}
		return nil, err
	}
	return data, nil
}

// fetchError is a download that could not start, said in one line for a
// person; the network's own error stays reachable with errors.As.
type fetchError struct {
	msg string
	err error
}

func (e *fetchError) Error() string { return e.msg }
func (e *fetchError) Unwrap() error { return e.err }

// unreachable says in a few words why a request could not reach its
// host at all (a name that does not resolve, a refused or unroutable
// connection), or returns "" for any other failure.
func unreachable(err error) string {
	var dns *net.DNSError
	if errors.As(err, &dns) {
		if dns.IsNotFound {
			return "its name does not resolve: offline, or no DNS"
		}
		return "looking up its name failed: offline, or no DNS"
	}
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "dial" {
		switch {
		case errors.Is(err, syscall.ECONNREFUSED):
			return "the connection was refused"
		case errors.Is(err, syscall.ENETUNREACH), errors.Is(err, syscall.EHOSTUNREACH):
			return "no route to it: offline"
		}
		return "cannot connect"
	}
	return ""
}

func readCapped(r io.Reader, name string) ([]byte, error) {
	data, err := io.ReadAll(io.LimitReader(r, maxSyncBytes+1))
	if err != nil {
		return nil, fmt.Errorf("catalog sync: read %s: %w", name, err)
	}
	if len(data) > maxSyncBytes {
		return nil, fmt.Errorf("catalog sync: %s is larger than %d MiB; not a reference table", name, maxSyncBytes>>20)
	}
	return data, nil
}

// ParseReference reads ngrok's reference table (markdown rows
// "| [ERR_NGROK_n](/errors/err_ngrok_n) | message |") into code → message.
// It refuses HTML pages, tables that end mid-row and tables with too few
// rows, naming the line.
func ParseReference(data []byte) (map[int]string, error) {
	head := bytes.ToLower(bytes.TrimSpace(data[:min(len(data), 512)]))
	if bytes.HasPrefix(head, []byte("<!doctype")) || bytes.HasPrefix(head, []byte("<html")) {
		return nil, errors.New("got an HTML page, not ngrok's error table (wrong URL, or a login/error page)")
	}
	msgs := map[int]string{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	line, lastRow := 0, 0
	var lastText string
	for sc.Scan() {
		line++
		l := strings.TrimSpace(sc.Text())
		if !strings.HasPrefix(l, "|") {
			continue
		}
		lastRow, lastText = line, l
		cells := splitRow(l)
		if len(cells) == 0 || !strings.Contains(strings.ToUpper(cells[0]), "ERR_NGROK_") {
			continue // header or separator row
		}
		if !strings.HasSuffix(l, "|") || len(cells) < 2 {
			return nil, fmt.Errorf("line %d: table row is cut short (truncated download?): %.80q", line, l)
		}
		name := cells[0]
		if i := strings.Index(name, "]"); strings.HasPrefix(name, "[") && i > 0 {
			name = name[1:i]
		}
		code, err := ParseCode(name)
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", line, err)
		}
		msgs[code] = strings.ReplaceAll(strings.Join(cells[1:], " | "), "`", "")
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("line %d: %w", line+1, err)
	}
	if lastRow > 0 && !strings.HasSuffix(lastText, "|") {
		return nil, fmt.Errorf("line %d: table ends mid-row (truncated download?)", lastRow)
	}
	if len(msgs) < minRows {
		return nil, fmt.Errorf("found %d error rows, expected at least %d: not ngrok's error table, or cut short", len(msgs), minRows)
	}
	return msgs, nil
}

// splitRow splits a markdown table row into trimmed cells, honouring \|.
func splitRow(l string) []string {
	l = strings.TrimPrefix(l, "|")
	l = strings.TrimSuffix(l, "|")
	var cells []string
	var cur strings.Builder
	for i := 0; i < len(l); i++ {
		switch {
		case l[i] == '\\' && i+1 < len(l) && l[i+1] == '|':
			cur.WriteByte('|')
			i++
		case l[i] == '|':
			cells = append(cells, strings.TrimSpace(cur.String()))
			cur.Reset()
		default:
			cur.WriteByte(l[i])
		}
	}
	return append(cells, strings.TrimSpace(cur.String()))
}

// ReadOfficial reads the synced official messages from dataDir. It returns
// an error wrapping os.ErrNotExist when no sync has happened yet.
func ReadOfficial(dataDir string) (*Official, error) {
	path := filepath.Join(dataDir, OfficialFile)
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("catalog: read synced messages: %w", err)
	}
	var o Official
	if err := json.Unmarshal(data, &o); err != nil {
		return nil, fmt.Errorf("catalog: %s is damaged (%v); run `triage catalog sync` again", path, err)
	}
	return &o, nil
}

// writeAtomic writes data to a temporary file beside path and renames it
// into place, so readers see the old file or the new one, never half.
func writeAtomic(path string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".sync-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// LoadOptions says where Load finds its layers.
type LoadOptions struct {
	// DataDir holds the synced official messages, if any.
	DataDir string
	// Overlays are overlay files, applied in order.
	Overlays []string
}

// Load returns the embedded catalog with the official messages from
// opts.DataDir (when synced) and the overlays applied. A missing sync is
// not an error; a damaged one or a bad overlay is.
func Load(opts LoadOptions) (*Catalog, error) {
	c, err := Default()
	if err != nil {
		return nil, err
	}
	var errs []error
	for _, path := range opts.Overlays {
		o, err := LoadOverlay(path)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if c, err = o.Apply(c); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if opts.DataDir != "" {
		off, err := ReadOfficial(opts.DataDir)
		switch {
		case err == nil:
			c = c.WithOfficial(maps.Clone(off.Messages))
		case !errors.Is(err, os.ErrNotExist):
			return nil, err
		}
	}
	return c, nil
}
