import { chmod, chown, mkdir, mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { holdfast } from '../support/cli.js';
import { startOnDataDir, startPgCluster, type PgCluster } from '../support/pg-cluster.js';
import { seedSample } from '../support/sample-data.js';

async function counts(port: number, password: string): Promise<Record<string, string>> {
  const client = new pg.Client({ host: '127.0.0.1', port, user: 'postgres', password, database: 'app' });
  await client.connect();
  try {
    const q = async (sql: string) => (await client.query<{ v: string }>(sql)).rows[0]!.v;
    return {
      customers: await q('SELECT count(*)::text AS v FROM customers'),
      orders: await q('SELECT count(*)::text AS v FROM orders'),
      digest: await q("SELECT md5(string_agg(c::text, ',' ORDER BY id)) AS v FROM customers c"),
    };
  } finally {
    await client.end();
  }
}

describe('postgres pg_basebackup: physical backup into an empty data directory', () => {
  let source: PgCluster;
  let work: string;
  let env: Record<string, string>;

  beforeAll(async () => {
    source = await startPgCluster();
    await seedSample(source, 'app', 5000);
    work = await mkdtemp(join(tmpdir(), 'holdfast-bb-'));
    await chmod(work, 0o755); // the server's user must reach the restored data directory
    env = { HOLDFAST_REPO: join(work, 'repo'), HOLDFAST_DB_PASSWORD: source.password };
  });
  afterAll(async () => {
    await source?.stop();
    if (work) await rm(work, { recursive: true, force: true });
  });

  test('plan offers both strategies and pg_dump wins; pinning pg_basebackup works', async () => {
    const plan = await holdfast(['plan', '--json', '--service', `db=${source.url('app')}`], env);
    expect(plan.code, plan.stderr).toBe(0);
    const item = plan.json<{ services: Array<{ strategy: string; offers: Array<{ name: string }> }> }>().services[0]!;
    expect(item.strategy).toBe('pg_dump');
    expect(item.offers.map((o) => o.name)).toEqual(['pg_dump', 'pg_basebackup']);
  });

  test('backup, damage the source, restore the files, start a server on them: data equals the backup', async () => {
    const expected = await counts(source.port, source.password);
    const backup = await holdfast(['backup', '--json', '--strategy', 'db=pg_basebackup', '--service', `db=${source.url('app')}`], env);
    expect(backup.code, backup.stderr).toBe(0);
    const doc = backup.json<{ snapshot: string; services: Array<{ strategy: string; status: string }> }>();
    expect(doc.services[0]).toMatchObject({ strategy: 'pg_basebackup', status: 'ok' });

    await source.query('DELETE FROM orders; UPDATE customers SET name = NULL WHERE false', 'app');

    // A data directory owned by the server's user, as an operator would prepare it.
    const parent = join(work, 'restored');
    await mkdir(parent, { recursive: true });
    const datadir = join(parent, 'data');
    await mkdir(datadir, { mode: 0o700 });
    if (process.getuid?.() === 0) {
      const owner = await stat(source.dir);
      await chown(parent, owner.uid, owner.gid);
      await chown(datadir, owner.uid, owner.gid);
    }
    const restore = await holdfast(['restore', doc.snapshot, '--json', '--target', `db=${datadir}`], env);
    expect(restore.code, restore.stderr + restore.stdout).toBe(0);
    const outcome = restore.json<{ services: Array<{ status: string; location: string }> }>().services[0]!;
    expect(outcome.location).toBe(`file:${datadir}`);

    const server = await startOnDataDir(datadir, parent);
    try {
      expect(await counts(server.port, source.password)).toEqual(expected);
    } finally {
      await server.stop();
    }
  });

  test('a non-empty data directory is refused without --force', async () => {
    const list = await holdfast(['snapshots', '--json'], env);
    const id = list.json<{ snapshots: Array<{ id: string }> }>().snapshots.at(-1)!.id;
    const busy = join(work, 'busy');
    await mkdir(busy);
    await writeFile(join(busy, 'PG_VERSION'), '15\n');
    const refused = await holdfast(['restore', id, '--target', `db=${busy}`], env);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/\[db\].*not empty/);
  });

  test('a pg_basebackup snapshot cannot be restored into a running server URL', async () => {
    const list = await holdfast(['snapshots', '--json'], env);
    const id = list.json<{ snapshots: Array<{ id: string }> }>().snapshots.at(-1)!.id;
    const refused = await holdfast(['restore', id, '--target', `db=${source.url('other')}`], env);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/empty data directory/);
  });
});
