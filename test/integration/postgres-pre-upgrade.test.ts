import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { holdfast } from '../support/cli.js';
import { startPgCluster, type PgCluster } from '../support/pg-cluster.js';
import { seedSample } from '../support/sample-data.js';

/** A server reached by URL (no Docker): the physical copy is pg_basebackup, and rollback restores the dump. */
describe('pre-upgrade snapshot of a PostgreSQL reached by URL', () => {
  let source: PgCluster;
  let work: string;
  let env: Record<string, string>;
  let snapshot: string;

  beforeAll(async () => {
    source = await startPgCluster();
    await seedSample(source, 'app', 2000);
    work = await mkdtemp(join(tmpdir(), 'holdfast-preup-'));
    // HOLDFAST_STATE_DIR: a journal of its own, HOLDFAST_DOCKER empty: no discovery.
    env = { HOLDFAST_REPO: join(work, 'repo'), HOLDFAST_DB_PASSWORD: source.password, HOLDFAST_STATE_DIR: join(work, 'state'), HOLDFAST_DOCKER: '' };
  });
  afterAll(async () => {
    await source?.stop();
    if (work) await rm(work, { recursive: true, force: true });
  });

  test('backup --tag pre-upgrade adds pg_basebackup beside pg_dump, logging in with the service\'s own password', async () => {
    const res = await holdfast(['backup', '--tag', 'pre-upgrade', '--json', '--service', `db=${source.url('app')}`], env);
    expect(res.code, res.stderr).toBe(0);
    const doc = res.json<{ snapshot: string; services: Array<{ service: string; strategy: string; status: string; physicalOf?: string }> }>();
    snapshot = doc.snapshot;
    expect(doc.services.map((s) => [s.service, s.strategy, s.status, s.physicalOf])).toEqual([
      ['db', 'pg_dump', 'ok', undefined],
      ['db.physical', 'pg_basebackup', 'ok', 'db'],
    ]);
    const manifest = await readFile(join(work, 'repo', 'snapshots', snapshot, 'manifest.json'), 'utf8');
    expect(manifest).not.toContain(source.password);
  });

  test('rollback restores the dump into the running server (a base backup is not put back in place) and checks it', async () => {
    await source.query('DELETE FROM orders; DROP TABLE customers CASCADE', 'app');
    const dry = await holdfast(['rollback', 'pre-upgrade', '--dry-run'], env);
    expect(dry.code, dry.stderr).toBe(0);
    expect(dry.stdout).toContain('  restore  db (logical: pg_dump)');
    expect(dry.stdout).toContain('its pg_basebackup copy (db.physical) cannot be put back in place by rollback');
    const res = await holdfast(['rollback', 'pre-upgrade', '--json'], env);
    expect(res.code, res.stderr + res.stdout).toBe(0);
    const doc = res.json<{ status: string; stop: unknown[]; services: Array<{ service: string; method: string; verdict: string; checks: Array<{ what: string; equal: boolean }> }> }>();
    expect(doc).toMatchObject({ status: 'ok', stop: [] });
    expect(doc.services).toEqual([expect.objectContaining({ service: 'db', method: 'logical', verdict: 'ok', checks: [expect.objectContaining({ what: 'data', equal: true })] })]);
    expect(await source.query('SELECT count(*)::text AS n FROM customers', 'app')).toEqual([{ n: '2000' }]);
  });
});
