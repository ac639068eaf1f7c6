/**
 * PostgreSQL backup and restore in its container against the same from this
 * host, on the same server and the same data (issue #14: in-container
 * within 1.1x of the host).
 *
 *   npm run build && node dist/bench/postgres-place-roundtrip-bench.js [--mb 150] [--rounds 3]
 *
 * One container of the test image (holdfast-test/postgres:15, built by
 * scripts/images/build.sh) on the host network: `holdfast backup` reaches it
 * once by URL (this host's pg_dump, a pg.Client) and once as
 * `container:NAME` (the image's pg_dump through docker exec, psql for SQL).
 * Then the restore of each snapshot in place (--force), by the same place.
 * Interleaved rounds, medians; writes bench/out/postgres-place-roundtrip.json.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import type { PgCluster } from '../test/support/pg-cluster.js';
import { DockerLab } from '../test/support/docker.js';
import { freePort } from '../test/support/free-port.js';
import { createDataset, databaseBytes } from './postgres-dataset.js';
import { interleaved, timed } from './timed.js';

const BIN = fileURLToPath(new URL('../../bin/holdfast.js', import.meta.url));
const arg = (name: string, fallback: string) => {
  const at = process.argv.indexOf(`--${name}`);
  return at > 0 && process.argv[at + 1] ? process.argv[at + 1]! : fallback;
};
const mb = Number(arg('mb', '150'));
const rounds = Number(arg('rounds', '3'));
const MiB = (n: number) => Math.round((n / 1048576) * 10) / 10;

const lab = new DockerLab();
try {
  await lab.init();
  const port = await freePort();
  // A fresh password per run for the throwaway container: none is written in the source.
  const password = randomBytes(12).toString('hex');
  const name = await lab.postgres('bench', port, { password });
  // The dataset generator wants a PgCluster: only query() is used.
  const cluster = {
    port,
    password,
    async query(sql: string, database = 'postgres', params?: unknown[]) {
      const c = new pg.Client({ host: '127.0.0.1', port, user: 'postgres', password, database });
      await c.connect();
      try {
        return (await c.query(sql, params)).rows;
      } finally {
        await c.end();
      }
    },
  } as unknown as PgCluster;
  process.stderr.write(`generating ${mb} MB\n`);
  await createDataset(cluster, 'bench', mb * 3200);
  const bytes = await databaseBytes(cluster, 'bench');
  const repo = join(await lab.dir('repo'), 'repo');
  const env = lab.env({ HOLDFAST_DB_PASSWORD: password, HOLDFAST_DB_TARGET_PASSWORD: password });
  const places = { host: `db=postgres://postgres@127.0.0.1:${port}/bench`, container: `db=container:${name}` } as const;
  // The same one database both ways (a container service dumps every database unless told which).
  const configs = { host: join(await lab.dir('config-host'), 'holdfast.yml'), container: join(await lab.dir('config-container'), 'holdfast.yml') };
  await writeFile(configs.host, `services:\n  db:\n    url: postgres://postgres@127.0.0.1:${port}/bench\n    password_env: HOLDFAST_DB_PASSWORD\n`);
  await writeFile(configs.container, `services:\n  db:\n    url: container:${name}\n    databases: [bench]\n`);
  const ids: Record<string, string[]> = { host: [], container: [] };
  const backup = (place: keyof typeof places) => async () => {
    const t = await timed(process.execPath, [BIN, '--config', configs[place], '--repo', repo, 'backup', '--init', '--json', '--quiet', 'db'], env);
    ids[place]!.push((JSON.parse(t.stdout) as { snapshot: string }).snapshot);
    return t;
  };
  process.stderr.write(`database is ${MiB(bytes)} MiB; backups, ${rounds} interleaved rounds\n`);
  const backups = await interleaved(rounds, { host: backup('host'), container: backup('container') });
  // In place with --force (a rename map is not a CLI option): the same working copy and swap by either place.
  const restore = (place: keyof typeof places) => () => timed(process.execPath, [BIN, '--repo', repo, 'restore', ids[place]![0]!, 'db', '--database', 'bench', '--target', places[place], '--force', '--quiet'], env);
  process.stderr.write('restores\n');
  const restores = await interleaved(rounds, { host: restore('host'), container: restore('container') });
  const round = (x: number) => Math.round(x * 100) / 100;
  const result = {
    databaseMiB: MiB(bytes),
    backup: { hostSeconds: round(backups.host.seconds), containerSeconds: round(backups.container.seconds), ratio: round(backups.container.seconds / backups.host.seconds), all: { host: backups.host.all, container: backups.container.all } },
    restore: { hostSeconds: round(restores.host.seconds), containerSeconds: round(restores.container.seconds), ratio: round(restores.container.seconds / restores.host.seconds), all: { host: restores.host.all, container: restores.container.all } },
  };
  console.log(JSON.stringify(result, null, 2));
  const out = fileURLToPath(new URL('../../bench/out/', import.meta.url));
  await mkdir(out, { recursive: true });
  await writeFile(join(out, 'postgres-place-roundtrip.json'), JSON.stringify(result, null, 2));
} finally {
  await lab.cleanup();
}
