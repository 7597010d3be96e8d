#!/usr/bin/env bash
# A throwaway PostgreSQL cluster for tests.
#
#   scripts/postgres.sh [start] [DIR]   creates (if needed) and starts a cluster in DIR (a new
#                                       temporary directory if omitted); prints its admin URL
#   scripts/postgres.sh stop DIR        stops it
#
# The cluster listens on 127.0.0.1 only, trusts every local connection and trades durability
# for speed (no fsync). The port is $PGPORT if set, else the first free one from 55432.
# Only the URL goes to stdout, so that `URL=$(scripts/postgres.sh)` works.
set -euo pipefail

# initdb and the server refuse to run as root; root runs them as this unprivileged user.
SERVICE_USER=openhms-pg
DEFAULT_PORT=55432

say() { printf '%s\n' "$*" >&2; }
fail() {
    say "postgres.sh: $*"
    exit 1
}

# The binaries of the newest installed version (Debian keeps them off PATH).
find_bindir() {
    local candidates dir
    candidates=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V || true)
    dir=$(printf '%s\n' "$candidates" | tail -n 1)
    if [ -n "$dir" ] && [ -x "$dir/initdb" ]; then
        printf '%s\n' "$dir"
    elif command -v initdb >/dev/null; then
        dirname "$(command -v initdb)"
    else
        fail "no PostgreSQL found (apt-get install -y postgresql)"
    fi
}

ensure_service_user() {
    if ! id -u "$SERVICE_USER" >/dev/null 2>&1; then
        useradd --system --no-create-home --shell /usr/sbin/nologin "$SERVICE_USER"
    fi
}

# Runs a PostgreSQL binary as the cluster's owner.
as_owner() {
    if [ "$(id -u)" -eq 0 ]; then
        runuser -u "$SERVICE_USER" -- "$@"
    else
        "$@"
    fi
}

port_in_use() {
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

choose_port() {
    if [ -n "${PGPORT:-}" ]; then
        port_in_use "$PGPORT" && fail "port $PGPORT (PGPORT) is in use"
        printf '%s\n' "$PGPORT"
        return
    fi
    local port=$DEFAULT_PORT
    while port_in_use "$port"; do
        port=$((port + 1))
        [ "$port" -lt $((DEFAULT_PORT + 100)) ] || fail "no free port from $DEFAULT_PORT"
    done
    printf '%s\n' "$port"
}

start() {
    local dir=${1:-} bindir port
    bindir=$(find_bindir)
    port=$(choose_port)
    if [ -z "$dir" ]; then
        dir=$(mktemp -d /tmp/openhms-pg.XXXXXX)
    fi
    mkdir -p "$dir"
    dir=$(cd "$dir" && pwd)
    if [ "$(id -u)" -eq 0 ]; then
        ensure_service_user
        chown "$SERVICE_USER" "$dir"
        chmod 700 "$dir"
    fi
    if [ ! -f "$dir/PG_VERSION" ]; then
        as_owner "$bindir/initdb" --pgdata="$dir" --username=postgres --auth=trust \
            --encoding=UTF8 --locale=C.UTF-8 >"$dir.initdb.log" 2>&1 ||
            fail "initdb failed: see $dir.initdb.log"
        rm -f "$dir.initdb.log"
    fi
    as_owner "$bindir/pg_ctl" start --pgdata="$dir" --wait --silent --log="$dir/server.log" \
        --options="-c listen_addresses=127.0.0.1 -c port=$port -c unix_socket_directories='$dir' \
-c max_connections=300 -c fsync=off -c synchronous_commit=off -c full_page_writes=off" >&2 ||
        fail "the server did not start: see $dir/server.log"
    say "PostgreSQL running in $dir; stop it with: $0 stop $dir"
    printf 'postgres://postgres@127.0.0.1:%s/postgres\n' "$port"
}

stop() {
    local dir=${1:?usage: postgres.sh stop DIR}
    as_owner "$(find_bindir)/pg_ctl" stop --pgdata="$dir" --mode=fast --wait --silent
}

case "${1:-start}" in
stop)
    shift
    stop "$@"
    ;;
start)
    shift || true
    start "$@"
    ;;
*)
    start "$1"
    ;;
esac
