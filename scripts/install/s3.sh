#!/usr/bin/env bash
# Build the S3-compatible test server once, into a cache dir: versitygw (Versity S3 Gateway,
# Apache-2.0) with its POSIX backend, from the Go module proxy. A real S3 API server (SigV4
# auth, multipart uploads, ListMultipartUploads, conditional writes with If-None-Match) that
# stores objects as plain files; the tests start one per test file (test/servers/s3.ts).
#
#   scripts/install/s3.sh            # build when missing or of another version
#   scripts/install/s3.sh --force    # rebuild anyway
#
# Result: $HOLDFAST_TEST_CACHE/bin/versitygw and versitygw.stamp (HOLDFAST_TEST_CACHE default
# /opt/holdfast-test). Go build state is kept in $HOLDFAST_TEST_CACHE/go so rebuilds are warm.
# Cold build measured at ~110 s on 2 busy cores (fresh module and build caches); cached: <1 s.
#
# Why this server: the first tried, and it does all the tests need. MinIO was set aside (AGPL,
# larger build); SeaweedFS (master + volume + filer for its S3 gateway) and s3proxy (Java) were
# not tried. See README "S3 repository".
set -euo pipefail

VERSITYGW_MODULE="github.com/versity/versitygw"
VERSITYGW_VERSION="v1.8.0"

cache_root="${HOLDFAST_TEST_CACHE:-/opt/holdfast-test}"
bin="$cache_root/bin"
gohome="$cache_root/go"
force=0
[[ "${1:-}" == "--force" ]] && force=1

log() { printf '[install/s3] %s\n' "$*" >&2; }

stamp_want="versitygw=$VERSITYGW_VERSION"
if [[ $force -eq 0 && -x "$bin/versitygw" && -f "$bin/versitygw.stamp" && "$(cat "$bin/versitygw.stamp")" == "$stamp_want" ]]; then
  log "up to date: $bin/versitygw ($VERSITYGW_VERSION)"
  exit 0
fi

GO_MIN=1.24
# shellcheck source=scripts/install/go-env.sh
source "$(dirname "${BASH_SOURCE[0]}")/go-env.sh"
mkdir -p "$bin"
export GOFLAGS="-buildvcs=false -trimpath"

start=$(date +%s)
log "building versitygw $VERSITYGW_VERSION"
work="$(mktemp -d "${TMPDIR:-/tmp}/holdfast-s3-build.XXXXXX")"
trap 'rm -rf "$work"' EXIT
GOBIN="$work" "$GO" install "$VERSITYGW_MODULE/cmd/versitygw@$VERSITYGW_VERSION"
mv -f "$work/versitygw" "$bin/versitygw"
echo "$stamp_want" >"$bin/versitygw.stamp"
log "done in $(($(date +%s) - start))s: $bin/versitygw"
