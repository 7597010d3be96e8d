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
HMS_BIN="${HMS_BIN:-$HERE/../target/debug/hms}"
case "$HMS_BIN" in
  /*) ;;
  *) HMS_BIN="$(pwd)/$HMS_BIN" ;;
esac

if [ ! -x "$HMS_BIN" ]; then
  echo "conformance: hms binary not found or not executable: $HMS_BIN" >&2
  echo "conformance: build it with 'cargo build -p hms' or set HMS_BIN" >&2
  exit 2
fi
command -v node >/dev/null || { echo "conformance: node (>= 20) is required" >&2; exit 2; }

# Fixed test credentials: a 24-hex access key and a 40-character secret.
export HMS_ACCESS_KEY="${HMS_ACCESS_KEY:-65a1b2c3d4e5f60718293a4b}"
export HMS_SECRET="${HMS_SECRET:-conformance-secret-0123456789abcdefghijk}"

# A free loopback port (bind 0, read it back, release it).
PORT="$(node -e '
const s = require("net").createServer();
s.listen(0, "127.0.0.1", () => { const p = s.address().port; s.close(() => console.log(p)); });
')"
DATA_DIR="$(mktemp -d "${TMPDIR:-/tmp}/hms-conformance.XXXXXX")"
LOG="$DATA_DIR/server.log"
SERVER_PID=""

cleanup() {
  local status=$?
  if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
    kill "$SERVER_PID" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$SERVER_PID" 2>/dev/null || true
  fi
  if [ "${KEEP_DATA:-0}" = "1" ]; then
    echo "conformance: data dir and server log kept in $DATA_DIR" >&2
  else
    rm -rf "$DATA_DIR"
  fi
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

mkdir -p "$DATA_DIR/data"
# --simulate-peers serves /v2/simulate (simulated peers join/leave rooms and record what
# they receive), which the sessions / active-rooms tests need to put peers in a room.
echo "conformance: starting $HMS_BIN serve --listen 127.0.0.1:$PORT --data-dir $DATA_DIR/data --simulate-peers"
"$HMS_BIN" serve --listen "127.0.0.1:$PORT" --data-dir "$DATA_DIR/data" --simulate-peers >"$LOG" 2>&1 &
SERVER_PID=$!

BASE="http://127.0.0.1:$PORT"
if ! node -e '
const url = process.argv[1] + "/healthz";
const pid = Number(process.argv[2]);
const deadline = Date.now() + 20000;
(async () => {
  for (;;) {
    try { process.kill(pid, 0); } catch { console.error("conformance: server exited before it was ready"); process.exit(1); }
    try {
      const r = await fetch(url, { signal: AbortSignal.timeout(1000) });
      if (r.status === 200) process.exit(0);
    } catch {}
    if (Date.now() > deadline) { console.error("conformance: " + url + " did not answer 200 within 20 s"); process.exit(1); }
    await new Promise((r) => setTimeout(r, 100));
  }
})();
' "$BASE" "$SERVER_PID"; then
  echo "---- server log (last 50 lines) ----" >&2
  tail -n 50 "$LOG" >&2 || true
  exit 1
fi
echo "conformance: server ready at $BASE"

cd "$HERE"
if [ ! -d node_modules/@100mslive/server-sdk ]; then
  npm ci --no-audit --no-fund
fi

if [ "$#" -gt 0 ]; then
  FILES=("$@")
else
  FILES=(test/*.test.js)
fi

set +e
HMS_BASE_URL="$BASE" node --test --test-concurrency=1 "${FILES[@]}"
STATUS=$?
set -e

if [ "$STATUS" -ne 0 ]; then
  echo "---- server log (last 30 lines) ----" >&2
  tail -n 30 "$LOG" >&2 || true
fi
exit "$STATUS"
