#!/usr/bin/env bash
# Demo traffic for the shop that is serving (./scripts/up.sh, or `spin up` with the same
# credentials): realistic orders at a rate for a while, live progress on one line, a summary
# table at the end. `reset` clears the shop's state in its Redis and restocks; it stops nothing.
#
#   ./scripts/demo.sh [--rate 2] [--duration 60s] [--url http://127.0.0.1:3000] [--seed N]
#   ./scripts/demo.sh reset [--url http://127.0.0.1:3000] [--redis redis://127.0.0.1:6379]
#
# The tokens come from .spin/credentials.env (scripts/credentials.sh), or from STAFF_TOKEN,
# MANAGER_TOKEN and OPERATOR_TOKEN already in the environment.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -f .spin/credentials.env ] && [ -z "${STAFF_TOKEN:-}" ]; then
  set -a
  . .spin/credentials.env
  set +a
fi
cargo build --release --quiet -p coffeeshop-demo
exec target/release/coffeeshop-demo "$@"
