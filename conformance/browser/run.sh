#!/usr/bin/env bash
# The browser suite: the unmodified official 100ms web SDK (pinned in package.json),
# bundled at test time, joins rooms of a freshly started `hms serve --tls-self-signed` in
# headless Chromium (Debian's package `chromium`) with fake camera and microphone.
#
#   bash conformance/browser/run.sh          # uses target/debug/hms
#   HMS_BIN=/path/to/hms bash conformance/browser/run.sh
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
source "$HERE/../lib/serve.sh"
hms_find_binary_and_node browser
if [ ! -x "${CHROMIUM:-/usr/bin/chromium}" ]; then
  echo "browser: Chromium is missing (install Debian's package chromium); the suite cannot run" >&2
  exit 1
fi

export HMS_ACCESS_KEY="${HMS_ACCESS_KEY:-65a1b2c3d4e5f60718293a4b}"
export HMS_SECRET="${HMS_SECRET:-browser-suite-secret-0123456789abcdefghij}"

# A short reconnect window, so that a vanished page is removed within the test's patience.
export HMS_RTC_RECONNECT_WINDOW_MS="${HMS_RTC_RECONNECT_WINDOW_MS:-6000}"
hms_serve browser --tls-self-signed --simulate-peers --metrics-listen 127.0.0.1:0
# The media tests read what the WebRTC endpoint holds from its metrics.
HMS_METRICS_URL="$(sed -n 's#^ *metrics: *\(http://[^ ]*\)/metrics$#\1#p' "$LOG" | head -n 1)"
export HMS_METRICS_URL
export HMS_TLS_CERT="$WORK/data/tls/cert.pem"
# The suite's own REST calls trust the server's certificate as the browser does.
export NODE_EXTRA_CA_CERTS="$HMS_TLS_CERT"

cd "$HERE"
if [ ! -d node_modules/@100mslive/hms-video-store ]; then
  npm ci --no-audit --no-fund --loglevel=error
fi

# BROWSER_TESTS is a list of files: split on purpose.
# shellcheck disable=SC2086
hms_run_client 60 env HMS_BASE_URL="$BASE" node --test --test-concurrency=1 --test-timeout=120000 \
  ${BROWSER_TESTS:-test/*.test.js}
