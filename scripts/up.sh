#!/usr/bin/env bash
# Builds every component and the project's host, starts a local redis-server on
# 127.0.0.1:6379 when none answers there, and serves the app on http://127.0.0.1:3000.
# Credentials: random tokens per role, made on first run (scripts/credentials.sh) and passed
# as SPIN_VARIABLE_*.
#
#   ./scripts/up.sh [--no-build] [spin-lite up arguments]
#
# --no-build skips the cargo builds (a fast restart): the .wasm files spin.toml names and
# target/release/spin-lite must exist, else it says which are missing and stops. Every other
# argument goes to `spin-lite up` (e.g. --variable auto_fulfill=false); a --variable given here
# wins over the same variable from .spin/credentials.env (e.g. --variable staff_tokens=...).
# Each step is printed with the seconds since the start: `[  12s] up: building components`.
set -euo pipefail
cd "$(dirname "$0")/.."

started=$SECONDS
say() { printf '[%4ss] up: %s\n' "$((SECONDS - started))" "$*"; }

build=true
args=()
for arg in "$@"; do
  if [ "$arg" = --no-build ]; then build=false; else args+=("$arg"); fi
done

say "checking the tools (scripts/setup.sh)"
./scripts/setup.sh

if $build; then
  say "building components (wasm32-wasip2)"
  # Every package under components/ (each directory is named after its package).
  packages=()
  for dir in components/*/; do packages+=(-p "$(basename "$dir")"); done
  cargo build --release --target wasm32-wasip2 "${packages[@]}"
  say "building the host (target/release/spin-lite)"
  cargo build --release -p spin-lite-host
else
  missing=()
  for file in $(sed -n 's/^source = "\(.*\)"$/\1/p' spin.toml | sort -u) target/release/spin-lite; do
    [ -f "$file" ] || missing+=("$file")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    say "--no-build, but these are not built: ${missing[*]}; run ./scripts/up.sh without --no-build" >&2
    exit 1
  fi
  say "--no-build: serving the components and host built before (no cargo build)"
fi

if redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then
  say "redis-server answers on 127.0.0.1:6379"
else
  say "starting redis-server on 127.0.0.1:6379 (data in .spin/redis)"
  mkdir -p .spin/redis
  redis-server --bind 127.0.0.1 --port 6379 --dir .spin/redis --appendonly yes --appendfsync always --daemonize yes >/dev/null
  for _ in $(seq 50); do redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1 && break; sleep 0.1; done
fi

say "credentials (scripts/credentials.sh)"
credentials=$(./scripts/credentials.sh)
set -a
# shellcheck source=/dev/null
. "$credentials"
set +a
# The host takes SPIN_VARIABLE_<NAME> before --variable NAME=..., as Spin does: so that a
# --variable given here wins over the credentials file, its SPIN_VARIABLE_ is unset.
variable_flag=false
for arg in ${args[@]+"${args[@]}"}; do
  setting=
  if $variable_flag; then setting=$arg; variable_flag=false; fi
  case "$arg" in
    --variable) variable_flag=true ;;
    --variable=*) setting=${arg#--variable=} ;;
  esac
  name=${setting%%=*}
  if [ -n "$setting" ] && [[ $name =~ ^[A-Za-z_][A-Za-z0-9_]*$ ]]; then
    unset "SPIN_VARIABLE_$(printf '%s' "$name" | tr '[:lower:]' '[:upper:]')"
  fi
done

say "serving: target/release/spin-lite up -f spin.toml (and your arguments)"
exec target/release/spin-lite up -f spin.toml ${args[@]+"${args[@]}"}
