# The two commands a new machine needs are `make run` and `make test`; see README.md.
SHELL := /bin/bash
CARGO ?= cargo

.PHONY: run test check bench bench-analytics bench-storage schema fmt

## Build everything (server and dashboard) and start the server (embedded PostgreSQL unless DATABASE_URL is set).
run:
	@scripts/setup.sh run
	scripts/build-frontend.sh
	@echo "Starting the license server: dashboard at http://$${LISTEN_ADDR:-127.0.0.1:8080}/, GraphQL at /graphql, GraphiQL at /graphiql"
	$(CARGO) run --release --bin license-server -- serve

## Every check and every test, against a real PostgreSQL (started here if none is running):
## the backend's tests (default workspace member), then the dashboard and GraphiQL in headless
## Chromium and the GraphQL-over-HTTP audit, then the Dockerfile (hadolint, its runtime stage).
test:
	@scripts/setup.sh test
	$(CARGO) fmt --all --check
	$(CARGO) clippy --all-targets -- -D warnings
	$(CARGO) clippy -p license-dashboard --target wasm32-unknown-unknown -- -D warnings
	scripts/with-postgres.sh $(CARGO) test
	scripts/with-postgres.sh tests/browser/run.sh
	scripts/with-postgres.sh scripts/check-dockerfile.sh

## The heartbeat benchmark: the release server as `make run` starts it, driven by wrk over real
## sockets (activation rush, then heartbeats from thousands of sessions), against pgbench on the
## same database; then 100,000 live sessions for the memory figure.
bench:
	@scripts/setup.sh bench
	$(CARGO) bench -p license-server --bench heartbeats

## Typical analyst queries over a seeded data set (millions of heartbeats), with their query plans;
## then nested reads against PostGraphile 4 (npm, pinned in tests/bench/postgraphile) under wrk.
bench-analytics:
	@scripts/setup.sh test
	@scripts/setup.sh bench
	scripts/with-postgres.sh $(CARGO) bench -p license-server --bench analytics

## Bytes per heartbeat, raw and compacted: a fleet's history over several days, the compaction,
## and the heartbeat load over HTTP with and without the compaction running.
bench-storage:
	@scripts/setup.sh test
	scripts/with-postgres.sh $(CARGO) bench -p license-server --bench storage

## Regenerate schema.graphql from the code (a test fails when it is stale).
schema:
	$(CARGO) run -q --bin license-server -- schema > schema.graphql

fmt:
	$(CARGO) fmt --all
