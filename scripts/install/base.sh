#!/usr/bin/env bash
# What holdfast itself and its PostgreSQL tests need on a fresh Debian machine:
# the zstd CLI (compression), GNU tar, PostgreSQL 15 server and client tools
# (pg_dump, pg_restore, pg_basebackup, pgbench; the tests start throwaway
# clusters with initdb), and the project's npm packages.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
# shellcheck source=apt.sh
. "$here/apt.sh"

apt_install zstd tar postgresql-15 postgresql-client-15 postgresql-contrib

command -v node >/dev/null || { echo "holdfast: Node.js 20 or newer is required" >&2; exit 1; }
cd "$root"
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "holdfast: installing npm packages" >&2
  npm ci --no-audit --no-fund --loglevel=error
fi
npx --no-install tsc -p tsconfig.json
