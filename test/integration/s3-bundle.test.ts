import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { holdfast, initRepo, savedSnapshot } from '../support/cli.js';
import { startPgCluster, type PgCluster } from '../support/pg-cluster.js';
import { seedSample } from '../support/sample-data.js';
import { startS3, type S3Server } from '../servers/s3.js';

/** export / import across backends: the stored bytes and their checksums carry over unchanged. */
describe('S3 repository: export and import bundles', () => {
  let pg: PgCluster;
  let s3: S3Server;
  let work: string;

  beforeAll(async () => {
    [pg, s3] = await Promise.all([startPgCluster(), startS3()]);
    await seedSample(pg, 'app');
    await s3.createBucket('bundles');
    work = await mkdtemp(join(tmpdir(), 'holdfast-s3-bundle-'));
  });
  afterAll(async () => {
    await Promise.all([pg?.stop(), s3?.stop()]);
    if (work) await rm(work, { recursive: true, force: true });
  });

  test('a snapshot exported from S3 imports into a directory and into another S3 prefix, and verifies in both', async () => {
    const env = { ...s3.env, HOLDFAST_DB_PASSWORD: pg.password };
    const backup = await holdfast(['--repo', 's3://bundles/source', 'backup', '--json', '--tag', 'move', '--service', `db=${pg.url('app')}`], env);
    const id = savedSnapshot(backup);
    const file = join(work, 'move.tar');
    const exported = await holdfast(['--repo', 's3://bundles/source', 'export', 'move', '--to', file], env);
    expect(exported.code, exported.stderr).toBe(0);

    for (const target of [join(work, 'dir-repo'), 's3://bundles/copy']) {
      await initRepo(target, env);
      const imported = await holdfast(['--repo', target, 'import', file], env);
      expect(imported.code, imported.stderr).toBe(0);
      expect(imported.stdout).toContain(`snapshot ${id} imported and verified`);
      const verify = await holdfast(['--repo', target, 'verify', id, '--json'], env);
      expect(verify.code, verify.stderr).toBe(0);
      const again = await holdfast(['--repo', target, 'import', file, '--json'], env);
      expect(again.code, again.stderr).toBe(0);
      expect(again.json()).toMatchObject({ status: 'already-present', snapshot: id });
    }
    expect(await s3.uploads('bundles')).toEqual([]);
    expect((await s3.keys('bundles', 'copy/')).filter((k) => k.startsWith('copy/staging/') || k === 'copy/lock.json')).toEqual([]);
  });
});
