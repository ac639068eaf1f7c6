import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { holdfast } from '../support/cli.js';
import { startPgCluster, type PgCluster } from '../support/pg-cluster.js';
import { seedSample } from '../support/sample-data.js';

describe('postgres pg_dump: backup, damage, restore', () => {
  let pg: PgCluster;
  let other: PgCluster;
  let work: string;
  let env: Record<string, string>;

  beforeAll(async () => {
    [pg, other] = await Promise.all([startPgCluster(), startPgCluster({ password: 'other-secret-pw' })]);
    await seedSample(pg, 'app');
    await pg.query("CREATE ROLE app_owner LOGIN PASSWORD 'owner-pw'");
    await pg.query('CREATE TABLE owned (x int); ALTER TABLE owned OWNER TO app_owner; INSERT INTO owned VALUES (1), (2)', 'app');
    work = await mkdtemp(join(tmpdir(), 'holdfast-test-'));
    env = { HOLDFAST_REPO: join(work, 'repo'), HOLDFAST_DB_PASSWORD: pg.password };
  });
  afterAll(async () => {
    await Promise.all([pg?.stop(), other?.stop()]);
    if (work) await rm(work, { recursive: true, force: true });
  });

  test('backup --json reports the service, then restore into a new database has equal fingerprints', async () => {
    const backup = await holdfast(['backup', '--json', '--fingerprint', 'full', '--service', `db=${pg.url('app')}`], env);
    expect(backup.code, backup.stderr).toBe(0);
    const doc = backup.json<{ snapshot: string; status: string; services: Array<Record<string, unknown>> }>();
    expect(doc.status).toBe('ok');
    expect(doc.services[0]).toMatchObject({ service: 'db', engine: 'postgres', strategy: 'pg_dump', consistency: 'transactional', status: 'ok' });
    expect(Number(doc.services[0]!.storedBytes)).toBeGreaterThan(0);
    expect(backup.stdout + backup.stderr).not.toContain(pg.password);

    // Damage the source, then restore the snapshot beside it.
    await pg.query('DELETE FROM orders WHERE id % 2 = 0; UPDATE customers SET name = upper(name)', 'app');
    const restore = await holdfast(['restore', doc.snapshot, '--json', '--target', `db=${pg.url('app_copy')}`], env);
    expect(restore.code, restore.stderr).toBe(0);
    const result = restore.json<{ services: Array<{ status: string; fingerprint: { equal: boolean; compared: number } }> }>();
    expect(result.services[0]!.status).toBe('ok');
    expect(result.services[0]!.fingerprint.equal).toBe(true);
    expect(result.services[0]!.fingerprint.compared).toBe(13); // 4 tables; 9 definitions: the database, its schema, 4 tables, 3 sequences
    const rows = await pg.query<{ n: string }>('SELECT count(*)::text AS n FROM orders', 'app_copy');
    expect(rows[0]!.n).toBe('4000');
    const owner = await pg.query<{ o: string }>("SELECT tableowner AS o FROM pg_tables WHERE tablename = 'owned'", 'app_copy');
    expect(owner[0]!.o).toBe('app_owner');
  });

  test('restore into another server recreates roles from the globals', async () => {
    const backup = await holdfast(['backup', '--json', '--service', `db=${pg.url('app')}`], env);
    const id = backup.json<{ snapshot: string }>().snapshot;
    const restore = await holdfast(['restore', id, '--json', '--target', `db=${other.url('app')}`], { ...env, HOLDFAST_DB_TARGET_PASSWORD: other.password });
    expect(restore.code, restore.stderr + restore.stdout).toBe(0);
    expect(restore.json<{ services: Array<{ fingerprint: { equal: boolean } }> }>().services[0]!.fingerprint.equal).toBe(true);
    const owner = await other.query<{ o: string }>("SELECT tableowner AS o FROM pg_tables WHERE tablename = 'owned'", 'app');
    expect(owner[0]!.o).toBe('app_owner');
  });

  test('a non-empty target is refused without --force and left untouched; --force replaces it', async () => {
    const backup = await holdfast(['backup', '--json', '--service', `db=${pg.url('app')}`], env);
    const id = backup.json<{ snapshot: string }>().snapshot;
    await pg.query('CREATE DATABASE busy');
    await pg.query('CREATE TABLE keep (v text); INSERT INTO keep VALUES (\'mine\')', 'busy');
    const refused = await holdfast(['restore', id, '--target', `db=${pg.url('busy')}`], env);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/\[db\].*"busy".*not empty/);
    expect(refused.stderr).toContain('--force');
    expect(await pg.query('SELECT v FROM keep', 'busy')).toEqual([{ v: 'mine' }]);

    const forced = await holdfast(['restore', id, '--force', '--target', `db=${pg.url('busy')}`], env);
    expect(forced.code, forced.stderr).toBe(0);
    const tables = await pg.query<{ t: string }>("SELECT tablename AS t FROM pg_tables WHERE schemaname = 'public' ORDER BY 1", 'busy');
    expect(tables.map((r) => r.t)).toEqual(['customers', 'orders', 'owned']);
  });

  test('snapshots, show and verify describe what was stored', async () => {
    const list = await holdfast(['snapshots', '--json'], env);
    expect(list.code).toBe(0);
    const snaps = list.json<{ snapshots: Array<{ id: string; services: string[] }> }>().snapshots;
    expect(snaps.length).toBeGreaterThanOrEqual(1);
    const id = snaps.at(-1)!.id;
    const show = await holdfast(['show', id, '--json'], env);
    const manifest = show.json<{ services: { db: { artifacts: Array<{ kind: string; label?: string; sha256: string }>; details: { databases: unknown[] } } } }>();
    expect(manifest.services.db.artifacts.map((a) => a.kind)).toEqual(['pg_dump', 'pg_dump-post-data', 'globals']);
    expect(manifest.services.db.artifacts[0]!.label).toBe('app');
    expect(show.stdout).not.toContain(pg.password);
    // Where the tools ran, in one short line (issue 14).
    expect((await holdfast(['show', id], env)).stdout).toMatch(/\n  place: on this host: pg_dump \d+\.\d+/);
    const verify = await holdfast(['verify', id], env);
    expect(verify.code, verify.stderr).toBe(0);
    expect(verify.stdout).toContain('3 artifacts verified');
  });
});
