#!/usr/bin/env bash
# Runs the conformance suite against a freshly started `hms serve`.
#
#   bash conformance/run.sh                      # uses target/debug/hms
#   HMS_BIN=/path/to/hms bash conformance/run.sh
#   bash conformance/run.sh test/rooms.test.js   # only some test files (paths relative to conformance/)
#
# Env: HMS_BIN (default: <repo>/target/debug/hms), KEEP_DATA=1 keeps the temp data dir,
#      HMS_SDK_LOG_LEVEL=debug shows the SDK's own logging.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
source "$HERE/lib/serve.sh"
hms_find_binary_and_node conformance

# Fixed test credentials: a 24-hex access key and a 40-character secret.
export HMS_ACCESS_KEY="${HMS_ACCESS_KEY:-65a1b2c3d4e5f60718293a4b}"
export HMS_SECRET="${HMS_SECRET:-conformance-secret-0123456789abcdefghijk}"

# --simulate-peers serves /v2/simulate (simulated peers join/leave rooms and record what
# they receive), which the sessions / active-rooms tests need to put peers in a room.
hms_serve conformance --simulate-peers

cd "$HERE"
if [ ! -d node_modules/@100mslive/server-sdk ]; then
  npm ci --no-audit --no-fund
fi

if [ "$#" -gt 0 ]; then
  FILES=("$@")
else
  FILES=(test/*.test.js)
fi

hms_run_client 30 env HMS_BASE_URL="$BASE" node --test --test-concurrency=1 "${FILES[@]}"
