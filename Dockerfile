# syntax=docker/dockerfile:1
#
# The license server as one image: the server binary, the dashboard's assets and
# pg_dump/pg_restore for backups. It needs an external PostgreSQL (DATABASE_URL);
# see "Docker" in README.md.
#
#   docker build -t license-server .
#
# Everything the build fetches comes from package registries (crates.io, Debian, npm) besides the
# base images. Build arguments: RUST_VERSION, DEBIAN_RELEASE (both stages use the same release,
# so the binary and its glibc match; `trixie` brings pg_dump 17 for PostgreSQL 16/17 servers).

ARG RUST_VERSION=1.95
ARG DEBIAN_RELEASE=bookworm

FROM rust:${RUST_VERSION}-slim-${DEBIAN_RELEASE} AS builder
WORKDIR /src
COPY . .
# The dashboard (wasm32, through wasm-bindgen-cli from crates.io, wasm-opt from Debian's binaryen
# or, when that cannot read the module, npm's binaryen run by Node.js, with content-hashed names
# and gzip (zopfli) and brotli copies, exactly as `make run` builds it) into /dist,
# then the server binary.
# Unpinned Debian packages (hadolint DL3008): DEBIAN_RELEASE pins the release, whose archive
# keeps one version of each package (security updates replace it), so `pkg=version` would break
# the build at the release's next point update.
# hadolint ignore=DL3008
RUN apt-get update \
 && apt-get install -y --no-install-recommends pkg-config libssl-dev binaryen nodejs npm brotli zopfli \
 && rm -rf /var/lib/apt/lists/* \
 && rustup target add wasm32-unknown-unknown
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    CARGO_TARGET_DIR=/src/target scripts/build-frontend.sh \
 && cp -r frontend/dist /dist \
 && cargo build --release --locked --bin license-server \
 && install -D -m 0755 target/release/license-server /out/license-server

FROM debian:${DEBIAN_RELEASE}-slim AS runtime
# postgresql-client: pg_dump and pg_restore for backups. git (+ openssh-client, ca-certificates):
# pushing backups to BACKUP_GIT_REMOTE. curl: the health check. tzdata is not needed
# (BACKUP_TIMEZONE is resolved by PostgreSQL). Unpinned for the reason given in the builder.
# The server runs as uid/gid 10001, named by number in USER so that a runtime that checks for a
# non-root user (Kubernetes' runAsNonRoot) can tell without the image's /etc/passwd.
# hadolint ignore=DL3008
RUN apt-get update \
 && apt-get install -y --no-install-recommends postgresql-client git openssh-client ca-certificates curl \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 license-server \
 && useradd --system --uid 10001 --gid 10001 --home-dir /var/lib/license-server --create-home \
        --shell /usr/sbin/nologin license-server \
 && install -d -m 0700 -o 10001 -g 10001 /var/lib/license-server/backups
COPY --from=builder /out/license-server /usr/local/bin/license-server
COPY --from=builder /dist /usr/share/license-server/dashboard

USER 10001:10001
WORKDIR /var/lib/license-server
ENV LISTEN_ADDR=0.0.0.0:8080 \
    FRONTEND_DIR=/usr/share/license-server/dashboard \
    BACKUP_DIR=/var/lib/license-server/backups \
    LOG_FORMAT=json
VOLUME ["/var/lib/license-server/backups"]
EXPOSE 8080
# The port comes from LISTEN_ADDR (so `-e LISTEN_ADDR=…` moves the check along), hence a shell.
HEALTHCHECK --interval=30s --timeout=3s --start-period=30s --retries=3 \
    CMD ["/bin/sh", "-c", "curl -fsS \"http://127.0.0.1:${LISTEN_ADDR##*:}/healthz\" || exit 1"]
ENTRYPOINT ["license-server"]
CMD ["serve"]
