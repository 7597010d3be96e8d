#!/usr/bin/env bash
# Browser tests of the dashboard: headless Debian Chromium, driven by playwright-core,
# against a freshly started `hms serve` on a random loopback port.
#
#   bash conformance/dashboard/run.sh              # uses target/debug/hms
#   HMS_BIN=/path/to/hms bash conformance/dashboard/run.sh
#   SCREENSHOTS_DIR=docs/dashboard bash conformance/dashboard/run.sh   # keeps the README's screenshots
#
# Env: CHROMIUM (default /usr/bin/chromium), KEEP_DATA=1 keeps the temp data dir.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
source "$HERE/../lib/serve.sh"
hms_find_binary_and_node dashboard

export CHROMIUM="${CHROMIUM:-/usr/bin/chromium}"
if [ ! -x "$CHROMIUM" ]; then
  # Counted as a failure, never as a pass: scripts/test.sh installs Chromium first.
  echo "dashboard: Chromium not found at $CHROMIUM (install Debian's chromium package)" >&2
  echo "0 passed, 1 failed"
  exit 1
fi

export HMS_ACCESS_KEY="${HMS_ACCESS_KEY:-66a1b2c3d4e5f60718293a4c}"
export HMS_SECRET="${HMS_SECRET:-dashboard-secret-0123456789abcdefghijklm}"

# Deliveries to a failing endpoint are retried once and given up after a second, so
# that the test sees them fail and replays them without waiting a day.
config="$(mktemp "${TMPDIR:-/tmp}/hms-dashboard-config.XXXXXX.toml")"
cat >"$config" <<'TOML'
[webhooks]
retry_schedule_ms = [200]
retry_window_secs = 1
timeout_ms = 2000
replay_per_sec = 50
TOML
hms_serve dashboard --simulate-peers --config "$config"
rm -f "$config"

cd "$HERE"
if [ ! -d node_modules/playwright-core ]; then
  npm ci --no-audit --no-fund --loglevel=error
fi

hms_run_client 30 env HMS_BASE_URL="$BASE" node --test --test-concurrency=1 test/*.test.js
