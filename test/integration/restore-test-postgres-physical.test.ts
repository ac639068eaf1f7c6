import { chmod, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { holdfast, savedSnapshot } from '../support/cli.js';
import { startPgCluster, type PgCluster } from '../support/pg-cluster.js';
import { graftArtifacts, artifactNames, verdicts, type VerifyDocument, expectRestoreTestPassed } from '../support/restore-test-support.js';
import { seedSample } from '../support/sample-data.js';

describe('restore test: postgres pg_basebackup (throwaway server on the restored copy)', () => {
  let pg: PgCluster;
  let work: string;
  let scratchRoot: string;
  let env: Record<string, string>;

  const state = async () => ({
    databases: (await pg.query<{ d: string }>('SELECT datname AS d FROM pg_database ORDER BY 1')).map((r) => r.d),
    orders: await pg.query("SELECT count(*)::text AS n, md5(string_agg(o::text, ',' ORDER BY id)) AS h FROM orders o", 'app'),
  });
  const leftovers = async () => (await readdir(scratchRoot)).filter((f) => f.startsWith('holdfast_scratch_'));

  async function backup(): Promise<string> {
    const result = await holdfast(['backup', '--json', '--fingerprint', 'full', '--strategy', 'db=pg_basebackup', '--service', `db=${pg.url('app')}`], env);
    return savedSnapshot(result);
  }

  beforeAll(async () => {
    pg = await startPgCluster();
    await seedSample(pg, 'app', 1000);
    work = await mkdtemp(join(tmpdir(), 'holdfast-rt-bb-'));
    // The scratch copies go under HOLDFAST_TMPDIR: a directory of this test, to see that none is left.
    scratchRoot = await mkdtemp(join(tmpdir(), 'holdfast-rt-bb-tmp-'));
    await chmod(scratchRoot, 0o700);
    env = { HOLDFAST_REPO: join(work, 'repo'), HOLDFAST_DB_PASSWORD: pg.password, HOLDFAST_TMPDIR: scratchRoot };
  });
  afterAll(async () => {
    await pg?.stop();
    for (const d of [work, scratchRoot]) if (d) await rm(d, { recursive: true, force: true });
  });

  test('a scratch directory the server user cannot reach is refused before the restore, with the fix', async () => {
    const id = await backup();
    const result = await holdfast(['verify', id, '--restore-test', '--json'], env);
    expect(result.code).toBe(1);
    expect(verdicts(result).db!.verdict).toBe('failed');
    expect(verdicts(result).db!.detail).toMatch(/postgres system user cannot reach .*HOLDFAST_TMPDIR/);
    expect(await leftovers()).toEqual([]);
    await chmod(scratchRoot, 0o755);
  });

  test('a good physical snapshot starts, fingerprints equal, the server is stopped and its files removed', async () => {
    const id = await backup();
    const before = await state();
    const result = await holdfast(['verify', id, '--restore-test', '--json'], env);
    expectRestoreTestPassed(result, 'db', '12 objects equal (full)'); // 3 tables' rows, and the definitions (roles, objects, database properties)
    expect(result.json<VerifyDocument>().restoreTest.services[0]!.scratch).toContain(join(scratchRoot, 'holdfast_scratch_'));
    // Where the copy was extracted, in the one place shape: this machine's tar.
    expect((result.json<VerifyDocument>().restoreTest.services[0] as { place?: unknown }).place).toEqual({ kind: 'host', where: 'on this host', reason: expect.stringMatching(/^this machine's tar extracts/) });
    expect(await state()).toEqual(before);
    expect(await leftovers()).toEqual([]);
  });

  test('a copy with other data than recorded is a mismatch, and the throwaway server is gone', async () => {
    const good = await backup();
    await pg.query('DELETE FROM orders WHERE id > 1900', 'app');
    const other = await backup();
    await graftArtifacts(env.HOLDFAST_REPO!, good, other, 'db', await artifactNames(env.HOLDFAST_REPO!, good, 'db'));
    const result = await holdfast(['verify', good, '--restore-test', '--json'], env);
    expect(result.code).toBe(1);
    expect(verdicts(result).db).toEqual({ verdict: 'mismatch', detail: expect.stringContaining('app.public.orders: 1900 rows after restore, 2000 at backup') });
    expect(await leftovers()).toEqual([]);
  });

  test('a copy with other definitions than recorded is a mismatch that names them (issue #11: a physical copy is proven like a dump)', async () => {
    await pg.query("COMMENT ON TABLE orders IS 'as backed up'", 'app');
    const good = await backup();
    await pg.query("COMMENT ON TABLE orders IS 'changed since'", 'app');
    const other = await backup();
    await graftArtifacts(env.HOLDFAST_REPO!, good, other, 'db', await artifactNames(env.HOLDFAST_REPO!, good, 'db'));
    const result = await holdfast(['verify', good, '--restore-test', '--json'], env);
    expect(result.code).toBe(1);
    expect(verdicts(result).db!.verdict).toBe('mismatch');
    expect(verdicts(result).db!.detail).toContain('changed since');
    expect(await leftovers()).toEqual([]);
  });
});
