/**
 * MariaDB in its own container (no published port: tools through docker
 * exec, SQL through a sidecar tunnel) against the same server version on
 * this host, on the same data, in one run.
 *
 *   npm run build && node dist/bench/mysql-container-bench.js [--rows 1500000] [--tables 4] [--rounds 3]
 *
 * The sysbench-like dataset (mysql-dataset.ts) is built on the host server
 * and loaded into the container (the same rows in both). Then `holdfast
 * backup` of each, interleaved, with `--fingerprint none` (the dump alone;
 * in the container once through the pipe read on this host, once through
 * the exec stream); medians kept. The fixed cost of each place
 * (Node, planning, for the container the sidecar, the tunnel and a few
 * docker execs) is measured on an empty database and taken out for the
 * throughput of the data path. The raw tools run too, without holdfast:
 * `mariadb-dump > /dev/null` on this host, and `docker exec ... mariadb-dump
 * > /dev/null` (the same tool in the container, its output through
 * dockerd's stdio copy). And the physical strategy (mariadb-backup of the
 * whole server) on the host and inside the container. Prints the ratios (container / host: the
 * target is at most 1.1) and the hold window (ms) of each.
 * Needs root (the private test dockerd) and scripts/images/build.sh mariadb.
 */
import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { optionFileText } from '../drivers/mysql/mysql-defaults-file.js';
import { mariadbBinary, startMariadb } from '../test/servers/mariadb.js';
import { DockerLab } from '../test/support/docker.js';
import { ensureMariadbImage, mariadbContainer } from '../test/support/mariadb-container.js';
import { mysqlQuery, mysqlUrl } from '../test/support/mysql-sample.js';
import { createSysbenchDataset, databaseBytes } from './mysql-dataset.js';
import { interleaved, timed, type Timed } from './timed.js';

const BIN = fileURLToPath(new URL('../../bin/holdfast.js', import.meta.url));
const arg = (name: string, fallback: string) => {
  const at = process.argv.indexOf(`--${name}`);
  return at > 0 && process.argv[at + 1] ? process.argv[at + 1]! : fallback;
};
const totalRows = Number(arg('rows', '1500000'));
const tables = Number(arg('tables', '4'));
const rounds = Number(arg('rounds', '3'));
// Another built checkout of holdfast (`git archive` of an older commit, built): its container backups run in the same rounds.
const compare = arg('compare', '');
const BASE = compare ? join(compare, 'bin/holdfast.js') : undefined;
type Run = Timed & { all: number[] };
type Main = 'hostNone' | 'containerNone' | 'containerExecStream' | 'rawHost' | 'rawExec' | 'hostEmpty' | 'containerEmpty' | 'hostPhysical' | 'containerPhysical';
const MiB = (n: number) => Math.round((n / 1048576) * 10) / 10;
const ratio = (a: number, b: number) => Math.round((a / b) * 100) / 100;
const secs = (t: Timed) => Math.round(t.seconds * 100) / 100;
const log = (text: string) => process.stderr.write(`[mysql container bench] ${text}\n`);
const SERVER_ARGS = ['--innodb-buffer-pool-size=512M', '--max-allowed-packet=256M'];

const lab = await new DockerLab().init();
ensureMariadbImage();
const server = await startMariadb({ extraArgs: SERVER_ARGS, timeoutMs: 120_000 });
const work = await mkdtemp(join(tmpdir(), 'holdfast-mysql-container-bench-'));
try {
  const repo = join(work, 'repo');
  const cnf = join(work, 'client.cnf');
  await writeFile(cnf, optionFileText({ service: 'db', host: '127.0.0.1', port: server.port, user: 'root', password: server.rootPassword, passwordFrom: [] }), { mode: 0o600 });
  const [container, empty] = await Promise.all([
    mariadbContainer(lab, 'bench', { env: ['-e', `MARIADB_ROOT_PASSWORD=${server.rootPassword}`], serverArgs: SERVER_ARGS }),
    // The fixed cost in a container: a server with one empty database.
    mariadbContainer(lab, 'empty', { env: ['-e', `MARIADB_ROOT_PASSWORD=${server.rootPassword}`, '-e', 'MARIADB_DATABASE=empty'] }),
  ]);

  log(`generating ${totalRows} sysbench rows in ${tables} tables on the host server`);
  const started = Date.now();
  await createSysbenchDataset(server, 'bench', tables, Math.ceil(totalRows / tables));
  await mysqlQuery(server, 'CREATE DATABASE empty');
  const dbBytes = await databaseBytes(server, 'bench');
  log(`database is ${MiB(dbBytes)} MiB; loading the same rows into container ${container}`);
  const inContainer = ['exec', '-i', container, 'mariadb', '--no-defaults', '-uroot', '--protocol=socket', '--socket=/run/mysqld/mysqld.sock'];
  await pipe([mariadbBinary('mariadb-dump'), `--defaults-file=${cnf}`, '--single-transaction', '--databases', 'bench'], ['/usr/bin/docker', ...inContainer]);
  log(`loaded in ${Math.round((Date.now() - started) / 1000)} s`);

  const env = { ...lab.env(), HOLDFAST_DB_PASSWORD: server.rootPassword };
  const hf = (args: string[]) => timed(process.execPath, [BIN, ...args, '--repo', repo, '--quiet'], env);
  const ids: string[] = [];
  const backup = (service: string, fingerprint: string, extra: Record<string, string> = {}, more: string[] = [], bin = BIN) => async () => {
    const t = await timed(process.execPath, [bin, 'backup', '--init', '--json', '--fingerprint', fingerprint, '--service', service, ...more, '--repo', repo, '--quiet'], { ...env, ...extra });
    ids.push((JSON.parse(t.stdout) as { snapshot: string }).snapshot);
    return t;
  };
  const host = `db=${mysqlUrl(server, 'bench')}`;
  const inside = `db=container:${container}`;
  // A first backup of each warms the page cache and the image's tools.
  await backup(host, 'none')();
  await backup(inside, 'none')();
  log(`backups: ${rounds} interleaved rounds, median kept`);
  const runs = await interleaved(rounds, {
    hostNone: backup(host, 'none'),
    containerNone: backup(inside, 'none'),
    // The dump's output through dockerd's stdio copy instead of the pipe read on this host.
    containerExecStream: backup(inside, 'none', { HOLDFAST_MYSQL_EXEC_STREAM: '1' }),
    rawHost: () => timed('bash', ['-c', `'${mariadbBinary('mariadb-dump')}' --defaults-file='${cnf}' --single-transaction bench > /dev/null`]),
    rawExec: () => timed('bash', ['-c', `docker exec -e MYSQL_PWD="$PW" ${container} mariadb-dump --no-defaults -uroot -h127.0.0.1 --protocol=tcp --single-transaction bench > /dev/null`], { PW: server.rootPassword }),
    hostEmpty: backup(`db=${mysqlUrl(server, 'empty')}`, 'none'),
    containerEmpty: backup(`db=container:${empty}`, 'none'),
    // mariadb-backup of the whole server: this host's tool on the host server, the image's inside the container.
    hostPhysical: backup(`db=${mysqlUrl(server, 'bench')}`, 'none', {}, ['--strategy', 'db=physical']),
    containerPhysical: backup(inside, 'none', {}, ['--strategy', 'db=physical']),
    ...(BASE
      ? {
          baseContainerNone: backup(inside, 'none', {}, [], BASE),
          baseContainerEmpty: backup(`db=container:${empty}`, 'none', {}, [], BASE),
          baseContainerPhysical: backup(inside, 'none', {}, ['--strategy', 'db=physical'], BASE),
        }
      : {}),
  } as Record<string, () => Promise<Timed>>) as unknown as Record<Main, Run> & Partial<Record<'baseContainerNone' | 'baseContainerEmpty' | 'baseContainerPhysical', Run>>;
  const holds: Record<string, number[]> = { host: [], container: [] };
  let dumpBytes = 0;
  for (const id of ids) {
    const shown = JSON.parse((await hf(['show', id, '--json'])).stdout) as { services: { db: { strategy: string; details: { place: string | { kind: string }; databases: Array<{ heldMs: number }> }; artifacts: Array<{ rawBytes: number }> } } };
    const db = shown.services.db;
    // The hold window and dump size are the dump's (mariadb-backup holds commits by itself, BACKUP STAGE BLOCK_COMMIT).
    if (db.strategy !== 'dump') continue;
    const place = db.details.place;
    // The place is {kind, where, reason} since the place shape; a string (`inside container x`) before it.
    const inside = typeof place === 'string' ? place.startsWith('inside') : place.kind === 'container';
    holds[inside ? 'container' : 'host']!.push(...db.details.databases.map((d) => d.heldMs));
    dumpBytes = Math.max(dumpBytes, db.artifacts.reduce((n, a) => n + a.rawBytes, 0));
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0;
  const summary = {
    server: server.version,
    rows: totalRows,
    tables,
    databaseMiB: MiB(dbBytes),
    dumpMiB: MiB(dumpBytes),
    rounds,
    seconds: Object.fromEntries(Object.entries(runs).map(([k, v]) => [k, { median: secs(v as Timed), all: (v as { all: number[] }).all }])),
    // Of holdfast's own process (the tools' are their own), the highest of the rounds.
    peakRssMiB: Object.fromEntries(Object.entries(runs).map(([k, v]) => [k, Math.round((v as Timed).peakRssMiB)])),
    // The data path alone: the dump's bytes over the time beyond an empty database's backup.
    throughputMiBps: { host: Math.round(MiB(dumpBytes) / (runs.hostNone.seconds - runs.hostEmpty.seconds)), container: Math.round(MiB(dumpBytes) / (runs.containerNone.seconds - runs.containerEmpty.seconds)) },
    holdMs: { host: { median: median(holds.host!), max: Math.max(...holds.host!) }, container: { median: median(holds.container!), max: Math.max(...holds.container!) } },
    ratios: {
      'container / host, --fingerprint none': ratio(runs.containerNone.seconds, runs.hostNone.seconds),
      'container through the exec stream / host, --fingerprint none': ratio(runs.containerExecStream.seconds, runs.hostNone.seconds),
      'raw: docker exec mariadb-dump / mariadb-dump on this host': ratio(runs.rawExec.seconds, runs.rawHost.seconds),
      // Per round (the contenders of one round ran under the same load), then the median: steadier on a busy machine.
      'container / host, --fingerprint none, median of the rounds': median(runs.containerNone.all.map((c, i) => ratio(c, runs.hostNone.all[i]!))),
      'container / host, data path, median of the rounds': median(runs.containerNone.all.map((c, i) => ratio(c - runs.containerEmpty.all[i]!, runs.hostNone.all[i]! - runs.hostEmpty.all[i]!))),
      'container / host, physical (mariadb-backup), median of the rounds': median(runs.containerPhysical.all.map((c, i) => ratio(c, runs.hostPhysical.all[i]!))),
      'container / host, data path (time beyond an empty database)': ratio(runs.containerNone.seconds - runs.containerEmpty.seconds, runs.hostNone.seconds - runs.hostEmpty.seconds),
      ...(BASE
        ? {
            'before: container / host, --fingerprint none, median of the rounds': median(runs.baseContainerNone!.all.map((c, i) => ratio(c, runs.hostNone!.all[i]!))),
            'before: container / host, data path, median of the rounds': median(runs.baseContainerNone!.all.map((c, i) => ratio(c - runs.baseContainerEmpty!.all[i]!, runs.hostNone!.all[i]! - runs.hostEmpty!.all[i]!))),
            'before: container / host, physical, median of the rounds': median(runs.baseContainerPhysical!.all.map((c, i) => ratio(c, runs.hostPhysical!.all[i]!))),
            'before: container / host, empty database, median of the rounds': median(runs.baseContainerEmpty!.all.map((c, i) => ratio(c, runs.hostEmpty!.all[i]!))),
            'container / host, empty database, median of the rounds': median(runs.containerEmpty!.all.map((c, i) => ratio(c, runs.hostEmpty!.all[i]!))),
          }
        : {}),
    },
  };
  console.log(JSON.stringify(summary, null, 2));
  const out = fileURLToPath(new URL('../../bench/out/', import.meta.url));
  await mkdir(out, { recursive: true });
  await writeFile(join(out, `mysql-container-${new Date().toISOString().replace(/[:.]/g, '-')}.json`), JSON.stringify(summary, null, 2));
} finally {
  await server.stop();
  await lab.cleanup();
  await rm(work, { recursive: true, force: true });
}

/** `a | b` with argument arrays; rejects when either fails. */
function pipe(a: string[], b: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const left = spawn(a[0]!, a.slice(1), { stdio: ['ignore', 'pipe', 'inherit'] });
    const right = spawn(b[0]!, b.slice(1), { stdio: ['pipe', 'ignore', 'inherit'], env: process.env });
    left.stdout.pipe(right.stdin);
    let pending = 2;
    const done = (what: string) => (code: number | null) => {
      if (code !== 0) reject(new Error(`${what} exited ${code}`));
      else if (--pending === 0) resolve();
    };
    left.once('exit', done(a[0]!));
    right.once('exit', done(b[0]!));
  });
}
