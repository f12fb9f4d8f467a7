// Command helpdesk measures the webhook paths of `triage run` end to end:
// a helpdesk (or Slack) calls triage with signed webhooks, triage stores
// each ticket and acknowledges, and its outbox writes the answer back
// through the vendor's API.
//
// For each path it starts the vendor's stand-in in this process, starts
// the given triage binary with a config that points at it (SQLite in a
// fresh data directory, the outbox at its defaults, one action per
// ticket), delivers N signed calls over loopback with C at a time, and
// records how long each call took to be answered (the ack latency: what
// the vendor waits for) and how long from the first call until the
// stand-in holds a note or reply for every one. The paths:
//
//	zendesk trigger   {"ticket_id": …} as a trigger sends it (the setup
//	                  docs/helpdesks/zendesk.md describes): triage reads
//	                  the latest customer comment through the API before
//	                  it answers, then adds an internal note
//	zendesk event     a ticket.comment_added event that carries the text
//	freshdesk         an automation rule's {"ticket_id"}: triage reads the
//	                  ticket through the API, then adds a private note
//	slack events      an Events API message event; triage posts a reply
//	                  in the message's thread
//
// It runs the paths in turns RUNS times, keeps the best run of each (a
// shared host's speed drifts from run to run) and prints a table. It
// reports; it asserts nothing.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "helpdesk:", err)
		os.Exit(1)
	}
}

// options say what to measure.
type options struct {
	triage      string        // the triage binary
	dir         string        // work directory: configs, data, logs
	n           int           // deliveries per path and run
	concurrency int           // calls in flight at once
	runs        int           // runs per path; the best counts
	paths       []string      // path names, in order
	timeout     time.Duration // per run, for every note to be written
}

// run parses the flags, measures and prints the table.
func run(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("helpdesk", flag.ContinueOnError)
	var o options
	var paths string
	fs.StringVar(&o.triage, "triage", "", "the triage binary to start (required)")
	fs.StringVar(&o.dir, "dir", "", "work directory (default: a new temporary one, removed afterwards)")
	fs.IntVar(&o.n, "n", 5000, "webhook deliveries per path and run")
	fs.IntVar(&o.concurrency, "c", 16, "deliveries in flight at once")
	fs.IntVar(&o.runs, "runs", 3, "runs per path; the best counts")
	fs.StringVar(&paths, "paths", strings.Join(pathNames, ","), "paths to measure, comma-separated")
	fs.DurationVar(&o.timeout, "timeout", 10*time.Minute, "how long a run may wait for every note")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if o.triage == "" {
		return errors.New("-triage: give the triage binary to start (go build -o triage ./cmd/triage)")
	}
	o.paths = strings.Split(paths, ",")
	if o.dir == "" {
		d, err := os.MkdirTemp("", "triage-bench-helpdesk-")
		if err != nil {
			return fmt.Errorf("work directory: %w", err)
		}
		defer os.RemoveAll(d)
		o.dir = d
	}
	res, err := measure(ctx, o)
	if err != nil {
		return err
	}
	report(stdout, o, res)
	return nil
}

// result is one run of one path.
type result struct {
	path       string
	deliveries int             // calls made
	acked      int             // calls answered 200
	latencies  []time.Duration // of every call, sorted
	allAcked   time.Duration   // first call → last answer
	allWritten time.Duration   // first call → last note or reply seen
	written    int             // tickets with a note or reply at the end
	extra      int             // notes or replies beyond one per ticket
}

// percentile returns the p-th percentile (nearest rank) of the sorted
// latencies.
func (r result) percentile(p float64) time.Duration {
	if len(r.latencies) == 0 {
		return 0
	}
	i := int(math.Ceil(p/100*float64(len(r.latencies)))) - 1
	return r.latencies[max(i, 0)]
}

// measure runs every path o.runs times, in turns, and returns every
// result by path.
func measure(ctx context.Context, o options) (map[string][]result, error) {
	for _, p := range o.paths {
		if newPath(p) == nil {
			return nil, fmt.Errorf("-paths: no path %q (there are %s)", p, strings.Join(pathNames, ", "))
		}
	}
	if o.n < 1 || o.concurrency < 1 || o.runs < 1 {
		return nil, errors.New("-n, -c and -runs must be at least 1")
	}
	out := map[string][]result{}
	for i := range o.runs {
		for _, p := range o.paths {
			r, err := runPath(ctx, o, newPath(p), filepath.Join(o.dir, fmt.Sprintf("%s-%d", strings.ReplaceAll(p, " ", "-"), i+1)))
			if err != nil {
				return nil, fmt.Errorf("%s, run %d: %w", p, i+1, err)
			}
			out[p] = append(out[p], r)
		}
	}
	return out, nil
}

// path is one webhook path: a stand-in for the vendor and what triage
// needs to know about it.
type path interface {
	// name is the path's row in the table.
	name() string
	// start starts the stand-in and gives it n tickets or messages.
	start(n int)
	// config is triage's config: data directory, HTTP listen address.
	config(dataDir, listen string) string
	// hook is the webhook URL path on triage's HTTP server.
	hook() string
	// request is the signed webhook call for ticket or message i.
	request(ctx context.Context, url string, i int) (*http.Request, error)
	// written says how many tickets have a note or reply, and how many
	// notes or replies there are beyond one per ticket. It is called
	// often: it looks only at what it has not seen written yet, except
	// when final is true.
	written(final bool) (done, extra int)
	close()
}

// text is the customer's text of ticket or message i: a code that
// triage recognizes, so every one is routed to a note or a reply.
func text(i int) string {
	return fmt.Sprintf("Hi, since this morning my agent stops with ERR_NGROK_%d (request %d). What should I change?", 3200+i%5, i)
}

// runPath starts triage against a fresh stand-in and measures one run.
func runPath(ctx context.Context, o options, p path, dir string) (result, error) {
	res := result{path: p.name(), deliveries: o.n}
	data := filepath.Join(dir, "data")
	if err := os.MkdirAll(data, 0o700); err != nil {
		return res, fmt.Errorf("data directory: %w", err)
	}
	p.start(o.n)
	defer p.close()
	listen, err := freeAddr()
	if err != nil {
		return res, err
	}
	cfg := filepath.Join(dir, "triage.yaml")
	if err := os.WriteFile(cfg, []byte(p.config(data, listen)), 0o600); err != nil {
		return res, fmt.Errorf("config: %w", err)
	}
	logf, err := os.Create(filepath.Join(dir, "triage.log"))
	if err != nil {
		return res, fmt.Errorf("log: %w", err)
	}
	defer logf.Close()
	cmd := exec.Command(o.triage, "run", "--config", cfg)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		return res, fmt.Errorf("start triage: %w", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	defer stopTriage(cmd, exited)

	client := &http.Client{Timeout: time.Minute, Transport: &http.Transport{
		MaxIdleConnsPerHost: o.concurrency, DialContext: (&net.Dialer{Timeout: 5 * time.Second}).DialContext}}
	defer client.CloseIdleConnections()
	base := "http://" + listen
	if err := waitHealthy(ctx, client, base, exited, 30*time.Second); err != nil {
		return res, fmt.Errorf("%w (log: %s)", err, logf.Name())
	}

	began := time.Now()
	lat, acked, err := deliver(ctx, client, p, base+p.hook(), o.n, o.concurrency)
	if err != nil {
		return res, err
	}
	res.latencies, res.acked, res.allAcked = lat, acked, time.Since(began)
	if acked < o.n {
		return res, fmt.Errorf("%d of %d calls were not answered 200 (log: %s)", o.n-acked, o.n, logf.Name())
	}
	deadline := time.Now().Add(o.timeout)
	for {
		done, _ := p.written(false)
		if done == o.n {
			break
		}
		select {
		case <-ctx.Done():
			return res, ctx.Err()
		case err := <-exited:
			return res, fmt.Errorf("triage exited with %d of %d written: %v (log: %s)", done, o.n, err, logf.Name())
		case <-time.After(5 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return res, fmt.Errorf("only %d of %d written after %s (log: %s)", done, o.n, o.timeout, logf.Name())
		}
	}
	res.allWritten = time.Since(began)
	res.written, res.extra = p.written(true)
	return res, nil
}

// deliver makes n calls, c at a time, and returns every call's latency,
// sorted, and how many were answered 200.
func deliver(ctx context.Context, client *http.Client, p path, url string, n, c int) ([]time.Duration, int, error) {
	lat := make([]time.Duration, n)
	ok := make([]bool, n)
	errs := make([]error, n)
	next := make(chan int)
	var wg sync.WaitGroup
	for range c {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				req, err := p.request(ctx, url, i)
				if err != nil {
					errs[i] = err
					continue
				}
				t0 := time.Now()
				resp, err := client.Do(req)
				if err != nil {
					errs[i] = err
					continue
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				lat[i], ok[i] = time.Since(t0), resp.StatusCode == http.StatusOK
			}
		}()
	}
	for i := range n {
		select {
		case next <- i:
		case <-ctx.Done():
		}
	}
	close(next)
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, 0, err
	}
	if err := errors.Join(errs...); err != nil {
		return nil, 0, fmt.Errorf("webhook calls: %w", err)
	}
	acked := 0
	for _, a := range ok {
		if a {
			acked++
		}
	}
	slices.Sort(lat)
	return lat, acked, nil
}

// freeAddr returns a loopback address with a port free right now.
func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// waitHealthy waits until triage answers /healthz.
func waitHealthy(ctx context.Context, client *http.Client, base string, exited <-chan error, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		resp, err := client.Get(base + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("triage did not answer %s/healthz within %s", base, timeout)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case err := <-exited:
			return fmt.Errorf("triage exited before it served: %v", err)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// stopTriage sends SIGTERM and waits; after 30 s it kills.
func stopTriage(cmd *exec.Cmd, exited <-chan error) {
	if cmd.ProcessState != nil {
		return
	}
	_ = cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-exited:
	case <-time.After(30 * time.Second):
		_ = cmd.Process.Kill()
		<-exited
	}
}

// report prints the best run of each path (by the time until all were
// written) and every run's time.
func report(w io.Writer, o options, res map[string][]result) {
	fmt.Fprintf(w, "\n%d webhook calls per path over loopback, %d at a time, %d cores, best of %d runs each\n\n",
		o.n, o.concurrency, runtime.NumCPU(), o.runs)
	fmt.Fprintf(w, "%-36s %10s %9s %9s %10s %12s %10s\n", "path", "deliveries", "ack p50", "ack p99", "all acked", "all written", "tickets/s")
	for _, p := range o.paths {
		rs := res[p]
		best := slices.MinFunc(rs, func(a, b result) int { return int(a.allWritten - b.allWritten) })
		fmt.Fprintf(w, "%-36s %10d %9s %9s %9.2fs %11.2fs %10.0f\n", best.path, best.deliveries,
			ms(best.percentile(50)), ms(best.percentile(99)), best.allAcked.Seconds(), best.allWritten.Seconds(),
			float64(best.written)/best.allWritten.Seconds())
	}
	fmt.Fprintln(w, "\nack: from sending a call to its answer (what the vendor waits for). all acked, all")
	fmt.Fprintln(w, "written: from the first call until the last answer, and until the stand-in holds a")
	fmt.Fprintln(w, "note or reply for every ticket. Calls are signed as each vendor signs them (Freshdesk's")
	fmt.Fprintln(w, "carry a shared secret in a header). The stand-ins run in the bench's process, on the")
	fmt.Fprintln(w, "same cores as triage.")
	for _, p := range o.paths {
		var times []string
		extra := 0
		for _, r := range res[p] {
			times = append(times, fmt.Sprintf("%.2f", r.allWritten.Seconds()))
			extra += r.extra
		}
		fmt.Fprintf(w, "%s: all written in (s) %s; ack p99 (ms) %s; notes or replies beyond one per ticket: %d\n",
			p, strings.Join(times, " "), p99s(res[p]), extra)
	}
}

func p99s(rs []result) string {
	var out []string
	for _, r := range rs {
		out = append(out, fmt.Sprintf("%.1f", float64(r.percentile(99))/float64(time.Millisecond)))
	}
	return strings.Join(out, " ")
}

func ms(d time.Duration) string {
	return fmt.Sprintf("%.1fms", float64(d)/float64(time.Millisecond))
}
