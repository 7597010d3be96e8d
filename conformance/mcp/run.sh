#!/usr/bin/env bash
# Runs the MCP conformance tests: the official MCP Python SDK (pinned in requirements.txt)
# against a freshly started `hms serve --simulate-peers` (its /mcp over streamable HTTP)
# and against `hms mcp` (over stdio and HTTP) proxying to that server.
#
#   bash conformance/mcp/run.sh                       # uses target/debug/hms
#   HMS_BIN=/path/to/hms bash conformance/mcp/run.sh
#   bash conformance/mcp/run.sh -k room_codes         # extra arguments go to pytest
#
# Creates conformance/mcp/.venv on first use. KEEP_DATA=1 keeps the temp data dir and log.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
HMS_BIN="${HMS_BIN:-$HERE/../../target/debug/hms}"
case "$HMS_BIN" in
  /*) ;;
  *) HMS_BIN="$(pwd)/$HMS_BIN" ;;
esac
if [ ! -x "$HMS_BIN" ]; then
  echo "mcp conformance: hms binary not found or not executable: $HMS_BIN" >&2
  echo "mcp conformance: build it with 'cargo build -p hms' or set HMS_BIN" >&2
  exit 2
fi

PYTHON="${PYTHON:-python3}"
VENV="$HERE/.venv"
if [ ! -x "$VENV/bin/python" ]; then
  echo "mcp conformance: creating $VENV"
  "$PYTHON" -m venv "$VENV"
fi
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -r "$HERE/requirements.txt"

export HMS_ACCESS_KEY="65a1b2c3d4e5f60718293a4c"
export HMS_SECRET="mcp-conformance-secret-0123456789abcdefgh"
export HMS_TEST_ALLOWED_HOST="mcp.openhms.test"
PORT="$("$VENV/bin/python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')"
DATA_DIR="$(mktemp -d "${TMPDIR:-/tmp}/hms-mcp-conformance.XXXXXX")"
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
    echo "mcp conformance: data dir and server log kept in $DATA_DIR" >&2
  else
    rm -rf "$DATA_DIR"
  fi
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

mkdir -p "$DATA_DIR/data"
"$HMS_BIN" serve --listen "127.0.0.1:$PORT" --data-dir "$DATA_DIR/data" --simulate-peers \
  --mcp-allowed-host "$HMS_TEST_ALLOWED_HOST" >"$LOG" 2>&1 &
SERVER_PID=$!

BASE="http://127.0.0.1:$PORT"
if ! "$VENV/bin/python" - "$BASE/healthz" "$SERVER_PID" <<'PY'
import os, sys, time, urllib.request
url, pid = sys.argv[1], int(sys.argv[2])
deadline = time.time() + 20
while True:
    try:
        os.kill(pid, 0)
    except OSError:
        sys.exit("mcp conformance: the server exited before it was ready")
    try:
        with urllib.request.urlopen(url, timeout=1) as response:
            if response.status == 200:
                sys.exit(0)
    except Exception:
        pass
    if time.time() > deadline:
        sys.exit(f"mcp conformance: {url} did not answer 200 within 20 s")
    time.sleep(0.1)
PY
then
  echo "---- server log (last 50 lines) ----" >&2
  tail -n 50 "$LOG" >&2 || true
  exit 1
fi
echo "mcp conformance: server ready at $BASE"

set +e
(cd "$HERE" && HMS_BIN="$HMS_BIN" HMS_TEST_BASE="$BASE" HMS_TEST_DATA_DIR="$DATA_DIR/data" \
  "$VENV/bin/python" -m pytest -p no:cacheprovider -q "$@")
STATUS=$?
set -e

if [ "$STATUS" -eq 5 ]; then
  echo "mcp conformance: pytest collected no tests: that is a failure" >&2
  STATUS=1
fi
if [ "$STATUS" -ne 0 ]; then
  echo "---- server log (last 30 lines) ----" >&2
  tail -n 30 "$LOG" >&2 || true
fi
exit "$STATUS"
