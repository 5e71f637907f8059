#!/usr/bin/env bash
# Runs every test in the workspace against real PostgreSQL servers started by the test
# harness. Extra arguments go to `cargo test`, for example `scripts/test.sh -p keyless-devkit`.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh

# Component tests load the release component; building it first keeps that build out of
# the test timings and shows its errors on their own.
cargo build --release --target wasm32-wasip2 -p keyless

exec cargo test --workspace "$@"
