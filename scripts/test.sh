#!/usr/bin/env bash
# The test command of the README: installs what the tests need on a fresh
# machine (Debian packages, npm packages), builds, and runs the whole suite
# against real servers that the tests start and remove themselves.
#   scripts/test.sh                 # everything
#   scripts/test.sh test/unit       # a subset (arguments go to vitest)
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
cd "$root"

bash scripts/install/base.sh

report="$(mktemp -t holdfast-vitest-XXXXXX.json)"
trap 'rm -f "$report"' EXIT
status=0
npx --no-install vitest run --reporter=default --reporter=json --outputFile.json="$report" "$@" || status=$?

# One plain closing line, whatever the reporter printed above.
node -e '
  const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
  const skipped = r.numPendingTests + (r.numTodoTests || 0);
  console.log(`${r.numPassedTests} passed, ${r.numFailedTests} failed` + (skipped ? `, ${skipped} skipped` : ""));
' "$report" || true
exit "$status"
