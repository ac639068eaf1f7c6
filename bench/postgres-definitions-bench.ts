/**
 * The cost of the definitions fingerprint (issue 11): on a database of
 * `--mb` MB of data (postgres-dataset.ts) plus ~500 catalog objects (tables
 * with keys, indexes and sequences, views, functions, types), times a
 * `holdfast backup` and a `holdfast restore` of it, and the definitions read
 * alone (database properties + the one catalog query), as the backup and the
 * restore run it. Prints the definitions' share of each.
 *
 *   npm run build && node dist/bench/postgres-definitions-bench.js [--mb 1000] [--rounds 3]
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { readDatabaseProperties } from '../drivers/postgres/postgres-database-properties.js';
import { definitionsOfDatabase } from '../drivers/postgres/postgres-definitions.js';
import { startPgCluster, type PgCluster } from '../test/support/pg-cluster.js';
import { createDataset, databaseBytes } from './postgres-dataset.js';
import { timed } from './timed.js';

const BIN = fileURLToPath(new URL('../../bin/holdfast.js', import.meta.url));
const arg = (name: string, fallback: string) => {
  const at = process.argv.indexOf(`--${name}`);
  return at > 0 && process.argv[at + 1] ? process.argv[at + 1]! : fallback;
};
const mb = Number(arg('mb', '1000'));
const rounds = Number(arg('rounds', '3'));
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/** ~500 objects: 80 tables (key, index, sequence, comment), 80 views, 80 functions, 20 types, 3 schemas. */
async function addObjects(c: PgCluster, database: string): Promise<number> {
  const sql: string[] = ['CREATE SCHEMA a', 'CREATE SCHEMA b', 'CREATE SCHEMA c'];
  for (let i = 0; i < 80; i++) {
    const s = ['a', 'b', 'c'][i % 3];
    sql.push(`CREATE TABLE ${s}.t${i} (id serial PRIMARY KEY, name text NOT NULL, v numeric(10,2) CHECK (v >= 0), at timestamptz DEFAULT now())`);
    sql.push(`CREATE INDEX ON ${s}.t${i} (name, at)`, `COMMENT ON TABLE ${s}.t${i} IS 'table ${i}'`);
    sql.push(`CREATE VIEW ${s}.v${i} AS SELECT id, upper(name) AS name FROM ${s}.t${i} WHERE v > 1`);
    sql.push(`CREATE FUNCTION ${s}.f${i}(x int) RETURNS int LANGUAGE sql IMMUTABLE AS $$ SELECT x + ${i} $$`);
    sql.push(`INSERT INTO ${s}.t${i} (name, v) SELECT 'n' || g, g FROM generate_series(1, 50) g`);
  }
  for (let i = 0; i < 20; i++) sql.push(`CREATE TYPE a.e${i} AS ENUM ('x', 'y', 'z')`);
  await c.query(sql.join(';\n'), database);
  const [row] = await c.query<{ n: string }>("SELECT (SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname NOT LIKE 'pg\\_%' AND n.nspname <> 'information_schema') + (SELECT count(*) FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname IN ('a','b','c')) + 20 AS n", database);
  return Number(row!.n);
}

async function definitionsMs(c: PgCluster, database: string): Promise<number> {
  const client = new pg.Client({ host: '127.0.0.1', port: c.port, user: 'postgres', password: c.password, database });
  await client.connect();
  try {
    const times: number[] = [];
    for (let i = 0; i < 5; i++) {
      const t = process.hrtime.bigint();
      await definitionsOfDatabase(client, database, await readDatabaseProperties(client));
      times.push(Number(process.hrtime.bigint() - t) / 1e6);
    }
    return median(times);
  } finally {
    await client.end();
  }
}

const cluster = await startPgCluster({ settings: { shared_buffers: "'256MB'", max_wal_size: "'4GB'" } });
const work = await mkdtemp(join(tmpdir(), 'holdfast-defs-bench-'));
try {
  await createDataset(cluster, 'bench', mb * 3200);
  const objects = await addObjects(cluster, 'bench');
  const bytes = await databaseBytes(cluster, 'bench');
  const env = { HOLDFAST_DB_PASSWORD: cluster.password, HOLDFAST_DB_TARGET_PASSWORD: cluster.password };
  const hf = (args: string[]) => timed(process.execPath, [BIN, ...args, '--repo', join(work, 'repo'), '--quiet'], env);
  const backups: number[] = [];
  const restores: number[] = [];
  let id = '';
  for (let r = 0; r < rounds; r++) {
    const b = await hf(['backup', '--json', '--fingerprint', 'counts', '--service', `db=${cluster.url('bench')}`]);
    backups.push(b.seconds);
    id = (JSON.parse(b.stdout) as { snapshot: string }).snapshot;
    await cluster.query('DROP DATABASE IF EXISTS bench_copy');
    restores.push((await hf(['restore', id, '--target', `db=${cluster.url('bench_copy')}`])).seconds);
  }
  const atBackup = await definitionsMs(cluster, 'bench');
  const atRestore = await definitionsMs(cluster, 'bench_copy');
  const backup = median(backups);
  const restore = median(restores);
  const pct = (ms: number, s: number) => `${((ms / 1000 / s) * 100).toFixed(2)}%`;
  console.log(JSON.stringify({ databaseMiB: Math.round(bytes / 1048576), objects, backupSeconds: backup, restoreSeconds: restore, definitionsMsAtBackup: Math.round(atBackup), definitionsMsAtRestore: Math.round(atRestore), shareOfBackup: pct(atBackup, backup), shareOfRestore: pct(atRestore, restore) }, null, 2));
} finally {
  await cluster.stop();
  await rm(work, { recursive: true, force: true });
}
