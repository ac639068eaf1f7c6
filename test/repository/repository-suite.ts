import { readFile, readdir } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { waitFor } from '../../src/core/wait.js';
import { holdfast, savedSnapshot, type CliResult } from '../support/cli.js';
import { startPgCluster, type PgCluster } from '../support/pg-cluster.js';
import { seedSample } from '../support/sample-data.js';

/** One repository backend as the suite sees it: a --repo value and the environment it needs. */
export interface RepositoryUnderTest {
  /** The --repo value: a path, s3://bucket/prefix, restic:/path, ... */
  repo: string;
  /** Credentials, passphrases, endpoints: given to every holdfast run. */
  env: Record<string, string>;
  /** Whatever the backend still holds of unfinished snapshots (staging files, multipart uploads). */
  leftovers?(): Promise<string[]>;
  /** Removes the repository and anything started for it. */
  cleanup(): Promise<void>;
}

interface SnapshotEntry {
  id: string;
  tags: string[];
  services: string[] | Record<string, unknown>;
}

/**
 * The same behaviour from every repository backend, checked through the
 * command line only: backup, list, restore, check, forget, and a kill -9 in
 * the middle of a backup. The source is a real PostgreSQL server.
 */
export function repositorySuite(label: string, setup: () => Promise<RepositoryUnderTest>): void {
  describe(`repository suite: ${label}`, () => {
    let pg: PgCluster;
    let under: RepositoryUnderTest;
    let env: Record<string, string>;
    const run = (args: string[]): Promise<CliResult> => holdfast(['--repo', under.repo, ...args], env);
    const listed = async (): Promise<SnapshotEntry[]> => {
      const list = await run(['snapshots', '--json']);
      expect(list.code, list.stderr).toBe(0);
      const doc = list.json<{ snapshots: SnapshotEntry[] } | SnapshotEntry[]>();
      return Array.isArray(doc) ? doc : doc.snapshots;
    };
    const backup = async (database: string, extra: string[] = []): Promise<string> => {
      const result = await run(['backup', '--json', ...extra, '--service', `db=${pg.url(database)}`]);
      return savedSnapshot(result);
    };

    beforeAll(async () => {
      pg = await startPgCluster();
      await seedSample(pg, 'app');
      under = await setup();
      env = { ...under.env, HOLDFAST_DB_PASSWORD: pg.password, HOLDFAST_DB_TARGET_PASSWORD: pg.password };
      const init = await run(['init']);
      expect(init.code, init.stderr + init.stdout).toBe(0);
    });
    afterAll(async () => {
      await under?.cleanup();
      await pg?.stop();
    });

    test('backup, list, show, restore with equal fingerprints, and a second init is refused', async () => {
      const id = await backup('app', ['--tag', 'suite', '--fingerprint', 'full']);
      const entries = await listed();
      expect(entries.map((e) => e.id)).toContain(id);
      expect(entries.find((e) => e.id === id)!.tags).toContain('suite');

      const show = await run(['show', 'suite', '--json']);
      expect(show.code, show.stderr).toBe(0);
      expect(JSON.stringify(show.json())).toContain(id);

      await pg.query('DELETE FROM orders WHERE id % 3 = 0', 'app');
      const restore = await run(['restore', id, '--json', '--target', `db=${pg.url('app_restored')}`]);
      expect(restore.code, restore.stderr + restore.stdout).toBe(0);
      const doc = restore.json<{ services: Array<{ status: string; fingerprint: { equal: boolean } }> }>();
      expect(doc.services[0]).toMatchObject({ status: 'ok', fingerprint: { equal: true } });
      const rows = await pg.query<{ n: string }>('SELECT count(*)::text AS n FROM orders', 'app_restored');
      expect(rows[0]!.n).toBe('4000');

      const again = await run(['init']);
      expect(again.code).not.toBe(0);
      expect(again.stderr).toMatch(/already/);
      expect(again.stdout + again.stderr).not.toContain(pg.password);
    });

    test('verify and check --read-data read every artifact back', async () => {
      await backup('app');
      const verify = await run(['verify', 'latest', '--json']);
      expect(verify.code, verify.stderr).toBe(0);
      expect(verify.json<{ status: string }>().status).toBe('ok');
      for (const args of [['check', '--json'], ['check', '--read-data', '--json']]) {
        const check = await run(args);
        expect(check.code, check.stderr + check.stdout).toBe(0);
        expect(check.json<{ status: string; problems: unknown[] }>()).toMatchObject({ status: 'ok', problems: [] });
      }
    });

    test('forget --keep-last 1 removes the older snapshots and keeps the newest', async () => {
      await backup('app');
      const newest = await backup('app');
      expect((await listed()).length).toBeGreaterThan(1);
      const forget = await run(['forget', '--keep-last', '1', '--json']);
      expect(forget.code, forget.stderr + forget.stdout).toBe(0);
      expect((await listed()).map((e) => e.id)).toEqual([newest]);
      const check = await run(['check', '--read-data', '--json']);
      expect(check.code, check.stderr + check.stdout).toBe(0);
    });

    test('kill -9 in the middle of a backup: nothing listed, and the next backup cleans up and works', async () => {
      await pg.query('CREATE DATABASE big');
      // ~150 MB of poorly compressible rows: the dump runs for seconds.
      await pg.query("CREATE TABLE noise AS SELECT g, md5(g::text) || md5((g * 7)::text) || md5((g * 13)::text) AS a FROM generate_series(1, 1500000) g", 'big');
      const before = (await listed()).map((e) => e.id);
      let pid = 0;
      const running = holdfast(['--repo', under.repo, 'backup', '--service', `db=${pg.url('big')}`], env, { onSpawn: (p) => (pid = p) });
      await waitFor('pg_dump running under holdfast', async () => ((await descendantNames(pid)).includes('pg_dump') ? true : undefined), {
        timeoutMs: 60_000,
        intervalMs: 20,
      });
      await new Promise((r) => setTimeout(r, 500));
      process.kill(pid, 'SIGKILL');
      const killed = await running;
      expect(killed.code).not.toBe(0);
      expect((await listed()).map((e) => e.id)).toEqual(before);

      const next = await backup('app');
      expect((await listed()).map((e) => e.id)).toEqual([...before, next]);
      if (under.leftovers) expect(await under.leftovers()).toEqual([]);
      const check = await run(['check', '--read-data', '--json']);
      expect(check.code, check.stderr + check.stdout).toBe(0);
    });
  });
}

/** Command names of a process's descendants, from /proc. */
async function descendantNames(pid: number): Promise<string[]> {
  const children = new Map<number, number[]>();
  const names = new Map<number, string>();
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = await readFile(`/proc/${entry}/stat`, 'utf8').catch(() => '');
    const match = /^(\d+) \((.*)\) \S+ (\d+)/.exec(stat);
    if (!match) continue;
    const [, self, name, parent] = match;
    names.set(Number(self), name!);
    children.set(Number(parent), [...(children.get(Number(parent)) ?? []), Number(self)]);
  }
  const out: string[] = [];
  const stack = [...(children.get(pid) ?? [])];
  while (stack.length) {
    const next = stack.pop()!;
    out.push(names.get(next) ?? '');
    stack.push(...(children.get(next) ?? []));
  }
  return out;
}
