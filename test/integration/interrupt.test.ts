import { existsSync } from 'node:fs';
import { mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { waitFor } from '../../src/core/wait.js';
import { holdfast } from '../support/cli.js';
import { startPgCluster, type PgCluster } from '../support/pg-cluster.js';
import { descendants, survivorsAfter } from '../support/process-tree.js';
import { committedSnapshots, stagingLeftovers } from '../support/repo-files.js';

/** Sessions of holdfast's tools on the server: they run with PGAPPNAME=holdfast (postgres-connection.ts). */
async function holdfastSessions(pg: PgCluster): Promise<number> {
  const rows = await pg.query<{ n: number }>("SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = 'holdfast'");
  return rows[0]!.n;
}

/** Resolves once a staged artifact of the running backup has some bytes in it. */
async function artifactStarted(repo: string): Promise<void> {
  await waitFor(
    'a staged artifact',
    async () => {
      for (const id of await readdir(join(repo, 'tmp')).catch(() => [] as string[])) {
        const dir = join(repo, 'tmp', id, 'db');
        for (const f of await readdir(dir).catch(() => [] as string[])) {
          if (f.endsWith('.pgdump') && (await stat(join(dir, f))).size > 0) return true;
        }
      }
      return undefined;
    },
    { timeoutMs: 60_000, intervalMs: 20 },
  );
}

describe('a backup stopped half-way leaves nothing that snapshots lists', () => {
  let pg: PgCluster;
  let work: string;

  beforeAll(async () => {
    pg = await startPgCluster();
    await pg.query('CREATE DATABASE big');
    // ~150 MB of poorly compressible rows: the dump runs for seconds.
    await pg.query("CREATE TABLE noise AS SELECT g, md5(g::text) || md5((g * 7)::text) || md5((g * 13)::text) AS a, random() AS r FROM generate_series(1, 1500000) g", 'big');
    work = await mkdtemp(join(tmpdir(), 'holdfast-kill-'));
  });
  afterAll(async () => {
    await pg?.stop();
    if (work) await rm(work, { recursive: true, force: true });
  });

  for (const signal of ['SIGKILL', 'SIGTERM'] as const) {
    test(`${signal} during the dump: nothing listed, and the next backup works`, async () => {
      const repo = join(work, `repo-${signal}`);
      const env = { HOLDFAST_REPO: repo, HOLDFAST_DB_PASSWORD: pg.password };
      let pid = 0;
      const running = holdfast(['backup', '--service', `db=${pg.url('big')}`], env, { onSpawn: (p) => (pid = p) });
      await artifactStarted(repo);
      const tools = descendants(pid);
      expect(tools.map((t) => t.name)).toContain('pg_dump');
      process.kill(pid, signal);
      const stopped = await running;
      expect(stopped.code).not.toBe(0);
      // Every tool of the run dies with it (parent-death signal), within about a second,
      // and no session of it (holdfast's tools connect as application_name 'holdfast') stays on the server.
      expect(await survivorsAfter(tools, 1000)).toEqual([]);
      await waitFor('no holdfast session on the server', async () => (await holdfastSessions(pg)) === 0 || undefined, { timeoutMs: 1500, intervalMs: 50 }).catch(() => undefined);
      expect(await holdfastSessions(pg)).toBe(0);
      if (signal === 'SIGTERM') {
        expect(stopped.stderr).toMatch(/SIGTERM received, stopping/);
        expect(await stagingLeftovers(repo)).toEqual([]); // cleaned up on the way out
        expect(existsSync(join(repo, 'lock'))).toBe(false);
      }
      expect(await committedSnapshots(repo)).toEqual([]);
      const list = await holdfast(['snapshots', '--json'], env);
      expect(list.json<{ snapshots: unknown[] }>().snapshots).toEqual([]);

      const again = await holdfast(['backup', '--json', '--fingerprint', 'counts', '--service', `db=${pg.url('big')}`], env);
      expect(again.code, again.stderr).toBe(0);
      if (signal === 'SIGKILL') {
        const notes = again.json<{ notes: string[] }>().notes.join('\n');
        expect(notes).toMatch(/took over a stale lock of pid \d+/);
        expect(notes).toMatch(/removed the unfinished snapshot/);
      }
      expect(await committedSnapshots(repo)).toHaveLength(1);
      expect(await stagingLeftovers(repo)).toEqual([]);
      expect(await holdfastSessions(pg)).toBe(0);
    });
  }
});
