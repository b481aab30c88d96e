#!/usr/bin/env bash
# The GraphiQL build the server embeds (backend/src/http/graphiql.rs) and serves at /graphiql, with
# no other host involved. The files are committed, so building and running need neither npm nor
# the network; this script is only for changing the pinned versions:
#
#   backend/graphiql/refresh.sh          install the versions package-lock.json pins (npm checks
#                                        each package against the lock's sha512), copy the four
#                                        files here and record their SHA-256 in SHA256SUMS
#   backend/graphiql/refresh.sh --check  verify the committed files against SHA256SUMS
#
# To move to another version: edit package.json, `npm install --package-lock-only`, run this,
# and commit all of it. graphiql 4 is the last major release with a browser (UMD) build; React
# 18 the last with one of React's.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$here"

if [ "${1:-}" = --check ]; then
    sha256sum --check --strict --quiet SHA256SUMS
    echo "GraphiQL assets match SHA256SUMS" >&2
    exit 0
fi

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cp package.json package-lock.json "$work/"
(cd "$work" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error)
modules="$work/node_modules"
cp "$modules/graphiql/graphiql.min.js" "$modules/graphiql/graphiql.min.css" \
   "$modules/react/umd/react.production.min.js" "$modules/react-dom/umd/react-dom.production.min.js" .
cp "$modules/graphiql/LICENSE" LICENSE.graphiql
cp "$modules/react/LICENSE" LICENSE.react
sha256sum graphiql.min.js graphiql.min.css react.production.min.js react-dom.production.min.js >SHA256SUMS
cat SHA256SUMS
