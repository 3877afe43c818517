#!/usr/bin/env bash
# One-time set-up on a fresh Debian machine: the wasm target and redis-server (to run the
# shop); with --test also chromium with node and npm for the browser test, jq for the examples
# test, and schemathesis (Python) for the contract test. Safe to run again: it installs only
# what is missing.
set -euo pipefail
with_tests=false
[ "${1:-}" = "--test" ] && with_tests=true

sudo_if_needed() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

if ! command -v cargo >/dev/null 2>&1; then
  echo "setup: cargo not found; install Rust first (https://rustup.rs)" >&2
  exit 1
fi
if ! rustup target list --installed | grep -qx wasm32-wasip2; then
  echo "setup: adding the wasm32-wasip2 target"
  rustup target add wasm32-wasip2
fi
if ! command -v redis-server >/dev/null 2>&1; then
  echo "setup: installing redis-server (Debian package)"
  sudo_if_needed apt-get update -qq
  sudo_if_needed env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server redis-tools >/dev/null
fi
$with_tests || exit 0
# The browser test (tests/browser.rs) drives Debian's chromium with Node's playwright-core.
if [ ! -x /usr/bin/chromium ]; then
  echo "setup: installing chromium (Debian package)"
  sudo_if_needed apt-get update -qq
  sudo_if_needed env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi
if ! command -v node >/dev/null 2>&1; then
  echo "setup: installing nodejs and npm (Debian packages)"
  sudo_if_needed apt-get update -qq
  sudo_if_needed env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm >/dev/null
fi
# The examples test (tests/examples.rs) runs the READMEs' curl examples, which use jq.
if ! command -v jq >/dev/null 2>&1; then
  echo "setup: installing jq (Debian package)"
  sudo_if_needed apt-get update -qq
  sudo_if_needed env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq jq >/dev/null
fi
# The contract test (tests/contract.rs) runs schemathesis against the live shop.
if ! command -v schemathesis >/dev/null 2>&1; then
  echo "setup: installing schemathesis (pip)"
  python3 -m pip install -q -r "$(dirname "$0")/../tests/contract-requirements.txt"
fi
