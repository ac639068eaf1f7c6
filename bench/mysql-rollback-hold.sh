#!/bin/bash
# The pre-upgrade copy of MariaDB in a container (mariadb-backup in it) and its rollback, measured: the commit hold
# window (the largest gap between the autocommitted inserts of a writer that runs all through the backup), the
# backup's and the rollback's wall time, and how long the rollback keeps the container stopped. RAW=1 runs the
# image's mariadb-backup alone instead of holdfast (its own hold window; MB_ARGS adds options to it). ROWS sizes the data (300000: ~146 MB).
# Needs the test dockerd and image (npx vitest run test/integration/mysql-container-rollback.test.ts makes both) and dist/.
# Usage: bash bench/mysql-rollback-hold.sh   (about 30 s)
set -euo pipefail
export DOCKER_HOST=${DOCKER_HOST:-unix:///run/holdfast-test-docker.sock}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
P=hfrollbackbench$$
D=$P-db
V=$P-data
TMP=$(mktemp -d)
REPO=$TMP/repo
cleanup() { docker rm -f "$D" >/dev/null 2>&1 || true; docker volume rm "$V" >/dev/null 2>&1 || true; rm -rf "$TMP"; }
trap cleanup EXIT
hf() { HOLDFAST_STATE_DIR=$TMP/state HOLDFAST_HELPER_IMAGE=${HOLDFAST_HELPER_IMAGE:-holdfast-test/postgres:15} node "$ROOT/bin/holdfast.js" --repo "$REPO" "$@"; }
now() { date +%s.%N; }
docker volume create "$V" >/dev/null
docker run -d --pull never --name "$D" --network none --label com.docker.compose.project=$P --label com.docker.compose.service=db --label com.docker.compose.container-number=1 \
  -e MARIADB_ROOT_PASSWORD=bench-secret -v /usr:/usr:ro -v "$V":/var/lib/mysql holdfast-test/mariadb:10.11 --innodb-buffer-pool-size=64M >/dev/null
sq() { docker exec "$D" mariadb --no-defaults -uroot --protocol=socket --socket=/run/mysqld/mysqld.sock -N -B "$@"; }
# The entrypoint's init server answers first, then stops: wait, then wait again for the final one.
for _ in $(seq 1 120); do sq -e 'SELECT 1' >/dev/null 2>&1 && break; sleep 0.5; done
sleep 2; for _ in $(seq 1 60); do sq -e 'SELECT 1' >/dev/null 2>&1 && break; sleep 0.5; done
sq -e "CREATE DATABASE shop; USE shop; CREATE TABLE big (id INT PRIMARY KEY, v VARCHAR(200)) ENGINE=InnoDB; INSERT INTO big SELECT seq, REPEAT('x', 150) FROM seq_1_to_${ROWS:-300000}; CREATE TABLE ticks (id INT AUTO_INCREMENT PRIMARY KEY, at DATETIME(6)) ENGINE=InnoDB"
# NOW(6) is each INSERT's start: a commit held for H ms shows as a gap of about H ms.
sq --delimiter=// -e "CREATE PROCEDURE shop.tick(n INT) BEGIN DECLARE i INT DEFAULT 0; WHILE i < n DO INSERT INTO shop.ticks (at) VALUES (NOW(6)); SET i = i + 1; END WHILE; END"
sq -e "CALL shop.tick(5000000)" >/dev/null 2>&1 &
sleep 1
T0=$(now)
if [ -n "${RAW:-}" ]; then
  docker exec -e MYSQL_PWD=bench-secret -e MB_ARGS="${MB_ARGS:-}" "$D" sh -c 'mariadb-backup --backup --stream=xbstream -uroot $MB_ARGS 2>/tmp/mb.log >/dev/null; grep -E "BACKUP STAGE BLOCK_COMMIT|STAGE END" /tmp/mb.log'
else
  hf backup --init --project $P --tag pre-upgrade --fingerprint none --json > "$TMP/backup.json"
  python3 -c "import json,sys; print('backup:', [(s['service'], s['strategy'], s['status']) for s in json.load(open(sys.argv[1]))['services']])" "$TMP/backup.json"
  # The dump's own hold (it lines the fingerprint up on its snapshot): one of the gaps below is that one.
  python3 -c "import json,sys; m=json.load(open(sys.argv[1]+'/snapshots/'+json.load(open(sys.argv[2]))['snapshot']+'/manifest.json')); print('dump hold (heldMs):', [d.get('heldMs') for d in m['services']['db']['details']['databases']])" "$REPO" "$TMP/backup.json"
fi
T1=$(now)
sleep 0.5
sq -e "KILL QUERY (SELECT id FROM information_schema.PROCESSLIST WHERE INFO LIKE 'CALL shop.tick%' LIMIT 1)" 2>/dev/null || true
echo "backup wall: $(echo "$T1 - $T0" | bc) s"
echo "largest commit gaps during the backup (ms), then the mean gap:"
sq -e "SELECT at, gap FROM (SELECT at, ROUND(TIMESTAMPDIFF(MICROSECOND, LAG(at) OVER (ORDER BY id), at)/1000, 1) AS gap FROM ticks) g WHERE at BETWEEN FROM_UNIXTIME($T0) AND FROM_UNIXTIME($T1) ORDER BY gap DESC LIMIT 4" shop
sq -e "SELECT ROUND(AVG(gap), 2) FROM (SELECT TIMESTAMPDIFF(MICROSECOND, LAG(at) OVER (ORDER BY id), at)/1000 AS gap FROM ticks) g" shop
[ -n "${RAW:-}" ] && exit 0
R0=$(now)
hf rollback pre-upgrade --json > "$TMP/rollback.json" || true
R1=$(now)
python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print('rollback:', d['status'], [(s['entry'], s['strategy'], s['verdict']) for s in d['services']])" "$TMP/rollback.json"
events=$(docker events --since "$R0" --until "$(now)" --filter container="$D" --filter event=die --filter event=start --format '{{.TimeNano}} {{.Action}}')
echo "rollback wall: $(echo "$R1 - $R0" | bc) s; container stopped for $(echo "$events" | awk '$2=="die"{d=$1} $2=="start"{s=$1} END{printf "%.2f", (s-d)/1e9}') s; data dir $(docker run --rm --pull never -v "$V":/v holdfast-test/busybox:latest du -sh /v | cut -f1)"
