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
bash scripts/install/restic.sh   # the restic: repository backend's tests (Debian's restic)
bash scripts/install/mongodb.sh  # FerretDB (MongoDB wire, SQLite) + mongodump/mongorestore from Go modules; ~97 s cold, cached
# Docker tests: a private dockerd (no bridge, no iptables, loopback only) and the images they
# use, built locally (no registry). Stopped at the end only if this script started it.
docker_cli="${HOLDFAST_DOCKER_CLI:-/usr/bin/docker}"
docker_started=0
"$docker_cli" -H "${HOLDFAST_TEST_DOCKER_HOST:-unix:///run/holdfast-test-docker.sock}" version >/dev/null 2>&1 || docker_started=1
export "$(bash scripts/install/docker.sh)"
bash scripts/images/build.sh busybox postgres
bash scripts/install/mariadb.sh
# holdfast's own image (holdfast:local), registry-free from the host's packages (needs the client
# tools installed above and npm's cache); ~25 s cold, skipped when its inputs are unchanged.
bash scripts/images/build.sh holdfast
# A real OpenSearch node for the opensearch driver's tests (Maven Central, ~15 s cold, cached).
bash scripts/install/opensearch.sh
# A real S3-compatible server (versitygw, Apache-2.0, Go module proxy) for the s3:// repository's tests; ~2-5 min cold, cached.
bash scripts/install/s3.sh

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
[ "$docker_started" = 0 ] || bash scripts/install/docker-stop.sh || true
exit "$status"
