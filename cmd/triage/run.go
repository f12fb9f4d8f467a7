package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
)

// usageError is a mistake in the command line: exit status 2.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error { return usageError{fmt.Sprintf(format, args...)} }

// partialError means the command ran but some inputs could not be read:
// exit status 1. Each problem was already reported on stderr.
type partialError struct{ failed int }

func (e partialError) Error() string {
	return fmt.Sprintf("%d input(s) could not be read", e.failed)
}

// exitCode reports err on w and maps it to an exit status: 0 ok, 2 usage,
// 1 anything else.
func exitCode(err error, w io.Writer) int {
	var ue usageError
	var pe partialError
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return 0
	case errors.As(err, &ue):
		fmt.Fprintf(w, "triage: %s\nRun 'triage help' for usage.\n", ue.msg)
		return 2
	case errors.As(err, &pe):
		fmt.Fprintf(w, "triage: %s\n", pe.Error())
		return 1
	default:
		fmt.Fprintf(w, "triage: %v\n", err)
		return 1
	}
}

const helpText = `triage finds ngrok error codes in support mail and says what they mean.

Usage:
  triage scan [--json] [PATH|-]...    find codes in .eml files, mbox files, Maildirs,
                                      folders of mail, plain text or stdin
  triage explain CODE...              what a code means: ERR_NGROK_108, err_ngrok_108, 108, a docs URL
  triage catalog list [--category C] [--json]
  triage catalog sync [--from URL|FILE] [--force]
  triage catalog export               the whole catalog as JSON Lines
  triage run [--config FILE] [--once]  the bot: sources → annotate → route → store → actions,
                                      with the HTTP API, /healthz, /readyz and /metrics
  triage rules test [--config FILE] [--json] INPUT...
                                      dry run: which rules match each ticket and what would run
  triage config check [--config FILE] [--connect]
  triage config show [--config FILE]  the configuration with secrets redacted
  triage auth login [--config FILE] ACCOUNT
                                      OAuth2 sign-in (device code, or a browser redirect to
                                      127.0.0.1 whose address can be pasted; works over SSH)
                                      for an imap account or smtp with an oauth2 block
  triage version

Common flags:
  --data-dir DIR     where synced data lives (default $TRIAGE_DATA_DIR or ./triage-data)
  --overlay FILE     a catalog overlay file (repeatable)
`

// env is what every command gets.
type env struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	getenv         func(string) string
}

// run is the composition root: it parses args and runs one command.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	e := env{stdin: stdin, stdout: stdout, stderr: stderr, getenv: os.Getenv}
	if len(args) == 0 {
		fmt.Fprint(stderr, helpText)
		return usagef("no command given")
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "scan":
		return cmdScan(ctx, e, rest)
	case "explain":
		return cmdExplain(ctx, e, rest)
	case "catalog":
		return cmdCatalog(ctx, e, rest)
	case "run":
		return cmdRun(ctx, e, rest)
	case "rules":
		return cmdRules(ctx, e, rest)
	case "config":
		return cmdConfig(ctx, e, rest)
	case "auth":
		return cmdAuth(ctx, e, rest)
	case "version", "--version":
		fmt.Fprintln(stdout, "triage", version)
		return nil
	case "help", "-h", "--help":
		fmt.Fprint(stdout, helpText)
		return nil
	default:
		return usagef("unknown command %q", cmd)
	}
}

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

// stringList is a repeatable string flag.
type stringList []string

func (s *stringList) String() string     { return strings.Join(*s, ",") }
func (s *stringList) Set(v string) error { *s = append(*s, v); return nil }

// catalogFlags are the flags that say where the catalog's layers are.
type catalogFlags struct {
	dataDir  string
	overlays stringList
}

func (c *catalogFlags) register(fs *flag.FlagSet, e env) {
	def := e.getenv("TRIAGE_DATA_DIR")
	if def == "" {
		def = "triage-data"
	}
	fs.StringVar(&c.dataDir, "data-dir", def, "directory for synced data")
	fs.Var(&c.overlays, "overlay", "catalog overlay file (repeatable)")
}

// newFlagSet returns a flag set that reports errors as usage errors and
// writes help to stdout.
func newFlagSet(name string, e env) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	return fs
}

// parseFlags parses args with fs, allowing flags after positional
// arguments, and turns flag errors into usage errors.
func parseFlags(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
			return nil, usageError{err.Error()}
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		if args[0] == "--" {
			return append(pos, args[1:]...), nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}
