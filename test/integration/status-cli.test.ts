import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { holdfast, initRepo } from '../support/cli.js';
import { startPgCluster, type PgCluster } from '../support/pg-cluster.js';

describe('holdfast status: the last good snapshot per service and its age, for cron and monitors', () => {
  let pg: PgCluster;
  let work: string;
  let env: Record<string, string>;

  beforeAll(async () => {
    pg = await startPgCluster();
    await pg.query('CREATE DATABASE app');
    await pg.query('CREATE TABLE t AS SELECT g FROM generate_series(1, 100) g', 'app');
    work = await mkdtemp(join(tmpdir(), 'holdfast-status-'));
    env = { HOLDFAST_REPO: join(work, 'repo'), HOLDFAST_DB_PASSWORD: pg.password, HOLDFAST_GONE_PASSWORD: 'x' };
    await initRepo(env.HOLDFAST_REPO!, env);
  });
  afterAll(async () => {
    await pg?.stop();
    if (work) await rm(work, { recursive: true, force: true });
  });

  test('no snapshot yet: exit 4 and the service named', async () => {
    const r = await holdfast(['status', '--service', `db=${pg.url('app')}`], env);
    expect(r.code, r.stderr).toBe(4);
    expect(r.stdout).toMatch(/1 of 1 services stale: db \(no good snapshot\)/);
  });

  test('fresh after a backup, stale past --max-age, and a failed service has no good snapshot', async () => {
    const config = join(work, 'holdfast.yml');
    await writeFile(config, `services:\n  db: ${pg.url('app')}\n  gone: postgres://postgres@127.0.0.1:1/app\n`);
    const backup = await holdfast(['--config', config, 'backup', '--json'], env);
    expect(backup.code, backup.stderr).toBe(3);

    const fresh = await holdfast(['--config', config, 'status', '--max-age', '1h', '--json'], env);
    expect(fresh.code, fresh.stderr).toBe(4);
    const doc = fresh.json<{ status: string; services: Array<{ service: string; ok: boolean; problems: string[]; lastGood: { snapshot: string; ageSeconds: number } | null; lastFailed: { error: string } | null }> }>();
    expect(doc.status).toBe('stale');
    const db = doc.services.find((s) => s.service === 'db')!;
    const gone = doc.services.find((s) => s.service === 'gone')!;
    expect(db).toMatchObject({ ok: true, problems: [], lastGood: { snapshot: backup.json<{ snapshot: string }>().snapshot } });
    expect(db.lastGood!.ageSeconds).toBeLessThan(60);
    expect(gone).toMatchObject({ ok: false, problems: ['no good snapshot'], lastGood: null });
    expect(gone.lastFailed!.error).toMatch(/./);

    const onlyDb = await holdfast(['status', '--service', `db=${pg.url('app')}`, '--max-age', '1h'], env);
    expect(onlyDb.code, onlyDb.stderr).toBe(0);
    expect(onlyDb.stdout).toMatch(/all 1 services fresh/);

    await new Promise((r) => setTimeout(r, 1500));
    const stale = await holdfast(['status', '--service', `db=${pg.url('app')}`, '--max-age', '1s'], env);
    expect(stale.code).toBe(4);
    expect(stale.stdout).toMatch(/db \(last good snapshot too old\)/);

    const noTest = await holdfast(['status', '--service', `db=${pg.url('app')}`, '--max-restore-test-age', '1d'], env);
    expect(noTest.code).toBe(4);
    expect(noTest.stdout).toMatch(/db \(no restore test\)/);
    const verify = await holdfast(['verify', 'latest', '--restore-test', '--service', `db=${pg.url('app')}`], env);
    expect(verify.code, verify.stderr).toBe(0);
    const tested = await holdfast(['status', '--service', `db=${pg.url('app')}`, '--max-restore-test-age', '1d'], env);
    expect(tested.code, tested.stdout + tested.stderr).toBe(0);
    expect(tested.stdout).toMatch(/ok \d+s ago/);
  });

  test('a bad --max-age is a usage error with a hint', async () => {
    const r = await holdfast(['status', '--max-age', 'tomorrow'], env);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--max-age "tomorrow" is not a duration/);
    expect(r.stderr).toMatch(/hint: write e.g. 90s/);
  });
});
