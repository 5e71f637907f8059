#!/usr/bin/env bash
# Builds keyless and runs it locally: a throwaway PostgreSQL server with the schema and
# sample rows, and the handler on http://127.0.0.1:7071 serving the component. Prints curl
# and psql lines once ready. Ctrl-C stops everything and removes the temporary files.
#
# Extra arguments go to `keyless-dev up`; see `target/debug/keyless-dev up --help`, for
# example `scripts/run-local.sh --port 8080 --tls`.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh

target_dir="${CARGO_TARGET_DIR:-target}"
cargo build --release --target wasm32-wasip2 -p keyless
cargo build --release -p keyless-host
cargo build -p keyless-devkit --bin keyless-dev

exec "$target_dir/debug/keyless-dev" up \
    --handler "$target_dir/release/handler" \
    --component "$target_dir/wasm32-wasip2/release/keyless.wasm" \
    "$@"
