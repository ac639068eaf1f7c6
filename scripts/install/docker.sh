#!/usr/bin/env bash
# Install Docker (Debian's docker.io 20.10) and start a private dockerd for
# holdfast's container tests. Idempotent: safe to run any number of times.
#
# Usage:
#   scripts/install/docker.sh [ROOT]
#   export "$(scripts/install/docker.sh)"     # sets DOCKER_HOST
#
# stdout: exactly one line, `DOCKER_HOST=unix:///...`; progress goes to stderr.
#
# Environment:
#   HOLDFAST_TEST_DOCKER_ROOT     state dir (default /var/lib/holdfast-test-docker;
#                                 the ROOT argument wins). Holds data/ (data-root),
#                                 exec/ (exec-root), dockerd.pid, dockerd.log.
#   HOLDFAST_TEST_DOCKER_HOST     socket (default unix:///run/holdfast-test-docker.sock)
#   HOLDFAST_TEST_DOCKER_STORAGE  storage driver to force (default: dockerd picks;
#                                 overlay2 on ext4/xfs, use vfs on overlay roots)
#   HOLDFAST_TEST_DOCKER_TIMEOUT  seconds to wait for the daemon (default 60)
#   HOLDFAST_DOCKER_CLI           client binary (default /usr/bin/docker, the
#                                 Debian 20.10 client; a newer client such as
#                                 Docker 28 also works, it negotiates API 1.41)
#
# Network safety: the daemon gets no bridge, no iptables/ip6tables rules, no
# ip_forward/masquerade changes, and HTTP(S)_PROXY pointing at a closed port on
# 127.0.0.1, so an accidental `docker pull`/`docker run <missing image>` fails
# at once on loopback instead of reaching a registry. Run containers with
# `--network host` or `--network none` (there is no bridge network) and
# `--pull never`.
set -euo pipefail

log() { printf 'holdfast docker: %s\n' "$*" >&2; }
die() { printf 'holdfast docker: error: %s\n' "$*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || die "must run as root (installs packages and starts dockerd)"

ROOT=${1:-${HOLDFAST_TEST_DOCKER_ROOT:-/var/lib/holdfast-test-docker}}
HOST=${HOLDFAST_TEST_DOCKER_HOST:-unix:///run/holdfast-test-docker.sock}
TIMEOUT=${HOLDFAST_TEST_DOCKER_TIMEOUT:-60}
CLI=${HOLDFAST_DOCKER_CLI:-/usr/bin/docker}
case "$HOST" in
  unix://*) SOCK=${HOST#unix://} ;;
  *) die "HOLDFAST_TEST_DOCKER_HOST must be a unix:// socket, got '$HOST'" ;;
esac
case "$ROOT" in /*) ;; *) die "ROOT must be an absolute path, got '$ROOT'" ;; esac
PIDFILE=$ROOT/dockerd.pid
LOGFILE=$ROOT/dockerd.log

# --- 1. packages ----------------------------------------------------------
need_pkgs=()
command -v dockerd >/dev/null 2>&1 || need_pkgs+=(docker.io)
[ -x /usr/bin/docker ] || need_pkgs+=(docker.io)
[ -x /bin/busybox ] || need_pkgs+=(busybox-static)
# setfacl/getfacl: the ACL round trip of test/integration/docker-volume-acl.test.ts
[ -x /usr/bin/setfacl ] || need_pkgs+=(acl)
# docker-compose (1.29, Python): test/integration/compose-example.test.ts runs examples/compose/ with it
[ -x /usr/bin/docker-compose ] || need_pkgs+=(docker-compose)
if [ ${#need_pkgs[@]} -gt 0 ]; then
  # shellcheck disable=SC2207
  need_pkgs=($(printf '%s\n' "${need_pkgs[@]}" | sort -u))
  log "installing ${need_pkgs[*]}"
  export DEBIAN_FRONTEND=noninteractive
  if ! apt-get install -y "${need_pkgs[@]}" >&2; then
    log "install failed; running apt-get update and retrying"
    apt-get update >&2 || die "apt-get update failed"
    apt-get install -y "${need_pkgs[@]}" >&2 \
      || die "apt-get install ${need_pkgs[*]} failed"
  fi
fi
command -v dockerd >/dev/null 2>&1 || die "dockerd not found after installing docker.io"
[ -x "$CLI" ] || die "docker client '$CLI' not found (set HOLDFAST_DOCKER_CLI)"

# --- 2. daemon --------------------------------------------------------------
answers() { "$CLI" -H "$HOST" version >/dev/null 2>&1; }

# pid alive and not a zombie
alive() {
  local pid=$1 st
  [ -n "$pid" ] && [ -r "/proc/$pid/stat" ] || return 1
  st=$(sed 's/^.*) //' "/proc/$pid/stat" 2>/dev/null | cut -d' ' -f1) || return 1
  [ "$st" != Z ] && [ "$st" != X ]
}

wait_ready() {
  local deadline=$((SECONDS + TIMEOUT)) pid=${1:-}
  until answers; do
    if [ -n "$pid" ] && ! alive "$pid"; then
      log "dockerd (pid $pid) exited during startup; last lines of $LOGFILE:"
      tail -n 30 "$LOGFILE" >&2 || true
      die "dockerd failed to start"
    fi
    if [ $SECONDS -ge $deadline ]; then
      log "dockerd did not answer on $HOST within ${TIMEOUT}s; last lines of $LOGFILE:"
      tail -n 30 "$LOGFILE" >&2 || true
      die "dockerd not ready (still running as pid ${pid:-?}; stop it with scripts/install/docker-stop.sh)"
    fi
    sleep 0.2
  done
}

if answers; then
  log "dockerd already answering on $HOST"
  echo "DOCKER_HOST=$HOST"
  exit 0
fi

mkdir -p "$ROOT/data" "$ROOT/exec" "$(dirname "$SOCK")"
# serialize concurrent callers (e.g. parallel test workers); the lock is
# released when this script exits, not inherited by dockerd (9>&- below)
exec 9>"$ROOT/.start.lock"
flock -w "$TIMEOUT" 9 || die "timed out waiting for $ROOT/.start.lock"
if answers; then
  log "dockerd already answering on $HOST"
  echo "DOCKER_HOST=$HOST"
  exit 0
fi

oldpid=$(cat "$PIDFILE" 2>/dev/null || true)
if alive "$oldpid" && grep -q dockerd "/proc/$oldpid/comm" 2>/dev/null; then
  # A daemon of ours is running but not (yet) answering: maybe still starting.
  log "dockerd pid $oldpid is running but not answering yet; waiting"
  wait_ready "$oldpid"
  log "dockerd ready"
  echo "DOCKER_HOST=$HOST"
  exit 0
fi
# Stale pid file / socket from a daemon that died.
rm -f "$PIDFILE"
[ -S "$SOCK" ] && rm -f "$SOCK"
# dockerd reuses the containerd named in this pid file if that pid exists;
# after a crash it can be a zombie (or a recycled pid), and dockerd then
# times out waiting for a containerd that is not there.
cpid=$(cat "$ROOT/exec/containerd/containerd.pid" 2>/dev/null || true)
if [ -n "$cpid" ] && ! { alive "$cpid" && grep -q containerd "/proc/$cpid/comm" 2>/dev/null; }; then
  rm -f "$ROOT/exec/containerd/containerd.pid"
fi

args=(
  --host "$HOST"
  --data-root "$ROOT/data"
  --exec-root "$ROOT/exec"
  --pidfile "$PIDFILE"
  --bridge=none
  --iptables=false
  --ip6tables=false
  --ip-forward=false
  --ip-masq=false
  # own containerd namespaces, in case a system containerd is found and shared
  --containerd-namespace holdfast-test
  --containerd-plugins-namespace holdfast-test-plugins
)
[ -n "${HOLDFAST_TEST_DOCKER_STORAGE:-}" ] && args+=(--storage-driver "$HOLDFAST_TEST_DOCKER_STORAGE")

log "starting dockerd (root $ROOT, socket $HOST, log $LOGFILE)"
printf '\n==== %s holdfast docker.sh: starting dockerd\n' "$(date -u +%FT%TZ)" >>"$LOGFILE"
# setsid: own session, so it survives the caller's process group being killed.
# The proxies point at a closed loopback port: no registry is ever reached.
env HTTP_PROXY=http://127.0.0.1:9 HTTPS_PROXY=http://127.0.0.1:9 \
    http_proxy=http://127.0.0.1:9 https_proxy=http://127.0.0.1:9 \
    NO_PROXY= no_proxy= \
  setsid dockerd "${args[@]}" >>"$LOGFILE" 2>&1 </dev/null 9>&- &
launcher=$!
# dockerd writes its pid file early; until then use the launcher pid (setsid
# execs dockerd in place when it is not a process group leader, so it's the same).
wait_ready "$launcher"
log "dockerd ready (pid $(cat "$PIDFILE" 2>/dev/null || echo "$launcher"))"
echo "DOCKER_HOST=$HOST"
