import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { holdfast } from '../support/cli.js';
import { DockerLab } from '../support/docker.js';
import { freePort } from '../support/free-port.js';
import { waitFor } from '../../src/core/wait.js';

/**
 * A restore into PostgreSQL in a container journals its working copy as a
 * leftover (endpoint container:NAME), as a restore by URL does: killed with
 * -9 mid-restore, the next command that touches the service drops the
 * working copy and says so, and the target is as it was before.
 */
describe('PostgreSQL in a container: a restore killed with -9 leaves nothing the next command does not remove', () => {
  const lab = new DockerLab();
  let repo: string;
  let db: string;
  let snapshot: string;

  beforeAll(async () => {
    await lab.init();
    repo = join(await lab.dir('repo'), 'repo');
    db = await lab.postgres('db', await freePort());
    await lab.psql(db, 'CREATE DATABASE big');
    // ~40 MB of rows: pg_restore runs for a few seconds, long enough to be killed in.
    await lab.psql(db, 'CREATE TABLE noise AS SELECT g, md5(g::text) || md5((g * 7)::text) AS a FROM generate_series(1, 400000) g; CREATE INDEX ON noise (a)', 'big');
    const backup = await holdfast(['--repo', repo, 'backup', '--init', '--service', `db=container:${db}`, '--json'], lab.env());
    expect(backup.code, backup.stderr).toBe(0);
    snapshot = backup.json<{ snapshot: string }>().snapshot;
  });

  afterAll(async () => {
    await lab.cleanup();
  });

  const databases = async () => (await lab.psql(db, "SELECT datname FROM pg_database WHERE datname LIKE 'big%' ORDER BY 1")).split('\n').filter(Boolean);

  test('kill -9 while the working copy is restored: the next backup drops it first and says so', async () => {
    let pid = 0;
    const running = holdfast(['--repo', repo, 'restore', snapshot, 'db', '--database', 'big', '--force', '--service', `db=container:${db}`, '--json'], lab.env(), { onSpawn: (p) => (pid = p) });
    await waitFor('the working copy big__holdfast', async () => ((await databases()).includes('big__holdfast') ? true : undefined), { timeoutMs: 60_000, intervalMs: 50 });
    process.kill(pid, 'SIGKILL');
    expect((await running).code).not.toBe(0);
    expect(await databases()).toEqual(['big', 'big__holdfast']);

    const next = await holdfast(['--repo', repo, 'backup', '--service', `db=container:${db}`, '--json'], lab.env());
    expect(next.code, next.stderr).toBe(0);
    const notes = (next.json<{ notes?: string[] }>().notes ?? []).join('\n');
    expect(notes).toMatch(new RegExp(`removed leftover swap "big__holdfast" on container:${db} of a run killed after .*: dropped "big__holdfast"`));
    expect(await databases()).toEqual(['big']);
    expect(await lab.psql(db, 'SELECT count(*) FROM noise', 'big')).toBe('400000');
    expect(await lab.held()).toEqual([]);
  });
});
