/**
 * What encryption at rest costs: the same PostgreSQL database backed up into
 * a plain and an encrypted dir repository (passphrase, and key file: the
 * same data path without scrypt's 128 MiB at open), interleaved, in one
 * run; then the read side (check --read-data, restore) and the open time.
 *
 *   npm run build && node dist/bench/encryption-bench.js [--mb 1000] [--rounds 3]
 *
 * Prints the ratios (encrypted / plain: 1 is free) and the peak RSS of each;
 * writes bench/out/encryption-<mb>.json.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
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

const targetMb = Number(arg('mb', '1000'));
const rounds = Number(arg('rounds', '3'));
const MiB = (n: number) => Math.round((n / 1048576) * 10) / 10;
const ratio = (a: Timed, b: Timed) => Math.round((a.seconds / b.seconds) * 100) / 100;
const summary = (t: Timed & { all: number[] }) => ({ median: Math.round(t.seconds * 100) / 100, all: t.all, peakRssMiB: t.peakRssMiB });
const log = (text: string) => process.stderr.write(`[encryption ${targetMb} MB] ${text}\n`);

const pg = await startPgCluster({ settings: { shared_buffers: "'256MB'", maintenance_work_mem: "'256MB'", max_wal_size: "'4GB'" } });
const work = await mkdtemp(join(tmpdir(), 'holdfast-bench-enc-'));
try {
  const bin = pgBinDir()!;
  log('generating the dataset');
  await createDataset(pg, 'bench', targetMb * 3200);
  const dbBytes = await databaseBytes(pg, 'bench');
  log(`database is ${MiB(dbBytes)} MiB; warming the cache`);
  const pgEnv = { PGPASSWORD: pg.password, PGHOST: '127.0.0.1', PGPORT: String(pg.port), PGUSER: 'postgres' };
  await timed(join(bin, 'pg_dump'), ['-Fc', '-Z0', '--no-sync', '-d', 'bench', '-f', '/dev/null'], pgEnv);

  const passFile = join(work, 'passphrase');
  await writeFile(passFile, 'benchmark passphrase, not a secret\n', { mode: 0o600 });
  const repos = {
    plain: { repo: join(work, 'plain'), env: { HOLDFAST_DB_PASSWORD: pg.password, HOLDFAST_DB_TARGET_PASSWORD: pg.password } },
    encrypted: { repo: join(work, 'encrypted'), env: { HOLDFAST_DB_PASSWORD: pg.password, HOLDFAST_DB_TARGET_PASSWORD: pg.password, HOLDFAST_PASSWORD_FILE: passFile } },
    keyFile: { repo: join(work, 'key-file'), env: { HOLDFAST_DB_PASSWORD: pg.password, HOLDFAST_DB_TARGET_PASSWORD: pg.password, HOLDFAST_KEY_FILE: join(work, 'repo.key') } },
  };
  const hf = (kind: keyof typeof repos, args: string[]) => timed(process.execPath, [BIN, ...args, '--repo', repos[kind].repo, '--quiet'], repos[kind].env);
  await hf('plain', ['init', '--no-encrypt']);
  await hf('encrypted', ['init', '--encrypt']);
  await hf('keyFile', ['init', '--encrypt']);

  const ids: Record<string, string> = {};
  const backup = (kind: keyof typeof repos) => async () => {
    const t = await hf(kind, ['backup', '--init', '--json', '--fingerprint', 'none', '--service', `db=${pg.url('bench')}`]);
    ids[kind] = (JSON.parse(t.stdout) as { snapshot: string }).snapshot;
    return t;
  };
  log(`backups: ${rounds} interleaved rounds, median kept`);
  const backups = await interleaved(rounds, {
    rawPgDumpZstd: () => timed('bash', ['-c', `set -euo pipefail; '${bin}/pg_dump' -Fc -Z0 -d bench | zstd -q -T0 -3 -f -o '${join(work, 'raw.zst')}'`], pgEnv),
    plain: backup('plain'),
    encrypted: backup('encrypted'),
    keyFile: backup('keyFile'),
  });
  const shown = JSON.parse((await hf('plain', ['show', ids.plain!, '--json'])).stdout) as { services: { db: { artifacts: Array<{ storedBytes: number; rawBytes: number }> } } };
  const stored = shown.services.db.artifacts.reduce((n, a) => n + a.storedBytes, 0);
  const raw = shown.services.db.artifacts.reduce((n, a) => n + a.rawBytes, 0);

  log('open time (holdfast snapshots), check --read-data and restore, interleaved');
  const opens = await interleaved(5, { plain: () => hf('plain', ['snapshots']), encrypted: () => hf('encrypted', ['snapshots']), keyFile: () => hf('keyFile', ['snapshots']) });
  const checks = await interleaved(rounds, { plain: () => hf('plain', ['check', '--read-data']), encrypted: () => hf('encrypted', ['check', '--read-data']) });
  let n = 0;
  const restore = (kind: keyof typeof repos) => async () => {
    const db = `r_${kind}_${++n}`;
    const t = await hf(kind, ['restore', ids[kind]!, '--target', `db=${pg.url(db)}`]);
    await pg.query(`DROP DATABASE ${db}`);
    return t;
  };
  const restores = await interleaved(Math.min(rounds, 2), { plain: restore('plain'), encrypted: restore('encrypted') });

  const result = {
    date: new Date().toISOString(),
    databaseMiB: MiB(dbBytes),
    dumpMiB: MiB(raw),
    storedMiB: MiB(stored),
    rounds,
    backup: { rawPgDumpZstd: summary(backups.rawPgDumpZstd), plain: summary(backups.plain), encrypted: summary(backups.encrypted), keyFile: summary(backups.keyFile) },
    open: { plain: summary(opens.plain), encrypted: summary(opens.encrypted), keyFile: summary(opens.keyFile) },
    checkReadData: { plain: summary(checks.plain), encrypted: summary(checks.encrypted) },
    restore: { plain: summary(restores.plain), encrypted: summary(restores.encrypted) },
    ratios: {
      'backup encrypted / plain': ratio(backups.encrypted, backups.plain),
      'backup encrypted with a key file / plain': ratio(backups.keyFile, backups.plain),
      'backup plain / pg_dump -Fc -Z0|zstd': ratio(backups.plain, backups.rawPgDumpZstd),
      'backup encrypted / pg_dump -Fc -Z0|zstd': ratio(backups.encrypted, backups.rawPgDumpZstd),
      'check --read-data encrypted / plain': ratio(checks.encrypted, checks.plain),
      'restore encrypted / plain': ratio(restores.encrypted, restores.plain),
    },
    openExtraSeconds: Math.round((opens.encrypted.seconds - opens.plain.seconds) * 100) / 100,
  };
  const out = fileURLToPath(new URL('../../bench/out/', import.meta.url));
  await mkdir(out, { recursive: true });
  await writeFile(join(out, `encryption-${targetMb}.json`), JSON.stringify(result, null, 2) + '\n');
  console.log(JSON.stringify(result, null, 2));
} finally {
  await pg.stop();
  await rm(work, { recursive: true, force: true });
}
