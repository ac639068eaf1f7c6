/**
 * Throughput of one ~1 GB PostgreSQL backup into each kind of repository,
 * against the raw tools doing the same, interleaved in one run:
 *   holdfast → dir          vs  pg_dump -Fc -Z0 | zstd -3 -T0 > file
 *   holdfast → restic       vs  pg_dump -Fc -Z0 | restic backup --stdin
 *   holdfast → LABEL=REPO   (more --repo arguments, see bench-repos.ts)
 * Every round starts from empty repositories (created untimed) so that no
 * round dedups against an earlier one; repositories given as LABEL=REPO are
 * not emptied. Peak RSS: of holdfast's own process, and of the whole process
 * tree (holdfast + pg_dump + zstd or restic; for the raw pipelines the tree).
 *
 *   npm run build && node dist/bench/repository-bench.js [--mb 1400] [--rounds 3] [--repo dir --repo restic ...]
 */
import { mkdir, mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { pgBinDir } from '../drivers/postgres/postgres-tools.js';
import { startPgCluster } from '../test/support/pg-cluster.js';
import { arg, args, benchRepos, MiB, type BenchRepo } from './bench-repos.js';
import { createDataset, databaseBytes } from './postgres-dataset.js';
import { interleaved, timed, type Timed } from './timed.js';

const BIN = fileURLToPath(new URL('../../bin/holdfast.js', import.meta.url));
const mb = Number(arg('mb', '1400'));
const rounds = Number(arg('rounds', '3'));
const specs = args('repo').length ? args('repo') : ['dir', 'restic'];
const ratio = (a: Timed, b: Timed) => Math.round((a.seconds / b.seconds) * 100) / 100;
const cpuRatio = (a: Timed, b: Timed) => (a.cpuSeconds && b.cpuSeconds ? Math.round((a.cpuSeconds / b.cpuSeconds) * 100) / 100 : null);

const work = await mkdtemp(join(tmpdir(), 'holdfast-repobench-'));
const pg = await startPgCluster({ settings: { shared_buffers: "'256MB'", maintenance_work_mem: "'256MB'", max_wal_size: "'4GB'" } });
const log = (text: string) => process.stderr.write(`[repository-bench] ${text}\n`);
let repos: BenchRepo[] | undefined;
try {
  log(`generating ~${mb} MB`);
  await createDataset(pg, 'bench', mb * 3200);
  const bin = pgBinDir()!;
  const env = { PGPASSWORD: pg.password, PGHOST: '127.0.0.1', PGPORT: String(pg.port), PGUSER: 'postgres' };
  const dumpFile = join(work, 'raw.pgdump');
  await timed(join(bin, 'pg_dump'), ['-Fc', '-Z0', '-d', 'bench', '-f', dumpFile], env); // also warms the cache
  const dumpBytes = (await stat(dumpFile)).size;
  await rm(dumpFile);
  log(`database ${MiB(await databaseBytes(pg, 'bench'))} MiB, dump ${MiB(dumpBytes)} MiB; ${rounds} interleaved rounds`);

  repos = await benchRepos(specs, join(work, 'repos'));
  const rawRestic = (await benchRepos(['restic'], join(work, 'raw-restic')))[0]!;
  const bash = (script: string, extra: Record<string, string> = {}) => timed('bash', ['-c', `set -euo pipefail; ${script}`], { ...env, ...extra }, { tree: true, cpu: true });
  const stored: Record<string, number> = {};
  const holdfast = (repo: BenchRepo) => async () => {
    if (repo.resettable) await repo.reset();
    const t = await timed(process.execPath, [BIN, '--repo', repo.repo, '--quiet', 'backup', '--init', '--fingerprint', 'none', '--service', `db=${pg.url('bench')}`], { ...repo.env, HOLDFAST_DB_PASSWORD: pg.password }, { tree: true, cpu: true });
    stored[repo.label] = await repo.bytes();
    return t;
  };
  const contenders: Record<string, () => Promise<Timed>> = {
    'pg_dump | zstd': () => bash(`'${bin}/pg_dump' -Fc -Z0 -d bench | zstd -q -T0 -3 -f -o '${join(work, 'raw.zst')}'`),
    'pg_dump | restic backup --stdin': async () => {
      await rawRestic.reset();
      const t = await bash(`'${bin}/pg_dump' -Fc -Z0 -d bench | restic backup --stdin --stdin-filename bench.pgdump --quiet`, { ...rawRestic.env, RESTIC_REPOSITORY: rawRestic.repo.replace(/^restic:/, '') });
      stored['raw restic'] = await rawRestic.bytes();
      return t;
    },
  };
  for (const repo of repos) contenders[`holdfast → ${repo.label}`] = holdfast(repo);
  const results = await interleaved(rounds, contenders);
  stored['raw zstd file'] = (await stat(join(work, 'raw.zst'))).size;

  const summary = {
    date: new Date().toISOString(),
    databaseMiB: MiB(await databaseBytes(pg, 'bench')),
    dumpMiB: MiB(dumpBytes),
    rounds,
    seconds: Object.fromEntries(Object.entries(results).map(([k, v]) => [k, { median: Math.round(v.seconds * 100) / 100, all: v.all, MiBps: Math.round(MiB(dumpBytes) / v.seconds), cpuSeconds: v.cpuSeconds }])),
    peakRssMiB: Object.fromEntries(Object.entries(results).map(([k, v]) => [k, { process: v.peakRssMiB, tree: v.treeRssMiB }])),
    storedMiB: Object.fromEntries(Object.entries(stored).map(([k, v]) => [k, MiB(v)])),
    ratios: {
      ...(results['holdfast → dir'] ? { 'holdfast → dir / pg_dump|zstd': ratio(results['holdfast → dir'], results['pg_dump | zstd']!) } : {}),
      ...(results['holdfast → restic'] ? { 'holdfast → restic / pg_dump|restic --stdin': ratio(results['holdfast → restic'], results['pg_dump | restic backup --stdin']!) } : {}),
      ...(results['holdfast → restic'] ? { 'CPU: holdfast → restic / pg_dump|restic --stdin': cpuRatio(results['holdfast → restic'], results['pg_dump | restic backup --stdin']!) } : {}),
      ...(results['holdfast → dir'] ? { 'CPU: holdfast → dir / pg_dump|zstd': cpuRatio(results['holdfast → dir'], results['pg_dump | zstd']!) } : {}),
      ...(results['holdfast → restic'] && results['holdfast → dir'] ? { 'holdfast → restic / holdfast → dir': ratio(results['holdfast → restic'], results['holdfast → dir']) } : {}),
      ...Object.fromEntries(
        repos.filter((r) => r.label !== 'dir' && r.label !== 'restic').map((r) => [`holdfast → ${r.label} / pg_dump|zstd`, ratio(results[`holdfast → ${r.label}`]!, results['pg_dump | zstd']!)]),
      ),
    },
  };
  console.log(JSON.stringify(summary, null, 2));
  const outDir = fileURLToPath(new URL('../../bench/out/', import.meta.url));
  await mkdir(outDir, { recursive: true });
  await writeFile(join(outDir, `repository-${summary.date.replace(/[:.]/g, '-')}.json`), JSON.stringify(summary, null, 2));
} finally {
  for (const repo of repos ?? []) await repo.close?.();
  await pg.stop();
  await rm(work, { recursive: true, force: true });
}
