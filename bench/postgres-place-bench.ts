/**
 * PostgreSQL backed up from the host against from inside its own container
 * (issue #14: "in-container within 1.1x of the host"), on the same server
 * and the same data, in one run:
 *
 *   npm run build && node dist/bench/postgres-place-bench.js [--mb 300] [--rounds 3] [--compare DIR]
 *
 * `--compare DIR`: another built checkout of holdfast (e.g. `git archive` of
 * an older commit, node_modules linked, `npx tsc`), run interleaved with this
 * one on the same data: before and after in one run of a noisy machine.
 *
 * One PostgreSQL container of the private test dockerd (host network,
 * 127.0.0.1 only) holds the dataset of postgres-dataset.ts. Contenders,
 * interleaved, median kept: `holdfast backup` of its URL (the host's
 * pg_dump over TCP) and of `container:NAME` (the image's pg_dump through
 * docker exec, streamed out), plus the raw `pg_dump -Fc -Z0 | zstd` of each
 * kind for reference, each place's backup of an empty database of the same
 * server (its fixed cost: Node, planning, docker execs; taken out for the
 * throughput of the data path), and the raw data path holdfast uses in a container:
 * pg_dump in it writing into a named pipe read here through /proc/PID/root
 * (bench only: our own container). Prints the ratios and holdfast's peak RSS; writes
 * bench/out/postgres-place.json. Needs root (it starts the test dockerd).
 */
import { randomBytes } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { pgBinDir } from '../drivers/postgres/postgres-tools.js';
import type { PgCluster } from '../test/support/pg-cluster.js';
import { DockerLab } from '../test/support/docker.js';
import { freePort } from '../test/support/free-port.js';
import { createDataset, databaseBytes } from './postgres-dataset.js';
import { interleaved, timed } from './timed.js';

const BIN = fileURLToPath(new URL('../../bin/holdfast.js', import.meta.url));
// A fresh password per run for the throwaway container: none is written in the source.
const PASSWORD = randomBytes(12).toString('hex');

function arg(name: string, fallback: string): string {
  const at = process.argv.indexOf(`--${name}`);
  return at > 0 && process.argv[at + 1] ? process.argv[at + 1]! : fallback;
}

/** The PgCluster shape postgres-dataset.ts wants, over a container's loopback port. */
function containerCluster(port: number): PgCluster {
  return {
    port,
    dir: '',
    password: PASSWORD,
    url: (db = '') => `postgres://postgres@127.0.0.1:${port}/${db}`,
    async query(sql, database = 'postgres', params) {
      const c = new pg.Client({ host: '127.0.0.1', port, user: 'postgres', password: PASSWORD, database });
      await c.connect();
      // A container's /dev/shm is 64 MB: parallel index builds there fail with "could not resize shared memory segment".
      await c.query('SET max_parallel_maintenance_workers = 0; SET max_parallel_workers_per_gather = 0');
      try {
        return (await c.query(sql, params)).rows;
      } finally {
        await c.end();
      }
    },
    stop: async () => undefined,
    bin: (name) => `${pgBinDir()}/${name}`,
  };
}

async function main(): Promise<void> {
  const mb = Number(arg('mb', '300'));
  const rounds = Number(arg('rounds', '3'));
  const lab = new DockerLab();
  await lab.init();
  try {
    const port = await freePort();
    const name = await lab.postgres('bench', port, { password: PASSWORD });
    const cluster = containerCluster(port);
    process.stderr.write(`generating ${mb} MB in ${name}\n`);
    await createDataset(cluster, 'bench', mb * 3200);
    const bytes = await databaseBytes(cluster, 'bench');
    // The fixed cost of each place (Node, planning, for the container its docker execs) on an empty database of the
    // same server, taken out for the throughput of the data path.
    await cluster.query('CREATE DATABASE empty');
    const repo = `${await lab.dir('repo')}/repo`;
    const env = { BENCH_PG: PASSWORD, HOLDFAST_STATE_DIR: lab.stateDir, PGPASSWORD: PASSWORD };
    // The same database both ways: one holdfast.yml service per place.
    const config = `${await lab.dir('config')}/holdfast.yml`;
    await writeFile(config, `services:\n  host:\n    url: ${cluster.url('bench')}\n    password_env: BENCH_PG\n  inside:\n    url: container:${name}\n    databases: [bench]\n  hostEmpty:\n    url: ${cluster.url('empty')}\n    password_env: BENCH_PG\n  insideEmpty:\n    url: container:${name}\n    databases: [empty]\n`);
    const hf = (service: string, bin = BIN) => () => timed(process.execPath, [bin, '--config', config, 'backup', '--init', '--quiet', '--repo', repo, service], env);
    const compare = arg('compare', '');
    const raw = (script: string) => () => timed('bash', ['-c', `set -euo pipefail; ${script}`], env);
    const bin = pgBinDir()!;
    // pg_dump in the container into a named pipe, read here through the container's root (two execs: make it, dump into it).
    const pipeRaw = [
      `pid=$(docker inspect -f '{{.State.Pid}}' ${name})`,
      `docker exec ${name} sh -c 'rm -rf /tmp/bench-io && mkdir -m 700 /tmp/bench-io && mkfifo -m 600 /tmp/bench-io/pipe'`,
      `docker exec -e PGPASSWORD ${name} sh -c 'exec pg_dump -U postgres -Fc -Z0 -d bench > /tmp/bench-io/pipe' &`,
      'zstd -q -T0 -3 < /proc/$pid/root/tmp/bench-io/pipe > /dev/null',
      'wait $!',
    ].join('\n');
    const base = compare ? `${compare}/bin/holdfast.js` : undefined;
    const results = await interleaved(rounds, {
      hostRaw: raw(`'${bin}/pg_dump' -h 127.0.0.1 -p ${port} -U postgres -Fc -Z0 -d bench | zstd -q -T0 -3 > /dev/null`),
      containerRaw: raw(`docker exec -e PGPASSWORD ${name} pg_dump -h 127.0.0.1 -p ${port} -U postgres -Fc -Z0 -d bench | zstd -q -T0 -3 > /dev/null`),
      containerPipeRaw: raw(pipeRaw),
      holdfastHost: hf('host'),
      holdfastContainer: hf('inside'),
      holdfastHostEmpty: hf('hostEmpty'),
      holdfastContainerEmpty: hf('insideEmpty'),
      ...(base ? { baseHost: hf('host', base), baseContainer: hf('inside', base), baseContainerEmpty: hf('insideEmpty', base), baseHostEmpty: hf('hostEmpty', base) } : {}),
    } as Record<string, () => Promise<import('./timed.js').Timed>>);
    const r = (a: string, b: string) => Math.round((results[a]!.seconds / results[b]!.seconds) * 100) / 100;
    // The fastest round of each: on a machine shared with other work, the least disturbed one.
    const best = (k: string) => Math.min(...results[k]!.all);
    const rb = (a: string, b: string) => Math.round((best(a) / best(b)) * 100) / 100;
    // The median of each round's own ratio: the two ran one after the other, under about the same load.
    const rp = (a: string, b: string) => {
      const each = results[a]!.all.map((t, i) => t / results[b]!.all[i]!).sort((x, y) => x - y);
      return Math.round(each[Math.floor((each.length - 1) / 2)]! * 100) / 100;
    };
    // Seconds for the data alone: the whole backup less the same place's backup of an empty database (medians).
    const dataSeconds = (full: string, empty: string) => results[full]!.seconds - results[empty]!.seconds;
    const ratio = (a: number, b: number) => Math.round((a / b) * 100) / 100;
    const out = {
      databaseMiB: Math.round(bytes / 1048576),
      rounds,
      seconds: Object.fromEntries(Object.entries(results).map(([k, v]) => [k, Math.round(v.seconds * 100) / 100])),
      ratios: {
        'holdfast in container / on host': r('holdfastContainer', 'holdfastHost'),
        'raw docker exec pg_dump / host pg_dump': r('containerRaw', 'hostRaw'),
        'raw container pipe pg_dump / host pg_dump (data path)': r('containerPipeRaw', 'hostRaw'),
        ...(base ? { 'before: holdfast in container / on host': r('baseContainer', 'baseHost') } : {}),
        'holdfast on host / raw host pg_dump|zstd': r('holdfastHost', 'hostRaw'),
      },
      // The throughput of the data path: backup less the fixed cost of the same place.
      throughput: {
        'holdfast in container / on host (data, fixed cost taken out)': ratio(dataSeconds('holdfastContainer', 'holdfastContainerEmpty'), dataSeconds('holdfastHost', 'holdfastHostEmpty')),
        ...(base ? { 'before: holdfast in container / on host (data)': ratio(dataSeconds('baseContainer', 'baseContainerEmpty'), dataSeconds('baseHost', 'baseHostEmpty')) } : {}),
        hostMiBps: Math.round(bytes / 1048576 / dataSeconds('holdfastHost', 'holdfastHostEmpty')),
        containerMiBps: Math.round(bytes / 1048576 / dataSeconds('holdfastContainer', 'holdfastContainerEmpty')),
      },
      fixedSeconds: {
        host: Math.round(results.holdfastHostEmpty!.seconds * 100) / 100,
        container: Math.round(results.holdfastContainerEmpty!.seconds * 100) / 100,
        ...(base ? { beforeHost: Math.round(results.baseHostEmpty!.seconds * 100) / 100, beforeContainer: Math.round(results.baseContainerEmpty!.seconds * 100) / 100 } : {}),
      },
      pairedRatios: {
        'holdfast in container / on host': rp('holdfastContainer', 'holdfastHost'),
        'raw container pipe pg_dump / host pg_dump (data path)': rp('containerPipeRaw', 'hostRaw'),
        ...(base ? { 'before: holdfast in container / on host': rp('baseContainer', 'baseHost') } : {}),
      },
      bestRatios: {
        'holdfast in container / on host': rb('holdfastContainer', 'holdfastHost'),
        'raw container pipe pg_dump / host pg_dump (data path)': rb('containerPipeRaw', 'hostRaw'),
        ...(base ? { 'before: holdfast in container / on host': rb('baseContainer', 'baseHost') } : {}),
      },
      holdfastPeakRssMiB: {
        host: results.holdfastHost!.peakRssMiB,
        container: results.holdfastContainer!.peakRssMiB,
        ...(base ? { beforeHost: results.baseHost!.peakRssMiB, beforeContainer: results.baseContainer!.peakRssMiB } : {}),
      },
      all: Object.fromEntries(Object.entries(results).map(([k, v]) => [k, v.all])),
    };
    console.log(JSON.stringify(out, null, 2));
    await mkdir('bench/out', { recursive: true });
    await writeFile('bench/out/postgres-place.json', JSON.stringify(out, null, 2));
  } finally {
    await lab.cleanup();
  }
}

await main();
