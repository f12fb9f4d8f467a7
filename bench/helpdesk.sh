#!/usr/bin/env bash
# bench/helpdesk.sh — webhooks in, notes out: `triage run` behind a
# helpdesk's webhooks and behind the Slack Events API.
#
# Builds triage and runs bench/helpdesk (a Go program), which for each
# path starts the vendor's stand-in (integrations/zendesk/zendeskfake,
# freshdesk/freshdeskfake, front/frontfake, helpscout/helpscoutfake,
# slack/slackfake), starts `triage run` against
# it (SQLite in a fresh data directory, the outbox at its defaults),
# delivers N signed webhook calls (default 5,000) over loopback, C at a
# time (default 16), and measures:
#   ack p50 / p99   how long each call waited for its answer: verify,
#                   (for a Zendesk trigger, Freshdesk or Front) read the
#                   ticket or message through the API, store in SQLite,
#                   answer 200
#   all acked       from the first call until the last answer
#   all written     from the first call until the stand-in holds a note
#                   (helpdesks) or a thread reply (Slack) for every one
# The paths: a Zendesk trigger ({"ticket_id"}), a Zendesk
# ticket.comment_added event (text in the body), a Freshdesk automation
# rule ({"ticket_id"}), a Front rule's event (a preview), a Help Scout
# convo.created webhook (threads in the body), and a Slack message event. Each runs RUNS times
# (default 3), taking turns; the best time of each counts (a shared
# host's speed drifts from run to run) and every time is printed. It
# reports; it asserts nothing. Logs and data stay in bench/out/helpdesk.
#
# Usage: [RUNS=3] [C=16] bench/helpdesk.sh [DELIVERIES]
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-5000}
out=$PWD/bench/out/helpdesk
rm -rf "$out"
mkdir -p "$out"
go build -o "$out/triage" ./cmd/triage
go build -o "$out/helpdesk" ./bench/helpdesk
"$out/helpdesk" -triage "$out/triage" -dir "$out/work" -n "$n" -c "${C:-16}" -runs "${RUNS:-3}"
