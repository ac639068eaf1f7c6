import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { waitFor } from '../../src/core/wait.js';
import { holdfast, savedSnapshot } from '../support/cli.js';
import { startPgCluster, type PgCluster } from '../support/pg-cluster.js';
import { filesIn, holdfastEntries, runKillTrials, seededRandom, type TrialKind } from './fault-trials.js';

/**
 * kill -9 at random moments of a PostgreSQL restore (into a new database, and
 * --force over the existing one) and of a restore test: no tool outlives
 * holdfast, and after the next command that touches the server nothing is
 * left (no `__holdfast` working copy, no `holdfast_scratch_*` database, no
 * spool file, no journal), and the target is whole.
 */
const TRIALS = Number(process.env.HOLDFAST_FAULT_TRIALS) || 10;
const ROWS = 40_000;
const seed = Number(process.env.HOLDFAST_FAULT_SEED) || Date.now() % 1_000_000;
const random = seededRandom(seed);

describe('kill -9 of a PostgreSQL restore and restore test leaves nothing after the next command', () => {
  let pg: PgCluster;
  let work: string;
  let env: Record<string, string | undefined>;
  let snapshot: string;
  let durationMs: number;
  const service = () => `db=${pg.url('app')}`;

  beforeAll(async () => {
    pg = await startPgCluster();
    await pg.query('CREATE DATABASE app');
    // Small, with indexes: a restore has a data phase and a post-data phase (spooled for pg_restore -j).
    await pg.query(`CREATE TABLE t AS SELECT g AS id, md5(g::text) AS a, md5((g * 7)::text) AS b FROM generate_series(1, ${ROWS}) g`, 'app');
    await pg.query('ALTER TABLE t ADD PRIMARY KEY (id); CREATE INDEX t_a ON t (a); CREATE INDEX t_b ON t (b)', 'app');
    work = await mkdtemp(join(tmpdir(), 'holdfast-faults-'));
    env = { HOLDFAST_REPO: join(work, 'repo'), HOLDFAST_DB_PASSWORD: pg.password, HOLDFAST_TMPDIR: join(work, 'spool'), HOLDFAST_STATE_DIR: join(work, 'state'), HOLDFAST_DOCKER: '' };
    await mkdir(join(work, 'spool'));
    snapshot = savedSnapshot(await holdfast(['backup', '--json', '--service', service()], env));
    const started = Date.now();
    const measure = await holdfast(['restore', snapshot, '--service', service(), '--target', `db=${pg.url('measure')}`], env);
    expect(measure.code, measure.stderr).toBe(0);
    durationMs = Date.now() - started;
  });
  afterAll(async () => {
    await pg?.stop();
    if (work) await rm(work, { recursive: true, force: true });
  });

  async function leftovers(): Promise<string[]> {
    const dbs = await pg.query<{ d: string }>("SELECT datname AS d FROM pg_database WHERE datname LIKE '%\\_\\_holdfast%' OR datname LIKE 'holdfast\\_scratch\\_%'");
    return [...dbs.map((r) => `database ${r.d}`), ...(await holdfastEntries(join(work, 'spool'))), ...(await filesIn(join(work, 'state', 'leftovers')))];
  }

  async function rowsIn(database: string): Promise<number> {
    return (await pg.query<{ n: number }>('SELECT count(*)::int AS n FROM t', database))[0]!.n;
  }

  const kinds: Array<() => TrialKind> = [
    () => ({
      kind: 'restore into a new database',
      command: (i) => ['restore', snapshot, '--service', service(), '--target', `db=${pg.url(`copy_${i}`)}`],
      next: (i) => ['restore', snapshot, '--service', service(), '--target', `db=${pg.url(`copy_${i}`)}`],
      leftovers,
      async after(i, next) {
        // Either the killed run had finished the swap (then the copy is whole and the next one refuses to overwrite it) or the next run restored it.
        if (next.code !== 0) expect(next.stderr).toMatch(/is not empty/);
        expect(await rowsIn(`copy_${i}`)).toBe(ROWS);
      },
    }),
    () => ({
      kind: 'restore --force over the database',
      command: () => ['restore', snapshot, '--force', '--service', service()],
      next: () => ['restore', snapshot, '--force', '--service', service()],
      leftovers,
      async after(_i, next) {
        expect(next.code, next.stderr).toBe(0);
        expect(await rowsIn('app')).toBe(ROWS);
      },
    }),
    () => ({
      kind: 'restore test',
      command: () => ['verify', snapshot, '--restore-test', '--service', service()],
      next: () => ['verify', snapshot, '--restore-test', '--service', service()],
      leftovers,
      async after(_i, next) {
        expect(next.code, next.stderr + next.stdout).toBe(0);
      },
    }),
  ];

  test('a backup of the server after a killed restore test removes its scratch databases first, and says so', async () => {
    let pid = 0;
    const running = holdfast(['verify', snapshot, '--restore-test', '--service', service()], env, { onSpawn: (p) => (pid = p) });
    await waitFor('a scratch database', async () => ((await leftovers()).some((l) => l.startsWith('database holdfast_scratch_')) ? true : undefined), { timeoutMs: 60_000, intervalMs: 10 });
    process.kill(pid, 'SIGKILL');
    await running;
    const backup = await holdfast(['backup', '--json', '--service', service()], env);
    expect(backup.code, backup.stderr).toBe(0);
    expect(backup.json<{ notes: string[] }>().notes.join('\n')).toMatch(/removed leftover scratch-prefix "holdfast_scratch_\w+_" on postgres:\/\/127\.0\.0\.1:\d+ of a run killed after/);
    expect(await leftovers()).toEqual([]);
  });

  test('killed between the two renames of the swap: the next command puts the old database back, then drops both copies', async () => {
    // The state such a kill leaves: the target renamed away to <name>__holdfast_old, the restored copy not yet renamed in.
    await pg.query('CREATE DATABASE "swapme__holdfast_old"');
    await pg.query("CREATE TABLE was (v text); INSERT INTO was VALUES ('before the restore')", 'swapme__holdfast_old');
    await pg.query('CREATE DATABASE "swapme__holdfast"');
    const dead = spawn(process.execPath, ['-e', '0']);
    await new Promise((r) => dead.once('exit', r));
    const dir = join(work, 'state', 'leftovers');
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, `${hostname()}-${dead.pid}-1.json`), JSON.stringify({
      version: 1, pid: dead.pid, procStart: '1', hostname: hostname(), command: 'restore s1 --force', createdAt: '2026-12-03T10:00:00Z', updatedAt: '2026-12-03T10:00:09Z',
      leftovers: [{ kind: 'swap', name: 'swapme__holdfast', driver: 'postgres', service: 'db', endpoint: `postgres://127.0.0.1:${pg.port}`, data: { target: 'swapme', old: 'swapme__holdfast_old' }, at: 'x' }],
    }));
    const next = await holdfast(['backup', '--json', '--service', service()], env);
    expect(next.code, next.stderr).toBe(0);
    expect(next.json<{ notes: string[] }>().notes.join('\n')).toContain('put "swapme" back as it was before that restore');
    expect(await pg.query<{ v: string }>('SELECT v FROM was', 'swapme')).toEqual([{ v: 'before the restore' }]);
    expect(await leftovers()).toEqual([]);
  });

  for (const make of kinds) {
    test(`${make().kind}: ${TRIALS} kills at random points`, async () => {
      const { counts, problems } = await runKillTrials(make(), { trials: TRIALS, env, durationMs, random, seed });
      expect(problems).toEqual([]);
      expect(counts.survivors).toBe(0);
      expect(counts.leftoversAfterNext).toBe(0);
      expect(counts.killed).toBeGreaterThanOrEqual(Math.ceil(TRIALS * 0.3)); // most kills come while it runs (a fast run may finish first)
    }, 300_000);
  }
});
