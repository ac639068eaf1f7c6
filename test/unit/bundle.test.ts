import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, test } from 'vitest';
import { exportBundleFile } from '../../src/repository/bundle-export.js';
import { importBundle } from '../../src/repository/bundle-import.js';
import { tarEnd, tarHeader, TarReader } from '../../src/repository/bundle-tar.js';
import type { DirRepository } from '../../src/repository/dir-repository.js';
import { bytes } from './helpers/fake-driver.js';
import { flipByte } from './helpers/files.js';
import { cleanupTemp, listDir, manifest, serviceRecord, tempDir, tempRepo } from './helpers/temp-repo.js';

afterEach(cleanupTemp);

// Incompressible, so that the artifact is most of the bundle.
const DUMP = randomBytes(150_000).toString('hex');

/** A snapshot of two services (one with two artifacts, one failed with none) and an annotation. */
async function snapshot(repo: DirRepository): Promise<string> {
  const writer = await repo.beginSnapshot('backup');
  const db = writer.sink('db');
  const a = await db.write('app.pgdump', bytes(DUMP), { kind: 'pg_dump', label: 'app' });
  const g = await db.write('globals.sql', bytes('CREATE ROLE app;\n'), { kind: 'globals' });
  const v = await writer.sink('files').write('files.tar', bytes(Buffer.alloc(3000, 7)), { kind: 'tar' });
  await writer.commit(
    manifest(writer.id, {
      tags: ['pre-move'],
      services: {
        db: serviceRecord({ artifacts: [a, g] }),
        files: serviceRecord({ artifacts: [v] }),
        broken: serviceRecord({ status: 'failed', error: { code: 'connect', message: 'down' } }),
      },
    }),
  );
  await repo.annotate(writer.id, 'restore-test', { at: '2026-11-30T10:00:00.000Z', passed: true, services: { db: { verdict: 'ok' } } });
  return writer.id;
}

async function exported(): Promise<{ source: DirRepository; id: string; file: string; summary: Awaited<ReturnType<typeof exportBundleFile>> }> {
  const { repo: source } = await tempRepo();
  const id = await snapshot(source);
  const file = join(await tempDir(), 'stack.hfb');
  const summary = await exportBundleFile(source, id, file);
  return { source, id, file, summary };
}

async function importFile(repo: DirRepository, file: string) {
  return importBundle(repo, createReadStream(file));
}

/** Nothing of a failed import is left: no snapshot, no staging, the lock free. */
async function expectUntouched(repo: DirRepository, root: string): Promise<void> {
  expect(await repo.list()).toEqual([]);
  expect(await listDir(join(root, 'tmp'))).toEqual([]);
  expect(await listDir(join(root, 'snapshots'))).toEqual([]);
  const writer = await repo.beginSnapshot('probe');
  await writer.abort();
}

/** Replaces the first occurrence of `from` in the file with `to` (same length). */
async function patch(file: string, from: string, to: string, occurrence = 0): Promise<void> {
  const data = await readFile(file);
  let at = -1;
  for (let i = 0; i <= occurrence; i++) at = data.indexOf(from, at + 1);
  expect(at, `${from} in the bundle`).toBeGreaterThanOrEqual(0);
  Buffer.from(to).copy(data, at);
  await writeFile(file, data);
}

describe('export and import of a bundle', () => {
  test('round trip: same id, manifest, artifacts and annotations; the summary hash is the file hash; tar lists it', async () => {
    const { source, id, file, summary } = await exported();
    const data = await readFile(file);
    expect(summary).toMatchObject({ snapshot: id, artifacts: 3, bytes: data.length, sha256: createHash('sha256').update(data).digest('hex') });
    expect(await stat(`${file}.partial`).catch(() => 'gone')).toBe('gone');
    const listing = execFileSync('tar', ['-tf', file], { encoding: 'utf8' }).trim().split('\n');
    expect(listing).toEqual(['holdfast-bundle.json', 'manifest.json', 'annotations.json', 'artifacts/db/app.pgdump', 'artifacts/db/globals.sql', 'artifacts/files/files.tar']);

    const { repo: target } = await tempRepo();
    const result = await importFile(target, file);
    expect(result).toMatchObject({ snapshot: id, status: 'imported', services: ['db', 'files', 'broken'], artifacts: 3, bytes: data.length, sha256: summary.sha256 });
    expect(await target.load(id)).toEqual(await source.load(id));
    expect(await target.resolve('pre-move')).toBe(id);
    expect(await target.annotations(id)).toEqual(await source.annotations(id));
    const m = await target.load(id);
    for (const [service, s] of Object.entries(m.services)) for (const r of s.artifacts) await target.verifyArtifact(id, service, r);
    const restored: Buffer[] = [];
    for await (const c of target.artifacts(id, 'db', m.services.db!.artifacts).open('app.pgdump')) restored.push(c as Buffer);
    expect(Buffer.concat(restored).toString()).toBe(DUMP);
  });

  test('importing the same snapshot twice says so and writes nothing', async () => {
    const { id, file } = await exported();
    const { repo: target, root } = await tempRepo();
    await importFile(target, file);
    const before = await listDir(join(root, 'snapshots', id, 'db'));
    const again = await importFile(target, file);
    expect(again).toMatchObject({ snapshot: id, status: 'present' });
    expect(await listDir(join(root, 'snapshots', id, 'db'))).toEqual(before);
    expect((await target.list()).length).toBe(1);
  });

  test('a different snapshot under an id the repository already holds is refused', async () => {
    const { id, file } = await exported();
    const { repo: target } = await tempRepo();
    const writer = await target.beginSnapshot('backup', { id });
    await writer.commit(manifest(id, { services: {} }));
    await expect(importFile(target, file)).rejects.toMatchObject({ code: 'repository', message: expect.stringContaining(`already holds a different snapshot with the id ${id}`) });
  });

  test('one flipped byte inside an artifact: integrity error naming it, nothing listed', async () => {
    const { file } = await exported();
    const data = await readFile(file);
    // Inside the data of artifacts/files/files.tar: its header block, then its bytes.
    await flipByte(file, data.indexOf('artifacts/files/files.tar') + 512 + 5);
    const { repo: target, root } = await tempRepo();
    const error = await importFile(target, file).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'integrity', message: expect.stringMatching(/^bundle part artifacts\/files\/files\.tar: .*sha256/) });
    expect((error as { hint: string }).hint).toContain('export the snapshot again');
    await expectUntouched(target, root);
  });

  test('a tampered manifest (a changed tag) fails its header digest', async () => {
    const { file } = await exported();
    await patch(file, '"pre-move"', '"pre-mov3"');
    const { repo: target, root } = await tempRepo();
    await expect(importFile(target, file)).rejects.toMatchObject({ code: 'integrity', message: expect.stringMatching(/^bundle part manifest\.json: its sha256 \w+ differs from the header's/) });
    await expectUntouched(target, root);
  });

  test('tampered annotations fail their digest', async () => {
    const { file } = await exported();
    await patch(file, '"passed": true', '"passed": fals');
    const { repo: target, root } = await tempRepo();
    await expect(importFile(target, file)).rejects.toMatchObject({ code: 'integrity', message: expect.stringContaining('bundle part annotations.json') });
    await expectUntouched(target, root);
  });

  test('a tampered tar header (its checksum no longer matches) is named', async () => {
    const { file } = await exported();
    await patch(file, 'artifacts/db/globals.sql', 'artifacts/db/globals.sqL');
    const { repo: target, root } = await tempRepo();
    await expect(importFile(target, file)).rejects.toMatchObject({ code: 'integrity', message: expect.stringMatching(/^bundle part artifacts\/db\/globals\.sql: an entry header has a bad checksum/) });
    await expectUntouched(target, root);
  });

  test.each([
    ['inside the header', 300, 'holdfast-bundle.json'],
    ['inside the manifest', 1700, 'manifest.json'],
    ['inside an artifact', 0.5, 'artifacts/db/app.pgdump'],
    ['before the end marker', -1024, 'end of the bundle'],
  ])('truncated %s: integrity error naming the part, nothing listed', async (_where, cut, part) => {
    const { file } = await exported();
    const data = await readFile(file);
    const at = cut < 1 && cut > 0 ? Math.floor(data.length * cut) : cut < 0 ? data.length + cut : cut;
    await writeFile(file, data.subarray(0, at));
    const { repo: target, root } = await tempRepo();
    const error = await importFile(target, file).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'integrity', message: expect.stringContaining(`bundle part ${part}: the bundle is truncated`) });
    await expectUntouched(target, root);
  });

  test('an entry appended after the last artifact is refused', async () => {
    const { file } = await exported();
    const data = await readFile(file);
    const extra = Buffer.concat([tarHeader('artifacts/db/extra', 3), Buffer.from('bad'), Buffer.alloc(509), tarEnd()]);
    await writeFile(file, Buffer.concat([data.subarray(0, data.length - 1024), extra]));
    const { repo: target, root } = await tempRepo();
    await expect(importFile(target, file)).rejects.toMatchObject({ code: 'integrity', message: 'bundle part artifacts/db/extra: an entry the manifest does not list' });
    await expectUntouched(target, root);
  });

  test('a file that is not a bundle: a plain tar, random bytes, an empty file', async () => {
    const dir = await tempDir();
    await writeFile(join(dir, 'hello'), 'hi');
    execFileSync('tar', ['-cf', join(dir, 'plain.tar'), '-C', dir, 'hello']);
    await writeFile(join(dir, 'random'), Buffer.alloc(4096, 0x5a));
    await writeFile(join(dir, 'empty'), '');
    const { repo: target, root } = await tempRepo();
    await expect(importFile(target, join(dir, 'plain.tar'))).rejects.toMatchObject({ code: 'integrity', message: expect.stringContaining('this is not a holdfast bundle: its first entry is "hello"') });
    await expect(importFile(target, join(dir, 'random'))).rejects.toMatchObject({ code: 'integrity', message: expect.stringContaining('this is not a holdfast bundle (an entry header has a bad checksum') });
    await expect(importFile(target, join(dir, 'empty'))).rejects.toMatchObject({ code: 'integrity', message: expect.stringContaining('truncated') });
    await expectUntouched(target, root);
  });

  test('export of a snapshot with a damaged artifact fails and leaves neither FILE nor FILE.partial', async () => {
    const { repo: source, root } = await tempRepo();
    const id = await snapshot(source);
    await flipByte(join(root, 'snapshots', id, 'db', 'globals.sql'));
    const dir = await tempDir();
    await expect(exportBundleFile(source, id, join(dir, 'out.hfb'))).rejects.toMatchObject({ code: 'integrity', message: expect.stringContaining(`${id}/db/globals.sql is corrupt`) });
    expect(await listDir(dir)).toEqual([]);
  });

  test('export refuses to replace a file unless forced; into a missing directory: a usage error', async () => {
    const { source, id, file } = await exported();
    await expect(exportBundleFile(source, id, file)).rejects.toMatchObject({ code: 'usage', message: `${file} exists` });
    await expect(exportBundleFile(source, id, file, { force: true })).resolves.toMatchObject({ snapshot: id });
    await expect(exportBundleFile(source, id, join(file, 'nope', 'x.hfb'))).rejects.toMatchObject({ code: 'usage' });
  });
});

describe('bundle tar framing', () => {
  test('sizes beyond ustar octal (8 GiB) use base-256 and read back', async () => {
    const big = 9 * 1024 ** 3 + 5;
    const header = tarHeader('artifacts/db/huge.pgdump', big);
    expect(header[124]).toBe(0x80);
    const reader = new TarReader((async function* () {
      yield header;
    })());
    expect(await reader.next()).toEqual({ path: 'artifacts/db/huge.pgdump', size: big });
  });

  test('a long path is split into ustar prefix and name', async () => {
    const path = `artifacts/${'s'.repeat(63)}/${'a'.repeat(90)}.pgdump`;
    const reader = new TarReader((async function* () {
      yield tarHeader(path, 0);
      yield tarEnd();
    })());
    expect(await reader.next()).toEqual({ path, size: 0 });
    expect(await reader.next()).toBeUndefined();
  });
});
