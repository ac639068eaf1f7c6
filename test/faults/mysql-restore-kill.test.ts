import { chmod, mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { startMariadb, type MariadbServer } from '../servers/mariadb.js';
import { holdfast, savedSnapshot } from '../support/cli.js';
import { mysqlQuery, mysqlUrl, seedMysqlSample } from '../support/mysql-sample.js';
import { filesIn, holdfastEntries, runKillTrials, seededRandom, type TrialKind } from './fault-trials.js';

/**
 * kill -9 at random moments of a MariaDB dump restore (into a new database,
 * --force over the existing one) and of its restore test: nothing is left
 * after the next command (no `__holdfast` working copy, no half-loaded new
 * database, no `holdfast_scratch_*` database, no option file with the
 * password in HOLDFAST_TMPDIR, no journal), and the target is whole.
 */
const TRIALS = Number(process.env.HOLDFAST_FAULT_TRIALS) || 5;
const ROWS = 8_000;
const seed = Number(process.env.HOLDFAST_FAULT_SEED) || Date.now() % 1_000_000;
const random = seededRandom(seed);

describe('kill -9 of a MariaDB restore and restore test leaves nothing after the next command', () => {
  let server: MariadbServer;
  let work: string;
  let env: Record<string, string | undefined>;
  let snapshot: string;
  let durationMs: number;
  const service = () => `db=${mysqlUrl(server, 'shop')}`;

  beforeAll(async () => {
    server = await startMariadb();
    await seedMysqlSample(server, 'shop', ROWS);
    work = await mkdtemp(join(tmpdir(), 'holdfast-faults-my-'));
    await mkdir(join(work, 'spool'));
    // The restore test runs a throwaway MariaDB as the mysql user, under HOLDFAST_TMPDIR: it must be able to get there.
    await chmod(work, 0o711);
    await chmod(join(work, 'spool'), 0o711);
    env = { HOLDFAST_REPO: join(work, 'repo'), HOLDFAST_DB_PASSWORD: server.rootPassword, HOLDFAST_TMPDIR: join(work, 'spool'), HOLDFAST_STATE_DIR: join(work, 'state'), HOLDFAST_DOCKER: '' };
    snapshot = savedSnapshot(await holdfast(['backup', '--json', '--service', service()], env));
    const started = Date.now();
    const measure = await holdfast(['restore', snapshot, '--force', '--service', service()], env);
    expect(measure.code, measure.stderr).toBe(0);
    durationMs = Date.now() - started;
  });
  afterAll(async () => {
    await server?.stop();
    if (work) await rm(work, { recursive: true, force: true });
  });

  async function leftovers(trial: number): Promise<string[]> {
    const dbs = await mysqlQuery<{ n: string }>(server, "SELECT SCHEMA_NAME AS n FROM information_schema.SCHEMATA WHERE SCHEMA_NAME LIKE '%\\_\\_holdfast%' OR SCHEMA_NAME LIKE 'holdfast\\_scratch\\_%'");
    // A new database that a killed restore loaded half-way counts too (until the next command restores it whole).
    const copy = await mysqlQuery<{ n: string }>(server, 'SELECT SCHEMA_NAME AS n FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?', undefined, [`copy_${trial}`]);
    const partial = copy.length && (await orders(`copy_${trial}`)) !== ROWS * 2 ? [`partial copy_${trial}`] : [];
    return [...dbs.map((r) => `database ${r.n}`), ...partial, ...(await holdfastEntries(join(work, 'spool'))), ...(await filesIn(join(work, 'state', 'leftovers')))];
  }

  async function orders(database: string): Promise<number> {
    try {
      return Number((await mysqlQuery<{ n: number }>(server, 'SELECT COUNT(*) AS n FROM orders', database))[0]!.n);
    } catch {
      return -1;
    }
  }

  const kinds: Array<() => TrialKind> = [
    () => ({
      kind: 'mariadb restore into a new database',
      command: (i) => ['restore', snapshot, '--service', service(), '--target', `db=${mysqlUrl(server, `copy_${i}`)}`],
      next: (i) => ['restore', snapshot, '--service', service(), '--target', `db=${mysqlUrl(server, `copy_${i}`)}`],
      leftovers,
      async after(i, next) {
        if (next.code !== 0) expect(next.stderr).toMatch(/not empty/);
        expect(await orders(`copy_${i}`)).toBe(ROWS * 2);
      },
    }),
    () => ({
      kind: 'mariadb restore --force over the database',
      command: () => ['restore', snapshot, '--force', '--service', service()],
      next: () => ['restore', snapshot, '--force', '--service', service()],
      leftovers,
      async after(_i, next) {
        expect(next.code, next.stderr).toBe(0);
        expect(await orders('shop')).toBe(ROWS * 2);
      },
    }),
    () => ({
      kind: 'mariadb restore test',
      command: () => ['verify', snapshot, '--restore-test', '--service', service()],
      next: () => ['verify', snapshot, '--restore-test', '--service', service()],
      leftovers,
      async after(_i, next) {
        expect(next.code, next.stderr + next.stdout).toBe(0);
      },
    }),
  ];

  for (const make of kinds) {
    test(`${make().kind}: ${TRIALS} kills at random points`, async () => {
      const { counts, problems } = await runKillTrials(make(), { trials: TRIALS, env, durationMs, random, seed });
      expect(problems).toEqual([]);
      expect(counts.survivors).toBe(0);
      expect(counts.leftoversAfterNext).toBe(0);
    }, 300_000);
  }
});
