#!/usr/bin/env bash
# bench/imap.sh — draining a real IMAP mailbox: triage against mbsync.
#
# Starts a throwaway Dovecot (scripts/dovecot-test-server.sh), APPENDs N
# mails (default 10,000, every MIME shape of the sample inbox) into the
# INBOXes of users "bot" and "customer" (mbsync pushes them, which is an
# APPEND per message), then, in the same run:
#   mbsync (isync)        copies bot's INBOX to a local Maildir — download only
#   triage, keywords      drains bot's INBOX: fetch (BODY.PEEK[]), parse,
#                         annotate, store in SQLite, acknowledge ($triaged),
#                         and run an imap.flag action per ticket with codes
#   triage, with moves    drains customer's INBOX with the routes a team
#                         writes: a keyword per code and a move to a folder
#                         per category (Triage/<category>, created)
# and prints the times and ratios (targets: keywords <= 1.0x mbsync; the
# drain with moves <= 1.3x the keyword-only drain). It reports; it
# asserts nothing. Needs root, dovecot-imapd and isync.
#
# Usage: bench/imap.sh [MESSAGES]
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-10000}
out=$PWD/bench/out/imap
for tool in dovecot mbsync; do
  command -v "$tool" >/dev/null || { echo "bench/imap.sh needs $tool: apt-get install -y dovecot-imapd isync" >&2; exit 3; }
done
if [ -d "$out/dovecot" ]; then scripts/dovecot-test-server.sh stop "$out/dovecot" || true; fi
rm -rf "$out"
mkdir -p "$out"
addr=$(scripts/dovecot-test-server.sh start "$out/dovecot")
trap 'scripts/dovecot-test-server.sh stop "$out/dovecot" >/dev/null 2>&1 || true' EXIT
host=${addr%:*}
port=${addr#*:}

go build -o "$out/triage" ./cmd/triage
go run ./bench/genmaildir -o "$out/seed" -n "$n"
mkdir -p "$out/copy"

cat >"$out/mbsyncrc" <<EOF
IMAPAccount bench
Host $host
Port $port
User bot
Pass secret
TLSType None
AuthMechs LOGIN PLAIN
PipelineDepth 50

IMAPStore remote
Account bench

MaildirStore seed
Path $out/seed/
Inbox $out/seed

MaildirStore copy
Path $out/copy/
Inbox $out/copy

Channel push
Far :remote:INBOX
Near :seed:
Sync Push New
SyncState *
Create Far

IMAPAccount bench2
Host $host
Port $port
User customer
Pass secret
TLSType None
AuthMechs LOGIN PLAIN
PipelineDepth 50

IMAPStore remote2
Account bench2

Channel push2
Far :remote2:INBOX
Near :seed:
Sync Push New
SyncState $out/push2-state
Create Far

Channel pull
Far :remote:INBOX
Near :copy:
Sync Pull New
SyncState *
Create Near
EOF
# Older isync spells TLSType as SSLType.
if ! mbsync -c "$out/mbsyncrc" -l push >/dev/null 2>&1; then
  sed -i 's/^TLSType None/SSLType None/' "$out/mbsyncrc"
fi

echo "appending $n messages into Dovecot twice (mbsync push)…" >&2
mbsync -q -c "$out/mbsyncrc" push
mbsync -q -c "$out/mbsyncrc" push2

cat >"$out/triage.yaml" <<EOF
data_dir: $out/data
http: {listen: "off"}
log: {level: warn}
imap:
  - name: bench
    host: $addr
    tls: plain
    allow_plain: true
    username: bot
    password: secret
    backfill: true
    batch: 500
routes:
  rules:
    - name: flag codes
      match: {has_code: true}
      actions:
        - kind: imap.flag
          target: "\$triage-{{.Primary}}"
EOF

# The routes a team writes: a keyword per code written in the mail, and a
# move to a folder per category.
cat >"$out/moves.yaml" <<EOF
data_dir: $out/data-moves
http: {listen: "off"}
log: {level: warn}
imap:
  - name: bench
    host: $addr
    tls: plain
    allow_plain: true
    username: customer
    password: secret
    backfill: true
    batch: 500
    create_folders: true
routes:
  rules:
    - name: keyword per code, folder per category
      match: {has_code: true}
      actions:
        - kind: imap.flag
          target: "\$ngrok-{code} \$triage-{{.Primary}}"
        - kind: imap.move
          target: "Triage/{{.Primary}}"
EOF

sync
start=$(date +%s.%N)
mbsync -q -c "$out/mbsyncrc" pull
t_mb=$(awk "BEGIN{print $(date +%s.%N) - $start}")

start=$(date +%s.%N)
"$out/triage" run --once --config "$out/triage.yaml" ${CPUPROFILE:+--cpuprofile "$CPUPROFILE"} >"$out/triage.out" 2>"$out/triage.err"
t_tr=$(awk "BEGIN{print $(date +%s.%N) - $start}")

start=$(date +%s.%N)
"$out/triage" run --once --config "$out/moves.yaml" >"$out/moves.out" 2>"$out/moves.err"
t_mv=$(awk "BEGIN{print $(date +%s.%N) - $start}")

copied=$(find "$out/copy" -type f -path '*/cur/*' -o -type f -path '*/new/*' | wc -l)
printf '\n%s messages in Dovecot on %s, %s cores\n\n' "$n" "$addr" "$(nproc)"
printf '%-52s %9s %12s\n' "" seconds messages/s
printf '%-52s %9.2f %12.0f\n' "mbsync: copy to a Maildir ($copied files)" "$t_mb" "$(awk "BEGIN{print $n/$t_mb}")"
printf '%-52s %9.2f %12.0f\n' "triage run --once: fetch, annotate, store, flag" "$t_tr" "$(awk "BEGIN{print $n/$t_tr}")"
printf '%-52s %9.2f %12.0f\n' "triage run --once: … keyword per code + move" "$t_mv" "$(awk "BEGIN{print $n/$t_mv}")"
printf '\nkeywords / mbsync:     %.2fx   (target <= 1.0)\n' "$(awk "BEGIN{print $t_tr/$t_mb}")"
printf 'with moves / keywords: %.2fx   (target <= 1.3)\n' "$(awk "BEGIN{print $t_mv/$t_tr}")"
printf 'with moves / mbsync:   %.2fx\n' "$(awk "BEGIN{print $t_mv/$t_mb}")"
echo "keywords:"; grep -E 'took in|outbox:' "$out/triage.out" || true
echo "with moves:"; grep -E 'took in|outbox:' "$out/moves.out" || true
