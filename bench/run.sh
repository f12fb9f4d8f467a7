#!/usr/bin/env bash
# bench/run.sh — end-to-end throughput of `triage run --once`.
#
# Generates a Maildir of N mails (default 20,000) in every MIME shape of the
# sample inbox, then, in the same run:
#   triage run --once   the whole job: parse, annotate, route, store in
#                       SQLite, run the actions (a JSON Lines log and a
#                       Maildir move per ticket), mark each mail handled
#   the same job        with the PostgreSQL store, on a throwaway cluster
#                       (scripts/pg-test-server.sh: fsync off, loopback)
#   bench/pyextract.py  Python's mailbox + email + re, extraction only
# and prints messages/s, peak RSS and the ratios. Without PostgreSQL
# installed (or with PG=off) the PostgreSQL row is left out. Each runs RUNS times
# (default 3), taking turns, triage on a fresh copy of the Maildir each
# time; the best time of each counts (a shared host's speed drifts by
# about ±10 % from run to run) and every time is printed. It reports; it
# asserts nothing.
#
# Usage: [RUNS=3] bench/run.sh [MESSAGES]
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-20000}
runs=${RUNS:-3}
out=$PWD/bench/out/run   # absolute: a config's relative paths are taken from its own folder
rm -rf "$out"
mkdir -p "$out"
if [ ! -x /usr/bin/time ]; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq time >/dev/null
fi
go build -o "$out/triage" ./cmd/triage

# A throwaway PostgreSQL cluster, stopped on exit; each run gets an empty
# schema of its own.
pg=${PG:-on}
if [ "$pg" != off ] && ! ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1 && ! command -v pg_ctl >/dev/null; then
  echo "run.sh: PostgreSQL is not installed; the PostgreSQL row is left out" >&2
  pg=off
fi
if [ "$pg" != off ]; then
  pgdir=$(mktemp -d /tmp/triage-bench-pg.XXXXXX)
  rmdir "$pgdir"
  pgdsn=$(bash scripts/pg-test-server.sh start "$pgdir")
  trap 'bash scripts/pg-test-server.sh stop "$pgdir" >/dev/null 2>&1 || true' EXIT
  psql=$(command -v psql || ls /usr/lib/postgresql/*/bin/psql | tail -1)
fi
go run ./bench/genmaildir -o "$out/py-maildir" -n "$n"
cat "$out"/py-maildir/new/* >/dev/null # warm the page cache for both

cat >"$out/triage.yaml" <<YAML
data_dir: $out/data
http: {listen: "off"}
log: {level: warn}
sources:
  maildir:
    - {name: bench, path: $out/maildir}
routes:
  rules:
    - name: log
      actions: [{kind: jsonl, target: $out/data/tickets.jsonl}]
      continue: true
    - name: file
      match: {has_code: true}
      actions: [{kind: maildir.move, target: "{{.Primary}}"}]
YAML
# The same job with the PostgreSQL store; search_path picks the run's schema.
pgconfig() {
  sed "s|^data_dir: .*|data_dir: $out/pgdata|; s|$out/data/tickets.jsonl|$out/pgdata/tickets.jsonl|; s|path: $out/maildir|path: $out/pgmaildir|" "$out/triage.yaml"
  echo "store: {driver: postgres, dsn: \"$pgdsn&options=-csearch_path%3D$1\"}"
}

# best FILES...: the best time and the peak RSS of /usr/bin/time outputs.
best() { awk 'NR==1 || $1<t {t=$1} $2>m {m=$2} END {print t, m}' "$@"; }
for i in $(seq "$runs"); do
  rm -rf "$out/maildir" "$out/data"
  cp -r "$out/py-maildir" "$out/maildir"
  sync # write the copy out now, not during the run
  /usr/bin/time -f '%e %M' -o "$out/triage.time.$i" "$out/triage" run --once --config "$out/triage.yaml" >"$out/triage.out"
  if [ "$pg" != off ]; then
    rm -rf "$out/pgmaildir" "$out/pgdata"
    cp -r "$out/py-maildir" "$out/pgmaildir"
    "$psql" "$pgdsn" -qc "DROP SCHEMA IF EXISTS bench$i CASCADE; CREATE SCHEMA bench$i" 2>/dev/null
    pgconfig "bench$i" >"$out/triage-pg.yaml"
    sync
    /usr/bin/time -f '%e %M' -o "$out/pg.time.$i" "$out/triage" run --once --config "$out/triage-pg.yaml" >"$out/pg.out"
  fi
  /usr/bin/time -f '%e %M' -o "$out/py.time.$i" python3 bench/pyextract.py "$out/py-maildir" >"$out/py.out"
done
read -r t_tr m_tr < <(best "$out"/triage.time.*)
read -r t_py m_py < <(best "$out"/py.time.*)

printf '\n%s messages, %s cores, best of %s runs each\n\n' "$n" "$(nproc)" "$runs"
printf '%-40s %9s %12s %12s\n' "" seconds messages/s "peak RSS"
printf '%-40s %9.2f %12.0f %9.1f MiB\n' "triage run --once (full job, SQLite)" "$t_tr" "$(awk "BEGIN{print $n/$t_tr}")" "$(awk "BEGIN{print $m_tr/1024}")"
if [ "$pg" != off ]; then
  read -r t_pg m_pg < <(best "$out"/pg.time.*)
  printf '%-40s %9.2f %12.0f %9.1f MiB\n' "triage run --once (full job, PostgreSQL)" "$t_pg" "$(awk "BEGIN{print $n/$t_pg}")" "$(awk "BEGIN{print $m_pg/1024}")"
fi
printf '%-40s %9.2f %12.0f %9.1f MiB\n' "python mailbox+email+re (extract only)" "$t_py" "$(awk "BEGIN{print $n/$t_py}")" "$(awk "BEGIN{print $m_py/1024}")"
printf '\ntriage throughput / python throughput: %.1fx   (target >= 5)\n' "$(awk "BEGIN{print $t_py/$t_tr}")"
if [ "$pg" != off ]; then
  printf 'PostgreSQL throughput / SQLite throughput: %.0f%%   (target >= 50%%)\n' "$(awk "BEGIN{print 100*$t_tr/$t_pg}")"
  printf 'all runs (s): triage %s; PostgreSQL %s; python %s\n' "$(cut -d' ' -f1 "$out"/triage.time.* | xargs)" "$(cut -d' ' -f1 "$out"/pg.time.* | xargs)" "$(cut -d' ' -f1 "$out"/py.time.* | xargs)"
else
  printf 'all runs (s): triage %s; python %s\n' "$(cut -d' ' -f1 "$out"/triage.time.* | xargs)" "$(cut -d' ' -f1 "$out"/py.time.* | xargs)"
fi
tail -3 "$out/triage.out"
[ "$pg" = off ] || { echo "PostgreSQL:"; tail -2 "$out/pg.out"; }
cat "$out/py.out"
