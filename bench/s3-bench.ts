/**
 * holdfast backup into an S3-compatible repository against a raw upload of
 * the same dump, in one interleaved run, on a local versitygw
 * (scripts/install/s3.sh) and a throwaway PostgreSQL.
 *
 *   npm run build && node dist/bench/s3-bench.js [--mb 1000] [--rounds 3] [--aws-cli /path/to/aws]
 *
 * Contenders (median of the rounds, interleaved so that a noisy neighbour hurts all alike):
 *   rawSdk        pg_dump -Fc -Z0 | zstd -3 -T0 → a plain SDK multipart upload (bench/s3-raw-upload.ts)
 *   awsCli        pg_dump -Fc -Z0 | zstd -3 -T0 | aws s3 cp - s3://...   (only with --aws-cli)
 *   holdfastS3    holdfast backup --repo s3://bench/holdfast (default fingerprint: counts)
 *   holdfastS3None  the same with --fingerprint none (like the raw pipeline: no fingerprint)
 *   holdfastS3Part8 the same with 8 MiB parts (HOLDFAST_S3_PART_MB=8), for memory
 *   holdfastDir   holdfast backup --repo <local dir>, for the cost of S3 itself
 * Prints ratios (holdfast / raw: below 1 is faster) and peak RSS of the timed
 * process (holdfast's node, or the raw uploader's node); writes bench/out/s3.json.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { pgBinDir } from '../drivers/postgres/postgres-tools.js';
import { startS3 } from '../test/servers/s3.js';
import { startPgCluster } from '../test/support/pg-cluster.js';
import { createDataset, databaseBytes } from './postgres-dataset.js';
import { interleaved, timed, type Timed } from './timed.js';

const BIN = fileURLToPath(new URL('../../bin/holdfast.js', import.meta.url));
const RAW = fileURLToPath(new URL('./s3-raw-upload.js', import.meta.url));

function arg(name: string, fallback: string): string {
  const at = process.argv.indexOf(`--${name}`);
  return at > 0 && process.argv[at + 1] ? process.argv[at + 1]! : fallback;
}

const targetMb = Number(arg('mb', '1000'));
const rounds = Number(arg('rounds', '3'));
const awsCli = arg('aws-cli', '');
const MiB = (n: number) => Math.round((n / 1048576) * 10) / 10;
const ratio = (a: number, b: number) => Math.round((a / b) * 100) / 100;
const secs = (t: Timed) => Math.round(t.seconds * 100) / 100;
const log = (text: string) => process.stderr.write(`[s3-bench] ${text}\n`);

const pg = await startPgCluster({ settings: { shared_buffers: "'256MB'", maintenance_work_mem: "'256MB'", max_wal_size: "'4GB'" } });
const s3 = await startS3();
const work = await mkdtemp(join(tmpdir(), 'holdfast-s3-bench-'));
try {
  await s3.createBucket('bench');
  const bin = pgBinDir()!;
  const pgEnv = { PGPASSWORD: pg.password, PGHOST: '127.0.0.1', PGPORT: String(pg.port), PGUSER: 'postgres' };
  const env = { ...s3.env, ...pgEnv, HOLDFAST_DB_PASSWORD: pg.password };
  log(`generating a ${targetMb} MB dataset`);
  await createDataset(pg, 'bench', targetMb * 3200);
  const dbBytes = await databaseBytes(pg, 'bench');
  log(`database is ${MiB(dbBytes)} MiB; warming the cache`);
  const warm = await timed('bash', ['-c', `'${bin}/pg_dump' -Fc -Z0 -d bench | wc -c`], pgEnv);
  const dumpBytes = Number(warm.stdout.trim());
  log(`dump is ${MiB(dumpBytes)} MiB; ${rounds} interleaved rounds`);

  let n = 0;
  const hf = (repo: string, extra: string[], more: Record<string, string> = {}) => () =>
    timed(process.execPath, [BIN, 'backup', '--init', '--repo', repo, '--quiet', '--json', ...extra, '--service', `db=${pg.url('bench')}`], { ...env, ...more });
  const contenders: Record<string, () => Promise<Timed>> = {
    rawSdk: () => timed(process.execPath, [RAW, 'bench', `raw/${++n}.dump.zst`, join(bin, 'pg_dump'), 'bench'], env),
    ...(awsCli
      ? {
          awsCli: () =>
            timed('bash', ['-c', `set -euo pipefail; '${bin}/pg_dump' -Fc -Z0 -d bench | zstd -q -T0 -3 -c | '${awsCli}' s3 cp --only-show-errors --endpoint-url "$AWS_ENDPOINT_URL_S3" - s3://bench/cli/${++n}.dump.zst`], env),
        }
      : {}),
    holdfastS3: hf('s3://bench/holdfast', []),
    holdfastS3None: hf('s3://bench/holdfast', ['--fingerprint', 'none']),
    holdfastS3Part8: hf('s3://bench/holdfast', [], { HOLDFAST_S3_PART_MB: '8' }),
    holdfastDir: hf(join(work, 'repo'), []),
  };
  const results = await interleaved(rounds, contenders);
  const stored = (JSON.parse(results.holdfastS3!.stdout) as { services: Array<{ storedBytes: number }> }).services.reduce((s, x) => s + x.storedBytes, 0);
  const out = {
    targetMb,
    databaseMiB: MiB(dbBytes),
    dumpMiB: MiB(dumpBytes),
    storedMiB: MiB(stored),
    rounds,
    seconds: Object.fromEntries(Object.entries(results).map(([k, v]) => [k, { median: secs(v), all: v.all }])),
    peakRssMiB: Object.fromEntries(Object.entries(results).map(([k, v]) => [k, v.peakRssMiB])),
    ratios: {
      'holdfast S3 / raw SDK upload': ratio(results.holdfastS3!.seconds, results.rawSdk!.seconds),
      'holdfast S3 --fingerprint none / raw SDK upload': ratio(results.holdfastS3None!.seconds, results.rawSdk!.seconds),
      ...(results.awsCli ? { 'holdfast S3 / aws s3 cp': ratio(results.holdfastS3!.seconds, results.awsCli.seconds) } : {}),
      'holdfast S3 / holdfast dir': ratio(results.holdfastS3!.seconds, results.holdfastDir!.seconds),
    },
    throughputMiBps: {
      rawSdk: Math.round(MiB(dumpBytes) / results.rawSdk!.seconds),
      holdfastS3: Math.round(MiB(dumpBytes) / results.holdfastS3!.seconds),
    },
  };
  console.log(JSON.stringify(out, null, 2));
  const dir = fileURLToPath(new URL('../../bench/out/', import.meta.url));
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 's3.json'), JSON.stringify(out, null, 2) + '\n');
} finally {
  await Promise.all([s3.stop(), pg.stop()]);
  await rm(work, { recursive: true, force: true });
}
