#!/usr/bin/env bash
# Runs every check and test of openhms. Installs what it needs first (the Node SDK for
# the conformance suite), so it works on a fresh machine with Rust, Node 20 and Python.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

step() { printf '\n==> %s\n' "$*"; }

step "formatting"
cargo fmt --all -- --check

step "lints"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "build"
cargo build --workspace --locked

step "unit and integration tests"
cargo test --workspace --locked

step "conformance: the official Node server SDK against a live server"
(cd conformance && npm ci --no-audit --no-fund --loglevel=error)
HMS_BIN="$PWD/target/debug/hms" bash conformance/run.sh

step "conformance: the served Postman collection with newman"
(cd conformance/newman && npm ci --no-audit --no-fund --loglevel=error)
HMS_BIN="$PWD/target/debug/hms" bash conformance/newman/run.sh

step "conformance: schemathesis against the served OpenAPI document"
[ -x conformance/schemathesis/.venv/bin/python ] || python3 -m venv conformance/schemathesis/.venv
conformance/schemathesis/.venv/bin/python -m pip install --quiet --disable-pip-version-check -r conformance/schemathesis/requirements.txt
HMS_BIN="$PWD/target/debug/hms" bash conformance/schemathesis/run.sh

step "conformance: MCP tools through the official Python SDK"
HMS_BIN="$PWD/target/debug/hms" bash conformance/mcp/run.sh
