// A real backup with a superuser URL under umask 000: globals.sql (every role's SCRAM hash) and the dumps are readable by their owner only.
import { chmod, lstat, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { holdfast, savedSnapshot } from '../support/cli.js';
import { startPgCluster, type PgCluster } from '../support/pg-cluster.js';

/** Every path under `root` with its kind and permission bits, e.g. `/snapshots dir 0700`. */
async function modes(root: string): Promise<string[]> {
  const out: string[] = [];
  const visit = async (path: string) => {
    const info = await lstat(path);
    out.push(`${path.slice(root.length) || '/'} ${info.isDirectory() ? 'dir' : 'file'} ${(info.mode & 0o777).toString(8).padStart(4, '0')}`);
    if (info.isDirectory()) for (const name of (await readdir(path)).sort()) await visit(join(path, name));
  };
  await visit(root);
  return out;
}

describe('postgres backup into a private repository, under umask 000', () => {
  let pg: PgCluster;
  let work: string;
  let repo: string;
  let env: Record<string, string>;
  const umask0 = { umask: 0o000 };

  beforeAll(async () => {
    pg = await startPgCluster();
    await pg.query("CREATE ROLE app LOGIN PASSWORD 'app-role-pw'");
    await pg.query('CREATE DATABASE app OWNER app');
    await pg.query('CREATE TABLE t (v int); INSERT INTO t SELECT generate_series(1, 100)', 'app');
    work = await mkdtemp(join(tmpdir(), 'holdfast-private-'));
    repo = join(work, 'repo');
    env = { HOLDFAST_REPO: repo, HOLDFAST_DB_PASSWORD: pg.password };
  });
  afterAll(async () => {
    await pg?.stop();
    if (work) await rm(work, { recursive: true, force: true });
  });

  test('init, backup and export: folders 0700, files 0600, globals.sql included; check warns once others can read', async () => {
    expect((await holdfast(['init'], env, umask0)).code).toBe(0);
    const backup = await holdfast(['backup', '--json', '--service', `db=${pg.url('app')}`], env, { ...umask0, init: false });
    const id = savedSnapshot(backup);
    expect(backup.json()).toMatchObject({ repository: repo });

    const listing = await modes(repo);
    const globals = listing.find((l) => l.startsWith(`/snapshots/${id}/db/globals.sql `));
    expect(globals).toBe(`/snapshots/${id}/db/globals.sql file 0600`);
    expect(listing.filter((l) => l.includes('.pgdump ')).length).toBeGreaterThan(0);
    expect(listing.filter((l) => !(l.endsWith('dir 0700') || l.endsWith('file 0600')))).toEqual([]);

    const bundle = join(work, 'app.hfb');
    expect((await holdfast(['export', id, '--to', bundle], env, umask0)).code).toBe(0);
    expect(((await lstat(bundle)).mode & 0o777).toString(8)).toBe('600');

    const quiet = await holdfast(['check'], env);
    expect(quiet.code, quiet.stderr).toBe(0);
    expect(quiet.stderr).not.toContain('warning');

    // What an old holdfast (or a careless cp -r) left: world-readable. The dump of the roles is in it.
    expect(await readFile(join(repo, 'snapshots', id, 'db', 'globals.sql'))).toBeTruthy();
    await chmod(repo, 0o755);
    await chmod(join(repo, 'snapshots'), 0o755);
    const loud = await holdfast(['check', '--json'], env);
    expect(loud.code, loud.stderr).toBe(0);
    expect(loud.stderr).toContain(`warning: the repository at ${repo} is readable by users other than its owner: 2 files and folders`);
    expect(loud.stderr).toContain(`chmod -R go-rwx ${repo}`);
    expect(loud.json()).toMatchObject({ status: 'ok', warnings: [expect.stringContaining('readable by users other than its owner')] });
  });
});
