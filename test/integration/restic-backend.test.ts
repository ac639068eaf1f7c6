import { createHash, randomBytes } from 'node:crypto';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { runTool } from '../../src/core/process.js';
import { waitFor } from '../../src/core/wait.js';
import type { ArtifactRecord } from '../../src/repository/manifest.js';
import { ResticRepository } from '../../src/repository/restic-repository.js';
import { holdfast } from '../support/cli.js';
import { startPgCluster, type PgCluster } from '../support/pg-cluster.js';
import { resticFixture, withEnv, type ResticFixture } from '../support/restic.js';
import { seedSample } from '../support/sample-data.js';
import { manifest, serviceRecord } from '../unit/helpers/temp-repo.js';

/** A command that writes `mb` MiB of data and then exits with `code`. */
function producer(mb: number, code: number) {
  const script = `const b=Buffer.alloc(1<<20,7);let i=0;(function w(){while(i<${mb}){i++;if(!process.stdout.write(b)){process.stdout.once('drain',w);return}}process.stdout.end(()=>process.exit(${code}))})()`;
  return { command: process.execPath, args: ['-e', script] };
}

describe('restic backend: a dump that fails late never becomes a restic snapshot', () => {
  let fx: ResticFixture;
  beforeAll(async () => {
    fx = await resticFixture();
  });
  afterAll(() => fx?.cleanup());

  test('exit 3 after 24 MiB: restic is killed before its input ends, nothing is saved; exit 0 is sealed and reads back', async () => {
    await withEnv(fx.env, async () => {
      const repo = new ResticRepository(fx.repo);
      await repo.open({ create: false });
      const writer = await repo.beginSnapshot('test');
      const sink = writer.sink('svc');
      const failed = await sink.writeCommand('late.dump', producer(24, 3), { kind: 'test' });
      expect(failed.exit.code).toBe(3);
      expect(await fx.snapshots()).toEqual([]);

      const good = await sink.writeCommand('good.dump', producer(3, 0), { kind: 'test' });
      expect(good.exit.code).toBe(0);
      expect(good.record).toMatchObject({ compression: 'none', storedBytes: 3 << 20, rawBytes: 3 << 20 });
      expect(good.record.sha256).toBe(createHash('sha256').update(Buffer.alloc(3 << 20, 7)).digest('hex'));
      const stored = await fx.snapshots();
      expect(stored).toHaveLength(1);
      expect(stored[0]!.tags).toContain('holdfast-artifact');
      // Not committed: not listed.
      expect(await repo.list()).toEqual([]);
      await writer.abort();
      expect(await fx.snapshots()).toEqual([]);
    });
  });

  test('a source stream that errors half-way is not saved either', async () => {
    await withEnv(fx.env, async () => {
      const repo = new ResticRepository(fx.repo);
      await repo.open({ create: false });
      const writer = await repo.beginSnapshot('test');
      const source = Readable.from(
        (async function* () {
          for (let i = 0; i < 8; i++) yield randomBytes(1 << 20);
          throw new Error('source broke');
        })(),
      );
      await expect(writer.sink('svc').write('broken.bin', source, { kind: 'test' })).rejects.toThrow(/source broke/);
      expect(await fx.snapshots()).toEqual([]);
      await writer.abort();
    });
  });
});

describe('restic backend: import, export, annotations, remove', () => {
  let fx: ResticFixture;
  beforeAll(async () => {
    fx = await resticFixture();
  });
  afterAll(() => fx?.cleanup());

  test('putStored of a zstd record with a given id, read back decompressed and as stored; annotations replace; remove leaves nothing', async () => {
    await withEnv(fx.env, async () => {
      const raw = Buffer.from('COPY data FROM stdin;\n'.repeat(200_000));
      const zstd = runTool('zstd', ['-q', '-c', '-3'], { stdin: 'pipe' });
      zstd.stdin!.end(raw);
      const compressed = Buffer.concat(await zstd.stdout!.toArray());
      expect((await zstd.done).code).toBe(0);
      const record: ArtifactRecord = { name: 'app.pgdump', kind: 'pg_dump', compression: 'zstd', sha256: createHash('sha256').update(compressed).digest('hex'), storedBytes: compressed.length, rawBytes: raw.length };
      const id = '20261130T120000Z-beef';
      const repo = new ResticRepository(fx.repo);
      await repo.open({ create: false });

      const bad = await repo.beginSnapshot('import', { id });
      await expect(bad.putStored('db', { ...record, sha256: '0'.repeat(64) }, Readable.from([compressed]))).rejects.toThrow(/corrupt/);
      await bad.abort();
      expect(await fx.snapshots()).toEqual([]);

      const writer = await repo.beginSnapshot('import', { id });
      await writer.putStored('db', record, Readable.from([compressed]));
      await writer.commit(manifest(id, { tags: ['imported'], services: { db: serviceRecord({ engine: 'postgres', driver: 'postgres', strategy: 'pg_dump', artifacts: [record] }) } }));
      await expect(repo.beginSnapshot('import', { id })).rejects.toThrow(/already in the repository/);

      expect((await repo.list()).map((m) => m.id)).toEqual([id]);
      expect(await repo.storedSize(id, 'db', record)).toBe(compressed.length);
      await repo.verifyArtifact(id, 'db', record);
      expect(Buffer.concat(await repo.openStored(id, 'db', record).toArray()).equals(compressed)).toBe(true);
      const source = repo.artifacts(id, 'db', [record]);
      expect(Buffer.concat(await source.open('app.pgdump').toArray()).equals(raw)).toBe(true);
      const counted = await source.pipeToCommand('app.pgdump', { command: 'wc', args: ['-c'], stdout: 'pipe' });
      expect(counted.code).toBe(0);

      await repo.annotate(id, 'restore-test', { passed: false });
      await repo.annotate(id, 'restore-test', { passed: true });
      expect(await repo.annotations(id)).toEqual({ 'restore-test': { passed: true } });

      await repo.remove(id);
      expect(await repo.list()).toEqual([]);
      await expect(repo.load(id)).rejects.toThrow(/no snapshot/);
      expect(await fx.snapshots()).toEqual([]);
    });
  });
});

describe('restic backend through the CLI: a locked repository, passwords', () => {
  let fx: ResticFixture;
  let pg: PgCluster;
  let env: Record<string, string>;
  const repoArg = () => `restic:${fx.repo}`;

  beforeAll(async () => {
    pg = await startPgCluster();
    await seedSample(pg, 'app');
    fx = await resticFixture();
    env = { ...fx.env, HOLDFAST_DB_PASSWORD: pg.password };
  });
  afterAll(async () => {
    await fx?.cleanup();
    await pg?.stop();
  });

  test('without a password: a clear configuration error, exit 2', async () => {
    const result = await holdfast(['--repo', repoArg(), 'snapshots'], { RESTIC_PASSWORD_FILE: '', RESTIC_PASSWORD: undefined, XDG_CACHE_HOME: fx.env.XDG_CACHE_HOME! });
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/RESTIC_PASSWORD/);
  });

  test('a wrong password: restic refused it, said so, and nothing was written', async () => {
    const result = await holdfast(['--repo', repoArg(), 'backup', '--service', `db=${pg.url('app')}`], { ...env, RESTIC_PASSWORD_FILE: '', RESTIC_PASSWORD: 'not-the-password' });
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/restic refused the password/);
    expect(result.stderr).not.toContain('not-the-password');
    expect(await fx.snapshots()).toEqual([]);
  });

  test('locked by a running restic: names the holder, no dump, nothing listed; once its process is gone the stale lock is removed', async () => {
    // Something for `restic check --read-data` to read slowly (1 KiB/s): it holds an exclusive lock meanwhile.
    const feeder = runTool('restic', ['backup', '--stdin', '--stdin-filename', 'filler', '--quiet'], { env: { ...fx.env, RESTIC_REPOSITORY: fx.repo }, stdin: 'pipe' });
    feeder.stdin!.end(randomBytes(2 << 20));
    expect((await feeder.done).code).toBe(0);
    const holder = runTool('restic', ['check', '--read-data', '--limit-download', '1'], { env: { ...fx.env, RESTIC_REPOSITORY: fx.repo } });
    try {
      await waitFor('restic check to take its lock', async () => ((await readdir(join(fx.repo, 'locks'))).length > 0 ? true : undefined), { timeoutMs: 60_000, intervalMs: 50 });
      const locked = await holdfast(['--repo', repoArg(), 'backup', '--service', `db=${pg.url('app')}`], env);
      expect(locked.code).toBe(1);
      expect(locked.stderr).toMatch(new RegExp(`locked exclusively by PID ${holder.child.pid} \\(.*restic check --read-data`));
      expect(locked.stderr).toMatch(/wait until that restic command/);
      expect(locked.stderr).not.toContain('pg_dump');
    } finally {
      holder.child.kill('SIGKILL');
      await holder.done;
    }
    // The lock file stays behind, its process gone: stale by restic's rule, so holdfast unlocks and goes on.
    expect((await readdir(join(fx.repo, 'locks'))).length).toBeGreaterThan(0);
    const backup = await holdfast(['--repo', repoArg(), 'backup', '--json', '--service', `db=${pg.url('app')}`], env);
    expect(backup.code, backup.stderr).toBe(0);
    expect(JSON.stringify(backup.json())).toMatch(new RegExp(`removed a stale restic lock of PID ${holder.child.pid}`));
    const after = await holdfast(['--repo', repoArg(), 'snapshots', '--json'], env);
    expect(after.code, after.stderr).toBe(0);
    expect(after.json<{ snapshots: Array<{ id: string }> }>().snapshots.map((s) => s.id)).toEqual([backup.json<{ snapshot: string }>().snapshot]);
  });

  test('check after a killed restic backup: its stale lock is removed, not reported as a held one', async () => {
    // A restic backup killed mid-stream (as holdfast's own restic is after a kill -9) leaves its lock file.
    const killed = runTool('restic', ['backup', '--stdin', '--stdin-filename', 'cut', '--quiet'], { env: { ...fx.env, RESTIC_REPOSITORY: fx.repo }, stdin: 'pipe' });
    killed.stdin!.write(randomBytes(1 << 20));
    await waitFor('restic backup to take its lock', async () => ((await resticLocks(fx.repo)).length > 0 ? true : undefined), { timeoutMs: 60_000, intervalMs: 50 });
    killed.child.kill('SIGKILL');
    await killed.done.catch(() => undefined);
    expect((await resticLocks(fx.repo)).length).toBeGreaterThan(0);
    const check = await holdfast(['--repo', repoArg(), 'check', '--json'], env);
    expect(check.code, check.stderr + check.stdout).toBe(0);
    expect(await resticLocks(fx.repo)).toEqual([]);
  });
});

/** restic's lock files; a `*-tmp-*` file is one a killed restic was still writing, not a lock. */
async function resticLocks(repo: string): Promise<string[]> {
  return (await readdir(join(repo, 'locks'))).filter((name) => !name.includes('-tmp-'));
}
