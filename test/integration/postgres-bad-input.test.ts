import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, readdir, rm, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { holdfast, savedSnapshot } from '../support/cli.js';
import { freePort } from '../support/free-port.js';
import { startPgCluster, type PgCluster } from '../support/pg-cluster.js';
import { committedSnapshots, flipByte, stagingLeftovers } from '../support/repo-files.js';
import { seedSample } from '../support/sample-data.js';

const isRoot = process.getuid?.() === 0;

describe('bad input: clear errors, non-zero exits, no partial snapshot, source untouched', () => {
  let pg: PgCluster;
  let work: string;
  let repo: string;
  let env: Record<string, string>;
  let n = 0;
  const freshRepo = () => join(work, `repo-${++n}`);

  beforeAll(async () => {
    pg = await startPgCluster();
    await seedSample(pg, 'app', 500);
    work = await mkdtemp(join(tmpdir(), 'holdfast-bad-'));
    repo = join(work, 'repo');
    env = { HOLDFAST_REPO: repo, HOLDFAST_DB_PASSWORD: pg.password };
  });
  afterAll(async () => {
    await pg?.stop();
    if (work) await rm(work, { recursive: true, force: true });
  });

  test('an unreachable server: exit 1, names the service and the fix, no snapshot', async () => {
    const port = await freePort();
    const r = await holdfast(['backup', '--service', `db=postgres://postgres@127.0.0.1:${port}/app`], { ...env, HOLDFAST_REPO: freshRepo() });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/\[db\].*cannot reach PostgreSQL at 127\.0\.0\.1:\d+/);
    expect(r.stderr).toMatch(/hint: .*host and port/);
    expect(r.stdout).toMatch(/no snapshot was saved/);
  });

  test('a wrong password: exit 1, says the server refused the user, never prints the password', async () => {
    const target = freshRepo();
    const r = await holdfast(['backup', '--json', '--service', `db=${pg.url('app')}`], { ...env, HOLDFAST_REPO: target, HOLDFAST_DB_PASSWORD: 'wrong-password-123' });
    expect(r.code).toBe(1);
    const doc = r.json<{ snapshot: null; services: Array<{ error: { code: string; message: string; hint: string } }> }>();
    expect(doc.snapshot).toBeNull();
    expect(doc.services[0]!.error.code).toBe('auth');
    expect(doc.services[0]!.error.hint).toContain('HOLDFAST_DB_PASSWORD');
    expect(r.stdout + r.stderr).not.toContain('wrong-password-123');
    expect(await committedSnapshots(target)).toEqual([]);
  });

  test('no password anywhere: says the server asks for one and where holdfast looks', async () => {
    const r = await holdfast(['backup', '--service', `db=${pg.url('app')}`], { HOLDFAST_REPO: freshRepo(), HOLDFAST_DB_PASSWORD: undefined, PGPASSWORD: undefined, PGPASSFILE: '/nonexistent' });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/\[db\].*asks user postgres for a password and none was given/);
    expect(r.stderr).toMatch(/hint: set HOLDFAST_DB_PASSWORD\[_FILE\]/);
  });

  test('a password in a --service URL is refused before anything runs', async () => {
    const r = await holdfast(['backup', '--service', `db=postgres://postgres:${pg.password}@127.0.0.1:${pg.port}/app`], { ...env, HOLDFAST_REPO: freshRepo() });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/password in a URL on the command line/);
    expect(r.stderr).not.toContain(pg.password);
  });

  test('a database that does not exist: exit 1, lists the ones that do', async () => {
    const r = await holdfast(['backup', '--service', `db=${pg.url('nope')}`], { ...env, HOLDFAST_REPO: freshRepo() });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/\[db\].*database "nope" does not exist/);
  });

  test('a repository path that is a file: exit 1, says so', async () => {
    const file = join(work, 'not-a-dir');
    await writeFile(file, 'x');
    const r = await holdfast(['backup', '--repo', file, '--service', `db=${pg.url('app')}`], env);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/repository path .*not-a-dir is not a directory/);
    expect(r.stderr).toMatch(/hint:/);
  });

  test('a repository that cannot be written: exit 1, permission error naming the path', async () => {
    const dir = join(work, 'readonly');
    await mkdir(dir);
    if (isRoot) execFileSync('mount', ['-t', 'tmpfs', '-o', 'ro,size=1m', 'tmpfs', dir]);
    else await chmod(dir, 0o500);
    try {
      const r = await holdfast(['backup', '--repo', join(dir, 'repo'), '--service', `db=${pg.url('app')}`], env);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/cannot create the repository at .*readonly/);
      expect(r.stderr).toMatch(/hint: .*writable/);
    } finally {
      if (isRoot) execFileSync('umount', [dir]);
    }
  });

  test('service names with shell characters are rejected; database names with them are data, never shell', async () => {
    const canary = join(work, 'pwned');
    const bad = await holdfast(['backup', '--service', `db;touch pwned=${pg.url('app')}`], env, { cwd: work });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/invalid service name/);

    // Short enough for PostgreSQL's 63-byte names; holdfast runs in `work`, where `touch pwned` would land.
    const weird = `x"; touch pwned; $(touch pwned) \``;
    await pg.query(`CREATE DATABASE "${weird.replace(/"/g, '""')}"`);
    await pg.query('CREATE TABLE t (v int); INSERT INTO t VALUES (1), (2), (3)', weird);
    try {
      const backup = await holdfast(['backup', '--json', '--service', `db=${pg.url(weird)}`], env, { cwd: work });
      const id = savedSnapshot(backup);
      const files = await readdir(join(repo, 'snapshots', id, 'db'));
      expect(files.every((f) => /^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(f))).toBe(true);
      const restore = await holdfast(['restore', id, '--json', '--target', `db=${pg.url(`${weird} copy`)}`], env, { cwd: work });
      expect(restore.code, restore.stderr).toBe(0);
      expect(await pg.query('SELECT count(*)::int AS n FROM t', `${weird} copy`)).toEqual([{ n: 3 }]);
      expect(existsSync(canary)).toBe(false);
    } finally {
      await pg.query(`DROP DATABASE IF EXISTS "${weird.replace(/"/g, '""')}"`);
    }
  });

  describe('a damaged repository', () => {
    let id: string;
    beforeAll(async () => {
      const backup = await holdfast(['backup', '--json', '--service', `db=${pg.url('app')}`], env);
      id = savedSnapshot(backup);
    });

    test('one flipped byte: verify and restore fail and name the artifact; the target is not created', async () => {
      const dir = join(repo, 'snapshots', id, 'db');
      const dump = (await readdir(dir)).find((f) => f.endsWith('.pgdump'))!;
      await flipByte(join(dir, dump));
      const verify = await holdfast(['verify', id], env);
      expect(verify.code).toBe(1);
      expect(verify.stdout + verify.stderr).toContain(`${id}/db/${dump}`);
      expect(verify.stdout).toMatch(/CORRUPT/);
      const restore = await holdfast(['restore', id, '--target', `db=${pg.url('from_corrupt')}`], env);
      expect(restore.code).toBe(1);
      expect(restore.stderr).toMatch(new RegExp(`\\[db\\].*artifact ${id}/db/${dump.replace('.', '\\.')} is corrupt`));
      expect(await pg.query("SELECT datname FROM pg_database WHERE datname LIKE 'from_corrupt%'")).toEqual([]);
      const check = await holdfast(['check', '--read-data'], env);
      expect(check.code).toBe(1);
    });

    test('a truncated manifest: listed as broken, show and restore fail clearly', async () => {
      await truncate(join(repo, 'snapshots', id, 'manifest.json'), 100);
      const list = await holdfast(['snapshots'], env);
      expect(list.code).toBe(0);
      expect(list.stdout).toMatch(new RegExp(`${id}.*BROKEN`));
      const show = await holdfast(['show', id], env);
      expect(show.code).toBe(1);
      expect(show.stderr).toMatch(/manifest .* is not valid JSON \(truncated or corrupt\)/);
      const restore = await holdfast(['restore', id, '--target', `db=${pg.url('from_truncated')}`], env);
      expect(restore.code).toBe(1);
      const check = await holdfast(['check'], env);
      expect(check.code).toBe(1);
      expect(check.stdout).toContain(id);
    });
  });

  test('a full disk during backup: exit 1, no space error, nothing committed, staging cleaned', { skip: !isRoot }, async () => {
    await pg.query('CREATE DATABASE big');
    await pg.query("CREATE TABLE noise AS SELECT g, md5(random()::text) || md5(random()::text) AS a, md5(random()::text) AS b FROM generate_series(1, 200000) g", 'big');
    const dir = join(work, 'tiny');
    await mkdir(dir);
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=2m', 'tmpfs', dir]);
    try {
      const tiny = join(dir, 'repo');
      const r = await holdfast(['backup', '--service', `db=${pg.url('big')}`], { ...env, HOLDFAST_REPO: tiny });
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/\[db\].*no space left/i);
      expect(r.stderr).toMatch(/hint: free space/);
      expect(await committedSnapshots(tiny)).toEqual([]);
      expect(await stagingLeftovers(tiny)).toEqual([]);
      expect(existsSync(join(tiny, 'lock'))).toBe(false);
    } finally {
      execFileSync('umount', [dir]);
    }
  });

  test('one dead service among two: exit 3, the snapshot keeps the other and records the failure', async () => {
    const port = await freePort();
    const target = freshRepo();
    const r = await holdfast(['backup', '--json', '--service', `db=${pg.url('app')}`, '--service', `gone=postgres://postgres@127.0.0.1:${port}/x`], { ...env, HOLDFAST_REPO: target });
    expect(r.code).toBe(3);
    const doc = r.json<{ snapshot: string; status: string; services: Array<{ service: string; status: string }> }>();
    expect(doc.status).toBe('partial');
    expect(Object.fromEntries(doc.services.map((s) => [s.service, s.status]))).toEqual({ db: 'ok', gone: 'failed' });
    const show = await holdfast(['show', doc.snapshot, '--json'], { ...env, HOLDFAST_REPO: target });
    const manifest = show.json<{ status: string; services: { gone: { status: string; error: { code: string }; artifacts: unknown[] } } }>();
    expect(manifest.status).toBe('partial');
    expect(manifest.services.gone).toMatchObject({ status: 'failed', error: { code: 'connect' }, artifacts: [] });
  });
});
