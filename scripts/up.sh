#!/usr/bin/env bash
# Builds every component and the project's host, starts a local redis-server on
# 127.0.0.1:6379 when none answers there, and serves the app on http://127.0.0.1:3000.
# Credentials: random tokens per role, made on first run (scripts/credentials.sh) and passed
# as SPIN_VARIABLE_*. Extra arguments go to `spin-lite up` (e.g. --variable auto_fulfill=false).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh

echo "up: building components (wasm32-wasip2) and the host"
# Every package under components/ (each directory is named after its package).
packages=()
for dir in components/*/; do packages+=(-p "$(basename "$dir")"); done
cargo build --release --target wasm32-wasip2 "${packages[@]}"
cargo build --release -p spin-lite-host

if ! redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then
  echo "up: starting redis-server on 127.0.0.1:6379 (data in .spin/redis)"
  mkdir -p .spin/redis
  redis-server --bind 127.0.0.1 --port 6379 --dir .spin/redis --appendonly yes --appendfsync always --daemonize yes >/dev/null
  for _ in $(seq 50); do redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1 && break; sleep 0.1; done
fi

credentials=$(./scripts/credentials.sh)
set -a
# shellcheck source=/dev/null
. "$credentials"
set +a
exec target/release/spin-lite up -f spin.toml "$@"
