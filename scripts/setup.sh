#!/usr/bin/env bash
# Installs what `make run` / `make test` need on a fresh Debian machine, and only what is missing.
#   scripts/setup.sh run    the toolchain, and PostgreSQL's server binaries for the embedded default
#   scripts/setup.sh test   the above, plus rustfmt and clippy, Chromium and Node.js for the browser tests
#   scripts/setup.sh bench  the above for `run`, plus wrk (the load generator) and pgbench
# All add the wasm32 target, binaryen, Node.js with npm, and brotli for the dashboard
# (scripts/build-frontend.sh installs wasm-bindgen's CLI and, when Debian's binaryen cannot read
# the module, npm's binaryen).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
. "$here/lib.sh"
purpose="${1:-run}"

if ! command -v cargo >/dev/null; then
    echo "cargo was not found: install the Rust toolchain (https://rustup.rs, or Debian's rustup package) and retry" >&2
    exit 1
fi

if [ -z "${DATABASE_URL:-}" ] || [ "$purpose" != run ]; then
    # The server binaries, which Debian ships with pgbench.
    ensure_postgres_binaries
fi
if [ "$purpose" = bench ] && ! command -v wrk >/dev/null; then
    apt_install wrk
fi
if ! command -v psql >/dev/null; then
    apt_install postgresql-client
fi

if [ "$purpose" = test ]; then
    # The nginx test runs the real nginx with a throwaway certificate (openssl) and drives it with
    # curl and python3 (a small WebSocket client over TLS); the backup tests push to a local git
    # repository; the lease test verifies leases with python3 (PyJWT); the TLS and read-replica
    # tests start clusters of their own (initdb, pg_ctl, pg_basebackup: the server binaries above)
    # with certificates made by openssl.
    if ! command -v nginx >/dev/null && [ ! -x /usr/sbin/nginx ]; then
        apt_install nginx
    fi
    for tool in openssl curl git python3; do
        if ! command -v "$tool" >/dev/null; then
            apt_install "$tool"
        fi
    done
    # The lease test verifies leases with PyJWT, which it installs from PyPI into a virtual
    # environment of its own (tests/api/leases.rs): Debian ships venv and pip apart from python3.
    if ! python3 -c 'import ensurepip, venv' 2>/dev/null; then
        apt_install python3-venv
    fi
    # The Dockerfile's lint (scripts/check-dockerfile.sh): hadolint from PyPI, pinned, in a venv.
    ensure_hadolint >/dev/null
    for component in rustfmt clippy; do
        if ! rustup component list --installed 2>/dev/null | grep -q "^$component"; then
            rustup component add "$component"
        fi
    done
fi

ensure_wasm_target
# The dashboard's build shrinks the wasm module with wasm-opt (Debian's binaryen, or npm's when
# Debian's is too old to read the module: Node.js runs it) and precompresses its files with
# brotli and zopfli (gzip's format, smaller); without them it still builds, only larger
# (scripts/build-frontend.sh).
if ! command -v wasm-opt >/dev/null; then
    apt_install binaryen
fi
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
    apt_install nodejs npm
fi
if ! command -v brotli >/dev/null; then
    apt_install brotli
fi
if ! command -v zopfli >/dev/null; then
    apt_install zopfli
fi

if [ "$purpose" = test ]; then
    if [ ! -x /usr/bin/chromium ]; then
        apt_install chromium fonts-dejavu-core
    fi
fi
