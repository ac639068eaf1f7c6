import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { waitFor } from '../../src/core/wait.js';
import { holdfast } from '../support/cli.js';
import { startPgCluster, type PgCluster } from '../support/pg-cluster.js';
import { startS3, type S3Server } from '../servers/s3.js';

/**
 * A backup stopped in the middle of a multipart upload. SIGTERM: holdfast
 * aborts the upload and deletes what it wrote on its way out. kill -9: the
 * upload and the objects stay until the next writer, which removes them.
 */
describe('S3 repository: a backup stopped in the middle of a multipart upload', () => {
  let pg: PgCluster;
  let s3: S3Server;

  beforeAll(async () => {
    [pg, s3] = await Promise.all([startPgCluster(), startS3()]);
    await s3.createBucket('backups');
    await pg.query('CREATE DATABASE big');
    // ~150 MB of poorly compressible rows: several 16 MiB parts.
    await pg.query("CREATE TABLE noise AS SELECT g, md5(g::text) || md5((g * 7)::text) || md5((g * 13)::text) AS a FROM generate_series(1, 1500000) g", 'big');
  });
  afterAll(async () => {
    await Promise.all([pg?.stop(), s3?.stop()]);
  });

  test('SIGTERM: no multipart upload, no object, no marker and no lock remain; the repository stays usable', async () => {
    const env = { ...s3.env, HOLDFAST_DB_PASSWORD: pg.password };
    const repo = 's3://backups/term';
    let pid = 0;
    const running = holdfast(['--repo', repo, 'backup', '--service', `db=${pg.url('big')}`], env, { onSpawn: (p) => (pid = p) });
    await waitFor('a multipart upload under way', async () => ((await s3.uploads('backups', 'term/')).length > 0 ? true : undefined), { timeoutMs: 90_000, intervalMs: 50 });
    process.kill(pid, 'SIGTERM');
    const stopped = await running;
    expect(stopped.code).not.toBe(0);
    expect(stopped.stderr).toMatch(/SIGTERM received, stopping/);

    expect(await s3.uploads('backups', 'term/')).toEqual([]);
    expect(await s3.keys('backups', 'term/')).toEqual(['term/config.json']);

    const list = await holdfast(['--repo', repo, 'snapshots', '--json'], env);
    expect(list.json<{ snapshots: unknown[] }>().snapshots).toEqual([]);
    const again = await holdfast(['--repo', repo, 'backup', '--json', '--fingerprint', 'none', '--service', `db=${pg.url('postgres')}`], env);
    expect(again.code, again.stderr).toBe(0);
    expect(again.json<{ notes?: string[] }>().notes ?? []).toEqual([]);
  });

  test('kill -9: nothing listed; the next backup aborts the orphaned upload and deletes the objects', async () => {
    const env = { ...s3.env, HOLDFAST_DB_PASSWORD: pg.password };
    const repo = 's3://backups/kill';
    let pid = 0;
    const running = holdfast(['--repo', repo, 'backup', '--service', `db=${pg.url('big')}`], env, { onSpawn: (p) => (pid = p) });
    await waitFor('a multipart upload under way', async () => ((await s3.uploads('backups', 'kill/')).length > 0 ? true : undefined), { timeoutMs: 90_000, intervalMs: 50 });
    process.kill(pid, 'SIGKILL');
    expect((await running).code).not.toBe(0);
    const orphans = await s3.uploads('backups', 'kill/');
    expect(orphans.length).toBeGreaterThan(0);
    const list = await holdfast(['--repo', repo, 'snapshots', '--json'], env);
    expect(list.json<{ snapshots: unknown[] }>().snapshots).toEqual([]);

    const next = await holdfast(['--repo', repo, 'backup', '--json', '--fingerprint', 'none', '--service', `db=${pg.url('postgres')}`], env);
    expect(next.code, next.stderr).toBe(0);
    const doc = next.json<{ snapshot: string; notes?: string[] }>();
    const notes = (doc.notes ?? []).join('\n');
    expect(notes).toMatch(/took over a stale lock of pid \d+/);
    expect(notes).toMatch(/removed the unfinished snapshot/);
    expect(notes).toMatch(/aborted \d+ unfinished multipart uploads? of an interrupted run/);
    expect(await s3.uploads('backups', 'kill/')).toEqual([]);
    const keys = await s3.keys('backups', 'kill/');
    expect(keys.filter((k) => k.startsWith('kill/staging/') || k === 'kill/lock.json')).toEqual([]);
    expect(new Set(keys.filter((k) => k.startsWith('kill/snapshots/')).map((k) => k.split('/')[2]))).toEqual(new Set([doc.snapshot]));
  });
});
