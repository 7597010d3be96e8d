#!/usr/bin/env bash
# openhms's benchmark, one command: builds in release mode, starts the server on a fresh
# SQLite data dir (and the Node token server beside it), drives both with hms-bench on
# loopback, grows the store to 1M rooms; then the same steps on PostgreSQL (a throwaway
# server, as the test command starts one) with one node and with two; runs the criterion
# micro-benchmarks, joins real signalling and WebRTC peers, and prints one markdown report
# (also left in target/bench/latest.md).
#
#   bench/run.sh                     # about 30 minutes on 2 cores (10 of them the soak)
#   BENCH_SECONDS=1 BENCH_GROWTH=1000,100000 bench/run.sh   # a quick look
#
# Knobs (environment): BENCH_SECONDS (measured seconds per step, default 5),
# BENCH_WARMUP_MS (500), BENCH_CONCURRENCY (1,16,64,256), BENCH_GROWTH (store sizes,
# 1000,100000,1000000; empty skips), BENCH_GROWTH_CONCURRENCY (1,64),
# BENCH_CLIENT_THREADS (load generator threads, 2), BENCH_SKIP_NODE=1, BENCH_SKIP_CRITERION=1,
# BENCH_SKIP_SIGNAL=1, BENCH_SKIP_MEDIA=1, BENCH_SKIP_SOAK=1, BENCH_SKIP_POSTGRES=1 (the
# PostgreSQL steps); the media step's BENCH_MEDIA_SUBSCRIBERS (10,50,100,200,400),
# BENCH_MEDIA_ROOM (10; 0 skips the room) and BENCH_MEDIA_SECONDS (10); the soak's
# BENCH_SOAK_SECONDS (600), BENCH_SOAK_INTERVAL (60) and BENCH_SOAK_CONCURRENCY (256).
set -euo pipefail
cd "$(dirname "$0")/.."

seconds="${BENCH_SECONDS:-5}"
out_dir=target/bench
mkdir -p "$out_dir"

echo "[run.sh] building hms and hms-bench (release)" >&2
cargo build --release --quiet -p hms -p hms-bench

node_args=()
if [[ "${BENCH_SKIP_NODE:-0}" != 1 ]]; then
  echo "[run.sh] installing the Node token server's dependencies (npm ci)" >&2
  (cd bench/node-token-server && npm ci --no-audit --no-fund --loglevel=error >&2)
  node_args=(--node-dir bench/node-token-server)
fi

target/release/hms-bench run --hms target/release/hms "${node_args[@]}" --seconds "$seconds" \
  --out "$out_dir/load.md" >/dev/null

: >"$out_dir/postgres.md"
: >"$out_dir/two-nodes.md"
if [[ "${BENCH_SKIP_POSTGRES:-0}" != 1 ]]; then
  echo "[run.sh] PostgreSQL: a throwaway server (scripts/postgres.sh), one node, then two nodes" >&2
  pg_dir=$(mktemp -d /tmp/hms-bench-pg.XXXXXX)
  trap 'bash scripts/postgres.sh stop "$pg_dir" >/dev/null 2>&1 || true; rm -rf "$pg_dir"' EXIT
  pg_url=$(bash scripts/postgres.sh start "$pg_dir")
  pg_args=(--database-url "$pg_url" --postgres-dir "$pg_dir" --seconds "$seconds")
  target/release/hms-bench run --hms target/release/hms "${pg_args[@]}" --out "$out_dir/postgres.md" >/dev/null
  # Growth is the store's, measured by the single node above.
  target/release/hms-bench run --hms target/release/hms "${pg_args[@]}" --nodes 2 --growth '' \
    --out "$out_dir/two-nodes.md" >/dev/null
fi

: >"$out_dir/criterion.md"
if [[ "${BENCH_SKIP_CRITERION:-0}" != 1 ]]; then
  echo "[run.sh] criterion micro-benchmarks (cargo bench -p hms-auth)" >&2
  cargo bench --quiet -p hms-auth --bench tokens -- --warm-up-time 1 --measurement-time "$seconds" \
    >"$out_dir/criterion.log" 2>&1 || { cat "$out_dir/criterion.log" >&2; exit 1; }
  target/release/hms-bench criterion-summary --dir target/criterion >"$out_dir/criterion.md"
fi

: >"$out_dir/signal.md"
if [[ "${BENCH_SKIP_SIGNAL:-0}" != 1 ]]; then
  echo "[run.sh] signalling: 1,000 real peers into one room and into 100 rooms, broadcasts" >&2
  target/release/hms-bench signal --hms target/release/hms >"$out_dir/signal.md"
fi

: >"$out_dir/media.md"
if [[ "${BENCH_SKIP_MEDIA:-0}" != 1 ]]; then
  echo "[run.sh] media: one publisher to ${BENCH_MEDIA_SUBSCRIBERS:-10,50,100,200,400} subscribers, a room of ${BENCH_MEDIA_ROOM:-10} publishing peers" >&2
  target/release/hms-bench media --hms target/release/hms >"$out_dir/media.md"
fi

: >"$out_dir/soak.md"
if [[ "${BENCH_SKIP_SOAK:-0}" != 1 ]]; then
  echo "[run.sh] soak: a mixed workload at ${BENCH_SOAK_CONCURRENCY:-256} connections for ${BENCH_SOAK_SECONDS:-600} s" >&2
  target/release/hms-bench soak --hms target/release/hms --out "$out_dir/soak.md" >/dev/null
fi

# Prints the part `$1` of the results, if it ran, after its heading `$2` (if any).
part() {
  local file="$out_dir/$1.md"
  [[ -s "$file" ]] || return 0
  echo
  if [[ -n "${2:-}" ]]; then
    echo "$2"
    echo
  fi
  cat "$file"
}

mem_kib=$(awk '/^MemTotal:/ {print $2}' /proc/meminfo)
{
  echo "Machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), $((mem_kib / 1024 / 1024)) GiB memory; $(uname -sr); $(rustc --version | cut -d' ' -f1-2); Node $(node --version 2>/dev/null || echo '–')."
  echo
  cat "$out_dir/load.md"
  part postgres
  part two-nodes
  part criterion "Micro-benchmarks, one core, no I/O:"
  part signal "Real peers on the signalling socket (no WebRTC: a role that neither publishes nor subscribes):"
  part media "Real WebRTC peers (str0m, as the SDK speaks): one publisher to many subscribers, and a room where everyone publishes:"
  part soak
} >"$out_dir/latest.md"
cat "$out_dir/latest.md"
