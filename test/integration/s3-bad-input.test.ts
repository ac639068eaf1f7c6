import { mkdtemp, rm } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { DeleteObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { waitFor } from '../../src/core/wait.js';
import { holdfast, savedSnapshot } from '../support/cli.js';
import { startPgCluster, type PgCluster } from '../support/pg-cluster.js';
import { seedSample } from '../support/sample-data.js';
import { startS3, type S3Server } from '../servers/s3.js';

/**
 * Bad input against a real S3-compatible server (versitygw): a missing
 * bucket, refused or missing credentials, the server stopped in the middle of
 * a multipart upload, a held lock, a missing object. Each gives a clear error
 * and a non-zero exit, lists no partial snapshot and leaves no multipart
 * upload behind once the next writer has run.
 */
describe('S3 repository: bad input', () => {
  let pg: PgCluster;
  let s3: S3Server;
  let home: string;
  let env: Record<string, string>;

  beforeAll(async () => {
    [pg, s3] = await Promise.all([startPgCluster(), startS3()]);
    await seedSample(pg, 'app');
    await s3.createBucket('backups');
    home = await mkdtemp(join(tmpdir(), 'holdfast-s3-home-'));
    // HOME without ~/.aws: only the variables given here count.
    env = { ...s3.env, HOME: home, HOLDFAST_DB_PASSWORD: pg.password };
  });
  afterAll(async () => {
    await Promise.all([pg?.stop(), s3?.stop()]);
    if (home) await rm(home, { recursive: true, force: true });
  });

  const snapshotIds = async (repo: string) => {
    const list = await holdfast(['--repo', repo, 'snapshots', '--json'], env);
    expect(list.code, list.stderr).toBe(0);
    return list.json<{ snapshots: Array<{ id: string }> }>().snapshots.map((s) => s.id);
  };

  test('a bucket that does not exist: named, with how to create it, and not created', async () => {
    const r = await holdfast(['--repo', 's3://no-such-bucket/app', 'backup', '--service', `db=${pg.url('app')}`], env);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/the bucket "no-such-bucket" does not exist on the S3 server at http:\/\/127\.0\.0\.1:\d+/);
    expect(r.stderr).toMatch(/hint: create it first/);
    expect(r.stderr).not.toMatch(/at .*\.js:\d+/); // no stack trace
    expect(await s3.keys('backups')).toEqual([]);
    const init = await holdfast(['--repo', 's3://no-such-bucket', 'init'], env);
    expect(init.code).toBe(1);
    expect(init.stderr).toMatch(/does not exist/);
  });

  test('a prefix with no repository: backup without --init refuses it and writes nothing; --init creates it', async () => {
    const repo = 's3://backups/not-initialised';
    const r = await holdfast(['--repo', repo, 'backup', '--service', `db=${pg.url('app')}`], env, { init: false });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`no holdfast repository at ${repo}`);
    expect(r.stderr).toContain('holdfast backup --init');
    expect((await s3.keys('backups')).filter((k) => k.startsWith('not-initialised/'))).toEqual([]);
    const made = await holdfast(['--repo', repo, 'backup', '--init', '--json', '--service', `db=${pg.url('app')}`], env);
    expect(made.json()).toMatchObject({ repository: repo, status: 'ok' });
  });

  test('credentials refused (wrong secret, unknown key): an auth error that prints no secret', async () => {
    const wrongSecret = 'not-the-secret-0123456789';
    for (const creds of [{ AWS_SECRET_ACCESS_KEY: wrongSecret }, { AWS_ACCESS_KEY_ID: 'unknownkey123', AWS_SECRET_ACCESS_KEY: wrongSecret }]) {
      const r = await holdfast(['--repo', 's3://backups/refused', 'backup', '--service', `db=${pg.url('app')}`], { ...env, ...creds });
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/the S3 server at http:\/\/127\.0\.0\.1:\d+ refused the credentials/);
      expect(r.stderr).toMatch(/hint: check AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY/);
      expect(r.stdout + r.stderr).not.toContain(wrongSecret);
      expect(r.stdout + r.stderr).not.toContain(s3.secretAccessKey);
    }
    expect(await s3.keys('backups', 'refused/')).toEqual([]);
  });

  test('no credentials at all: says where they are read from', async () => {
    const r = await holdfast(['--repo', 's3://backups/none', 'snapshots'], { ...env, AWS_ACCESS_KEY_ID: undefined, AWS_SECRET_ACCESS_KEY: undefined, AWS_PROFILE: undefined } as Record<string, string>);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/no S3 credentials found/);
    expect(r.stderr).toMatch(/AWS_PROFILE/);
  });

  test('a malformed location is a usage error', async () => {
    const r = await holdfast(['--repo', 's3://Bad_Bucket/x', 'snapshots'], env);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/not an S3 location with a valid bucket name/);
  });

  test('the server stopped in the middle of a multipart upload: a clear error, nothing listed, and the next backup aborts the orphaned upload', async () => {
    const repo = 's3://backups/cut';
    await pg.query('CREATE DATABASE big');
    // ~150 MB of poorly compressible rows: several 16 MiB parts.
    await pg.query("CREATE TABLE noise AS SELECT g, md5(g::text) || md5((g * 7)::text) || md5((g * 13)::text) AS a FROM generate_series(1, 1500000) g", 'big');
    const first = await holdfast(['--repo', repo, 'backup', '--json', '--service', `db=${pg.url('app')}`], env);
    const kept = savedSnapshot(first);

    const running = holdfast(['--repo', repo, 'backup', '--service', `db=${pg.url('big')}`], env);
    await waitFor('a multipart upload under way', async () => ((await s3.uploads('backups', 'cut/')).length > 0 ? true : undefined), { timeoutMs: 90_000, intervalMs: 50 });
    await s3.kill();
    const cut = await running;
    expect(cut.code).toBe(1);
    expect(cut.stderr).toMatch(/cannot reach the S3 server at http:\/\/127\.0\.0\.1:\d+ while/);
    expect(cut.stderr).toMatch(/hint: check AWS_ENDPOINT_URL_S3/);

    await s3.start();
    expect(await snapshotIds(repo)).toEqual([kept]);
    // The server was gone, so nobody could abort the upload: it is still there, until the next writer.
    const orphans = await s3.uploads('backups', 'cut/');
    expect(orphans.length).toBeGreaterThan(0);
    const check = await holdfast(['--repo', repo, 'check', '--json'], env);
    expect(check.code, check.stderr).toBe(0);

    const next = await holdfast(['--repo', repo, 'backup', '--json', '--service', `db=${pg.url('app')}`], env);
    expect(next.code, next.stderr).toBe(0);
    const doc = next.json<{ snapshot: string; notes?: string[] }>();
    const notes = (doc.notes ?? []).join('\n');
    expect(notes).toMatch(/took over a stale lock/);
    expect(notes).toMatch(/removed the unfinished snapshot/);
    expect(notes).toMatch(new RegExp(`aborted ${orphans.length} unfinished multipart uploads? of an interrupted run`));
    expect(await s3.uploads('backups', 'cut/')).toEqual([]);
    expect(await snapshotIds(repo)).toEqual([kept, doc.snapshot]);
    const keys = await s3.keys('backups', 'cut/');
    expect(keys.filter((k) => k.startsWith('cut/staging/'))).toEqual([]);
    const ids = new Set(keys.filter((k) => k.startsWith('cut/snapshots/')).map((k) => k.split('/')[2]));
    expect([...ids].sort()).toEqual([kept, doc.snapshot].sort());
  });

  test('a lock held by a running writer is refused with its owner; a missing object is reported by check', async () => {
    const repo = 's3://backups/locked';
    const first = await holdfast(['--repo', repo, 'backup', '--json', '--service', `db=${pg.url('app')}`], env);
    const id = savedSnapshot(first);

    const now = new Date().toISOString();
    const holder = { token: 'other', pid: process.pid, host: hostname(), since: now, refreshedAt: now, command: 'backup' };
    await s3.client.send(new PutObjectCommand({ Bucket: 'backups', Key: 'locked/lock.json', Body: JSON.stringify(holder) }));
    const refused = await holdfast(['--repo', repo, 'backup', '--service', `db=${pg.url('app')}`], env);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(new RegExp(`the repository is locked by backup \\(pid ${process.pid} on `));
    await s3.client.send(new DeleteObjectCommand({ Bucket: 'backups', Key: 'locked/lock.json' }));
    expect(await snapshotIds(repo)).toEqual([id]);

    const artifact = (await s3.keys('backups', `locked/snapshots/${id}/db/`))[0]!;
    await s3.client.send(new DeleteObjectCommand({ Bucket: 'backups', Key: artifact }));
    const check = await holdfast(['--repo', repo, 'check', '--json'], env);
    expect(check.code).toBe(1);
    expect(JSON.stringify(check.json())).toContain('missing');
  });
});
