import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdir, readFile, stat, utimes, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, test } from 'vitest';
import { EXIT, exitCodeFor } from '../../src/core/errors.js';
import { DirRepository } from '../../src/repository/dir-repository.js';
import type { Manifest } from '../../src/repository/manifest.js';
import { isBroken } from '../../src/repository/repository.js';
import { SNAPSHOT_ID } from '../../src/repository/snapshot-id.js';
import { bytes } from './helpers/fake-driver.js';
import { truncateTo } from './helpers/files.js';
import { cleanupTemp, listDir, manifest, serviceRecord, tempDir, tempRepo } from './helpers/temp-repo.js';

afterEach(cleanupTemp);

/** Commits a snapshot with one artifact for service `db`, through the real writer. */
async function commitOne(repo: DirRepository, tags: string[] = []): Promise<string> {
  const writer = await repo.beginSnapshot('backup');
  const record = await writer.sink('db').write('data.zst', bytes('some rows\n'), { kind: 'dump' });
  await writer.commit(manifest(writer.id, { tags, services: { db: serviceRecord({ artifacts: [record] }) } }));
  return writer.id;
}

/** Writes a committed-looking snapshot by hand, for ids and times a test chooses. */
async function placeSnapshot(root: string, m: Manifest): Promise<void> {
  await mkdir(join(root, 'snapshots', m.id), { recursive: true });
  await writeFile(join(root, 'snapshots', m.id, 'manifest.json'), JSON.stringify(m));
}

/** The pid of a process that has exited. */
async function deadPid(): Promise<number> {
  const child = spawn('true');
  await once(child, 'exit');
  return child.pid!;
}

describe('DirRepository: init and open', () => {
  test('init creates the layout; a second init fails', async () => {
    const root = join(await tempDir(), 'repo');
    await new DirRepository(root).init();
    expect(await listDir(root)).toEqual(['config.json', 'snapshots', 'tmp']);
    const config = JSON.parse(await readFile(join(root, 'config.json'), 'utf8')) as Record<string, unknown>;
    expect(config).toMatchObject({ format: 1, compression: { codec: 'zstd' }, encryption: null });
    await expect(new DirRepository(root).init()).rejects.toMatchObject({ code: 'repository', message: expect.stringContaining('already exists') });
  });

  test('open of a missing repository without create: not-found with a hint', async () => {
    const root = join(await tempDir(), 'nothing-here');
    const error = await new DirRepository(root).open({ create: false }).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'not-found', message: expect.stringContaining(root) });
    expect((error as { hint?: string }).hint).toMatch(/holdfast init/);
    await expect(stat(root)).rejects.toMatchObject({ code: 'ENOENT' });
  });

  test('open with create makes a plain repository, and open reads it back', async () => {
    const root = join(await tempDir(), 'auto');
    await new DirRepository(root).open({ create: true });
    const again = new DirRepository(root);
    await again.open({ create: false });
    expect(await again.list()).toEqual([]);
  });

  test('a repository path that is a regular file: a repository error', async () => {
    const file = join(await tempDir(), 'a-file');
    await writeFile(file, 'not a directory');
    await expect(new DirRepository(file).open({ create: true })).rejects.toMatchObject({ code: 'repository', message: expect.stringContaining('not a directory') });
    await expect(new DirRepository(file).init()).rejects.toMatchObject({ code: 'repository' });
  });

  test('a repository of another format version is refused', async () => {
    const { root } = await tempRepo();
    await writeFile(join(root, 'config.json'), JSON.stringify({ format: 99 }));
    await expect(new DirRepository(root).open({ create: false })).rejects.toMatchObject({ code: 'repository', message: expect.stringContaining('format 99') });
  });
});

describe('DirRepository: the writer lock', () => {
  test('a second writer while the first is open: a repository error naming the pid', async () => {
    const { repo } = await tempRepo();
    const first = await repo.beginSnapshot('backup');
    await expect(repo.beginSnapshot('backup')).rejects.toMatchObject({ code: 'repository', message: expect.stringContaining(`pid ${process.pid}`) });
    await first.abort();
    const second = await repo.beginSnapshot('backup');
    await second.abort();
  });

  test('a stale lock of a dead process is taken over, with a note', async () => {
    const { repo, root } = await tempRepo();
    const pid = await deadPid();
    await writeFile(join(root, 'lock'), JSON.stringify({ pid, host: hostname(), since: '2026-01-01T00:00:00.000Z', command: 'backup' }));
    const writer = await repo.beginSnapshot('backup');
    expect(writer.notes.join('\n')).toContain(`took over a stale lock of pid ${pid}`);
    const lock = JSON.parse(await readFile(join(root, 'lock'), 'utf8')) as { pid: number };
    expect(lock.pid).toBe(process.pid);
    await writer.abort();
    expect(await listDir(root)).not.toContain('lock');
  });

  test('an empty lock file (a writer may be writing it) is not stale until the grace period has passed', async () => {
    const { repo, root } = await tempRepo();
    await writeFile(join(root, 'lock'), '');
    await expect(repo.beginSnapshot('backup')).rejects.toMatchObject({ code: 'repository', message: expect.stringContaining('not readable yet') });
    const past = new Date(Date.now() - 60_000);
    await utimes(join(root, 'lock'), past, past);
    const writer = await repo.beginSnapshot('backup');
    expect(writer.notes.join('\n')).toContain('took over a stale lock');
    await writer.abort();
    expect((await listDir(root)).filter((name) => name.startsWith('lock'))).toEqual([]);
  });

  test('lock() is the same lock: a backup blocks forget and forget blocks a backup', async () => {
    const { repo, root } = await tempRepo();
    const backup = await repo.beginSnapshot('backup');
    await expect(repo.lock('forget')).rejects.toMatchObject({ code: 'repository', message: expect.stringMatching(/locked by backup \(pid \d+/) });
    await backup.abort();
    const forget = await repo.lock('forget');
    await expect(repo.beginSnapshot('backup')).rejects.toMatchObject({ message: expect.stringContaining('locked by forget') });
    await forget.release();
    expect(await listDir(root)).not.toContain('lock');
  });

  test('lock() with waitMs waits for the holder to release, or fails after the wait naming it', async () => {
    const { repo } = await tempRepo();
    const backup = await repo.beginSnapshot('backup');
    await expect(repo.lock('forget', { waitMs: 1200 })).rejects.toThrow(/locked by backup .*still locked after waiting 1s/);
    const waiting = repo.lock('forget', { waitMs: 30_000 });
    setTimeout(() => void backup.abort(), 300);
    const forget = await waiting;
    await forget.release();
  });

  test('leftover staging directories are removed by the next writer, with a note', async () => {
    const { repo, root } = await tempRepo();
    const leftover = join(root, 'tmp', '20260101T000000Z-dead');
    await mkdir(join(leftover, 'db'), { recursive: true });
    await writeFile(join(leftover, 'db', 'half.zst'), 'half');
    const writer = await repo.beginSnapshot('backup');
    expect(writer.notes.join('\n')).toContain('removed the unfinished snapshot 20260101T000000Z-dead');
    expect(await listDir(join(root, 'tmp'))).toEqual([writer.id]);
    await writer.abort();
    expect(await listDir(join(root, 'tmp'))).toEqual([]);
  });
});

describe('DirRepository: commit, list, load', () => {
  test('a snapshot becomes visible only when committed', async () => {
    const { repo, root } = await tempRepo();
    const writer = await repo.beginSnapshot('backup');
    expect(writer.id).toMatch(SNAPSHOT_ID);
    const record = await writer.sink('db').write('data.zst', bytes('some rows\n'), { kind: 'dump' });
    expect(await repo.list()).toEqual([]);
    expect(await listDir(join(root, 'snapshots'))).toEqual([]);
    await writer.commit(manifest(writer.id, { services: { db: serviceRecord({ artifacts: [record] }) } }));
    const listed = await repo.list();
    expect(listed.map((e) => e.id)).toEqual([writer.id]);
    expect(await listDir(join(root, 'snapshots', writer.id))).toEqual(['db', 'manifest.json']);
    expect(await listDir(join(root, 'tmp'))).toEqual([]);
    expect(await listDir(root)).not.toContain('lock');
  });

  test('an aborted writer leaves nothing', async () => {
    const { repo, root } = await tempRepo();
    const writer = await repo.beginSnapshot('backup');
    await writer.sink('db').write('data.zst', bytes('x'), { kind: 'dump' });
    await writer.abort();
    expect(await repo.list()).toEqual([]);
    expect(await listDir(join(root, 'tmp'))).toEqual([]);
  });

  test('a truncated manifest: list() shows the snapshot as broken, load() throws integrity', async () => {
    const { repo, root } = await tempRepo();
    const good = await commitOne(repo);
    const damaged = await commitOne(repo);
    await truncateTo(join(root, 'snapshots', damaged, 'manifest.json'), 0.5);
    const listed = await repo.list();
    expect(listed.map((e) => e.id).sort()).toEqual([good, damaged].sort());
    const broken = listed.find((e) => e.id === damaged)!;
    expect(isBroken(broken)).toBe(true);
    expect(isBroken(broken) && broken.broken).toMatch(/not valid JSON/);
    expect(isBroken(listed.find((e) => e.id === good)!)).toBe(false);
    await expect(repo.load(damaged)).rejects.toMatchObject({ code: 'integrity' });
  });

  test('load() of an unknown or malformed id: not-found', async () => {
    const { repo } = await tempRepo();
    await expect(repo.load('20260101T000000Z-abcd')).rejects.toMatchObject({ code: 'not-found' });
    await expect(repo.load('../../etc')).rejects.toMatchObject({ code: 'not-found' });
  });

  test('remove() takes a snapshot out of the list and off the disk', async () => {
    const { repo, root } = await tempRepo();
    const keep = await commitOne(repo);
    const doomed = await commitOne(repo);
    await repo.remove(doomed);
    expect((await repo.list()).map((e) => e.id)).toEqual([keep]);
    expect(await listDir(join(root, 'snapshots'))).toEqual([keep]);
    expect(await listDir(join(root, 'tmp'))).toEqual([]);
  });

  test('remove() of a snapshot that does not exist: not-found', async () => {
    const { repo } = await tempRepo();
    await expect(repo.remove('not-an-id')).rejects.toMatchObject({ code: 'not-found' });
    await expect(repo.remove('20260101T000000Z-abcd')).rejects.toMatchObject({ code: 'not-found' });
  });
});

describe('DirRepository: resolve', () => {
  const A = '20260101T100000Z-1a2b';
  const B = '20260102T100000Z-3c4d';
  const C = '20260102T110000Z-5e6f';

  async function threeSnapshots() {
    const { repo, root } = await tempRepo();
    await placeSnapshot(root, manifest(A, { createdAt: '2026-01-01T10:00:00.000Z', tags: ['weekly'] }));
    await placeSnapshot(root, manifest(B, { createdAt: '2026-01-02T10:00:00.000Z', tags: ['weekly', 'pre-upgrade'] }));
    await placeSnapshot(root, manifest(C, { createdAt: '2026-01-02T11:00:00.000Z' }));
    return repo;
  }

  test('an exact id', async () => {
    const repo = await threeSnapshots();
    expect(await repo.resolve(B)).toBe(B);
  });

  test('a unique prefix', async () => {
    const repo = await threeSnapshots();
    expect(await repo.resolve('20260101')).toBe(A);
    expect(await repo.resolve('20260102T11')).toBe(C);
  });

  test('an ambiguous prefix fails as an unknown reference does (exit 1), naming the candidates', async () => {
    const repo = await threeSnapshots();
    const ambiguous = await repo.resolve('20260102').catch((e: unknown) => e);
    const unknown = await repo.resolve('no-such-tag').catch((e: unknown) => e);
    expect(ambiguous).toMatchObject({ code: 'not-found', message: expect.stringContaining(`2 snapshots (${B}, ${C})`), hint: 'type more of the id' });
    expect(unknown).toMatchObject({ code: 'not-found' });
    expect([exitCodeFor(ambiguous), exitCodeFor(unknown)]).toEqual([EXIT.failed, EXIT.failed]);
  });

  test('latest: the newest snapshot', async () => {
    const repo = await threeSnapshots();
    expect(await repo.resolve('latest')).toBe(C);
  });

  test('a tag: the newest snapshot carrying it', async () => {
    const repo = await threeSnapshots();
    expect(await repo.resolve('weekly')).toBe(B);
    expect(await repo.resolve('pre-upgrade')).toBe(B);
  });

  test('unknown: not-found; latest of an empty repository: not-found', async () => {
    const repo = await threeSnapshots();
    await expect(repo.resolve('nightly')).rejects.toMatchObject({ code: 'not-found' });
    const { repo: empty } = await tempRepo();
    await expect(empty.resolve('latest')).rejects.toMatchObject({ code: 'not-found' });
  });

  test('real snapshots through the writer resolve by id, tag and latest', async () => {
    const { repo } = await tempRepo();
    const tagged = await commitOne(repo, ['pre-upgrade']);
    expect(await repo.resolve('pre-upgrade')).toBe(tagged);
    expect(await repo.resolve(tagged)).toBe(tagged);
    expect(await repo.resolve('latest')).toBe(tagged);
  });

  test('two snapshots taken within one second: latest is the one created last', async () => {
    // Both ids are what newSnapshotId() gives within one second: the same time
    // stamp and a random suffix. The second backup drew the smaller suffix.
    const { repo, root } = await tempRepo();
    await placeSnapshot(root, manifest('20260105T120000Z-f00d', { createdAt: '2026-01-05T12:00:00.100Z', finishedAt: '2026-01-05T12:00:00.400Z' }));
    await placeSnapshot(root, manifest('20260105T120000Z-0a0a', { createdAt: '2026-01-05T12:00:00.500Z', finishedAt: '2026-01-05T12:00:00.900Z', tags: ['pre-upgrade'] }));
    expect((await repo.list()).map((e) => e.id), 'list() is documented as oldest first').toEqual(['20260105T120000Z-f00d', '20260105T120000Z-0a0a']);
    expect(await repo.resolve('latest')).toBe('20260105T120000Z-0a0a');
  });
});
