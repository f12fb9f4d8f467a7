package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime/debug"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/triage-bot/triage/catalog"
	"github.com/triage-bot/triage/config"
	"github.com/triage-bot/triage/examples"
	"github.com/triage-bot/triage/integrations/jsonl"
	"github.com/triage-bot/triage/integrations/maildir"
	"github.com/triage-bot/triage/integrations/webhook"
	"github.com/triage-bot/triage/metrics"
	"github.com/triage-bot/triage/outbox"
	"github.com/triage-bot/triage/pipeline"
	"github.com/triage-bot/triage/route"
	"github.com/triage-bot/triage/store"
	"github.com/triage-bot/triage/store/postgres"
	"github.com/triage-bot/triage/store/sqlite"
	"github.com/triage-bot/triage/ticket"
	"github.com/triage-bot/triage/web"
)

// loadConfig reads --config, or returns the embedded defaults.
// loadConfig reads the config file at path, or without one returns the
// embedded defaults with their data in $TRIAGE_DATA_DIR (./triage-data
// when unset), as `triage help` says.
func loadConfig(e env, path string) (*config.Config, error) {
	if path == "" {
		return config.DefaultIn(e.getenv("TRIAGE_DATA_DIR")), nil
	}
	return config.Load(path, e.getenv)
}

// checkConfig loads the config and builds what run builds from it, and
// reports every problem of every stage at once: the file's (unset
// variables, unknown keys, wrong types, refused values), the catalog
// overlays', the routes', the alert rules' and the server's. The config
// is nil only when the file cannot be read or is not YAML.
func checkConfig(e env, path string) (*config.Config, *app, error) {
	if path == "" {
		cfg := config.Default()
		a, err := build(e, cfg, newLogger(cfg.Log, e.stderr))
		return cfg, a, err
	}
	cfg, cerr := config.LoadAll(path, e.getenv)
	if cfg == nil {
		return nil, nil, cerr
	}
	a, berr := build(e, cfg, newLogger(cfg.Log, e.stderr))
	if err := errors.Join(cerr, berr); err != nil {
		return cfg, nil, err
	}
	return cfg, a, nil
}

func newLogger(c config.Log, w io.Writer) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(c.Level))
	opts := &slog.HandlerOptions{Level: level}
	if c.Format == "json" || c.Format == "auto" && !isTerminal(w) {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// app is everything `triage run` and `triage rules test` wire together.
type app struct {
	cfg      *config.Config
	log      *slog.Logger
	catalog  *catalog.Catalog
	rules    *route.Rules
	pipeline *pipeline.Pipeline
}

// build loads the catalog, compiles the rules and checks what run would
// refuse later (the dashboard's credentials, the alert rules); it opens
// nothing and reports every problem at once, each at its key.
func build(e env, cfg *config.Config, log *slog.Logger) (*app, error) {
	var (
		errs     []error
		overlays []string
	)
	for i, f := range cfg.Catalog.Files {
		if _, err := catalog.LoadOverlay(f); err != nil {
			errs = append(errs, cfg.Problemf(fmt.Sprintf("catalog.files[%d]", i), "%v", err))
			continue
		}
		overlays = append(overlays, f)
	}
	cat, err := catalog.Load(catalog.LoadOptions{DataDir: cfg.DataDir, Overlays: overlays})
	if err != nil {
		errs = append(errs, cfg.Problemf("catalog.files", "%v", err))
	}
	file := cfg.File
	if file == "" {
		file = "defaults"
	}
	rules, err := route.Compile(file, &cfg.Routes, route.Options{})
	if err != nil {
		errs = append(errs, err)
	}
	if dc, on := dashboardConfig(cfg); on {
		if err := dc.Check(); err != nil {
			errs = append(errs, cfg.Problemf("http.listen", "%v", err))
		}
	}
	if _, _, err := alertRules(cfg); err != nil {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return &app{cfg: cfg, log: log, catalog: cat, rules: rules,
		pipeline: &pipeline.Pipeline{Catalog: cat, Rules: rules, Log: log}}, nil
}

func openStore(ctx context.Context, cfg *config.Config) (store.Store, error) {
	switch cfg.Store.Driver {
	case "postgres":
		return postgres.Open(ctx, cfg.Store.DSN)
	default:
		path := cfg.Store.Path
		if !filepath.IsAbs(path) {
			path = filepath.Join(cfg.DataDir, path)
		}
		return sqlite.Open(ctx, path)
	}
}

// seedSampleInbox copies the embedded sample mails into dir/new the first
// time the defaults run, so the quick start has mail to work on without
// touching the repository's examples.
func seedSampleInbox(dir string) (bool, error) {
	if _, err := os.Stat(dir); err == nil {
		return false, nil
	}
	for _, d := range []string{"new", "cur", "tmp"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o700); err != nil {
			return false, err
		}
	}
	inbox := examples.Inbox()
	err := fs.WalkDir(inbox, "new", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := fs.ReadFile(inbox, p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dir, p), data, 0o600)
	})
	return true, err
}

func workerID() string {
	host, _ := os.Hostname()
	return fmt.Sprintf("%s-%d", host, os.Getpid())
}

func cmdRun(ctx context.Context, e env, args []string) error {
	fs := newFlagSet("run", e)
	cfgPath := fs.String("config", "", "config file (default: embedded defaults)")
	once := fs.Bool("once", false, "drain the sources and the outbox, then exit")
	listen := fs.String("listen", "", "override http.listen (\"off\" disables the server)")
	cpuprofile := fs.String("cpuprofile", "", "write a CPU profile to this file (for benchmarks)")
	dataDir := fs.String("data-dir", "", "override data_dir (without --config: default $TRIAGE_DATA_DIR or ./triage-data)")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if os.Getenv("GOGC") == "" {
		// The daemon's live heap is small (messages in flight, the
		// catalog) while ingest allocates steadily. Collecting at three
		// times the live heap instead of twice was about 5 % faster on
		// bench/run.sh for about 15 MiB more; GOGC and GOMEMLIMIT still
		// decide when set.
		debug.SetGCPercent(200)
	}
	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	if len(pos) > 0 {
		return usagef("run takes no arguments, got %q", pos)
	}
	var cfg *config.Config
	if *dataDir != "" && *cfgPath == "" {
		cfg = config.DefaultIn(*dataDir)
	} else {
		cfg, err = loadConfig(e, *cfgPath)
	}
	if err != nil {
		return problemsError(err)
	}
	if *dataDir != "" && cfg.File != "" {
		cfg.DataDir = *dataDir
		if err := cfg.Validate(); err != nil {
			return err
		}
	}
	if cfg.File == "" {
		if tok := e.getenv("TRIAGE_API_TOKEN"); tok != "" {
			cfg.HTTP.APITokens = []string{tok}
		}
	}
	if *listen != "" {
		cfg.HTTP.Listen = *listen
		if err := cfg.Validate(); err != nil {
			return err
		}
	}
	log := newLogger(cfg.Log, e.stderr)
	a, err := build(e, cfg, log)
	if err != nil {
		return problemsError(err)
	}
	if err := configErrors(cfg, a.rules); err != nil {
		return err
	}
	for _, w := range configWarnings(cfg, a.rules) {
		log.Warn("config: " + w)
	}
	if cfg.SampleMaildir() {
		seeded, err := seedSampleInbox(cfg.Sources.Maildir[0].Path)
		if err != nil {
			return fmt.Errorf("seed the sample inbox: %w", err)
		}
		if seeded {
			log.Info("no config file: running on the embedded defaults with the sample inbox", "maildir", cfg.Sources.Maildir[0].Path, "data_dir", cfg.DataDir)
		}
	}
	st, err := openStore(ctx, cfg)
	if err != nil {
		return err
	}
	defer st.Close()
	m := metrics.New()

	var endpoints []webhook.Endpoint
	for _, w := range cfg.Webhooks {
		endpoints = append(endpoints, webhook.Endpoint{Name: w.Name, URL: w.URL, Secret: w.Secret, Timeout: w.Timeout})
	}
	var maildirs []*maildir.Source
	var specs []pipeline.SourceSpec
	for _, md := range cfg.Sources.Maildir {
		src := maildir.NewSource(md.Name, md.Path, md.Keyword)
		maildirs = append(maildirs, src)
		specs = append(specs, pipeline.SourceSpec{Source: src, Interval: md.Poll, StaleAfter: md.StaleAfter})
	}
	jsonlSink := jsonl.New(append([]string{cfg.DataDir}, cfg.AllowedDirs...)...)
	defer jsonlSink.Close()
	wired := wiring{sinks: map[string]outbox.Sink{
		ticket.KindWebhook:     webhook.New(endpoints, nil),
		ticket.KindJSONL:       jsonlSink,
		ticket.KindMaildirMove: maildir.NewMoveSink(maildirs...),
	}}
	deps := &runDeps{cfg: cfg, log: log, store: st, pipeline: a.pipeline, catalog: a.catalog, metrics: m, holder: workerID(), once: *once}
	a.pipeline.Store, a.pipeline.Metrics = st, m
	integrations, err := wireIntegrations(ctx, deps)
	if err != nil {
		return err
	}
	if err := wired.merge(integrations); err != nil {
		return err
	}
	defer func() {
		for i := len(wired.closers) - 1; i >= 0; i-- {
			if err := wired.closers[i](); err != nil {
				log.Warn("closing an integration", "err", err)
			}
		}
	}()
	specs = append(specs, wired.sources...)
	sinks := wired.sinks
	o := cfg.Outbox
	if cfg.Store.Driver != "postgres" {
		// One process works a SQLite database: every claim left in it
		// belongs to a process that died. Release them all at once
		// rather than wait for them to run out.
		n, err := st.ReleaseClaims(ctx)
		if err != nil {
			return err
		}
		if n > 0 {
			log.Info("outbox: released the claims a stopped process left behind", "actions", n)
		}
	}
	ob := outbox.New(outbox.Config{Worker: workerID(), Workers: o.Workers, MaxAttempts: o.MaxAttempts, Backoff: o.Backoff, MaxBackoff: o.MaxBackoff,
		Lease: o.Lease, SendTimeout: o.SendTimeout, Poll: o.Poll}, st, sinks, log, m)
	a.pipeline.Dispatcher = ob // due actions are claimed at ingest and run at once
	rep := &onceReport{}       // tickets of this run, for --once
	a.pipeline.Stored = func(rec *store.Record) {
		for _, ac := range rec.Actions {
			if ac.State == ticket.StatePending {
				ob.Notify() // only when there is something to do
				break
			}
		}
		if *once {
			rep.add(rec)
		}
	}
	runner := &pipeline.Runner{Pipeline: a.pipeline, Holder: workerID(), Log: log, Metrics: m}
	if cfg.Store.Driver == "postgres" {
		runner.Leases = st
	}

	if *once {
		return runOnce(ctx, e, runner, ob, st, specs, rep)
	}

	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return runner.Run(gctx, specs) })
	g.Go(func() error { return ob.Run(gctx) })
	g.Go(func() error { return refreshGauges(gctx, st, m) })
	for _, work := range wired.workers {
		g.Go(func() error { return work(gctx) })
	}
	if cfg.HTTP.Listen != "off" {
		srv := &web.Server{Ingester: a.pipeline, Tickets: st, Tokens: cfg.HTTP.APITokens, MaxBody: cfg.HTTP.MaxBodyBytes,
			Sources: func() []pipeline.Health {
				hs := runner.Health()
				for _, h := range wired.health {
					hs = append(hs, h())
				}
				return hs
			}, Ping: func(ctx context.Context) error { _, err := st.CountActions(ctx); return err },
			Metrics: m, Log: log, Routes: wired.routes, PublicHosts: cfg.HTTP.PublicHosts, MetricsToken: cfg.HTTP.MetricsToken,
			Timeouts: web.Timeouts{ReadHeader: cfg.HTTP.ReadHeaderTimeout, Read: cfg.HTTP.ReadTimeout, Write: cfg.HTTP.WriteTimeout, Idle: cfg.HTTP.IdleTimeout}}
		ln, err := net.Listen("tcp", cfg.HTTP.Listen)
		if err != nil {
			return fmt.Errorf("http: %w", err)
		}
		hs := srv.HTTPServer()
		log.Info("listening", "addr", ln.Addr().String())
		g.Go(func() error {
			if err := hs.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				return fmt.Errorf("http: %w", err)
			}
			return nil
		})
		g.Go(func() error {
			<-gctx.Done()
			sctx, cancel := context.WithTimeout(context.WithoutCancel(gctx), 10*time.Second)
			defer cancel()
			return hs.Shutdown(sctx)
		})
	}
	log.Info("triage running", "sources", len(specs), "store", cfg.Store.Driver, "worker", workerID())
	err = g.Wait()
	log.Info("triage stopped")
	if err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	return nil
}

// refreshGauges keeps the outbox-state gauge current.
func refreshGauges(ctx context.Context, st store.Store, m *metrics.Metrics) error {
	t := time.NewTicker(15 * time.Second)
	defer t.Stop()
	for {
		if counts, err := st.CountActions(ctx); err == nil {
			out := map[string]int{}
			for k, v := range counts {
				out[string(k)] = v
			}
			m.ActionStates(out)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// onceReport keeps a bounded summary of the tickets `run --once` stored.
type onceReport struct {
	mu    sync.Mutex
	rows  []string
	total int
	byCat map[string]int
}

// reportRows is how many tickets --once lists one per line.
const reportRows = 40

func (r *onceReport) add(rec *store.Record) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.byCat == nil {
		r.byCat = map[string]int{}
	}
	r.total++
	c := orNone(rec.Category)
	r.byCat[c]++
	if len(r.rows) >= reportRows {
		return
	}
	var codes, acts []string
	// Codes named only by their wording are marked ~ (only the first
	// rows are printed, so reading the annotation here costs little).
	var ann struct {
		Codes []struct {
			Code     int  `json:"code"`
			Inferred bool `json:"inferred"`
		} `json:"codes"`
	}
	_ = json.Unmarshal(rec.Annotation, &ann)
	inferred := map[int]bool{}
	for _, c := range ann.Codes {
		inferred[c.Code] = c.Inferred
	}
	for _, n := range rec.Codes {
		if inferred[n] {
			codes = append(codes, "~"+strconv.Itoa(n))
		} else {
			codes = append(codes, strconv.Itoa(n))
		}
	}
	for _, a := range rec.Actions {
		acts = append(acts, a.Kind+"→"+a.Target)
	}
	subject := rec.Ticket.Subject
	if subject == "" {
		subject = rec.Ticket.ID
	}
	r.rows = append(r.rows, fmt.Sprintf("%-44s %-18s %-16s %s", oneLine(subject, 44), c, oneLine(strings.Join(codes, ","), 16), strings.Join(acts, "  ")))
}

func runOnce(ctx context.Context, e env, runner *pipeline.Runner, ob *outbox.Outbox, st store.Store, specs []pipeline.SourceSpec, rep *onceReport) error {
	// The outbox works while the sources are drained, then finishes what
	// is due.
	started := time.Now()
	octx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { _ = ob.Run(octx); close(done) }()
	_, serr := runner.Once(ctx, specs)
	stop()
	<-done
	_, oerr := ob.Drain(ctx)
	counts, err := st.CountActions(ctx)
	if err != nil {
		return err
	}
	w := e.stdout
	if len(rep.rows) > 0 {
		fmt.Fprintf(w, "%-44s %-18s %-16s %s\n", "SUBJECT", "CATEGORY", "CODES", "ACTIONS")
		for _, row := range rep.rows {
			fmt.Fprintln(w, row)
		}
		if rep.total > len(rep.rows) {
			fmt.Fprintf(w, "… and %d more\n", rep.total-len(rep.rows))
		}
	}
	// Stored tickets, not messages handed over: a message met again
	// (say, left in new/ for its maildir.move) is a duplicate, not new.
	n := rep.total
	fmt.Fprintf(w, "\ntook in %d new ticket(s)\n", n)
	fmt.Fprintf(w, "outbox: %d done, %d pending, %d failed, %d suppressed, %d shadow\n", counts[ticket.StateDone], counts[ticket.StatePending]+counts[ticket.StateRunning],
		counts[ticket.StateFailed], counts[ticket.StateSuppressed], counts[ticket.StateShadow])
	if waiting := counts[ticket.StatePending] + counts[ticket.StateRunning]; waiting > 0 {
		fmt.Fprintf(w, "%d action(s) wait for a later retry (their last attempt failed, see the dashboard); `triage run` sends them when due\n", waiting)
	}
	if len(rep.byCat) > 0 {
		var parts []string
		for _, c := range append(catalogCategories(), "none") {
			if rep.byCat[c] > 0 {
				parts = append(parts, fmt.Sprintf("%s %d", c, rep.byCat[c]))
			}
		}
		fmt.Fprintf(w, "by category: %s\n", strings.Join(parts, ", "))
	}
	if n == 0 && serr == nil {
		var dirs []string
		for _, sp := range specs {
			dirs = append(dirs, sp.Source.Name())
		}
		fmt.Fprintf(w, "no new mail in %s\n", strings.Join(dirs, ", "))
	}
	failing, err := failingSince(ctx, st, started)
	if err != nil {
		return errors.Join(serr, oerr, err)
	}
	if failing > 0 {
		// A drain that left work undone is not a success: a cron job or
		// CI step must see it.
		oerr = errors.Join(oerr, fmt.Errorf("%d action(s) attempted in this run are failing (parked or waiting for a retry); the dashboard lists them with their errors", failing))
	}
	return errors.Join(serr, oerr)
}

// failingSince counts the actions attempted since start whose last
// attempt failed: parked as failed, or pending with an error to retry.
// Replies held back on purpose are suppressed, not failed.
func failingSince(ctx context.Context, st store.Store, start time.Time) (int, error) {
	n := 0
	for _, state := range []ticket.ActionState{ticket.StateFailed, ticket.StatePending} {
		acts, err := st.Actions(ctx, store.ActionQuery{State: state, Limit: 1 << 20})
		if err != nil {
			return 0, fmt.Errorf("count failing actions: %w", err)
		}
		for _, a := range acts {
			if a.LastError != "" && !a.Updated.Before(start) {
				n++
			}
		}
	}
	return n, nil
}

func catalogCategories() []string {
	var out []string
	for _, c := range catalog.Categories() {
		out = append(out, string(c))
	}
	return out
}
