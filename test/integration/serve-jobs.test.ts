import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg_ from 'pg';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { holdfast, initRepo } from '../support/cli.js';
import { startPgCluster, type PgCluster } from '../support/pg-cluster.js';
import { committedSnapshots, stagingLeftovers } from '../support/repo-files.js';
import { startServe, type ServeLine } from '../support/serve-process.js';

describe('holdfast serve runs its jobs when due, never overlapping, and stops cleanly', () => {
  let pg: PgCluster;
  let work: string;

  beforeAll(async () => {
    pg = await startPgCluster();
    await pg.query('CREATE DATABASE app');
    await pg.query('CREATE TABLE t AS SELECT g, md5(g::text) AS h FROM generate_series(1, 1000) g', 'app');
    await pg.query('CREATE DATABASE big');
    await pg.query('CREATE TABLE held AS SELECT g FROM generate_series(1, 1000) g', 'big');
    work = await mkdtemp(join(tmpdir(), 'holdfast-serve-jobs-'));
  });
  afterAll(async () => {
    await pg?.stop();
    if (work) await rm(work, { recursive: true, force: true });
  });

  async function setup(name: string, yml: string): Promise<{ config: string; repo: string; dir: string; env: Record<string, string> }> {
    const dir = join(work, name);
    await mkdir(dir);
    const repo = join(dir, 'repo');
    const env = { HOLDFAST_REPO: repo, HOLDFAST_DB_PASSWORD: pg.password };
    await initRepo(repo, env);
    const config = join(dir, 'holdfast.yml');
    await writeFile(config, yml);
    return { config, repo, dir, env };
  }

  const finished = (job: string, status = 'ok') => (l: ServeLine) => l.job === job && l.msg === `run finished: ${status}`;

  test('backup, restore test and forget each run when due, one at a time, with run ids, and the state file records them', async () => {
    const { config, repo, dir, env } = await setup(
      'due',
      `services:\n  db: ${pg.url('app')}\njobs:\n  nightly: { type: backup, schedule: "* * * * * *" }\n  prove: { type: restore-test, schedule: "*/2 * * * * *" }\n  prune: { type: forget, schedule: "*/3 * * * * *", keep: { last: 1 } }\nserve:\n  metrics: false\n`,
    );
    const serve = startServe(['--config', config], env);
    try {
      const backup = await serve.waitForLine('a scheduled backup', finished('nightly'));
      expect(backup.runId).toMatch(/^nightly-\d{8}T\d{6}Z-[0-9a-f]{4}$/);
      expect(backup.snapshot).toMatch(/./);
      const proved = await serve.waitForLine('a scheduled restore test', finished('prove'));
      await serve.waitForLine('a scheduled forget', (l) => finished('prune')(l) && serve.lines.indexOf(l) > serve.lines.indexOf(proved));
      serve.child.kill('SIGTERM');
      expect(await serve.exited()).toBe(0);
    } finally {
      serve.child.kill('SIGKILL');
    }
    const starts = serve.lines.filter((l) => l.msg.startsWith('run started'));
    const ends = serve.lines.filter((l) => l.msg.startsWith('run finished'));
    // Never two runs at once: each start follows the previous run's end.
    for (let i = 1; i < starts.length; i++) expect(ends[i - 1]!.time <= starts[i]!.time).toBe(true);
    expect(new Set(starts.map((l) => l.runId)).size).toBe(starts.length);
    expect(serve.lines.at(-1)!.msg).toBe('serve stopped');
    // forget kept the newest snapshot and the newest restore-tested one.
    const snapshots = await holdfast(['snapshots', '--json'], env);
    const list = snapshots.json<{ snapshots: Array<{ id: string; restoreTest: { passed: boolean } | null }> }>().snapshots;
    expect(list.length).toBeLessThanOrEqual(ends.filter((l) => l.job === 'nightly').length);
    expect(list.some((s) => s.restoreTest?.passed)).toBe(true);
    const state = JSON.parse(await readFile(join(dir, 'holdfast-serve-state.json'), 'utf8')) as { jobs: Record<string, { lastStatus: string; lastRunId: string }> };
    expect(Object.keys(state.jobs).sort()).toEqual(['nightly', 'prove', 'prune']);
    expect(state.jobs.prove!.lastStatus).toBe('ok');
    expect(await stagingLeftovers(repo)).toEqual([]);
  });

  test('a run that would overlap is skipped; SIGTERM mid-backup: the grace period passes, the backup is interrupted, nothing partial is listed; a missed run is caught up', async () => {
    const { config, repo, dir, env } = await setup(
      'sigterm',
      `services:\n  db: ${pg.url('big')}\njobs:\n  slow: { type: backup, schedule: "* * * * * *", catch_up: true }\nserve:\n  grace: 1s\n  metrics: false\n`,
    );
    // A transaction holding an exclusive lock on the table makes pg_dump wait: the backup runs until SIGTERM, whatever the machine's speed.
    const holder = new pg_.Client({ host: '127.0.0.1', port: pg.port, user: 'postgres', password: pg.password, database: 'big' });
    await holder.connect();
    await holder.query('BEGIN');
    await holder.query('LOCK TABLE held IN ACCESS EXCLUSIVE MODE');
    const serve = startServe(['--config', config], env);
    try {
      const started = await serve.waitForLine('the backup to start', (l) => l.job === 'slow' && l.msg === 'run started: backup');
      const skipped = await serve.waitForLine('a skipped run while the backup runs', (l) => l.level === 'warn' && l.msg.startsWith('run skipped: the previous run of this job is still running'));
      expect(skipped.runningRunId).toBe(started.runId);
      serve.child.kill('SIGTERM');
      expect(await serve.exited(), serve.stderr()).toBe(0);
    } finally {
      serve.child.kill('SIGKILL');
      await holder.query('ROLLBACK').catch(() => undefined);
      await holder.end();
    }
    expect(serve.stderr()).toMatch(/SIGTERM received/);
    expect(serve.lines.some((l) => l.msg.startsWith('grace period over: interrupting the running job'))).toBe(true);
    expect(serve.lines.find((l) => l.msg.startsWith('run finished'))).toMatchObject({ job: 'slow', status: 'interrupted' });
    expect(serve.lines.filter((l) => l.msg.startsWith('run started'))).toHaveLength(1);
    expect(await committedSnapshots(repo)).toEqual([]);
    expect(await stagingLeftovers(repo)).toEqual([]);
    expect(existsSync(join(repo, 'lock'))).toBe(false);
    const dumps = await pg.query<{ n: number }>("SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = 'pg_dump'");
    expect(dumps[0]!.n).toBe(0);

    // Started again, serve catches the missed run up at once instead of waiting for the next time.
    await writeFile(config, `services:\n  db: ${pg.url('app')}\njobs:\n  slow: { type: backup, schedule: "0 0 0 1 1 *", catch_up: true }\nserve:\n  metrics: false\n`);
    const state = JSON.parse(await readFile(join(dir, 'holdfast-serve-state.json'), 'utf8')) as { jobs: Record<string, { lastScheduledAt: string }> };
    state.jobs.slow!.lastScheduledAt = '2020-01-01T00:00:00.000Z';
    await writeFile(join(dir, 'holdfast-serve-state.json'), JSON.stringify(state));
    const again = startServe(['--config', config], env);
    try {
      await again.waitForLine('the caught-up run', finished('slow'));
      expect(again.lines.some((l) => l.msg.startsWith('catching up the run due at 2021-01-01T00:00:00.000Z'))).toBe(true);
      again.child.kill('SIGTERM');
      expect(await again.exited()).toBe(0);
    } finally {
      again.child.kill('SIGKILL');
    }
    expect(await committedSnapshots(repo)).toHaveLength(1);
  });
});
