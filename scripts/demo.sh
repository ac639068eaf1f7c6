#!/usr/bin/env bash
# The README's first command: on a fresh machine, install what holdfast needs,
# start a throwaway PostgreSQL with a sample shop, back it up, verify the
# snapshot, damage the source, restore the snapshot into a new database and
# show that the restore equals the backup. Everything it starts is removed at
# the end; the repository stays in .holdfast-demo/repo for you to look at.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
cd "$root"

bash scripts/install/base.sh

bindir="$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n1)"
demo="$root/.holdfast-demo"
rm -rf "$demo"
mkdir -p "$demo"
cluster="$(mktemp -d -t holdfast-demo-pg-XXXXXX)"
chmod 0755 "$cluster"
as_pg() { if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
[ "$(id -u)" -eq 0 ] && chown postgres: "$cluster"

cleanup() {
  as_pg "$bindir/pg_ctl" -D "$cluster/data" -m fast -w stop >/dev/null 2>&1 || true
  rm -rf "$cluster"
}
trap cleanup EXIT

port="$(node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')"
export HOLDFAST_SHOP_PASSWORD="demo-$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')"
pwfile="$cluster/pw"
printf '%s' "$HOLDFAST_SHOP_PASSWORD" > "$pwfile"
[ "$(id -u)" -eq 0 ] && chown postgres: "$pwfile"

echo "== starting a throwaway PostgreSQL on 127.0.0.1:$port"
as_pg "$bindir/initdb" -D "$cluster/data" -U postgres --pwfile="$pwfile" --auth-local=trust --auth-host=scram-sha-256 -E UTF8 --locale=C.UTF-8 >/dev/null
rm -f "$pwfile"
printf "port = %s\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = '%s'\n" "$port" "$cluster" >> "$cluster/data/postgresql.conf"
as_pg "$bindir/pg_ctl" -D "$cluster/data" -l "$cluster/server.log" -w start >/dev/null
psql_() { PGPASSWORD="$HOLDFAST_SHOP_PASSWORD" "$bindir/psql" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$port" -U postgres "$@"; }
psql_ -d postgres -c 'CREATE DATABASE shop'
psql_ -d shop -f fixtures/postgres/shop.sql

export HOLDFAST_REPO="$demo/repo"
url="postgres://postgres@127.0.0.1:$port/shop"
hf() { echo "\$ holdfast $*" | sed "s#$demo#.holdfast-demo#g"; node bin/holdfast.js "$@"; echo; }

echo "== the plan"
hf plan --service "shop=$url"
echo "== backup (--init: create the repository, since it does not exist yet)"
hf backup --init --tag demo --service "shop=$url"
echo "== verify: checksums, then a restore test (into a scratch database, removed afterwards; the source untouched)"
hf verify latest --restore-test --service "shop=$url"
echo "== damaging the source: deleting half of the orders"
psql_ -d shop -c 'DELETE FROM orders WHERE id % 2 = 0'
echo "== restore into a new database, shop_restored"
hf restore latest --target "shop=postgres://postgres@127.0.0.1:$port/shop_restored"
echo "== row counts"
for db in shop shop_restored; do
  printf '%-14s orders: %s\n' "$db" "$(psql_ -d "$db" -Atc 'SELECT count(*) FROM orders')"
done
hf snapshots
echo "demo done: the repository is in .holdfast-demo/repo (try: node bin/holdfast.js show latest --repo .holdfast-demo/repo)"
