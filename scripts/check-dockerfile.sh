#!/usr/bin/env bash
# The Dockerfile, checked without a Docker engine (make test):
#   1. hadolint (pinned, scripts/lib.sh) with no finding; each rule the Dockerfile ignores says
#      why beside it;
#   2. the builder's products: what the runtime stage copies from the builder (/out/license-server,
#      /dist) must be what the builder's RUN makes; here they are made the same way from the
#      debug binary the tests built and frontend/dist (scripts/build-frontend.sh, run by the
#      browser tests) — not a release build, which would take too long for the test budget;
#   3. the runtime stage on a directory standing in for the image's file system: the COPY
#      destinations, the home and backup directories its RUN creates, then ENTRYPOINT + CMD with
#      the stage's ENV (paths under that directory, a free port in LISTEN_ADDR) as the stage's
#      USER (uid 10001, not root), against a fresh database, until the HEALTHCHECK command passes;
#      the server must run as that uid, log JSON, and be able to write its backup directory.
# Needs DATABASE_URL naming a server where it may create databases (scripts/with-postgres.sh).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
. "$here/lib.sh"
cd "$root"
: "${DATABASE_URL:?DATABASE_URL must name a PostgreSQL server (run through scripts/with-postgres.sh)}"

hadolint="$(ensure_hadolint)"
"$hadolint" --failure-threshold info Dockerfile
echo "hadolint $("$hadolint" --version | awk '{print $NF}'): Dockerfile has no findings" >&2

cargo build --quiet --bin license-server
binary="${CARGO_TARGET_DIR:-$root/target}/debug/license-server"
if [ ! -f frontend/dist/index.html ]; then
    scripts/build-frontend.sh
fi

work="$(mktemp -d -t license-dockerfile.XXXXXX)"
chmod 755 "$work"
trap 'rm -rf "$work"' EXIT
create_throwaway_database license_docker
server_pid=""
trap 'stop_server_and_drop_database; rm -rf "$work"' EXIT

# The stages as data: the builder's RUN text, and the runtime stage's instructions (JSON forms
# parsed, continuation lines joined).
python3 - Dockerfile "$work/stages.json" <<'PY'
import json, re, shlex, sys
text = open(sys.argv[1]).read()
lines, current = [], ''
for raw in text.splitlines():
    if raw.strip().startswith('#'):
        continue
    if raw.rstrip().endswith('\\'):
        current += raw.rstrip()[:-1] + ' '
        continue
    current += raw
    if current.strip():
        lines.append(current.strip())
    current = ''
stages = []
for line in lines:
    word, _, rest = line.partition(' ')
    word = word.upper()
    if word == 'FROM':
        stages.append({'from': rest, 'run': [], 'copy': [], 'env': {}})
    elif not stages:
        continue
    elif word == 'RUN':
        stages[-1]['run'].append(' '.join(re.sub(r'--mount=\S+\s*', '', rest).split()))
    elif word == 'COPY':
        args = shlex.split(rest)
        source = next((a.split('=', 1)[1] for a in args if a.startswith('--from=')), None)
        paths = [a for a in args if not a.startswith('--')]
        stages[-1]['copy'].append({'from': source, 'src': paths[:-1], 'dst': paths[-1]})
    elif word == 'ENV':
        for pair in shlex.split(rest):
            key, _, value = pair.partition('=')
            stages[-1]['env'][key] = value
    elif word in ('USER', 'WORKDIR'):
        stages[-1][word.lower()] = rest.strip()
    elif word in ('ENTRYPOINT', 'CMD'):
        stages[-1][word.lower()] = json.loads(rest)
    elif word == 'HEALTHCHECK':
        stages[-1]['healthcheck'] = json.loads(rest[rest.index(' CMD ') + 5:])
json.dump({'builder': stages[0], 'runtime': stages[-1]}, open(sys.argv[2], 'w'), indent=1)
PY
# stage CODE [ARGS…]: runs Python CODE with `d` the parsed stages and ARGS in sys.argv[3:].
stage() { python3 -c 'import json, sys; d = json.load(open(sys.argv[1])); exec(sys.argv[2])' "$work/stages.json" "$@"; }

# 2. The builder's products, as its RUN makes them.
builder_run="$(stage 'print(" && ".join(d["builder"]["run"]))')"
for step in "cp -r frontend/dist /dist" "install -D -m 0755 target/release/license-server /out/license-server"; do
    if [[ "$builder_run" != *"$step"* ]]; then
        echo "the builder stage no longer runs \`$step\`: update scripts/check-dockerfile.sh with it" >&2
        exit 1
    fi
done
builder="$work/builder"
mkdir -p "$builder"
cp -r frontend/dist "$builder/dist"
install -D -m 0755 "$binary" "$builder/out/license-server"

# 3. The runtime stage's file system under $rootfs.
rootfs="$work/rootfs"
mkdir -p "$rootfs"
copies="$(stage 'print("\n".join(s + "\t" + c["dst"] for c in d["runtime"]["copy"] if c["from"] == "builder" for s in c["src"]))')"
[ -n "$copies" ] || { echo "the runtime stage copies nothing from the builder" >&2; exit 1; }
while IFS=$'\t' read -r source destination; do
    [ -e "$builder$source" ] || { echo "COPY --from=builder $source: the builder makes no such file" >&2; exit 1; }
    mkdir -p "$(dirname "$rootfs$destination")"
    cp -a "$builder$source" "$rootfs$destination"
done <<<"$copies"

user="$(stage 'print(d["runtime"].get("user", ""))')"
if ! [[ "$user" =~ ^[0-9]+:[0-9]+$ ]] || [ "${user%%:*}" = 0 ]; then
    echo "the runtime stage's USER must be a numeric non-root uid:gid, not '$user'" >&2
    exit 1
fi
uid="${user%%:*}" gid="${user##*:}"
runtime_run="$(stage 'print(" && ".join(d["runtime"]["run"]))')"
for expected in "useradd --system --uid $uid --gid $gid" "groupadd --system --gid $gid"; do
    [[ "$runtime_run" == *"$expected"* ]] || { echo "the runtime stage does not run \`$expected\`" >&2; exit 1; }
done
# The directories the stage's RUN makes for that user: the home (useradd --create-home) and
# each `install -d`, rebased under $rootfs (owners given only when this runs as root).
as_root=""
[ "$(id -u)" -eq 0 ] && as_root=1
home="$(sed -n 's/.*--home-dir \([^ ]*\).*/\1/p' <<<"$runtime_run")"
install -d ${as_root:+-o "$uid" -g "$gid"} "$rootfs$home"
while read -r segment; do
    read -ra words <<<"$segment"
    rebased=()
    for ((i = 0; i < ${#words[@]}; i++)); do
        word="${words[$i]}"
        if [ -z "$as_root" ] && [[ "$word" == -o || "$word" == -g ]]; then
            i=$((i + 1))
        elif [[ "$word" == /* ]]; then
            rebased+=("$rootfs$word")
        else
            rebased+=("$word")
        fi
    done
    "${rebased[@]}"
done < <(sed 's/ && /\n/g' <<<"$runtime_run" | sed -n 's/^ *\(install -d .*\)$/\1/p')

# The stage's ENV, paths rebased, a free port instead of the image's.
port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
environment_lines="$(stage '
for key, value in d["runtime"]["env"].items():
    if value.startswith("/"):
        value = sys.argv[3] + value
    if key == "LISTEN_ADDR":
        value = value.rsplit(":", 1)[0] + ":" + sys.argv[4]
    print(f"{key}={value}")' "$rootfs" "$port")"
mapfile -t environment <<<"$environment_lines"
environment+=("DATABASE_URL=$test_url" "PATH=$rootfs/usr/local/bin:/usr/bin:/bin" "HOME=$rootfs$home")
# As the stage's USER (when this runs as root; otherwise as whoever runs it), with only the ENV.
as_image_user() {
    if [ -n "$as_root" ]; then
        exec setpriv --reuid="$uid" --regid="$gid" --clear-groups env -i "${environment[@]}" "$@"
    fi
    exec env -i "${environment[@]}" "$@"
}

command_lines="$(stage 'print("\n".join(d["runtime"]["entrypoint"] + d["runtime"].get("cmd", [])))')"
mapfile -t command <<<"$command_lines"
cd "$rootfs$(stage 'print(d["runtime"].get("workdir", "/"))')"
log="$work/server.log"
# exec in the background job: $! is the server itself (setpriv and env exec it in turn).
(as_image_user "${command[@]}") >"$log" 2>&1 &
server_pid=$!

healthcheck_lines="$(stage 'print("\n".join(d["runtime"]["healthcheck"]))')"
mapfile -t healthcheck <<<"$healthcheck_lines"
healthy=""
for _ in $(seq 1 150); do
    if (as_image_user "${healthcheck[@]}") >/dev/null 2>&1; then
        healthy=1
        break
    fi
    if ! kill -0 "$server_pid" 2>/dev/null; then break; fi
    sleep 0.2
done
if [ -z "$healthy" ]; then
    echo "the HEALTHCHECK (${healthcheck[*]}) did not pass; server log:" >&2
    cat "$log" >&2
    exit 1
fi
server_uid="$(ps -o uid= -p "$server_pid" | tr -d ' ')"
backup_dir="$(printf '%s\n' "${environment[@]}" | sed -n 's/^BACKUP_DIR=//p')"
(as_image_user test -w "$backup_dir") || { echo "BACKUP_DIR $backup_dir is not writable by uid $uid" >&2; exit 1; }
python3 - "$log" <<'PY' || { echo "with LOG_FORMAT=json every log line must be JSON:" >&2; cat "$log" >&2; exit 1; }
import json, sys
lines = [l for l in open(sys.argv[1]) if l.strip()]
assert lines, 'no log lines'
for line in lines:
    json.loads(line)
PY
if [ -n "$as_root" ] && [ "$server_uid" != "$uid" ]; then
    echo "the server runs as uid $server_uid, not $uid" >&2
    exit 1
fi
kill -TERM "$server_pid"
wait "$server_pid"
server_pid=""
echo "Dockerfile: the runtime stage's server ran as uid $uid with its ENV, and its HEALTHCHECK passed" >&2
