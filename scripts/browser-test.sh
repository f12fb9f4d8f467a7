#!/usr/bin/env bash
# Run the dashboard's headless-Chromium test, installing Debian's chromium
# first when it is missing (as root), and keep the screenshots.
#
#   scripts/browser-test.sh [screenshot-dir]
#
# CI: `apt-get install -y chromium` in .ci/run, then CI=true makes the test
# fail rather than skip when chromium cannot be found.
set -euo pipefail
cd "$(dirname "$0")/.."
shots=${1:-$(mktemp -d /tmp/triage-screenshots.XXXXXX)}
if ! command -v chromium >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ]; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  else
    echo "chromium is not installed: sudo apt-get install -y chromium" >&2
    exit 1
  fi
fi
mkdir -p "$shots"
TRIAGE_SCREENSHOTS="$shots" go test -count=1 -run 'TestDashboardInBrowser' -v ./web/
echo "screenshots: $shots"
