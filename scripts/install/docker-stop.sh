#!/usr/bin/env bash
# Stop the private test dockerd started by scripts/install/docker.sh.
# Idempotent: exits 0 when nothing is running.
#
# Usage: scripts/install/docker-stop.sh [--purge] [ROOT]
#   --purge   also delete ROOT (images, volumes, build cache): the next
#             docker.sh + build.sh starts cold.
# Environment: HOLDFAST_TEST_DOCKER_ROOT, HOLDFAST_TEST_DOCKER_HOST (as docker.sh),
#   HOLDFAST_TEST_DOCKER_STOP_TIMEOUT seconds to wait after SIGTERM (default 30).
#
# dockerd stops its running containers on SIGTERM (SIGTERM to each, SIGKILL
# after their stop timeout). If dockerd does not exit in time it is killed,
# and whatever it leaves behind (its containerd, shims, containers, mounts,
# all found under ROOT only) is cleaned up here.
set -euo pipefail

log() { printf 'holdfast docker-stop: %s\n' "$*" >&2; }
die() { printf 'holdfast docker-stop: error: %s\n' "$*" >&2; exit 1; }

PURGE=0
ROOT_ARG=
for a in "$@"; do
  case "$a" in
    --purge) PURGE=1 ;;
    -h|--help) sed -n '2,16p' "$0"; exit 0 ;;
    -*) die "unknown option $a" ;;
    *) ROOT_ARG=$a ;;
  esac
done
[ "$(id -u)" = 0 ] || die "must run as root"
ROOT=${ROOT_ARG:-${HOLDFAST_TEST_DOCKER_ROOT:-/var/lib/holdfast-test-docker}}
HOST=${HOLDFAST_TEST_DOCKER_HOST:-unix:///run/holdfast-test-docker.sock}
SOCK=${HOST#unix://}
TIMEOUT=${HOLDFAST_TEST_DOCKER_STOP_TIMEOUT:-30}
PIDFILE=$ROOT/dockerd.pid
case "$ROOT" in /?*) ;; *) die "ROOT must be an absolute path, got '$ROOT'" ;; esac

alive() {
  local pid=$1 st
  [ -n "$pid" ] && [ -r "/proc/$pid/stat" ] || return 1
  st=$(sed 's/^.*) //' "/proc/$pid/stat" 2>/dev/null | cut -d' ' -f1) || return 1
  [ "$st" != Z ] && [ "$st" != X ]
}
wait_gone() { # pid seconds
  local deadline=$((SECONDS + $2))
  while alive "$1"; do
    [ $SECONDS -lt $deadline ] || return 1
    sleep 0.2
  done
}
# processes whose command line mentions our exec root (containerd, shims)
ours() {
  local p
  for p in /proc/[0-9]*; do
    { tr '\0' ' ' <"$p/cmdline"; } 2>/dev/null | grep -qF -- "$ROOT/exec" && echo "${p#/proc/}"
  done
  return 0
}

pid=$(cat "$PIDFILE" 2>/dev/null || true)
forced=0
if alive "$pid" && grep -q dockerd "/proc/$pid/comm" 2>/dev/null; then
  log "stopping dockerd pid $pid (SIGTERM, up to ${TIMEOUT}s)"
  kill -TERM "$pid"
  if ! wait_gone "$pid" "$TIMEOUT"; then
    log "dockerd did not exit in ${TIMEOUT}s; sending SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
    wait_gone "$pid" 10 || die "dockerd pid $pid survives SIGKILL"
    forced=1
  fi
else
  if [ -S "$SOCK" ] && "${HOLDFAST_DOCKER_CLI:-/usr/bin/docker}" -H "$HOST" version >/dev/null 2>&1; then
    die "a daemon answers on $HOST but $PIDFILE names no live dockerd; it was not started with ROOT=$ROOT, not stopping it"
  fi
  log "no dockerd running for $ROOT"
fi

# Leftovers: only after a forced kill or a crash. Kill containers via runc,
# then containerd and shims, all identified by paths under ROOT.
leftover=$(ours)
if [ -n "$leftover" ] || [ $forced = 1 ]; then
  for rroot in "$ROOT"/exec/runtime-runc/*; do
    [ -d "$rroot" ] || continue
    for id in $(runc --root "$rroot" list -q 2>/dev/null || true); do
      log "killing leftover container $id"
      runc --root "$rroot" kill -a "$id" KILL 2>/dev/null || true
      sleep 0.2
      runc --root "$rroot" delete -f "$id" 2>/dev/null || true
    done
  done
  for p in $(ours); do
    log "killing leftover process $p: $({ tr '\0' ' ' <"/proc/$p/cmdline"; } 2>/dev/null | cut -c1-100)"
    kill -TERM "$p" 2>/dev/null || true
  done
  for p in $(ours); do
    wait_gone "$p" 10 || kill -KILL "$p" 2>/dev/null || true
  done
fi

# Mounts left under ROOT (overlay2 merged dirs, shm, netns), deepest first.
mounts=$(awk -v r="$ROOT/" 'index($2, r) == 1 { print $2 }' /proc/self/mounts | sort -r)
for m in $mounts; do
  log "unmounting leftover $m"
  umount "$m" 2>/dev/null || umount -l "$m" || true
done

rm -f "$PIDFILE"
[ -S "$SOCK" ] && rm -f "$SOCK"

if [ $PURGE = 1 ] && [ -d "$ROOT" ]; then
  if awk -v r="$ROOT/" 'index($2, r) == 1 { f = 1 } END { exit !f }' /proc/self/mounts; then
    die "mounts remain under $ROOT; not purging"
  fi
  log "purging $ROOT"
  rm -rf --one-file-system -- "$ROOT"
fi
log "stopped"
