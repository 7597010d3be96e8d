#!/usr/bin/env bash
# Runs the Postman collection that openhms serves at /postman.json, with newman, against the
# freshly started server that served it: once as the README's first command starts it
# (`hms serve`), once with `--simulate-peers`. Only APP_ACCESS_KEY, APP_SECRET and
# BASE_URL are given: the collection mints its own management token and carries the ids
# from one request to the next. Every request must pass.
#
#   bash conformance/newman/run.sh [both|default|simulate-peers]
#   HMS_BIN=/path/to/hms bash conformance/newman/run.sh
#
# Env: HMS_BIN (default: <repo>/target/debug/hms), KEEP_DATA=1 keeps the temp dir with the
#      server log and the downloaded collection.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
source "$HERE/../lib/serve.sh"
hms_configuration "$@"
hms_find_binary_and_node newman

ACCESS_KEY="66b0c1d2e3f4a5b6c7d8e9f0"
SECRET="newman-secret-0123456789abcdefghijklmnop"

if [ ! -x "$HERE/node_modules/.bin/newman" ]; then
  (cd "$HERE" && npm ci --no-audit --no-fund --loglevel=error)
fi

HMS_ACCESS_KEY="$ACCESS_KEY" HMS_SECRET="$SECRET" hms_serve "newman-$MODE" "${SERVE_FLAGS[@]}"

# The collection as the server serves it, exactly what a user imports into Postman.
if ! node -e '
const [base, out] = [process.argv[1], process.argv[2]];
(async () => {
  const r = await fetch(base + "/postman.json");
  if (r.status !== 200) { console.error("newman: /postman.json answered " + r.status); process.exit(1); }
  require("fs").writeFileSync(out, await r.text());
})();
' "$BASE" "$WORK/postman.json"; then
  hms_log_tail 50
  exit 1
fi

hms_run_client 40 "$HERE/node_modules/.bin/newman" run "$WORK/postman.json" \
  --env-var "APP_ACCESS_KEY=$ACCESS_KEY" \
  --env-var "APP_SECRET=$SECRET" \
  --env-var "BASE_URL=$BASE" \
  --timeout-request 30000 \
  --color off
