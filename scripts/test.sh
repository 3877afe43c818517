#!/usr/bin/env bash
# Runs every test: unit and property tests, the host's integration tests and the coffee
# shop's end-to-end tests on the project's host (spin-lite); then the end-to-end suites again
# on every real Spin it finds: $SPIN_BIN if set, else Spin 3.6.3 and 4.0.2 from ../shared/spin
# (next to this repository, as CI has it), else a `spin` on PATH. Each test starts its own
# redis-server on a free loopback port. Extra arguments go to every `cargo test`.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh --test

echo "== tests on spin-lite (all)"
# The default workspace members are everything that runs natively; the tests build the
# wasm components themselves.
cargo test "$@"

spins=()
shared_spin="$(cd .. && pwd)/shared/spin/install.sh"
if [ -n "${SPIN_BIN:-}" ]; then
  spins+=("$SPIN_BIN")
elif [ -f "$shared_spin" ]; then
  for version in 3.6.3 4.0.2; do spins+=("$(bash "$shared_spin" "$version")"); done
elif command -v spin >/dev/null 2>&1; then
  spins+=("$(command -v spin)")
fi
if [ ${#spins[@]} -eq 0 ]; then
  echo "== no real Spin found (set SPIN_BIN=/path/to/spin): the end-to-end suites ran on spin-lite only"
fi
for spin in "${spins[@]}"; do
  echo "== end-to-end tests on $("$spin" --version)"
  SPIN_BIN="$spin" cargo test -p coffeeshop-tests \
    --test coffeeshop --test workflow --test delivery --test durability --test access --test bodies --test contract --test browser --test examples --test demo "$@"
done
