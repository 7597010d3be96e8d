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
source "$HERE/../lib/serve.sh"
hms_find_binary "mcp conformance"

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
hms_serve mcp --simulate-peers --mcp-allowed-host "$HMS_TEST_ALLOWED_HOST"

set +e
(cd "$HERE" && HMS_BIN="$HMS_BIN" HMS_TEST_BASE="$BASE" HMS_TEST_DATA_DIR="$WORK/data" \
  "$VENV/bin/python" -m pytest -p no:cacheprovider -q "$@")
STATUS=$?
set -e

if [ "$STATUS" -eq 5 ]; then
  echo "mcp conformance: pytest collected no tests: that is a failure" >&2
  STATUS=1
fi
[ "$STATUS" -eq 0 ] || hms_log_tail 30
exit "$STATUS"
