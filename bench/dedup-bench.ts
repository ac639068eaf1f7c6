/**
 * What a second backup adds to each kind of repository: bytes on disk after
 * minus before, for (a) an unchanged PostgreSQL database and (b) one where one
 * table in ten changed. Also whether pg_dump's output is byte-stable between
 * two runs over unchanged data (what content-defined chunking needs).
 *
 *   npm run build && node dist/bench/dedup-bench.js [--mb 300] [--repo dir --repo restic]
 *     [--repo s3=s3://bucket/prefix,du=/path/to/minio/data/bucket] [--repo enc=/tmp/enc-repo]
 *
 * Every backup uses --fingerprint none (the dumps are what is measured).
 * Writes bench/out/dedup-*.json.
 */
import { open, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { pgBinDir } from '../drivers/postgres/postgres-tools.js';
import { startPgCluster, type PgCluster } from '../test/support/pg-cluster.js';
import { arg, args, benchRepos, MiB, type BenchRepo } from './bench-repos.js';
import { databaseBytes } from './postgres-dataset.js';
import { timed } from './timed.js';

const BIN = fileURLToPath(new URL('../../bin/holdfast.js', import.meta.url));
const TABLES = 10;
const mb = Number(arg('mb', '300'));
const specs = args('repo').length ? args('repo') : ['dir', 'restic'];

/** Ten tables of the postgres-bench kind of rows (~330 bytes each on disk). */
async function createTables(pg: PgCluster, database: string, rowsEach: number): Promise<void> {
  await pg.query(`CREATE DATABASE ${database}`);
  for (let t = 0; t < TABLES; t++) {
    await pg.query(
      `CREATE TABLE t${t} AS
       SELECT g AS id,
              timestamptz '2026-01-01' + (random() * 300 * 86400 || ' seconds')::interval AS at,
              (ARRAY['login','purchase','view','search','logout','refund','signup'])[1 + floor(random() * 7)::int] AS kind,
              floor(random() * 1000000)::int AS user_id,
              jsonb_build_object('path', '/shop/' || floor(random() * 50000)::int, 'session', md5(random()::text), 'items', floor(random() * 9)::int) AS payload,
              CASE WHEN random() < 0.3 THEN NULL ELSE 'customer says: ' || (ARRAY['great','slow delivery','wrong size','thanks'])[1 + floor(random() * 4)::int] || ' #' || floor(random() * 1e6)::int END AS note,
              random() * 1000 AS score
       FROM generate_series(1, ${rowsEach}) g;
       ALTER TABLE t${t} ADD PRIMARY KEY (id);`,
      database,
    );
  }
  await pg.query('VACUUM ANALYZE', database);
  await pg.query('CHECKPOINT');
}

/** Where two files differ: bytes that differ, the first and last offset, and how many separate regions (gaps under 4 KiB merged). */
async function compareFiles(a: string, b: string) {
  const [fa, fb] = [await open(a), await open(b)];
  const size = [(await fa.stat()).size, (await fb.stat()).size] as const;
  const bufA = Buffer.alloc(1 << 20);
  const bufB = Buffer.alloc(1 << 20);
  let differing = 0;
  let first = -1;
  let last = -1;
  let regions = 0;
  for (let offset = 0; offset < Math.min(...size); offset += bufA.length) {
    const [{ bytesRead: n }] = await Promise.all([fa.read(bufA, 0, bufA.length, offset), fb.read(bufB, 0, bufB.length, offset)]);
    if (bufA.subarray(0, n).equals(bufB.subarray(0, n))) continue;
    for (let i = 0; i < n; i++) {
      if (bufA[i] === bufB[i]) continue;
      differing++;
      if (first < 0) first = offset + i;
      if (last < 0 || offset + i - last > 4096) regions++;
      last = offset + i;
    }
  }
  await fa.close();
  await fb.close();
  return { bytes: size[0], sameSize: size[0] === size[1], differingBytes: differing, firstDiff: first, lastDiff: last, regions };
}

async function stability(pg: PgCluster, work: string) {
  const bin = pgBinDir()!;
  const env = { PGPASSWORD: pg.password, PGHOST: '127.0.0.1', PGPORT: String(pg.port), PGUSER: 'postgres' };
  const out: Record<string, unknown> = {};
  for (const [label, format] of [['custom -Z0 (holdfast)', ['-Fc', '-Z0']], ['plain', ['-Fp']]] as const) {
    const files = [join(work, 'one'), join(work, 'two')];
    for (const file of files) {
      await timed(join(bin, 'pg_dump'), [...format, '-d', 'dedup', '-f', file], env);
      await new Promise((r) => setTimeout(r, 1100)); // a different second in the header's timestamp
    }
    out[label] = await compareFiles(files[0]!, files[1]!);
    await Promise.all(files.map((f) => rm(f)));
  }
  return out;
}

async function backup(pg: PgCluster, repo: BenchRepo): Promise<{ addedBytes: number; seconds: number; stored: number }> {
  const before = await repo.bytes();
  const t = await timed(process.execPath, [BIN, '--repo', repo.repo, '--quiet', 'backup', '--init', '--json', '--fingerprint', 'none', '--service', `db=${pg.url('dedup')}`], {
    ...repo.env,
    HOLDFAST_DB_PASSWORD: pg.password,
  });
  const doc = JSON.parse(t.stdout) as { services: Array<{ storedBytes?: number; stored?: number }> };
  const stored = doc.services.reduce((n, s) => n + (s.storedBytes ?? s.stored ?? 0), 0);
  return { addedBytes: (await repo.bytes()) - before, seconds: Math.round(t.seconds * 100) / 100, stored };
}

const work = await mkdtemp(join(tmpdir(), 'holdfast-dedup-'));
const pg = await startPgCluster({ settings: { shared_buffers: "'256MB'", max_wal_size: "'4GB'" } });
const log = (text: string) => process.stderr.write(`[dedup] ${text}\n`);
let repos: BenchRepo[] = [];
try {
  log(`creating ${TABLES} tables, ~${mb} MB`);
  await createTables(pg, 'dedup', Math.round((mb * 3200) / TABLES));
  const databaseMiB = MiB(await databaseBytes(pg, 'dedup'));
  log(`database is ${databaseMiB} MiB; comparing two dumps of unchanged data`);
  const dumps = await stability(pg, work);
  repos = await benchRepos(specs, work);
  const results: Record<string, Record<string, { addedMiB: number; seconds: number }>> = {};
  const step = async (name: string) => {
    for (const repo of repos) {
      log(`${name}: ${repo.label}`);
      const r = await backup(pg, repo);
      (results[repo.label] ??= {})[name] = { addedMiB: MiB(r.addedBytes), seconds: r.seconds };
    }
  };
  await step('first backup');
  await step('second, unchanged');
  log('changing one table in ten: 10% of t3 updated, 2% deleted, 5% inserted');
  await pg.query(
    `UPDATE t3 SET score = random() * 1000, note = 'changed' WHERE id % 10 = 0;
     DELETE FROM t3 WHERE id % 50 = 1;
     INSERT INTO t3 SELECT id + 10000000, at, kind, user_id, payload, note, score FROM t3 WHERE id % 20 = 2;`,
    'dedup',
  );
  await step('third, one table in ten changed');
  const summary = {
    date: new Date().toISOString(),
    databaseMiB,
    tables: TABLES,
    dumpStability: dumps,
    repositories: Object.fromEntries(
      repos.map((r) => {
        const x = results[r.label]!;
        const first = x['first backup']!.addedMiB;
        return [r.label, { ...x, 'unchanged adds (share of first)': Math.round((x['second, unchanged']!.addedMiB / first) * 1000) / 1000, 'one in ten changed adds (share of first)': Math.round((x['third, one table in ten changed']!.addedMiB / first) * 1000) / 1000 }];
      }),
    ),
  };
  console.log(JSON.stringify(summary, null, 2));
  const outDir = fileURLToPath(new URL('../../bench/out/', import.meta.url));
  await mkdir(outDir, { recursive: true });
  await writeFile(join(outDir, `dedup-${summary.date.replace(/[:.]/g, '-')}.json`), JSON.stringify(summary, null, 2));
} finally {
  for (const repo of repos) await repo.close?.();
  await pg.stop();
  await rm(work, { recursive: true, force: true });
}
