#!/usr/bin/env bash
# Fuzzes a freshly started `hms serve` with schemathesis, from the OpenAPI document it
# serves at /openapi.json: every operation, a bounded number of generated requests each,
# with a valid management token. It fails on any 5xx, on any status the document does not
# list for the operation, and on any answer whose body or content type does not match the
# document. Twice: once as the README's first command starts the server, once with
# `--simulate-peers` (the documents differ).
#
#   bash conformance/schemathesis/run.sh [both|default|simulate-peers]
#   HMS_BIN=/path/to/hms bash conformance/schemathesis/run.sh
#
# Env: HMS_BIN (default: <repo>/target/debug/hms); MAX_EXAMPLES (default 25) generated
#      requests per operation and phase; PHASES (default examples,coverage,fuzzing;
#      `stateful` chains operations through links schemathesis infers from responses,
#      and may fill a path parameter with an empty id out of one, which turns the URL
#      into one of another operation: useful to explore, too noisy for CI);
#      SEED for a reproducible run; KEEP_DATA=1 keeps the temp dir with the server log
#      and the reports.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
source "$HERE/../lib/serve.sh"
hms_configuration "$@"
hms_find_binary schemathesis
MAX_EXAMPLES="${MAX_EXAMPLES:-25}"
PHASES="${PHASES:-examples,coverage,fuzzing}"

PYTHON="${PYTHON:-python3}"
command -v "$PYTHON" >/dev/null || { echo "schemathesis: python3 (>= 3.10) is required" >&2; exit 2; }

# The pinned schemathesis (and the OpenAPI validator), in a virtualenv of their own,
# installed again whenever requirements.txt changes.
VENV="$HERE/.venv"
if [ ! -x "$VENV/bin/schemathesis" ] || ! cmp -s "$HERE/requirements.txt" "$VENV/installed-requirements.txt"; then
  echo "schemathesis: installing $(tr '\n' ' ' <"$HERE/requirements.txt")into $VENV"
  [ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV"
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -r "$HERE/requirements.txt"
  cp "$HERE/requirements.txt" "$VENV/installed-requirements.txt"
fi

ACCESS_KEY="67c1d2e3f4a5b6c7d8e9f0a1"
SECRET="schemathesis-secret-0123456789abcdefghijk"

HMS_ACCESS_KEY="$ACCESS_KEY" HMS_SECRET="$SECRET" RUST_LOG="${RUST_LOG:-warn}" hms_serve "schemathesis-$MODE" "${SERVE_FLAGS[@]}"

echo "schemathesis: validating $BASE/openapi.json against the OpenAPI 3.1 specification"
"$VENV/bin/python" -c 'import sys, urllib.request; urllib.request.urlretrieve(sys.argv[1], sys.argv[2])' \
  "$BASE/openapi.json" "$WORK/openapi.json"
"$VENV/bin/openapi-spec-validator" "$WORK/openapi.json"

TOKEN="$("$HMS_BIN" token management --access-key "$ACCESS_KEY" --secret "$SECRET" --validity 2h)"
echo "schemathesis: server ready at $BASE; fuzzing every operation of $BASE/openapi.json"

FIXTURE_FLAGS=()
if [ "$MODE" = default ]; then FIXTURE_FLAGS=(--no-peers); fi
"$VENV/bin/python" "$HERE/fixtures.py" "$BASE" "$TOKEN" "$WORK/schemathesis.toml" "${FIXTURE_FLAGS[@]}"

SEED_ARGS=()
if [ -n "${SEED:-}" ]; then SEED_ARGS=(--seed "$SEED"); fi

# From the temp dir, where schemathesis keeps its example database.
cd "$WORK"
hms_run_client 40 "$VENV/bin/schemathesis" --config-file "$WORK/schemathesis.toml" run "$BASE/openapi.json" \
  --url "$BASE" \
  --header "Authorization: Bearer $TOKEN" \
  --checks not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance \
  --phases "$PHASES" \
  --max-examples "$MAX_EXAMPLES" \
  --workers 2 \
  --request-timeout 10 \
  --suppress-health-check all \
  --report junit,ndjson --report-dir "$WORK/report" \
  "${SEED_ARGS[@]}"
