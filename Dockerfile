# syntax=docker/dockerfile:1
#
# The license server as one image: the server binary, the dashboard's assets (once the frontend
# exists) and pg_dump/pg_restore for backups. It needs an external PostgreSQL (DATABASE_URL);
# see "Docker" in README.md.
#
#   docker build -t license-server .
#
# Everything the build fetches comes from package registries (crates.io, Debian) besides the
# base images. Build arguments: RUST_VERSION, DEBIAN_RELEASE (both stages use the same release,
# so the binary and its glibc match; `trixie` brings pg_dump 17 for PostgreSQL 16/17 servers).

ARG RUST_VERSION=1.85
ARG DEBIAN_RELEASE=bookworm

FROM rust:${RUST_VERSION}-slim-${DEBIAN_RELEASE} AS builder
WORKDIR /src
COPY . .
# The dashboard: built with Trunk into /dist when the frontend exists; /dist stays empty until
# then, so the runtime stage's COPY always has a source.
RUN mkdir -p /dist \
 && if [ -f frontend/index.html ]; then \
        rustup target add wasm32-unknown-unknown \
        && cargo install --locked trunk \
        && (cd frontend && trunk build --release --dist /dist); \
    fi
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked --bin license-server \
 && install -D -m 0755 target/release/license-server /out/license-server

FROM debian:${DEBIAN_RELEASE}-slim AS runtime
# postgresql-client: pg_dump and pg_restore for backups. git (+ openssh-client, ca-certificates):
# pushing backups to BACKUP_GIT_REMOTE. curl: the health check. tzdata is not needed
# (BACKUP_TIMEZONE is resolved by PostgreSQL).
RUN apt-get update \
 && apt-get install -y --no-install-recommends postgresql-client git openssh-client ca-certificates curl \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --user-group --home-dir /var/lib/license-server --create-home \
        --shell /usr/sbin/nologin license-server \
 && install -d -o license-server -g license-server /var/lib/license-server/backups
COPY --from=builder /out/license-server /usr/local/bin/license-server
COPY --from=builder /dist /usr/share/license-server/dashboard

USER license-server
WORKDIR /var/lib/license-server
ENV LISTEN_ADDR=0.0.0.0:8080 \
    BACKUP_DIR=/var/lib/license-server/backups \
    LOG_FORMAT=json
VOLUME ["/var/lib/license-server/backups"]
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=3s --start-period=30s --retries=3 \
    CMD curl -fsS "http://127.0.0.1:${LISTEN_ADDR##*:}/healthz" || exit 1
ENTRYPOINT ["license-server"]
CMD ["serve"]
