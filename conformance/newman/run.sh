#!/usr/bin/env bash
# Runs the Postman collection that openhms serves at /postman.json, with newman, against a
# freshly started `hms serve --simulate-peers`. Only APP_ACCESS_KEY, APP_SECRET and
# BASE_URL are given: the collection mints its own management token and carries the ids
# from one request to the next. Every request must pass.
#
#   bash conformance/newman/run.sh
#   HMS_BIN=/path/to/hms bash conformance/newman/run.sh
#
# Env: HMS_BIN (default: <repo>/target/debug/hms), KEEP_DATA=1 keeps the temp dir with the
#      server log and the downloaded collection.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
HMS_BIN="${HMS_BIN:-$HERE/../../target/debug/hms}"
case "$HMS_BIN" in
  /*) ;;
  *) HMS_BIN="$(pwd)/$HMS_BIN" ;;
esac

if [ ! -x "$HMS_BIN" ]; then
  echo "newman: hms binary not found or not executable: $HMS_BIN" >&2
  echo "newman: build it with 'cargo build -p hms' or set HMS_BIN" >&2
  exit 2
fi
command -v node >/dev/null || { echo "newman: node (>= 20) is required" >&2; exit 2; }

ACCESS_KEY="66b0c1d2e3f4a5b6c7d8e9f0"
SECRET="newman-secret-0123456789abcdefghijklmnop"

PORT="$(node -e '
const s = require("net").createServer();
s.listen(0, "127.0.0.1", () => { const p = s.address().port; s.close(() => console.log(p)); });
')"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/hms-newman.XXXXXX")"
LOG="$WORK/server.log"
SERVER_PID=""

cleanup() {
  local status=$?
  if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
    kill "$SERVER_PID" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$SERVER_PID" 2>/dev/null || true
  fi
  if [ "${KEEP_DATA:-0}" = "1" ]; then
    echo "newman: server log and collection kept in $WORK" >&2
  else
    rm -rf "$WORK"
  fi
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

if [ ! -x "$HERE/node_modules/.bin/newman" ]; then
  (cd "$HERE" && npm ci --no-audit --no-fund --loglevel=error)
fi

BASE="http://127.0.0.1:$PORT"
echo "newman: starting $HMS_BIN serve --simulate-peers --listen 127.0.0.1:$PORT"
HMS_ACCESS_KEY="$ACCESS_KEY" HMS_SECRET="$SECRET" \
  "$HMS_BIN" serve --simulate-peers --listen "127.0.0.1:$PORT" --data-dir "$WORK/data" >"$LOG" 2>&1 &
SERVER_PID=$!

# Waits for the server, then saves the collection it serves.
if ! node -e '
const [base, pid, out] = [process.argv[1], Number(process.argv[2]), process.argv[3]];
const deadline = Date.now() + 30000;
(async () => {
  for (;;) {
    try { process.kill(pid, 0); } catch { console.error("newman: the server exited before it was ready"); process.exit(1); }
    try {
      const r = await fetch(base + "/healthz", { signal: AbortSignal.timeout(1000) });
      if (r.status === 200) break;
    } catch {}
    if (Date.now() > deadline) { console.error("newman: " + base + " did not answer within 30 s"); process.exit(1); }
    await new Promise((r) => setTimeout(r, 100));
  }
  const r = await fetch(base + "/postman.json");
  if (r.status !== 200) { console.error("newman: /postman.json answered " + r.status); process.exit(1); }
  require("fs").writeFileSync(out, await r.text());
})();
' "$BASE" "$SERVER_PID" "$WORK/postman.json"; then
  echo "---- server log (last 50 lines) ----" >&2
  tail -n 50 "$LOG" >&2 || true
  exit 1
fi
echo "newman: server ready at $BASE; running its collection"

set +e
"$HERE/node_modules/.bin/newman" run "$WORK/postman.json" \
  --env-var "APP_ACCESS_KEY=$ACCESS_KEY" \
  --env-var "APP_SECRET=$SECRET" \
  --env-var "BASE_URL=$BASE" \
  --timeout-request 30000 \
  --color off
STATUS=$?
set -e

if [ "$STATUS" -ne 0 ]; then
  echo "newman: the collection failed (exit $STATUS)" >&2
  echo "---- server log (last 40 lines) ----" >&2
  tail -n 40 "$LOG" >&2 || true
fi
exit "$STATUS"
