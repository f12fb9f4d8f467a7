#!/usr/bin/env bash
# bench/extract.sh — how fast does `triage scan` find ngrok error codes?
#
# Generates a mixed log/email corpus (default 256 MiB) with codes planted at
# known places, then times, in the same run and on the same warm file:
#   triage scan --json         (the whole process, all cores; codes and, as
#                               users run it, the wording pass)
#   triage scan --infer=never  (codes only)
#   rg -j1 -o -i PATTERN       (ripgrep, the usual grep-style peer: codes)
#   rg -j1 ... PATTERN|PHRASES (ripgrep doing the same work as triage: the
#                               codes and every signature phrase, from
#                               bench/sigregex)
#   a plain Go regexp scanner  (bench/regexpscan: codes)
# and prints each one's best-of-N wall time, peak RSS, how many codes it
# found, and the ratios. Nothing here asserts a time: it reports.
#
# Usage: bench/extract.sh [SIZE_MIB] [RUNS]
set -euo pipefail
cd "$(dirname "$0")/.."
size_mib=${1:-256}
runs=${2:-3}
out=bench/out
mkdir -p "$out"

if ! command -v rg >/dev/null; then
  echo "installing ripgrep (Debian package)…" >&2
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq ripgrep >/dev/null
fi

go build -o "$out/triage" ./cmd/triage
go build -o "$out/regexpscan" ./bench/regexpscan
signatures=$(go run ./bench/sigregex)
go run ./bench/gencorpus -o "$out/corpus.txt" -codes "$out/codes.txt" -wordings "$out/wordings.txt" -size $((size_mib << 20))
cat "$out/corpus.txt" >/dev/null # warm the page cache for every contender

# An equivalent pattern for the peers: the strict forms in any case, escaped
# or entity underscores, spaced/dashed forms and "ngrok error N".
pattern='(?i)err(?:\\_|_|&#95;|[ -])ngrok(?:\\_|_|&#95;|[ -])[0-9]+|ngrok error:? ?#?[0-9]+'

# best NAME CMD...: runs CMD $runs times (stdout to $out/NAME.out) and
# prints the fastest wall time and the peak RSS in KiB.
best() {
  local name=$1; shift
  python3 bench/besttime.py "$runs" "$out/$name.out" -- "$@"
}

read -r t_triage m_triage < <(best triage "$out/triage" scan --json --no-progress "$out/corpus.txt")
# After `triage catalog sync` (what a team runs in production) the catalog
# also holds phrases derived from ngrok's own messages: time that too when
# a copy of ngrok's reference is at hand (SYNC_FROM, or the team's shared
# snapshot beside the repository).
sync_from=${SYNC_FROM:-../shared/ngrok-errors/_err_ngrok_list.mdx}
t_synced=""
if [ -f "$sync_from" ]; then
  rm -rf "$out/synced"
  "$out/triage" catalog sync --from "$sync_from" --data-dir "$out/synced" >/dev/null
  read -r t_synced m_synced < <(best triage-synced "$out/triage" scan --json --no-progress --data-dir "$out/synced" "$out/corpus.txt")
fi
read -r t_never m_never < <(best triage-never "$out/triage" scan --json --no-progress --infer=never "$out/corpus.txt")
read -r t_rg m_rg < <(best rg rg -j1 -o -i --no-filename --no-line-number "$pattern" "$out/corpus.txt")
read -r t_rgall m_rgall < <(best rg-all rg -j1 -o -i --no-filename --no-line-number --regex-size-limit 1G --dfa-size-limit 1G "$pattern|$signatures" "$out/corpus.txt")
read -r t_re m_re < <(best regexp "$out/regexpscan" "$pattern" "$out/corpus.txt")

planted=$(wc -l <"$out/codes.txt")
found_triage=$(python3 - "$out/triage.out" "$out/codes.txt" "$out/wordings.txt" <<'PY'
import json, sys
t = json.loads(open(sys.argv[1]).readline())
got = [m["code"] for m in t["matches"] if m["form"] != "inferred"]
named = [m["code"] for m in t["matches"] if m["form"] == "inferred"]
want = [int(l) for l in open(sys.argv[2])]
wording = [int(l) for l in open(sys.argv[3])]
print(len(got), "all" if got == want else "MISMATCH", "+", len(named), "named from wording:", "all" if named == wording else "MISMATCH")
PY
)
found_rg=$(wc -l <"$out/rg.out")
found_rgall=$(wc -l <"$out/rg-all.out")
found_re=$(wc -l <"$out/regexp.out")

printf '\ncorpus: %s MiB, %s codes and %s error wordings without a code planted, best of %s runs, %s cores\n\n' "$size_mib" "$planted" "$(wc -l <"$out/wordings.txt")" "$runs" "$(nproc)"
printf '%-22s %9s %10s %12s %s\n' tool seconds MiB/s "peak RSS" "codes found"
row() { printf '%-22s %9.3f %10.0f %9.1f MiB %s\n' "$1" "$2" "$(awk "BEGIN{print $size_mib/$2}")" "$(awk "BEGIN{print $3/1024}")" "$4"; }
row "triage scan" "$t_triage" "$m_triage" "$found_triage"
if [ -n "$t_synced" ]; then
  row "triage scan, synced" "$t_synced" "$m_synced" "(after catalog sync: derived phrases too)"
fi
row "triage --infer=never" "$t_never" "$m_never" "(codes only)"
row "rg -j1 -o -i" "$t_rg" "$m_rg" "$found_rg (codes only)"
row "rg codes+phrases" "$t_rgall" "$m_rgall" "$found_rgall lines (same work)"
row "go regexp" "$t_re" "$m_re" "$found_re (codes only)"
printf '\ntriage / ripgrep time:                 %.2fx   (target <= 0.80, wording pass on)\n' "$(awk "BEGIN{print $t_triage/$t_rg}")"
printf 'triage --infer=never / ripgrep time:   %.2fx\n' "$(awk "BEGIN{print $t_never/$t_rg}")"
if [ -n "$t_synced" ]; then
  printf 'triage, synced / ripgrep time:         %.2fx   (peak RSS %.1f MiB)\n' "$(awk "BEGIN{print $t_synced/$t_rg}")" "$(awk "BEGIN{print $m_synced/1024}")"
fi
printf 'triage / ripgrep doing the same work:  %.2fx\n' "$(awk "BEGIN{print $t_triage/$t_rgall}")"
printf 'triage / regexp time:                  %.2fx\n' "$(awk "BEGIN{print $t_triage/$t_re}")"
printf 'triage peak RSS:                       %.1f MiB (target <= 64)\n' "$(awk "BEGIN{print $m_triage/1024}")"
