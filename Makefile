# One Makefile, the same targets locally and in CI.
GO       ?= go
# Fuzz budgets are execution counts, not durations: Go 1.26's fuzz
# coordinator can fail a duration-limited run with a spurious "context
# deadline exceeded" when the deadline lands during minimization
# (golang.org/issue/75804, fixed in Go 1.27). Counts also bound
# minimization, so a run takes roughly the same time on any machine load.
FUZZ_FIND     ?= 300000x
FUZZ_MESSAGE  ?= 300000x
FUZZ_HEADERS  ?= 200000x
FUZZ_STRING   ?= 50000x
FUZZ_SLACK    ?= 100000x
FUZZ_INFER    ?= 200000x
FUZZ_AGREE    ?= 200000x
FUZZ_MINIMIZE ?= 500x
PKGS     := ./...
# staticcheck is pinned here; `make tools` installs it (.ci/run does).
# v0.8.x is the first line that reads Go 1.26 code.
STATICCHECK_VERSION := v0.8.2
STATICCHECK ?= $(shell command -v staticcheck 2>/dev/null || echo "$$($(GO) env GOPATH)/bin/staticcheck")

.PHONY: all build test check vet fmt staticcheck tools unit fuzz bench bench-extract bench-run bench-imap bench-helpdesk eval clean

all: build

build:
	$(GO) build -o triage ./cmd/triage

## test: everything CI runs — formatting, vet, unit and integration tests, short fuzzing.
test: check unit fuzz

check: fmt vet staticcheck

fmt:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi

## vet: also the portable paths that amd64 builds leave out (the assembly's
## Go twins, other systems), so a change there cannot break them unseen.
vet:
	$(GO) vet $(PKGS)
	GOARCH=arm64 $(GO) vet $(PKGS)
	$(GO) vet -tags purego ./extract/
	GOOS=windows $(GO) vet ./cmd/triage/

## staticcheck: skipped with a message when it is not installed, except in CI.
staticcheck:
	@if [ -x "$(STATICCHECK)" ]; then \
		echo "$(STATICCHECK) $(PKGS)"; "$(STATICCHECK)" $(PKGS); \
	elif [ -n "$$CI" ]; then \
		echo "staticcheck is not installed (CI installs it with make tools)"; exit 1; \
	else \
		echo "staticcheck not installed: skipping it (make tools installs $(STATICCHECK_VERSION))"; \
	fi

## tools: install the pinned staticcheck.
tools:
	$(GO) install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)

unit:
	$(GO) test -race -count=1 $(PKGS)

## fuzz: run each fuzz target for its budget (seed corpora run in `unit` too).
fuzz:
	$(GO) test -run='^$$' -fuzz='^FuzzFind$$' -fuzztime=$(FUZZ_FIND) -fuzzminimizetime=$(FUZZ_MINIMIZE) ./extract/
	$(GO) test -run='^$$' -fuzz='^FuzzInfer$$' -fuzztime=$(FUZZ_INFER) -fuzzminimizetime=$(FUZZ_MINIMIZE) ./extract/
	$(GO) test -run='^$$' -fuzz='^FuzzPhrasesAgree$$' -fuzztime=$(FUZZ_AGREE) -fuzzminimizetime=$(FUZZ_MINIMIZE) ./extract/
	$(GO) test -run='^$$' -fuzz='^FuzzMessage$$' -fuzztime=$(FUZZ_MESSAGE) -fuzzminimizetime=$(FUZZ_MINIMIZE) ./normalize/
	$(GO) test -run='^$$' -fuzz='^FuzzHeaders$$' -fuzztime=$(FUZZ_HEADERS) -fuzzminimizetime=$(FUZZ_MINIMIZE) ./normalize/
	$(GO) test -run='^$$' -fuzz='^FuzzSlack$$' -fuzztime=$(FUZZ_SLACK) -fuzzminimizetime=$(FUZZ_MINIMIZE) ./normalize/
	$(GO) test -run='^$$' -fuzz='^FuzzString$$' -fuzztime=$(FUZZ_STRING) -fuzzminimizetime=$(FUZZ_MINIMIZE) ./redact/

bench:
	$(GO) test -run='^$$' -bench=. -benchmem ./extract/ ./catalog/ ./route/ ./redact/

## eval: recognition on the corpus of real-shaped reports, per class (annotate/testdata/reports).
eval:
	$(GO) test -count=1 -run '^TestEvalReports$$' -v ./annotate/ | sed -n '/class /,/agent API numbers reported/p'

## bench-extract: triage scan vs ripgrep vs a plain Go regexp on a 256 MiB corpus.
bench-extract:
	bash bench/extract.sh

## bench-run: triage run --once on 20,000 mails (SQLite and PostgreSQL) vs a Python extractor.
bench-run:
	bash bench/run.sh

## bench-imap: triage run --once draining 10,000 mails from Dovecot vs mbsync.
bench-imap:
	bash bench/imap.sh

## bench-helpdesk: 5,000 signed webhooks each from the Zendesk, Freshdesk, Front, Help Scout and Slack stand-ins: ack p50/p99, time to every note.
bench-helpdesk:
	bash bench/helpdesk.sh

clean:
	rm -f triage
	rm -rf bench/out
