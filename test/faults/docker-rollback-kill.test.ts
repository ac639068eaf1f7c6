import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { waitFor } from '../../src/core/wait.js';
import { holdfast, savedSnapshot } from '../support/cli.js';
import { DockerLab, IMAGES } from '../support/docker.js';
import { freePort } from '../support/free-port.js';
import { seededRandom } from './fault-trials.js';

/**
 * kill -9 at random moments of `holdfast rollback` of a small compose-like
 * stack (PostgreSQL on a volume, an app on another): the database never runs
 * on a half-restored volume. After each kill the next command either starts
 * the containers on untouched data (killed before the rollback touched it),
 * or keeps them stopped and says so (killed while it rewrote them), and then
 * `rollback --resume` finishes. The data is always the one from before
 * (table `marker`, no `items`) or the snapshot's (2000 `items`), never a mix
 * and never a fresh cluster; nothing is left (rollback records, hold
 * journals, helper containers, stopped containers).
 */
const TRIALS = Number(process.env.HOLDFAST_FAULT_TRIALS) || 10;
const seed = Number(process.env.HOLDFAST_FAULT_SEED) || Date.now() % 1_000_000;
const random = seededRandom(seed);

describe('kill -9 of a rollback never leaves a database running on half-restored data', () => {
  const lab = new DockerLab();
  const project = `${lab.prefix}rb`;
  let repo: string;
  let db: string;
  let app: string;
  let durationMs: number;

  const files = async (dir: string) => (await readdir(join(lab.stateDir, dir)).catch(() => [] as string[])).filter((f) => f.endsWith('.json'));
  /** What the database holds: 'before' (the rollback did not touch it), 'snapshot' (it finished), or what else it found. */
  async function dataState(): Promise<string> {
    const tables = await waitFor('the database answering', async () => (await lab.psql(db, "SELECT string_agg(relname, ',' ORDER BY relname) FROM pg_class WHERE relname IN ('items', 'marker')").catch(() => undefined)), { timeoutMs: 90_000, intervalMs: 250 });
    if (tables === 'marker') return 'before';
    if (tables === 'items' && (await lab.psql(db, 'SELECT count(*) FROM items')) === '2000') return 'snapshot';
    return `mixed (${tables || 'neither table'})`;
  }
  const running = async () => (await lab.held()).length === 0;

  beforeAll(async () => {
    await lab.init();
    const port = await freePort();
    const [pgdata, appdata] = await Promise.all([lab.volume('pgdata'), lab.volume('appdata')]);
    repo = join(await lab.dir('repo'), 'repo');
    db = await lab.postgres('db', port, { volume: pgdata, project, service: 'db' });
    await lab.psql(db, "CREATE TABLE items (id int PRIMARY KEY, name text); INSERT INTO items SELECT g, 'item ' || g FROM generate_series(1, 2000) g");
    app = await lab.run('app', ['--init', '-v', `${appdata}:/data`, IMAGES.busybox, 'sh', '-c', 'while true; do date >> /data/log; sleep 0.2; done'], { project, service: 'app', dependsOn: 'db' });
    savedSnapshot(await holdfast(['--repo', repo, 'backup', '--project', project, '--tag', 'pre-upgrade', '--json'], lab.env()));
    const started = Date.now();
    const first = await holdfast(['--repo', repo, 'rollback', 'pre-upgrade'], lab.env());
    expect(first.code, first.stderr + first.stdout).toBe(0);
    durationMs = Date.now() - started;
  });
  afterAll(async () => {
    await lab.cleanup();
  });

  test(`${TRIALS} kills at random points of a rollback`, async () => {
    const counts = { trials: 0, killed: 0, whileRewriting: 0, keptStopped: 0, resumed: 0, startedOnHalfData: 0, leftovers: 0 };
    const problems: string[] = [];
    for (let trial = 0; trial < TRIALS; trial++) {
      counts.trials++;
      // "The upgrade": the data differs from the snapshot.
      await lab.psql(db, 'DROP TABLE IF EXISTS items; DROP TABLE IF EXISTS marker; CREATE TABLE marker ()');
      let pid = 0;
      let exited = false;
      const run = holdfast(['--repo', repo, 'rollback', 'pre-upgrade'], lab.env(), { onSpawn: (p) => (pid = p) }).finally(() => (exited = true));
      const started = Date.now();
      // Even trials: once it rewrites data, then any moment of the rest; odd trials: any moment.
      if (trial % 2 === 0) while (!exited && Date.now() - started < durationMs * 2 && (await files('rollbacks')).length === 0) await new Promise((r) => setTimeout(r, 10));
      await new Promise((r) => setTimeout(r, random() * (trial % 2 === 0 ? durationMs / 3 : durationMs)));
      const at = Date.now() - started;
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // finished already
      }
      if ((await run).code === null) counts.killed++;
      const interrupted = (await files('rollbacks')).length > 0;
      const next = await holdfast(['--repo', repo, 'snapshots'], lab.env());
      if (interrupted) {
        counts.whileRewriting++;
        const stopped = (await lab.held()).map((l) => l.split(' ')[0]);
        if (stopped.includes(db) && stopped.includes(app) && next.stderr.includes('holdfast rollback --resume')) counts.keptStopped++;
        else problems.push(`#${trial} (kill after ${at} ms): interrupted while rewriting, but the next command left stopped only [${stopped.join(', ')}]: ${next.stderr}`);
        const resumed = await holdfast(['--repo', repo, 'rollback', '--resume'], lab.env());
        if (resumed.code === 0) counts.resumed++;
        else problems.push(`#${trial}: rollback --resume exited ${resumed.code}: ${resumed.stderr}`);
      }
      await waitFor('every container running', async () => ((await running()) ? true : undefined), { timeoutMs: 90_000 }).catch(() => undefined);
      const state = await dataState();
      if (interrupted ? state !== 'snapshot' : state !== 'before' && state !== 'snapshot') {
        counts.startedOnHalfData++;
        problems.push(`#${trial} (kill after ${at} ms): the database runs on data that is ${state}`);
      }
      const left = [...(await files('rollbacks')), ...(await files('held')), ...(await lab.helpers()), ...(await lab.held())];
      counts.leftovers += left.length;
      if (left.length) problems.push(`#${trial} (kill after ${at} ms): left: ${left.join(', ')}`);
    }
    console.log(
      `fault suite [seed ${seed}] rollback: ${counts.trials} trials, ${counts.killed} killed mid-run, ${counts.whileRewriting} while rewriting data ` +
        `(${counts.keptStopped} kept stopped by the next command, ${counts.resumed} finished by --resume), ${counts.startedOnHalfData} ran on half-restored data, ${counts.leftovers} leftovers`,
    );
    expect(problems).toEqual([]);
    expect(counts.startedOnHalfData).toBe(0);
    expect(counts.leftovers).toBe(0);
    expect(counts.whileRewriting).toBeGreaterThanOrEqual(Math.ceil(TRIALS * 0.3)); // most kills land while it rewrites
  }, 900_000);
});
