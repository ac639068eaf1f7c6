import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { holdfast, savedSnapshot } from '../support/cli.js';
import { startPgCluster, type PgCluster } from '../support/pg-cluster.js';

/** A `--force` restore over a database in use: the sessions it ends are named; `--no-terminate` waits for them instead. */
describe('restore --force names its casualties', () => {
  let cluster: PgCluster;
  let work: string;
  let env: Record<string, string>;
  let snapshot: string;
  const session = async (application: string) => {
    const c = new pg.Client({ host: '127.0.0.1', port: cluster.port, user: 'postgres', password: cluster.password, database: 'shop', application_name: application });
    c.on('error', () => undefined); // terminated by the restore
    await c.connect();
    return c;
  };

  beforeAll(async () => {
    cluster = await startPgCluster();
    await cluster.query('CREATE DATABASE shop');
    await cluster.query('CREATE TABLE orders AS SELECT g AS id FROM generate_series(1, 100) g', 'shop');
    work = await mkdtemp(join(tmpdir(), 'holdfast-sessions-'));
    env = { HOLDFAST_REPO: join(work, 'repo'), HOLDFAST_DB_PASSWORD: cluster.password };
    expect((await holdfast(['init'], env)).code).toBe(0);
    snapshot = savedSnapshot(await holdfast(['backup', '--json', '--service', `db=${cluster.url('shop')}`], env));
  }, 120_000);
  afterAll(async () => {
    await cluster?.stop();
    if (work) await rm(work, { recursive: true, force: true });
  });

  test('the terminated sessions are counted and their applications named, in the output and in --json', async () => {
    const worker = await session('billing-worker');
    try {
      const r = await holdfast(['restore', snapshot, '--force', '--json', '--service', `db=${cluster.url('shop')}`], env);
      expect(r.code, r.stderr + r.stdout).toBe(0);
      const doc = r.json<{ services: Array<{ terminatedSessions: unknown; notes: string[] }> }>();
      expect(doc.services[0]!.terminatedSessions).toEqual([{ database: 'shop', terminated: 1, applications: ['billing-worker (postgres@127.0.0.1)'] }]);
      expect(doc.services[0]!.notes).toContain('terminated 1 session on database shop: billing-worker (postgres@127.0.0.1)');
    } finally {
      await worker.end().catch(() => undefined);
    }
    const again = await session('report-job');
    try {
      const text = await holdfast(['restore', snapshot, '--force', '--service', `db=${cluster.url('shop')}`], env);
      expect(text.code, text.stderr).toBe(0);
      expect(text.stderr).toContain('note: [db] terminated 1 session on database shop: report-job (postgres@127.0.0.1)');
    } finally {
      await again.end().catch(() => undefined);
    }
  });

  test('--no-terminate waits for the sessions, then fails naming them and leaves the database as it was', async () => {
    const worker = await session('billing-worker');
    try {
      await worker.query('INSERT INTO orders VALUES (1000)');
      const started = Date.now();
      const r = await holdfast(['restore', snapshot, '--force', '--no-terminate', '--sessions-timeout', '2', '--service', `db=${cluster.url('shop')}`], env);
      expect(Date.now() - started).toBeGreaterThanOrEqual(2000);
      expect(r.code).toBe(1);
      expect(r.stderr).toContain('1 sessions are still connected to database shop after 2s: billing-worker (postgres@127.0.0.1)');
      expect(r.stderr).toMatch(/hint: stop those applications/);
      // Untouched: the session is alive, its row is there, no working copy is left.
      expect((await worker.query('SELECT count(*)::int AS n FROM orders')).rows).toEqual([{ n: 101 }]);
      expect(await cluster.query("SELECT datname FROM pg_database WHERE datname LIKE 'shop%' ORDER BY 1")).toEqual([{ datname: 'shop' }]);
    } finally {
      await worker.end().catch(() => undefined);
    }
  });
});
