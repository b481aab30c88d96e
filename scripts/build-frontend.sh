#!/usr/bin/env bash
# Builds the dashboard into frontend/dist (index.html, styles.css, the wasm module and its JS glue):
# a wasm32 release build of the `license-dashboard` crate, then the wasm-bindgen CLI of exactly the
# wasm-bindgen version in Cargo.lock (installed with `cargo install` when missing). Idempotent:
# cargo rebuilds only what changed. No trunk: it would download its own wasm-bindgen binary.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
. "$here/lib.sh"
cd "$root"

ensure_wasm_target
ensure_wasm_bindgen_cli

# FRONTEND_TARGET_DIR keeps the wasm build apart from a shared host target directory if wanted.
target_dir="${FRONTEND_TARGET_DIR:-${CARGO_TARGET_DIR:-$root/target}}"
dist="$root/frontend/dist"
CARGO_TARGET_DIR="$target_dir" cargo build --quiet --target wasm32-unknown-unknown --release -p license-dashboard
mkdir -p "$dist"
wasm-bindgen --target web --no-typescript --out-dir "$dist" --out-name license_dashboard \
    "$target_dir/wasm32-unknown-unknown/release/license-dashboard.wasm"
cp frontend/static/index.html frontend/static/styles.css "$dist/"
echo "dashboard built into frontend/dist" >&2
