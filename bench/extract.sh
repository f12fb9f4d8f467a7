#!/usr/bin/env bash
# bench/extract.sh — how fast does `triage scan` find ngrok error codes?
#
# Generates a mixed log/email corpus (default 256 MiB) with codes planted at
# known places, then times, in the same run and on the same warm file:
#   triage scan --json         (the whole process, all cores)
#   rg -j1 -o -i PATTERN       (ripgrep, the usual grep-style peer)
#   a plain Go regexp scanner  (bench/regexpscan)
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
go run ./bench/gencorpus -o "$out/corpus.txt" -codes "$out/codes.txt" -size $((size_mib << 20))
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
# The same with the wording pass forced on (by default, auto, it reads
# mail and text files up to 16 MiB, so this corpus gets none).
read -r t_infer m_infer < <(best triage-infer "$out/triage" scan --json --no-progress --infer=always "$out/corpus.txt")
read -r t_rg m_rg < <(best rg rg -j1 -o -i --no-filename --no-line-number "$pattern" "$out/corpus.txt")
read -r t_re m_re < <(best regexp "$out/regexpscan" "$pattern" "$out/corpus.txt")

planted=$(wc -l <"$out/codes.txt")
found_triage=$(python3 - "$out/triage.out" "$out/codes.txt" <<'PY'
import json, sys
t = json.loads(open(sys.argv[1]).readline())
got = [m["code"] for m in t["matches"]]
want = [int(l) for l in open(sys.argv[2])]
print(len(got), "all" if got == want else "MISMATCH")
PY
)
found_rg=$(wc -l <"$out/rg.out")
found_re=$(wc -l <"$out/regexp.out")

printf '\ncorpus: %s MiB, %s codes planted, best of %s runs, %s cores\n\n' "$size_mib" "$planted" "$runs" "$(nproc)"
printf '%-22s %9s %10s %12s %s\n' tool seconds MiB/s "peak RSS" "codes found"
row() { printf '%-22s %9.3f %10.0f %9.1f MiB %s\n' "$1" "$2" "$(awk "BEGIN{print $size_mib/$2}")" "$(awk "BEGIN{print $3/1024}")" "$4"; }
row "triage scan" "$t_triage" "$m_triage" "$found_triage"
row "triage --infer=always" "$t_infer" "$m_infer" "(wording pass on)"
row "rg -j1 -o -i" "$t_rg" "$m_rg" "$found_rg"
row "go regexp" "$t_re" "$m_re" "$found_re"
printf '\ntriage / ripgrep time: %.2fx   (target <= 0.80)\n' "$(awk "BEGIN{print $t_triage/$t_rg}")"
printf 'triage / regexp time:  %.2fx\n' "$(awk "BEGIN{print $t_triage/$t_re}")"
printf 'triage --infer=always / ripgrep time: %.2fx\n' "$(awk "BEGIN{print $t_infer/$t_rg}")"
printf 'triage peak RSS:       %.1f MiB (target <= 64)\n' "$(awk "BEGIN{print $m_triage/1024}")"
