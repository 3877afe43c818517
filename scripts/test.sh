#!/usr/bin/env bash
# Runs every test: unit and property tests, the host's integration tests and the coffee
# shop's end-to-end tests (each starts its own redis-server on a free loopback port).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
# The default workspace members are everything that runs natively; the tests build the
# wasm components themselves.
cargo test "$@"
