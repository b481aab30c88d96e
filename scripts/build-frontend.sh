#!/usr/bin/env bash
# Builds the dashboard into frontend/dist, ready to serve:
#   1. a wasm32 build of the `license-dashboard` crate with the size profile `wasm-release`
#      (Cargo.toml), then the wasm-bindgen CLI of exactly the wasm-bindgen version in Cargo.lock
#      (installed with `cargo install` when missing);
#   2. `wasm-opt -Oz`: Debian's binaryen (installed by scripts/setup.sh) when it can read the
#      module, else npm's binaryen package (pinned in scripts/lib.sh, installed once when npm is
#      there);
#   3. content-hashed names for the wasm module, its JS glue, the bootstrap script and the
#      stylesheet (`name-<16 hex digits of SHA-256>.ext`, rewritten into boot.js and index.html), so
#      the server can let browsers cache them for a year;
#   4. a gzip and a brotli (-q 11, Debian's brotli, when it is there) copy beside each file,
#      which the server sends to browsers that accept them; the gzip copy is zopfli's (Debian's
#      zopfli: gzip format, a few per cent smaller) when it is there, else gzip -9's.
# Idempotent: cargo rebuilds only what changed, and the new dist replaces the old one whole.
# No trunk: it would download its own wasm-bindgen binary.
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
staging="$(mktemp -d "$root/frontend/.dist.XXXXXX")"
trap 'rm -rf "$staging"' EXIT

CARGO_TARGET_DIR="$target_dir" cargo build --quiet --target wasm32-unknown-unknown --profile wasm-release \
    -p license-dashboard
wasm-bindgen --target web --no-typescript --remove-name-section --remove-producers-section \
    --out-dir "$staging" --out-name license_dashboard \
    "$target_dir/wasm32-unknown-unknown/wasm-release/license-dashboard.wasm"
# wasm-opt runs after wasm-bindgen (before it, it breaks what wasm-bindgen reads), with the
# features rustc enables for wasm32: Debian's binaryen when it can read the module, else npm's
# (pinned, scripts/lib.sh: bookworm's binaryen 108 cannot read the table instructions of
# wasm-bindgen's reference-type glue). Without either the module stays as wasm-bindgen wrote it.
# `-Oz` takes 10 % off the raw size but only about 1 % once compressed; `--converge` made the
# gzipped module larger, so one pass (figures in the README, "The dashboard").
wasm_opt_flags=(-Oz --strip-debug --strip-producers --enable-bulk-memory --enable-nontrapping-float-to-int
    --enable-sign-ext --enable-mutable-globals --enable-reference-types --enable-multivalue)
# Runs the wasm-opt named by $1 over the module in place; fails (leaving the module) when it cannot.
run_wasm_opt() {
    if "$1" "${wasm_opt_flags[@]}" "$staging/license_dashboard_bg.wasm" -o "$staging/license_dashboard_bg.opt.wasm" \
        2>"$staging/wasm-opt.log"; then
        mv "$staging/license_dashboard_bg.opt.wasm" "$staging/license_dashboard_bg.wasm"
        rm -f "$staging/wasm-opt.log"
    else
        echo "wasm-opt ($("$1" --version)) cannot read the module: $(head -c 200 "$staging/wasm-opt.log")" >&2
        rm -f "$staging/license_dashboard_bg.opt.wasm" "$staging/wasm-opt.log"
        return 1
    fi
}
if ! { command -v wasm-opt >/dev/null && run_wasm_opt wasm-opt; }; then
    npm_wasm_opt="$(ensure_npm_wasm_opt)"
    if [ -z "$npm_wasm_opt" ]; then
        echo "no binaryen from npm (npm, the Debian package, is missing or the install failed): the module is left as wasm-bindgen wrote it" >&2
    elif ! run_wasm_opt "$npm_wasm_opt"; then
        echo "the module is left as wasm-bindgen wrote it" >&2
    fi
fi
cp frontend/static/index.html frontend/static/styles.css frontend/static/boot.js "$staging/"

# Renames $staging/<base>.<ext> to <base>-<hash>.<ext> and prints the new name.
hashed() {
    local base="$1" ext="$2" hash
    hash="$(sha256sum "$staging/$base.$ext" | cut -c1-16)"
    mv "$staging/$base.$ext" "$staging/$base-$hash.$ext"
    echo "$base-$hash.$ext"
}
wasm="$(hashed license_dashboard_bg wasm)"
glue="$(hashed license_dashboard js)"
sed -i -e "s|/license_dashboard_bg\.wasm|/$wasm|" -e "s|/license_dashboard\.js|/$glue|" "$staging/boot.js"
boot="$(hashed boot js)"
styles="$(hashed styles css)"
sed -i -e "s|/boot\.js|/$boot|" -e "s|/styles\.css|/$styles|" -e "s|/license_dashboard_bg\.wasm|/$wasm|" \
    -e "s|/license_dashboard\.js|/$glue|" "$staging/index.html"
for name in "$wasm" "$glue" "$boot" "$styles"; do
    grep -q "$name" "$staging/index.html" "$staging/boot.js" || { echo "index.html does not name $name" >&2; exit 1; }
done

for file in "$staging"/*; do
    if command -v zopfli >/dev/null; then
        zopfli --gzip -c "$file" >"$file.gz"
    else
        gzip -9 -n -k "$file"
    fi
    if command -v brotli >/dev/null; then
        brotli -q 11 -k "$file"
    fi
done
if ! command -v brotli >/dev/null; then
    echo "brotli not found (Debian package brotli): only gzip copies are made" >&2
fi
if ! command -v zopfli >/dev/null; then
    echo "zopfli not found (Debian package zopfli): the gzip copies are gzip -9's" >&2
fi

chmod 755 "$staging"
rm -rf "$dist"
mv "$staging" "$dist"
trap - EXIT
wasm_size="$(stat -c %s "$dist/$wasm")"
echo "dashboard built into frontend/dist: $wasm $wasm_size bytes, gzip $(stat -c %s "$dist/$wasm.gz"), brotli $( [ -f "$dist/$wasm.br" ] && stat -c %s "$dist/$wasm.br" || echo -)" >&2
