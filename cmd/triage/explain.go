package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/triage-bot/triage/catalog"
	"github.com/triage-bot/triage/extract"
)

func (c *catalogFlags) load() (*catalog.Catalog, error) {
	return catalog.Load(catalog.LoadOptions{DataDir: c.dataDir, Overlays: c.overlays})
}

// parseCodeArg reads a code in any written form: a bare number, a
// canonical or loose spelling, or a docs URL.
func parseCodeArg(s string) (int, error) {
	if n, err := catalog.ParseCode(s); err == nil {
		return n, nil
	}
	if ms := extract.FindString(s); len(ms) > 0 {
		return ms[0].Code, nil
	}
	return 0, usagef("%q is not an ngrok error code (try ERR_NGROK_108 or 108)", s)
}

func cmdExplain(_ context.Context, e env, args []string) error {
	fs := newFlagSet("explain", e)
	var cf catalogFlags
	cf.register(fs, e)
	asJSON := fs.Bool("json", false, "write JSON Lines")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) == 0 {
		return usagef("explain needs at least one code, e.g. triage explain ERR_NGROK_108")
	}
	// Every code that reads as one is explained; the others are named
	// after them, and the command fails (exit 1), so a script notices.
	var (
		codes []int
		bad   []string
	)
	for _, a := range pos {
		n, err := parseCodeArg(a)
		if err != nil {
			bad = append(bad, fmt.Sprintf("%q", a))
			continue
		}
		codes = append(codes, n)
	}
	if len(codes) == 0 {
		return usagef("%s", notCodes(bad))
	}
	cat, err := cf.load()
	if err != nil {
		return err
	}
	enc := json.NewEncoder(e.stdout)
	for i, n := range codes {
		ent := cat.Lookup(n)
		if *asJSON {
			if err := enc.Encode(entryJSON(ent)); err != nil {
				return err
			}
			continue
		}
		if i > 0 {
			fmt.Fprintln(e.stdout)
		}
		writeExplanation(e.stdout, ent)
	}
	if len(bad) > 0 {
		return fmt.Errorf("explain: %s; the others are explained above", notCodes(bad))
	}
	return nil
}

// notCodes says that the quoted arguments bad are not codes.
func notCodes(bad []string) string {
	if len(bad) == 1 {
		return bad[0] + " is not an ngrok error code (try ERR_NGROK_108 or 108)"
	}
	return strings.Join(bad, ", ") + " are not ngrok error codes (try ERR_NGROK_108 or 108)"
}

// jsonEntry is an entry with its derived fields, for JSON output.
type jsonEntry struct {
	catalog.Entry
	Name    string `json:"name"`
	DocsURL string `json:"docs_url"`
}

func entryJSON(ent catalog.Entry) jsonEntry {
	return jsonEntry{Entry: ent, Name: ent.Name(), DocsURL: ent.DocsURL()}
}

func writeExplanation(w io.Writer, ent catalog.Entry) {
	fmt.Fprintf(w, "%s  [%s]", ent.Name(), ent.Category)
	if ent.Status == catalog.Retired {
		fmt.Fprint(w, "  (retired)")
	}
	if !ent.Known {
		fmt.Fprint(w, "  (unknown to the catalog)")
	}
	fmt.Fprintln(w)
	fmt.Fprintf(w, "  meaning:  %s\n", ent.Summary)
	if ent.Official != "" {
		fmt.Fprintf(w, "  ngrok:    %s\n", ent.Official)
	}
	if ent.Hint != "" {
		fmt.Fprintf(w, "  hint:     %s\n", ent.Hint)
	}
	if ent.Runbook != "" {
		fmt.Fprintf(w, "  runbook:  %s\n", ent.Runbook)
	}
	if ent.Owner != "" {
		fmt.Fprintf(w, "  owner:    %s\n", ent.Owner)
	}
	fmt.Fprintf(w, "  docs:     %s\n", ent.DocsURL())
}

func cmdCatalog(ctx context.Context, e env, args []string) error {
	if len(args) == 0 {
		return usagef("catalog needs a subcommand: list, sync or export")
	}
	switch args[0] {
	case "list":
		return cmdCatalogList(e, args[1:], false)
	case "export":
		return cmdCatalogList(e, args[1:], true)
	case "sync":
		return cmdCatalogSync(ctx, e, args[1:])
	default:
		return usagef("unknown catalog subcommand %q (want list, sync or export)", args[0])
	}
}

func cmdCatalogList(e env, args []string, export bool) error {
	fs := newFlagSet("catalog list", e)
	var cf catalogFlags
	cf.register(fs, e)
	category := fs.String("category", "", "only this category")
	asJSON := fs.Bool("json", export, "write JSON Lines")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usagef("catalog list takes no arguments, got %q", pos)
	}
	if *category != "" && !catalog.Category(*category).Valid() {
		var names []string
		for _, c := range catalog.Categories() {
			names = append(names, string(c))
		}
		return usagef("unknown category %q (want one of %s)", *category, strings.Join(names, ", "))
	}
	cat, err := cf.load()
	if err != nil {
		return err
	}
	enc := json.NewEncoder(e.stdout)
	for _, ent := range cat.All() {
		if *category != "" && string(ent.Category) != *category {
			continue
		}
		if *asJSON {
			if err := enc.Encode(entryJSON(ent)); err != nil {
				return err
			}
			continue
		}
		fmt.Fprintf(e.stdout, "%-16s %-18s %s\n", ent.Name(), ent.Category, ent.Summary)
	}
	return nil
}

func cmdCatalogSync(ctx context.Context, e env, args []string) error {
	fs := newFlagSet("catalog sync", e)
	var cf catalogFlags
	cf.register(fs, e)
	from := fs.String("from", "", "URL or file of ngrok's error table (default: ngrok's public docs repository)")
	force := fs.Bool("force", false, "accept a table with far fewer codes than the last sync")
	timeout := fs.Duration("timeout", 0, "download time limit (default 30s)")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usagef("catalog sync takes no arguments, got %q", pos)
	}
	rep, err := catalog.Sync(ctx, catalog.SyncOptions{From: *from, DataDir: cf.dataDir, Force: *force, Timeout: *timeout})
	if err != nil {
		return err
	}
	cat, err := catalog.Default()
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "synced %d codes from %s into %s\n", rep.Total, rep.Source, rep.FilePath)
	if rep.First {
		fmt.Fprintln(e.stdout, "first sync: every code counts as added")
	}
	fmt.Fprintf(e.stdout, "added %d, changed %d, removed %d\n", len(rep.Added), len(rep.Changed), len(rep.Removed))
	if !rep.First {
		listCodes(e.stdout, "added", rep.Added)
	}
	listCodes(e.stdout, "changed", rep.Changed)
	listCodes(e.stdout, "removed", rep.Removed)
	var missing []int
	for _, c := range append(rep.Added, rep.Changed...) {
		if !cat.Has(c) {
			missing = append(missing, c)
		}
	}
	listCodes(e.stdout, "not yet in our catalog (add a summary)", missing)
	return nil
}

func listCodes(w io.Writer, label string, codes []int) {
	if len(codes) == 0 {
		return
	}
	const most = 50
	var names []string
	for i, c := range codes {
		if i == most {
			names = append(names, fmt.Sprintf("… and %d more", len(codes)-most))
			break
		}
		names = append(names, extract.CodeString(c))
	}
	fmt.Fprintf(w, "%s: %s\n", label, strings.Join(names, ", "))
}
