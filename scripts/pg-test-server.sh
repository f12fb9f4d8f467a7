#!/usr/bin/env bash
# pg-test-server.sh — a throwaway PostgreSQL cluster for tests, no Docker.
#
#   scripts/pg-test-server.sh start DIR   # init (first time) and start; prints the DSN
#   scripts/pg-test-server.sh stop DIR    # stop and remove DIR
#
#   export TRIAGE_TEST_POSTGRES=$(scripts/pg-test-server.sh start /tmp/triage-pg)
#   go test -race ./store/...
#   scripts/pg-test-server.sh stop /tmp/triage-pg
#
# The cluster lives in DIR (data in DIR/data, socket in DIR, log in
# DIR/postgres.log), listens on 127.0.0.1 only, trusts local connections
# (it is for tests: never point it at a network), and runs with fsync off.
# It listens on $PGPORT (default 55432) or the next free port after it.
# PostgreSQL refuses to run as root: as root the script creates DIR owned
# by the postgres user and runs the server as that user (DIR's parents
# must be searchable by it). $PG_BIN overrides the directory of initdb,
# pg_ctl and pg_isready (default: Debian's newest /usr/lib/postgresql/*/bin).
# Only the DSN goes to stdout; progress and errors go to stderr.
set -euo pipefail

usage() { echo "usage: $0 start|stop DIR" >&2; exit 2; }
[ $# -eq 2 ] || usage
cmd=$1
dir=$2
[ -n "$dir" ] || usage
case $dir in /*) ;; *) dir=$(pwd)/$dir ;; esac
marker=$dir/.triage-pg-test
db=triage_test

find_bin() {
	if [ -n "${PG_BIN:-}" ]; then echo "$PG_BIN"; return; fi
	local newest=""
	for d in /usr/lib/postgresql/*/bin; do
		[ -x "$d/pg_ctl" ] && newest=$d
	done
	if [ -n "$newest" ]; then echo "$newest"; return; fi
	command -v pg_ctl >/dev/null 2>&1 && { dirname "$(command -v pg_ctl)"; return; }
	echo "pg-test-server: no PostgreSQL found (install postgresql or set PG_BIN)" >&2
	exit 1
}
bin=$(find_bin)

# as_pg runs a command as the cluster's owner: the postgres user when we
# are root, ourselves otherwise.
as_pg() {
	if [ "$(id -u)" -eq 0 ]; then
		runuser -u postgres -- "$@"
	else
		"$@"
	fi
}

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

dsn() { echo "postgres://postgres@127.0.0.1:$1/$db?sslmode=disable"; }

start() {
	if [ -f "$marker" ] && [ -f "$dir/port" ] && as_pg "$bin/pg_ctl" -D "$dir/data" status >/dev/null 2>&1; then
		echo "pg-test-server: already running in $dir" >&2
		dsn "$(cat "$dir/port")"
		return
	fi
	if [ -e "$dir" ] && [ ! -f "$marker" ] && [ -n "$(ls -A "$dir" 2>/dev/null)" ]; then
		echo "pg-test-server: $dir exists and is not a test cluster; refusing to use it" >&2
		exit 1
	fi
	mkdir -p "$dir"
	touch "$marker"
	if [ "$(id -u)" -eq 0 ]; then
		chown postgres:postgres "$dir" "$marker"
	fi
	chmod 700 "$dir"

	if [ ! -f "$dir/data/PG_VERSION" ]; then
		echo "pg-test-server: initdb in $dir/data" >&2
		as_pg "$bin/initdb" -D "$dir/data" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 --no-sync >"$dir/initdb.log" 2>&1 || {
			cat "$dir/initdb.log" >&2
			exit 1
		}
	fi

	# A port nobody listens on may still refuse a bind: one left in
	# TIME_WAIT by a burst of loopback connections (bench/helpdesk.sh
	# leaves tens of thousands) is "already in use" to the server. Such a
	# start is tried again on the next port.
	local port=${PGPORT:-55432} tries=0
	while :; do
		while port_in_use "$port"; do
			port=$((port + 1))
			tries=$((tries + 1))
			[ $tries -lt 50 ] || { echo "pg-test-server: no free port near ${PGPORT:-55432}" >&2; exit 1; }
		done
		echo "$port" >"$dir/port"
		echo "pg-test-server: starting on 127.0.0.1:$port" >&2
		rm -f "$dir/postgres.log"
		if as_pg "$bin/pg_ctl" -D "$dir/data" -l "$dir/postgres.log" -w -t 60 \
			-o "-c listen_addresses=127.0.0.1 -p $port -k '$dir' -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=300" \
			start >&2; then
			break
		fi
		tries=$((tries + 1))
		if grep -q "Address already in use" "$dir/postgres.log" && [ $tries -lt 50 ]; then
			echo "pg-test-server: 127.0.0.1:$port cannot be bound yet; trying the next port" >&2
			port=$((port + 1))
			continue
		fi
		tail -n 30 "$dir/postgres.log" >&2 || true
		exit 1
	done

	local i
	for i in $(seq 1 100); do
		if "$bin/pg_isready" -q -h 127.0.0.1 -p "$port" -U postgres; then break; fi
		if [ "$i" -eq 100 ]; then echo "pg-test-server: server did not become ready" >&2; exit 1; fi
		sleep 0.1
	done

	if ! as_pg "$bin/psql" -h 127.0.0.1 -p "$port" -U postgres -d postgres -Atqc \
		"SELECT 1 FROM pg_database WHERE datname = '$db'" | grep -q 1; then
		as_pg "$bin/createdb" -h 127.0.0.1 -p "$port" -U postgres "$db"
	fi
	dsn "$port"
}

stop() {
	if [ ! -f "$marker" ]; then
		echo "pg-test-server: $dir is not a test cluster; nothing to stop" >&2
		exit 1
	fi
	if [ -f "$dir/data/PG_VERSION" ]; then
		as_pg "$bin/pg_ctl" -D "$dir/data" -m fast -w stop >&2 || true
	fi
	rm -rf "$dir"
	echo "pg-test-server: stopped and removed $dir" >&2
}

case $cmd in
start) start ;;
stop) stop ;;
*) usage ;;
esac
