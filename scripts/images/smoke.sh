#!/usr/bin/env bash
# Smoke test of the Docker test infrastructure: starts the test dockerd
# (scripts/install/docker.sh), builds the images (scripts/images/build.sh),
# then
#   - runs holdfast-test/postgres:15 with a named volume, host networking,
#     PGPORT=<free port> on 127.0.0.1, waits until ready, checks the port from
#     the host, and prints the head of `docker exec <c> pg_dump -U postgres postgres`
#   - runs holdfast-test/busybox writing to a second named volume (and reads
#     it back), and checks pause/unpause and stop/start on a busybox container
# and removes every container and volume it created, on success or failure.
# Idempotent; exits 0 when everything works. Leaves the daemon running (stop
# it with scripts/install/docker-stop.sh).
# Environment: as scripts/install/docker.sh; HOLDFAST_SMOKE_TIMEOUT (s, default 60).
set -euo pipefail

log() { printf 'holdfast smoke: %s\n' "$*" >&2; }
die() { printf 'holdfast smoke: FAILED: %s\n' "$*" >&2; exit 1; }

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
CLI=${HOLDFAST_DOCKER_CLI:-/usr/bin/docker}
TIMEOUT=${HOLDFAST_SMOKE_TIMEOUT:-60}
docker() { "$CLI" "$@"; }
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.2f", b - a }'; }

host_line=$(bash "$REPO/scripts/install/docker.sh") || die "test dockerd did not start"
export "${host_line?}"
bash "$REPO/scripts/images/build.sh" busybox postgres || die "image build failed"

ID=hf-smoke-$$-$RANDOM
PG=$ID-pg PGVOL=$ID-pgdata BB=$ID-bb BBVOL=$ID-bbdata
CONTAINERS=() VOLUMES=()
cleanup() {
  local rc=$? c v
  for c in "${CONTAINERS[@]}"; do
    if [ "$(docker inspect -f '{{.State.Paused}}' "$c" 2>/dev/null)" = true ]; then
      docker unpause "$c" >/dev/null 2>&1 || true
    fi
    docker rm -f "$c" >/dev/null 2>&1 || true
  done
  for v in "${VOLUMES[@]}"; do docker volume rm -f "$v" >/dev/null 2>&1 || true; done
  left=$(docker ps -aq --filter "name=^$ID-"; docker volume ls -q --filter "name=^$ID-")
  [ -z "$left" ] || { log "could not remove: $left"; rc=1; }
  [ $rc = 0 ] && log "OK (cleaned up ${#CONTAINERS[@]} containers, ${#VOLUMES[@]} volumes)"
  exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# a free TCP port: below the ephemeral range, not bound by any socket in
# /proc/net/tcp{,6}
free_port() {
  local p _
  for _ in $(seq 1 50); do
    p=$((20000 + RANDOM % 12000))
    if awk -v p="$(printf '%04X' "$p")" 'FNR > 1 { split($2, a, ":"); if (a[2] == p) f = 1 } END { exit f }' \
        /proc/net/tcp /proc/net/tcp6 2>/dev/null; then
      echo "$p"; return 0
    fi
  done
  return 1
}

# ---- postgres --------------------------------------------------------------
PORT=$(free_port) || die "no free port found"
VOLUMES+=("$PGVOL"); docker volume create --label org.holdfast.smoke=1 "$PGVOL" >/dev/null
t0=$(now)
CONTAINERS+=("$PG")
docker run -d --name "$PG" --label org.holdfast.smoke=1 --pull never --network host \
  -e POSTGRES_PASSWORD=smoke -e PGPORT="$PORT" -e POSTGRES_LISTEN_ADDRESSES=127.0.0.1 \
  -v "$PGVOL":/var/lib/postgresql/data holdfast-test/postgres:15 >/dev/null \
  || die "docker run postgres failed"
deadline=$((SECONDS + TIMEOUT))
# -h 127.0.0.1: during first-start initdb the temporary server listens on the
# socket only, so TCP readiness means the real server is up
until docker exec "$PG" pg_isready -q -U postgres -h 127.0.0.1 -p "$PORT" 2>/dev/null; do
  if [ "$(docker inspect -f '{{.State.Running}}' "$PG" 2>/dev/null)" != true ]; then
    docker logs --tail 40 "$PG" >&2 || true
    die "postgres container exited"
  fi
  if [ $SECONDS -ge $deadline ]; then
    docker logs --tail 40 "$PG" >&2 || true
    die "postgres not ready within ${TIMEOUT}s"
  fi
  sleep 0.2
done
log "postgres ready on 127.0.0.1:$PORT in $(since "$t0")s (first start: initdb included)"
# reachable from the host over TCP (host networking)
(exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null || die "port $PORT not reachable from the host"
dump=$(docker exec "$PG" pg_dump -U postgres postgres) || die "docker exec pg_dump failed"
printf '%s\n' "$dump" | head
grep -q 'PostgreSQL database dump' <<<"$dump" || die "pg_dump output looks wrong"
docker exec "$PG" sh -c 'tar --version | head -n1 | grep -q "GNU tar"' || die "GNU tar missing in postgres image"
# docker stop: postgres gets SIGINT (fast shutdown) and exits promptly
t0=$(now)
docker stop "$PG" >/dev/null || die "docker stop postgres failed"
log "postgres stopped in $(since "$t0")s"

# ---- busybox + second volume -------------------------------------------------
VOLUMES+=("$BBVOL"); docker volume create --label org.holdfast.smoke=1 "$BBVOL" >/dev/null
CONTAINERS+=("$BB-w")
docker run --name "$BB-w" --label org.holdfast.smoke=1 --pull never --network none \
  -v "$BBVOL":/data holdfast-test/busybox \
  sh -c 'echo holdfast >/data/hello && tar -cf /data/etc.tar -C /etc . && chown 1234:5678 /data/hello' \
  || die "busybox write failed"
got=$(docker run --rm --pull never --network none -v "$BBVOL":/data:ro holdfast-test/busybox \
  sh -c 'cat /data/hello; stat -c %u:%g /data/hello; tar -tf /data/etc.tar | grep -c passwd') \
  || die "busybox read-back failed"
[ "$got" = "$(printf 'holdfast\n1234:5678\n1')" ] || die "unexpected volume content: $got"
log "busybox wrote and read back volume $BBVOL"

# pause/unpause and stop/start (--init: tini forwards SIGTERM to sleep)
CONTAINERS+=("$BB")
docker run -d --init --name "$BB" --label org.holdfast.smoke=1 --pull never --network none \
  holdfast-test/busybox sleep 600 >/dev/null || die "busybox run failed"
docker pause "$BB" >/dev/null || die "docker pause failed"
[ "$(docker inspect -f '{{.State.Status}}' "$BB")" = paused ] || die "container not paused"
docker unpause "$BB" >/dev/null || die "docker unpause failed"
[ "$(docker inspect -f '{{.State.Status}}' "$BB")" = running ] || die "container not running after unpause"
t0=$(now)
docker stop -t 10 "$BB" >/dev/null || die "docker stop failed"
log "busybox (--init) stopped in $(since "$t0")s"
docker start "$BB" >/dev/null || die "docker start failed"
[ "$(docker inspect -f '{{.State.Status}}' "$BB")" = running ] || die "container not running after start"
docker exec "$BB" true || die "docker exec after restart failed"
log "pause/unpause and stop/start work"
exit 0
