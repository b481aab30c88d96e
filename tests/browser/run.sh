#!/usr/bin/env bash
# Browser tests: builds the dashboard and the server, starts the real server on a fresh database
# (with an admin user and a client key made through the CLI), and drives headless Chromium with
# playwright-core through `node --test` (the dashboard, then GraphiQL); then the GraphQL-over-HTTP
# audit of npm graphql-http against the same server. Needs DATABASE_URL naming a server where it may create
# databases (scripts/with-postgres.sh provides one). Screenshots land in tests/browser/screenshots/.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
cd "$root"
. scripts/lib.sh
: "${DATABASE_URL:?DATABASE_URL must name a PostgreSQL server (run through scripts/with-postgres.sh)}"

scripts/build-frontend.sh
cargo build --quiet --bin license-server
target_dir="${CARGO_TARGET_DIR:-$root/target}"
server="$target_dir/debug/license-server"

if [ ! -d "$here/node_modules/playwright-core" ] || [ ! -d "$here/node_modules/axe-core" ] \
    || [ ! -d "$here/node_modules/graphql-http" ]; then
    (cd "$here" && npm ci --no-audit --no-fund --loglevel=error)
fi

create_throwaway_database license_browser
server_pid=""
# Backups go to a directory of their own and are pushed to a git remote: a bare repository here.
scratch="$(mktemp -d -t license-browser.XXXXXX)"
backup_remote="$scratch/remote.git"
git init -q --bare -b main "$backup_remote"
trap 'stop_server_and_drop_database; rm -rf "$scratch"' EXIT

port="$(node -e 'const s = require("net").createServer().listen(0, "127.0.0.1", () => { console.log(s.address().port); s.close(); })')"
log="$(mktemp -t license-browser-server.XXXXXX.log)"

export DATABASE_URL="$test_url" DATABASE_MAX_CONNECTIONS=8
"$server" migrate >/dev/null
admin_password="browser-test-$(date +%s%N)"
printf '%s\n' "$admin_password" | "$server" admin create --username admin --role admin >/dev/null
analyst_password="browser-analyst-$(date +%s%N)"
printf '%s\n' "$analyst_password" | "$server" admin create --username analyst --role analyst >/dev/null
client_key="$("$server" api-key create --name browser-test-client --scope client)"
analyst_key="$("$server" api-key create --name browser-test-analyst --scope analyst)"

LISTEN_ADDR="127.0.0.1:$port" FRONTEND_DIR="$root/frontend/dist" CLEANUP_INTERVAL_SECS=1 \
    BACKUP_DIR="$scratch/backups" BACKUP_GIT_REMOTE="$backup_remote" \
    "$server" serve >"$log" 2>&1 &
server_pid=$!
for _ in $(seq 1 100); do
    if node -e "fetch('http://127.0.0.1:$port/readyz').then(r => process.exit(r.ok ? 0 : 1), () => process.exit(1))"; then
        break
    fi
    if ! kill -0 "$server_pid" 2>/dev/null; then cat "$log" >&2; exit 1; fi
    sleep 0.1
done

status=0
(cd "$here" && BASE_URL="http://localhost:$port" ADMIN_USERNAME=admin ADMIN_PASSWORD="$admin_password" \
    ANALYST_USERNAME=analyst ANALYST_PASSWORD="$analyst_password" CLIENT_KEY="$client_key" ANALYST_KEY="$analyst_key" BACKUP_REMOTE="$backup_remote" \
    node --test --test-concurrency=1 dashboard.test.mjs graphiql.test.mjs graphql_over_http.test.mjs) || status=$?
if [ "$status" -ne 0 ]; then
    echo "--- server log ($log) ---" >&2
    tail -n 50 "$log" >&2
fi
exit "$status"
