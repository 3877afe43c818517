#!/usr/bin/env bash
# Makes the shop's credentials on first use and says where they are: one random token per role
# (staff, manager, operator) in .spin/credentials.env, readable only by you and never
# committed (.spin/ is ignored). The file is both a shell file to source for curl
# ($STAFF_TOKEN, ...) and the SPIN_VARIABLE_* settings Spin and spin-lite read. Delete it to
# make new tokens. Prints the file's path on stdout; everything else goes to stderr.
set -euo pipefail
cd "$(dirname "$0")/.."
file=.spin/credentials.env

token() { od -An -N24 -tx1 /dev/urandom | tr -d ' \n'; }

if [[ ! -f $file ]]; then
  mkdir -p .spin
  staff=$(token) manager=$(token) operator=$(token)
  (
    umask 077
    cat >"$file" <<EOT
# The coffee shop's credentials, made by scripts/credentials.sh on $(date -u +%Y-%m-%dT%H:%M:%SZ).
# Secret: do not commit or share. Delete this file to make new tokens.
# For curl: source this file, then -H "Authorization: Bearer \$STAFF_TOKEN".
STAFF_TOKEN=$staff
MANAGER_TOKEN=$manager
OPERATOR_TOKEN=$operator
# For Spin and spin-lite: who holds each role (comma-separated name:token pairs).
SPIN_VARIABLE_STAFF_TOKENS=staff:$staff
SPIN_VARIABLE_MANAGER_TOKENS=manager:$manager
SPIN_VARIABLE_OPERATOR_TOKENS=operator:$operator
EOT
  )
  cat >&2 <<EOT
credentials: made $file (once; kept for later runs). Sign in on the page as staff with
  $staff
as a manager with
  $manager
and as an operator with
  $operator
For curl: source $file, then -H "Authorization: Bearer \$STAFF_TOKEN".
EOT
else
  echo "credentials: $file (source it for \$STAFF_TOKEN, \$MANAGER_TOKEN, \$OPERATOR_TOKEN)" >&2
fi
echo "$file"
