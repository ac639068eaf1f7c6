/**
 * holdfast against the raw PostgreSQL tools, on the same data, in one run.
 *
 *   npm run build && node dist/bench/postgres-bench.js [--sizes 100,2000] [--rounds 3]
 *
 * Backup: `holdfast backup` vs `pg_dump | zstd` (plain SQL), `pg_dump -Fc -Z0 |
 * zstd` (holdfast's own pipeline, without holdfast) and `pg_dump -Fc`
 * (built-in gzip). Restore: `holdfast restore` vs `pg_restore -j2` of the -Fc
 * file. Runs are interleaved and the median kept. Prints ratios (holdfast /
 * raw: below 1 is faster), sizes and holdfast's peak RSS; writes
 * bench/out/postgres-*.json.
 */
import { mkdir, mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { pgBinDir } from '../drivers/postgres/postgres-tools.js';
import { startPgCluster } from '../test/support/pg-cluster.js';
import { createDataset, databaseBytes } from './postgres-dataset.js';
import { interleaved, timed, type Timed } from './timed.js';

const BIN = fileURLToPath(new URL('../../bin/holdfast.js', import.meta.url));

function arg(name: string, fallback: string): string {
  const at = process.argv.indexOf(`--${name}`);
  return at > 0 && process.argv[at + 1] ? process.argv[at + 1]! : fallback;
}

const sizes = arg('sizes', '100,2000').split(',').map(Number);
const rounds = Number(arg('rounds', '3'));
const MiB = (n: number) => Math.round((n / 1048576) * 10) / 10;
const ratio = (a: number, b: number) => Math.round((a / b) * 100) / 100;
const secs = (t: Timed) => Math.round(t.seconds * 100) / 100;

async function benchSize(targetMb: number) {
  const pg = await startPgCluster({ settings: { shared_buffers: "'256MB'", maintenance_work_mem: "'256MB'", max_wal_size: "'4GB'" } });
  const work = await mkdtemp(join(tmpdir(), 'holdfast-bench-'));
  try {
    const bin = pgBinDir()!;
    const env = { PGPASSWORD: pg.password, PGHOST: '127.0.0.1', PGPORT: String(pg.port), PGUSER: 'postgres' };
    const hfEnv = { HOLDFAST_DB_PASSWORD: pg.password, HOLDFAST_DB_TARGET_PASSWORD: pg.password };
    const log = (text: string) => process.stderr.write(`[${targetMb} MB] ${text}\n`);
    log('generating the dataset');
    await createDataset(pg, 'bench', targetMb * 3200);
    const dbBytes = await databaseBytes(pg, 'bench');
    log(`database is ${MiB(dbBytes)} MiB; warming the cache`);
    await timed(join(bin, 'pg_dump'), ['-Fc', '-Z0', '--no-sync', '-d', 'bench', '-f', '/dev/null'], env);

    const file = (name: string) => join(work, name);
    const bash = (script: string) => timed('bash', ['-c', `set -euo pipefail; ${script}`], env);
    const repo = file('repo');
    const hf = (args: string[]) => timed(process.execPath, [BIN, ...args, '--repo', repo, '--quiet'], hfEnv);
    const ids: Record<string, string> = {};
    const holdfastBackup = (fingerprint: string) => async () => {
      const t = await hf(['backup', '--init', '--json', '--fingerprint', fingerprint, '--service', `db=${pg.url('bench')}`]);
      ids[fingerprint] = (JSON.parse(t.stdout) as { snapshot: string }).snapshot;
      return t;
    };

    log(`backups: ${rounds} interleaved rounds, median kept`);
    const backup = await interleaved(rounds, {
      pgDumpZstd: () => bash(`'${bin}/pg_dump' -d bench | zstd -q -T0 -3 -f -o '${file('plain.sql.zst')}'`),
      pgDumpZstdSync: () => bash(`'${bin}/pg_dump' -d bench | zstd -q -T0 -3 -f -o '${file('plain2.sql.zst')}'; sync '${file('plain2.sql.zst')}'`),
      pgDumpFcZ0Zstd: () => bash(`'${bin}/pg_dump' -Fc -Z0 -d bench | zstd -q -T0 -3 -f -o '${file('fc0.zst')}'`),
      holdfastCounts: holdfastBackup('counts'),
      holdfastNone: holdfastBackup('none'),
    });
    log('backups: pg_dump -Fc and holdfast --fingerprint full, once each');
    const pgDumpFc = await timed(join(bin, 'pg_dump'), ['-Fc', '-d', 'bench', '-f', file('fc.dump')], env);
    const holdfastFull = await holdfastBackup('full')();
    const manifest = JSON.parse((await hf(['show', ids.counts!, '--json'])).stdout) as { services: { db: { artifacts: Array<{ storedBytes: number }> } } };
    const stored = manifest.services.db.artifacts.reduce((n, a) => n + a.storedBytes, 0);

    log('restores: pg_restore -j2 and holdfast restore, interleaved');
    let n = 0;
    const restore = await interleaved(Math.min(rounds, 2), {
      pgRestoreJ2: async () => {
        const db = `r_raw_${++n}`;
        await pg.query(`CREATE DATABASE ${db}`);
        const t = await timed(join(bin, 'pg_restore'), ['-j', '2', '-d', db, file('fc.dump')], env);
        await pg.query(`DROP DATABASE ${db}`);
        return t;
      },
      holdfastRestore: async () => {
        const db = `r_hf_${++n}`;
        const t = await hf(['restore', ids.counts!, '--target', `db=${pg.url(db)}`]);
        await pg.query(`DROP DATABASE ${db}`);
        return t;
      },
    });
    const holdfastRestoreFull = await hf(['restore', ids.full!, '--target', `db=${pg.url('r_hf_full')}`]);

    return {
      targetMb,
      databaseMiB: MiB(dbBytes),
      rows: targetMb * 3200,
      rounds,
      seconds: {
        ...Object.fromEntries(Object.entries(backup).map(([k, v]) => [k, { median: secs(v), all: v.all }])),
        pgDumpFc: secs(pgDumpFc),
        holdfastFull: secs(holdfastFull),
        ...Object.fromEntries(Object.entries(restore).map(([k, v]) => [k, { median: secs(v), all: v.all }])),
        holdfastRestoreFull: secs(holdfastRestoreFull),
      },
      storedMiB: {
        holdfast: MiB(stored),
        pgDumpZstd: MiB((await stat(file('plain.sql.zst'))).size),
        pgDumpFc: MiB((await stat(file('fc.dump'))).size),
      },
      holdfastPeakRssMiB: {
        backup: Math.max(backup.holdfastCounts.peakRssMiB, backup.holdfastNone.peakRssMiB, holdfastFull.peakRssMiB),
        restore: Math.max(restore.holdfastRestore.peakRssMiB, holdfastRestoreFull.peakRssMiB),
      },
      ratios: {
        'backup / pg_dump|zstd': ratio(backup.holdfastCounts.seconds, backup.pgDumpZstd.seconds),
        'backup / pg_dump|zstd + sync': ratio(backup.holdfastCounts.seconds, backup.pgDumpZstdSync.seconds),
        'backup / pg_dump -Fc -Z0|zstd': ratio(backup.holdfastCounts.seconds, backup.pgDumpFcZ0Zstd.seconds),
        'backup --fingerprint none / pg_dump|zstd': ratio(backup.holdfastNone.seconds, backup.pgDumpZstd.seconds),
        'backup --fingerprint full / pg_dump|zstd': ratio(holdfastFull.seconds, backup.pgDumpZstd.seconds),
        'speed-up of backup over pg_dump -Fc': ratio(pgDumpFc.seconds, backup.holdfastCounts.seconds),
        'restore / pg_restore -j2': ratio(restore.holdfastRestore.seconds, restore.pgRestoreJ2.seconds),
        'restore of a --fingerprint full snapshot / pg_restore -j2': ratio(holdfastRestoreFull.seconds, restore.pgRestoreJ2.seconds),
      },
    };
  } finally {
    await pg.stop();
    await rm(work, { recursive: true, force: true });
  }
}

const all = [];
for (const size of sizes) {
  const summary = await benchSize(size);
  all.push(summary);
  console.log(JSON.stringify(summary, null, 2));
}
const out = fileURLToPath(new URL('../../bench/out/', import.meta.url));
await mkdir(out, { recursive: true });
await writeFile(join(out, `postgres-${new Date().toISOString().replace(/[:.]/g, '-')}.json`), JSON.stringify(all, null, 2));
