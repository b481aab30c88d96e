#!/usr/bin/env bash
# Runs a command with DATABASE_URL naming a PostgreSQL server where it may create databases:
# DATABASE_URL if set; else the local server on 127.0.0.1:5432 if it answers; else a private
# cluster started here (on 127.0.0.1:55432, installing Debian's postgresql when missing).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
. "$here/lib.sh"

local_url="postgres://postgres@127.0.0.1:5432/postgres"
private_port=55432
private_dir="${TEST_PG_DIR:-/tmp/license-server-test-pg}"

answers() {
    command -v psql >/dev/null && psql "$1" -tAc 'SELECT 1' >/dev/null 2>&1
}

start_private_cluster() {
    ensure_postgres_binaries
    local bin run=()
    bin="$(pg_bin_dir)"
    if [ "$(id -u)" -eq 0 ]; then
        run=(runuser -u postgres --)
        mkdir -p "$private_dir"
        chown postgres: "$private_dir"
    else
        mkdir -p "$private_dir"
    fi
    if [ ! -f "$private_dir/data/PG_VERSION" ]; then
        "${run[@]}" "$bin/initdb" -D "$private_dir/data" -U postgres --auth=trust --encoding=UTF8 >/dev/null
    fi
    if ! "${run[@]}" "$bin/pg_ctl" status -D "$private_dir/data" >/dev/null 2>&1; then
        "${run[@]}" "$bin/pg_ctl" start -D "$private_dir/data" -l "$private_dir/postgres.log" -w -t 60 \
            -o "-c listen_addresses=127.0.0.1 -p $private_port -k $private_dir -c max_connections=300 -c fsync=on" >/dev/null
    fi
    echo "started a private PostgreSQL cluster in $private_dir (port $private_port)" >&2
}

if [ -z "${DATABASE_URL:-}" ]; then
    if answers "$local_url"; then
        export DATABASE_URL="$local_url"
    else
        private_url="postgres://postgres@127.0.0.1:$private_port/postgres"
        if ! answers "$private_url"; then
            start_private_cluster
        fi
        export DATABASE_URL="$private_url"
    fi
fi
exec "$@"
