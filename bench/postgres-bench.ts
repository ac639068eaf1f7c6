/**
 * holdfast against the raw PostgreSQL tools, on the same data, in one run.
 *
 *   npm run build && node dist/bench/postgres-bench.js [--sizes 100,2000] [--runs 2]
 *
 * Backup: `holdfast backup` vs `pg_dump -Fc` (built-in gzip), `pg_dump | zstd`
 * (plain SQL) and `pg_dump -Fc -Z0 | zstd`. Restore: `holdfast restore` vs
 * `pg_restore -j2` of the -Fc file. Prints ratios (holdfast / raw tool; below
 * 1 is faster), sizes and holdfast's peak RSS; writes bench/out/postgres-*.json.
 */
import { mkdir, mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { pgBinDir } from '../drivers/postgres/postgres-tools.js';
import { startPgCluster } from '../test/support/pg-cluster.js';
import { createDataset, databaseBytes } from './postgres-dataset.js';
import { best, timed, type Timed } from './timed.js';

const BIN = fileURLToPath(new URL('../../bin/holdfast.js', import.meta.url));

function arg(name: string, fallback: string): string {
  const at = process.argv.indexOf(`--${name}`);
  return at > 0 && process.argv[at + 1] ? process.argv[at + 1]! : fallback;
}

const sizes = arg('sizes', '100,2000').split(',').map(Number);
const runs = Number(arg('runs', '2'));
const MiB = (n: number) => Math.round(n / 1048576);

async function benchSize(targetMb: number) {
  const pg = await startPgCluster({ settings: { shared_buffers: "'256MB'", maintenance_work_mem: "'256MB'", max_wal_size: "'4GB'" } });
  const work = await mkdtemp(join(tmpdir(), 'holdfast-bench-'));
  try {
    const bin = pgBinDir()!;
    const env = { PGPASSWORD: pg.password, PGHOST: '127.0.0.1', PGPORT: String(pg.port), PGUSER: 'postgres' };
    const hfEnv = { HOLDFAST_DB_PASSWORD: pg.password, HOLDFAST_DB_TARGET_PASSWORD: pg.password };
    process.stderr.write(`[${targetMb} MB] generating the dataset...\n`);
    await createDataset(pg, 'bench', targetMb * 3200);
    const dbBytes = await databaseBytes(pg, 'bench');
    process.stderr.write(`[${targetMb} MB] database is ${MiB(dbBytes)} MiB; warming the cache\n`);
    await timed(join(bin, 'pg_dump'), ['-Fc', '-Z0', '--no-sync', '-d', 'bench', '-f', '/dev/null'], env);

    const bash = (script: string) => timed('bash', ['-c', `set -euo pipefail; ${script}`], env);
    const file = (name: string) => join(work, name);
    const results: Record<string, Timed & { bytes?: number }> = {};
    const size = async (path: string) => (await stat(path)).size;

    process.stderr.write(`[${targetMb} MB] backups (${runs} runs each, best kept)\n`);
    results.pgDumpFc = { ...(await best(runs, () => timed(join(bin, 'pg_dump'), ['-Fc', '-d', 'bench', '-f', file('fc.dump')], env))) };
    results.pgDumpFc.bytes = await size(file('fc.dump'));
    results.pgDumpZstd = await best(runs, () => bash(`'${bin}/pg_dump' -d bench | zstd -q -T0 -3 -f -o '${file('plain.sql.zst')}'`));
    results.pgDumpZstd.bytes = await size(file('plain.sql.zst'));
    results.pgDumpFcZ0Zstd = await best(runs, () => bash(`'${bin}/pg_dump' -Fc -Z0 -d bench | zstd -q -T0 -3 -f -o '${file('fc0.zst')}'`));
    results.pgDumpFcZ0Zstd.bytes = await size(file('fc0.zst'));

    const repo = file('repo');
    const hf = (args: string[]) => timed(process.execPath, [BIN, ...args, '--repo', repo, '--quiet'], hfEnv);
    const url = pg.url('bench');
    let lastId = '';
    const backup = (fingerprint: string) => async () => {
      const t = await hf(['backup', '--json', '--fingerprint', fingerprint, '--service', `db=${url}`]);
      const doc = JSON.parse(t.stdout) as { snapshot: string; services: Array<{ storedBytes: number }> };
      lastId = doc.snapshot;
      return { ...t, stdout: doc.snapshot, bytes: doc.services[0]!.storedBytes } as Timed;
    };
    results.holdfastNone = await best(runs, backup('none'));
    const idNone = results.holdfastNone.stdout;
    results.holdfastNone.bytes = (await stat(repo)).size && undefined;
    results.holdfastCounts = await best(runs, backup('counts'));
    results.holdfastFull = await best(runs, backup('full'));
    const idFull = lastId;
    const shown = JSON.parse((await hf(['show', idNone, '--json'])).stdout) as { services: { db: { artifacts: Array<{ storedBytes: number }> } } };
    results.holdfastNone.bytes = shown.services.db.artifacts.reduce((n, a) => n + a.storedBytes, 0);

    process.stderr.write(`[${targetMb} MB] restores (1 run each)\n`);
    const createdb = (name: string) => pg.query(`CREATE DATABASE ${name}`);
    await createdb('r_pgrestore');
    results.pgRestoreJ2 = await timed(join(bin, 'pg_restore'), ['-j', '2', '-d', 'r_pgrestore', file('fc.dump')], env);
    results.holdfastRestore = await hf(['restore', idNone, '--target', `db=${pg.url('r_holdfast')}`]);
    results.holdfastRestoreVerified = await hf(['restore', idFull, '--target', `db=${pg.url('r_holdfast_fp')}`]);

    const r = (a: number, b: number) => Math.round((a / b) * 100) / 100;
    const summary = {
      targetMb,
      databaseMiB: MiB(dbBytes),
      rows: targetMb * 3200,
      seconds: Object.fromEntries(Object.entries(results).map(([k, v]) => [k, Math.round(v.seconds * 100) / 100])),
      storedMiB: Object.fromEntries(Object.entries(results).filter(([, v]) => v.bytes).map(([k, v]) => [k, Math.round((v.bytes! / 1048576) * 10) / 10])),
      holdfastPeakRssMiB: {
        backupNone: results.holdfastNone.peakRssMiB,
        backupFull: results.holdfastFull.peakRssMiB,
        restore: results.holdfastRestore.peakRssMiB,
        restoreVerified: results.holdfastRestoreVerified.peakRssMiB,
      },
      ratios: {
        'backup(fingerprint none) / pg_dump|zstd': r(results.holdfastNone.seconds, results.pgDumpZstd.seconds),
        'backup(fingerprint none) / pg_dump -Fc -Z0|zstd': r(results.holdfastNone.seconds, results.pgDumpFcZ0Zstd.seconds),
        'backup(fingerprint counts) / pg_dump|zstd': r(results.holdfastCounts.seconds, results.pgDumpZstd.seconds),
        'backup(fingerprint full, default) / pg_dump|zstd': r(results.holdfastFull.seconds, results.pgDumpZstd.seconds),
        'pg_dump -Fc / backup(fingerprint none) [speed-up]': r(results.pgDumpFc.seconds, results.holdfastNone.seconds),
        'pg_dump -Fc / backup(fingerprint full) [speed-up]': r(results.pgDumpFc.seconds, results.holdfastFull.seconds),
        'restore / pg_restore -j2': r(results.holdfastRestore.seconds, results.pgRestoreJ2.seconds),
        'restore with fingerprint check / pg_restore -j2': r(results.holdfastRestoreVerified.seconds, results.pgRestoreJ2.seconds),
      },
    };
    return summary;
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
