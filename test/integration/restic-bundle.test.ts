import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { holdfast, initRepo, savedSnapshot } from '../support/cli.js';
import { startPgCluster, type PgCluster } from '../support/pg-cluster.js';
import { resticFixture, type ResticFixture } from '../support/restic.js';
import { seedSample } from '../support/sample-data.js';

/**
 * Artifacts from restic are stored uncompressed (compression 'none'): a
 * bundle exported from restic and imported into a dir repository restores
 * from there through the dir's 'none' read paths (pg_restore reads from a
 * pipe and from an extracted file); a dir bundle (zstd) imports into restic.
 */
describe('restic ⇄ dir through export / import, restored with pg_restore', () => {
  let pg: PgCluster;
  let fx: ResticFixture;
  let work: string;
  let env: Record<string, string>;

  beforeAll(async () => {
    pg = await startPgCluster();
    await seedSample(pg, 'app');
    fx = await resticFixture();
    work = await mkdtemp(join(tmpdir(), 'holdfast-restic-bundle-'));
    env = { ...fx.env, HOLDFAST_DB_PASSWORD: pg.password, HOLDFAST_DB_TARGET_PASSWORD: pg.password };
  });
  afterAll(async () => {
    await fx?.cleanup();
    await rm(work, { recursive: true, force: true });
    await pg?.stop();
  });

  test('restic → bundle → dir → restore equal; dir → bundle → restic → restore equal', async () => {
    const restic = `restic:${fx.repo}`;
    const dir = join(work, 'dir');
    const backup = await holdfast(['--repo', restic, 'backup', '--json', '--service', `db=${pg.url('app')}`], env);
    const id = savedSnapshot(backup);

    const bundle = join(work, 'from-restic.hfb');
    const exported = await holdfast(['--repo', restic, 'export', id, '--to', bundle], env);
    expect(exported.code, exported.stderr).toBe(0);
    await initRepo(dir, env);
    const imported = await holdfast(['--repo', dir, 'import', bundle], env);
    expect(imported.code, imported.stderr).toBe(0);
    const shown = await holdfast(['--repo', dir, 'show', id, '--json'], env);
    expect(JSON.stringify(shown.json())).toContain('"compression":"none"');
    const fromDir = await holdfast(['--repo', dir, 'restore', id, '--json', '--target', `db=${pg.url('from_dir')}`], env);
    expect(fromDir.code, fromDir.stderr + fromDir.stdout).toBe(0);
    expect(fromDir.json<{ services: Array<{ status: string; fingerprint: { equal: boolean } }> }>().services[0]).toMatchObject({ status: 'ok', fingerprint: { equal: true } });

    const dirBackup = await holdfast(['--repo', dir, 'backup', '--json', '--service', `db=${pg.url('app')}`], env);
    const dirId = savedSnapshot(dirBackup);
    const back = join(work, 'from-dir.hfb');
    expect((await holdfast(['--repo', dir, 'export', dirId, '--to', back], env)).code).toBe(0);
    const intoRestic = await holdfast(['--repo', restic, 'import', back], env);
    expect(intoRestic.code, intoRestic.stderr).toBe(0);
    const fromRestic = await holdfast(['--repo', restic, 'restore', dirId, '--json', '--target', `db=${pg.url('from_restic')}`], env);
    expect(fromRestic.code, fromRestic.stderr + fromRestic.stdout).toBe(0);
    expect(fromRestic.json<{ services: Array<{ status: string; fingerprint: { equal: boolean } }> }>().services[0]).toMatchObject({ status: 'ok', fingerprint: { equal: true } });
    const check = await holdfast(['--repo', restic, 'check', '--read-data', '--json'], env);
    expect(check.code, check.stderr + check.stdout).toBe(0);
  });
});
