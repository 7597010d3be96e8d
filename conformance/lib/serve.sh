# Shared by the conformance runners: finds the `hms` binary, starts `hms serve` on a free
# loopback port in a temporary directory, and stops it when the runner exits.
#
#   source "$(dirname "${BASH_SOURCE[0]}")/lib/serve.sh"   # from a runner's directory
#   hms_find_binary LABEL                                   # sets HMS_BIN
#   hms_find_binary_and_node LABEL                          # the same, and node (>= 20) is required
#   hms_serve LABEL [serve flags…]                          # sets WORK, LOG, SERVER_PID, BASE
#   hms_log_tail [LINES]                                    # the end of the server's log, on stderr
#   hms_run_client LINES COMMAND…                           # runs COMMAND, exits with its status
#   hms_configuration [both|default|simulate-peers]         # sets MODE and SERVE_FLAGS
#
# The server takes HMS_ACCESS_KEY and HMS_SECRET from the environment. It listens on port
# 0 and prints the address it got, so there is no race for a port. KEEP_DATA=1 keeps WORK.
# With HMS_TEST_POSTGRES_URL (an admin URL of a throwaway PostgreSQL server) the server
# runs on a fresh PostgreSQL database instead of the embedded one.

HMS_REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"

hms_find_binary() {
  HMS_BIN="${HMS_BIN:-$HMS_REPO/target/debug/hms}"
  case "$HMS_BIN" in
    /*) ;;
    *) HMS_BIN="$(pwd)/$HMS_BIN" ;;
  esac
  if [ ! -x "$HMS_BIN" ]; then
    echo "$1: hms binary not found or not executable: $HMS_BIN" >&2
    echo "$1: build it with 'cargo build -p hms' or set HMS_BIN" >&2
    exit 2
  fi
}

hms_find_binary_and_node() {
  hms_find_binary "$1"
  command -v node >/dev/null || { echo "$1: node (>= 20) is required" >&2; exit 2; }
}

# The configuration a runner's server is started in: `default` (as the README's first
# command starts it) or `simulate-peers`. With `both` (or nothing) the runner runs again
# once for each and exits with the first failure; the documents a server serves differ
# between the two (the peer simulator's operations only with --simulate-peers).
hms_configuration() {
  MODE="${1:-both}"
  case "$MODE" in
    both)
      bash "$0" default && bash "$0" simulate-peers
      exit $?
      ;;
    default) SERVE_FLAGS=() ;;
    simulate-peers) SERVE_FLAGS=(--simulate-peers) ;;
    *) echo "usage: $0 [both|default|simulate-peers]" >&2; exit 2 ;;
  esac
}

hms_log_tail() {
  echo "---- server log (last ${1:-30} lines) ----" >&2
  tail -n "${1:-30}" "$LOG" >&2 || true
}

_hms_stop() {
  local status=$?
  if [ -n "${SERVER_PID:-}" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
    kill "$SERVER_PID" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$SERVER_PID" 2>/dev/null || true
  fi
  if [ "${KEEP_DATA:-0}" = "1" ]; then
    echo "$HMS_LABEL: data dir and server log kept in $WORK" >&2
  else
    rm -rf "$WORK"
  fi
  exit "$status"
}

hms_serve() {
  HMS_LABEL="$1"
  shift
  WORK="$(mktemp -d "${TMPDIR:-/tmp}/hms-$HMS_LABEL.XXXXXX")"
  LOG="$WORK/server.log"
  trap _hms_stop EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
  unset HMS_DATABASE_URL
  local backend="embedded SQLite"
  if [ -n "${HMS_TEST_POSTGRES_URL:-}" ]; then
    local database="hms_${HMS_LABEL//[^a-z0-9]/_}_$$_$RANDOM"
    psql --quiet --no-psqlrc -v ON_ERROR_STOP=1 "$HMS_TEST_POSTGRES_URL" -c "CREATE DATABASE $database" >&2
    export HMS_DATABASE_URL="${HMS_TEST_POSTGRES_URL%/*}/$database"
    backend="PostgreSQL database $database"
  fi
  echo "$HMS_LABEL: starting $HMS_BIN serve $* ($backend)"
  "$HMS_BIN" serve --listen 127.0.0.1:0 --data-dir "$WORK/data" "$@" >"$LOG" 2>&1 &
  SERVER_PID=$!
  BASE=""
  for _ in $(seq 1 300); do
    BASE="$(sed -n 's/^openhms listening on //p' "$LOG" | head -n 1)"
    [ -n "$BASE" ] && break
    if ! kill -0 "$SERVER_PID" 2>/dev/null; then
      echo "$HMS_LABEL: the server exited before it was ready" >&2
      hms_log_tail 50
      exit 1
    fi
    sleep 0.1
  done
  if [ -z "$BASE" ]; then
    echo "$HMS_LABEL: the server did not start listening within 30 s" >&2
    hms_log_tail 50
    exit 1
  fi
  echo "$HMS_LABEL: server ready at $BASE"
}

# Runs a client of the server and exits with its status; when it fails, the end of the
# server's log (LINES lines) goes to stderr beside the client's own report.
hms_run_client() {
  local lines="$1"
  shift
  set +e
  "$@"
  local status=$?
  set -e
  if [ "$status" -ne 0 ]; then
    echo "$(basename "$1"): failed (exit $status)" >&2
    hms_log_tail "$lines"
  fi
  exit "$status"
}
