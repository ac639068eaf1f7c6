import { createHash } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterEach, describe, expect, test } from 'vitest';
import type { DirRepository } from '../../src/repository/dir-repository.js';
import type { ArtifactRecord } from '../../src/repository/manifest.js';
import { bytes } from './helpers/fake-driver.js';
import { flipByte, truncateTo } from './helpers/files.js';
import { cleanupTemp, listDir, manifest, serviceRecord, tempRepo } from './helpers/temp-repo.js';

afterEach(cleanupTemp);

async function drain(stream: Readable): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const chunk of stream) parts.push(chunk as Buffer);
  return Buffer.concat(parts);
}

/** A committed snapshot with two artifacts for `db`, written through the real writer. */
async function committed(repo: DirRepository): Promise<{ id: string; records: ArtifactRecord[] }> {
  const writer = await repo.beginSnapshot('backup');
  const sink = writer.sink('db');
  const records = [await sink.write('a.zst', bytes('alpha '.repeat(5000)), { kind: 'dump', label: 'a' }), await sink.write('b.zst', bytes('beta\n'), { kind: 'globals' })];
  await writer.commit(manifest(writer.id, { services: { db: serviceRecord({ artifacts: records }) } }));
  return { id: writer.id, records };
}

function recordOf(data: Buffer, name = 'x.zst'): ArtifactRecord {
  return { name, kind: 'dump', compression: 'zstd', sha256: createHash('sha256').update(data).digest('hex'), storedBytes: data.length, rawBytes: 1 };
}

describe('Repository.openStored', () => {
  test('gives the stored (compressed) bytes as the manifest describes them', async () => {
    const { repo, root } = await tempRepo();
    const { id, records } = await committed(repo);
    for (const r of records) {
      const data = await drain(repo.openStored(id, 'db', r));
      expect(data).toEqual(await readFile(join(root, 'snapshots', id, 'db', r.name)));
      expect(data.length).toBe(r.storedBytes);
      expect(createHash('sha256').update(data).digest('hex')).toBe(r.sha256);
      // zstd frame magic: the bytes are compressed, not the raw dump
      expect(data.subarray(0, 4)).toEqual(Buffer.from([0x28, 0xb5, 0x2f, 0xfd]));
    }
  });

  test('a flipped byte: the stream errors with integrity naming the artifact', async () => {
    const { repo, root } = await tempRepo();
    const { id, records } = await committed(repo);
    await flipByte(join(root, 'snapshots', id, 'db', 'a.zst'));
    await expect(drain(repo.openStored(id, 'db', records[0]!))).rejects.toMatchObject({ code: 'integrity', message: expect.stringMatching(new RegExp(`${id}/db/a.zst is corrupt: sha256`)) });
  });

  test('a truncated file errors on its size; a missing one says it is missing', async () => {
    const { repo, root } = await tempRepo();
    const { id, records } = await committed(repo);
    await truncateTo(join(root, 'snapshots', id, 'db', 'a.zst'), 0.5);
    await expect(drain(repo.openStored(id, 'db', records[0]!))).rejects.toMatchObject({ code: 'integrity', message: expect.stringContaining('the manifest says') });
    await expect(drain(repo.openStored(id, 'db', { ...records[1]!, name: 'gone.zst' }))).rejects.toMatchObject({ code: 'integrity', message: expect.stringContaining('missing') });
  });
});

describe('SnapshotWriter.putStored', () => {
  test('stores the bytes as they are; the committed artifact reads back and verifies', async () => {
    const { repo: source } = await tempRepo();
    const { id, records } = await committed(source);
    const { repo } = await tempRepo();
    const writer = await repo.beginSnapshot('import', { id });
    expect(writer.id).toBe(id);
    for (const r of records) await writer.putStored('db', r, source.openStored(id, 'db', r));
    await writer.commit(await source.load(id));
    expect((await repo.list()).map((m) => m.id)).toEqual([id]);
    for (const r of records) await repo.verifyArtifact(id, 'db', r);
    expect(await drain(repo.artifacts(id, 'db', records).open('a.zst'))).toEqual(Buffer.from('alpha '.repeat(5000)));
  });

  test('bytes that do not match the record: integrity error, no file kept, the snapshot can still be aborted cleanly', async () => {
    const { repo, root } = await tempRepo();
    const good = Buffer.from('stored bytes');
    const writer = await repo.beginSnapshot('import');
    await expect(writer.putStored('db', recordOf(good), bytes('stored bytez'))).rejects.toMatchObject({ code: 'integrity', message: expect.stringContaining('sha256') });
    await expect(writer.putStored('db', recordOf(good), bytes('stored'))).rejects.toMatchObject({ code: 'integrity', message: expect.stringContaining('6 bytes stored, the manifest says 12') });
    expect(await listDir(join(root, 'tmp', writer.id, 'db'))).toEqual([]);
    await writer.abort();
    expect(await listDir(join(root, 'snapshots'))).toEqual([]);
    expect(await listDir(join(root, 'tmp'))).toEqual([]);
  });

  test('a source that fails midway: its error, no file kept', async () => {
    const { repo, root } = await tempRepo();
    const writer = await repo.beginSnapshot('import');
    const failing = new Readable({
      read() {
        this.push(Buffer.from('part'));
        this.destroy(new Error('cable pulled'));
      },
    });
    await expect(writer.putStored('db', recordOf(Buffer.from('partial')), failing)).rejects.toThrow('cable pulled');
    expect(await listDir(join(root, 'tmp', writer.id, 'db'))).toEqual([]);
    await writer.abort();
  });

  test('unsafe artifact or service names from a bundle are refused before anything is written', async () => {
    const { repo, root } = await tempRepo();
    const writer = await repo.beginSnapshot('import');
    const data = Buffer.from('x');
    await expect(writer.putStored('db', recordOf(data, '../escape'), bytes(data))).rejects.toMatchObject({ code: 'integrity', message: expect.stringContaining('unsafe artifact name') });
    await expect(writer.putStored('../db', recordOf(data), bytes(data))).rejects.toMatchObject({ code: 'integrity', message: expect.stringContaining('unsafe service name') });
    await expect(writer.putStored('a/b', recordOf(data), bytes(data))).rejects.toMatchObject({ code: 'integrity' });
    await writer.abort();
    expect(await listDir(root)).toEqual(['config.json', 'snapshots', 'tmp']);
  });
});

describe('beginSnapshot with a given id', () => {
  test('an id that exists is refused; an invalid one too', async () => {
    const { repo } = await tempRepo();
    const { id } = await committed(repo);
    await expect(repo.beginSnapshot('import', { id })).rejects.toMatchObject({ code: 'repository', message: expect.stringContaining(`snapshot ${id} is already in the repository`) });
    await expect(repo.beginSnapshot('import', { id: '../../etc' })).rejects.toMatchObject({ code: 'integrity' });
    // The lock was released both times.
    const writer = await repo.beginSnapshot('backup');
    await writer.abort();
  });
});

describe('Repository.annotate / annotations', () => {
  test('records sit beside the snapshot, which stays unchanged; writing a kind again replaces it', async () => {
    const { repo, root } = await tempRepo();
    const { id } = await committed(repo);
    const before = await readFile(join(root, 'snapshots', id, 'manifest.json'), 'utf8');
    expect(await repo.annotations(id)).toEqual({});
    const verdict = { at: '2026-11-30T12:00:00.000Z', passed: true, services: { db: { verdict: 'ok' } } };
    await repo.annotate(id, 'restore-test', verdict);
    await repo.annotate(id, 'note', 'hello');
    expect(await repo.annotations(id)).toEqual({ note: 'hello', 'restore-test': verdict });
    await repo.annotate(id, 'restore-test', { ...verdict, passed: false });
    expect((await repo.annotations(id))['restore-test']).toMatchObject({ passed: false });
    expect(await readFile(join(root, 'snapshots', id, 'manifest.json'), 'utf8')).toBe(before);
    expect(await listDir(join(root, 'snapshots', id))).toEqual(['db', 'manifest.json']);
  });

  test('annotating a snapshot that does not exist: not-found; an invalid kind is refused', async () => {
    const { repo } = await tempRepo();
    const { id } = await committed(repo);
    await expect(repo.annotate('20260101T000000Z-abcd', 'note', 1)).rejects.toMatchObject({ code: 'not-found' });
    await expect(repo.annotate(id, '../x', 1)).rejects.toThrow('invalid annotation kind');
    await expect(repo.annotate(id, 'Upper', 1)).rejects.toThrow('invalid annotation kind');
  });

  test('a damaged annotation reads as absent; remove() takes annotations away with the snapshot', async () => {
    const { repo, root } = await tempRepo();
    const { id } = await committed(repo);
    await repo.annotate(id, 'good', { ok: 1 });
    await repo.annotate(id, 'bad', { ok: 2 });
    await writeFile(join(root, 'annotations', id, 'bad.json'), '{"ok":');
    expect(await repo.annotations(id)).toEqual({ good: { ok: 1 } });
    await repo.remove(id);
    expect(await listDir(join(root, 'annotations'))).toEqual([]);
    await expect(repo.annotations(id)).resolves.toEqual({});
  });
});
