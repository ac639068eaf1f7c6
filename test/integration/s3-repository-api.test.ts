import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { text } from 'node:stream/consumers';
import { DeleteObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { isBroken } from '../../src/repository/repository.js';
import type { ArtifactRecord } from '../../src/repository/manifest.js';
import { S3Repository } from '../../src/repository/s3/s3-repository.js';
import { parseS3Location } from '../../src/repository/s3/s3-location.js';
import { manifest, serviceRecord } from '../unit/helpers/temp-repo.js';
import { startS3, type S3Server } from '../servers/s3.js';

/** The Repository verbs of the S3 backend called directly, on a real S3-compatible server. */
describe('S3Repository on versitygw', () => {
  let s3: S3Server;
  let counter = 0;
  const saved: Record<string, string | undefined> = {};

  beforeAll(async () => {
    s3 = await startS3();
    await s3.createBucket('api');
    for (const [k, v] of Object.entries(s3.env)) {
      saved[k] = process.env[k];
      process.env[k] = v;
    }
  });
  afterAll(async () => {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
    await s3?.stop();
  });

  /** A fresh repository under its own prefix. */
  async function fresh(): Promise<{ repo: S3Repository; prefix: string }> {
    const prefix = `r${++counter}`;
    const location = `s3://api/${prefix}`;
    const repo = new S3Repository(location, parseS3Location(location));
    await repo.init();
    return { repo, prefix };
  }

  const bytes = (s: string) => Readable.from([Buffer.from(s)]);

  async function commitOne(repo: S3Repository, content = 'some rows\n'): Promise<{ id: string; record: ArtifactRecord }> {
    const writer = await repo.beginSnapshot('backup');
    const record = await writer.sink('db').write('data.zst', bytes(content), { kind: 'dump' });
    await writer.commit(manifest(writer.id, { services: { db: serviceRecord({ artifacts: [record] }) } }));
    return { id: writer.id, record };
  }

  test('init twice is refused; open reads it back; open of an empty prefix without create is not-found', async () => {
    const { repo, prefix } = await fresh();
    await expect(repo.init()).rejects.toMatchObject({ code: 'repository', message: expect.stringMatching(/already exists/) });
    const again = new S3Repository(`s3://api/${prefix}`, parseS3Location(`s3://api/${prefix}`));
    await again.open({ create: false });
    const none = new S3Repository('s3://api/empty', parseS3Location('s3://api/empty'));
    await expect(none.open({ create: false })).rejects.toMatchObject({ code: 'not-found' });
  });

  test('a snapshot is listed only once its manifest is written; its artifact reads back, decompressed and checked', async () => {
    const { repo, prefix } = await fresh();
    const writer = await repo.beginSnapshot('backup');
    const record = await writer.sink('db').write('data.zst', bytes('hello s3\n'.repeat(1000)), { kind: 'dump' });
    expect(record).toMatchObject({ rawBytes: 9000, compression: 'zstd' });
    expect(await repo.list()).toEqual([]);
    expect(await s3.keys('api', `${prefix}/staging/`)).toEqual([`${prefix}/staging/${writer.id}.json`]);
    await writer.commit(manifest(writer.id, { services: { db: serviceRecord({ artifacts: [record] }) } }));
    expect((await repo.list()).map((e) => e.id)).toEqual([writer.id]);
    expect(await s3.keys('api', `${prefix}/staging/`)).toEqual([]);
    expect(await s3.keys('api', `${prefix}/lock.json`)).toEqual([]);
    const source = repo.artifacts(writer.id, 'db', [record]);
    expect(await text(source.open('data.zst'))).toBe('hello s3\n'.repeat(1000));
    await repo.verifyArtifact(writer.id, 'db', record);
    expect(await repo.storedSize(writer.id, 'db', record)).toBe(record.storedBytes);
    expect(await repo.storedSize(writer.id, 'db', { ...record, name: 'other.zst' })).toBeNull();
  });

  test('a damaged object fails verification and the decompressed stream; a truncated manifest lists as broken', async () => {
    const { repo, prefix } = await fresh();
    const { id, record } = await commitOne(repo);
    await s3.client.send(new PutObjectCommand({ Bucket: 'api', Key: `${prefix}/snapshots/${id}/db/data.zst`, Body: 'not what was stored' }));
    await expect(repo.verifyArtifact(id, 'db', record)).rejects.toMatchObject({ code: 'integrity' });
    await expect(text(repo.artifacts(id, 'db', [record]).open('data.zst'))).rejects.toMatchObject({ code: 'integrity' });
    await s3.client.send(new DeleteObjectCommand({ Bucket: 'api', Key: `${prefix}/snapshots/${id}/db/data.zst` }));
    await expect(repo.verifyArtifact(id, 'db', record)).rejects.toMatchObject({ code: 'integrity', message: expect.stringMatching(/is missing/) });
    await expect(text(repo.openStored(id, 'db', record))).rejects.toMatchObject({ code: 'integrity' });
    await s3.client.send(new PutObjectCommand({ Bucket: 'api', Key: `${prefix}/snapshots/${id}/manifest.json`, Body: '{"format": 1, "id"' }));
    const [entry] = await repo.list();
    expect(entry && isBroken(entry) && entry.broken).toMatch(/not valid JSON/);
  });

  test('openStored gives the stored bytes; putStored keeps matching bytes and refuses others, leaving nothing', async () => {
    const { repo, prefix } = await fresh();
    const { id, record } = await commitOne(repo, 'export me\n');
    const chunks: Buffer[] = [];
    for await (const c of repo.openStored(id, 'db', record)) chunks.push(c as Buffer);
    const stored = Buffer.concat(chunks);
    expect(createHash('sha256').update(stored).digest('hex')).toBe(record.sha256);

    const target = await fresh();
    const imported = await target.repo.beginSnapshot('import', { id });
    expect(imported.id).toBe(id);
    await expect(imported.putStored('db', { ...record, name: 'bad.zst' }, Readable.from([Buffer.from('tampered')]))).rejects.toMatchObject({ code: 'integrity' });
    expect(await s3.keys('api', `${target.prefix}/snapshots/${id}/db/bad.zst`)).toEqual([]);
    await imported.putStored('db', record, Readable.from([stored]));
    await imported.commit(manifest(id, { services: { db: serviceRecord({ artifacts: [record] }) } }));
    expect(await text(target.repo.artifacts(id, 'db', [record]).open('data.zst'))).toBe('export me\n');
    await expect(target.repo.beginSnapshot('import', { id })).rejects.toMatchObject({ code: 'repository', message: expect.stringMatching(/already in the repository/) });
    expect(await s3.keys('api', `${prefix}/lock.json`)).toEqual([]);
  });

  test('annotations beside a committed snapshot; remove() takes snapshot and annotations away', async () => {
    const { repo, prefix } = await fresh();
    const keep = await commitOne(repo);
    const doomed = await commitOne(repo);
    await repo.annotate(doomed.id, 'restore-test', { at: 'now', passed: true, services: {} });
    await repo.annotate(doomed.id, 'restore-test', { at: 'later', passed: false, services: {} });
    expect(await repo.annotations(doomed.id)).toEqual({ 'restore-test': { at: 'later', passed: false, services: {} } });
    await expect(repo.annotate('20260101T000000Z-abcd', 'restore-test', {})).rejects.toMatchObject({ code: 'not-found' });
    await repo.remove(doomed.id);
    expect((await repo.list()).map((e) => e.id)).toEqual([keep.id]);
    expect((await s3.keys('api', prefix)).filter((k) => k.includes(doomed.id))).toEqual([]);
    await expect(repo.remove(doomed.id)).rejects.toMatchObject({ code: 'not-found' });
  });

  test('an interrupted removal (manifest gone, objects left) is finished by the next writer', async () => {
    const { repo, prefix } = await fresh();
    const { id } = await commitOne(repo);
    await s3.client.send(
      new PutObjectCommand({ Bucket: 'api', Key: `${prefix}/staging/${id}.json`, Body: JSON.stringify({ kind: 'remove', pid: 1, host: 'x', since: '', command: 'forget' }) }),
    );
    await s3.client.send(new PutObjectCommand({ Bucket: 'api', Key: `${prefix}/annotations/${id}/restore-test.json`, Body: '{}' }));
    await s3.client.send(new DeleteObjectCommand({ Bucket: 'api', Key: `${prefix}/snapshots/${id}/manifest.json` }));
    expect(await repo.list()).toEqual([]);
    const writer = await repo.beginSnapshot('backup');
    expect(writer.notes.join('\n')).toContain(`finished the interrupted removal of snapshot ${id}`);
    await writer.abort();
    expect(await s3.keys('api', prefix)).toEqual([`${prefix}/config.json`]);
  });

  test('a failed service is discarded; an aborted writer leaves no object, upload, marker or lock', async () => {
    const { repo, prefix } = await fresh();
    const writer = await repo.beginSnapshot('backup');
    const sink = writer.sink('db');
    await sink.write('keep.zst', bytes('kept'), { kind: 'dump' });
    const failing = new Readable({
      read() {
        this.destroy(new Error('the engine went away'));
      },
    });
    await expect(sink.write('half.zst', failing, { kind: 'dump' })).rejects.toThrow(/the engine went away/);
    await writer.discardService('db');
    expect(await s3.keys('api', `${prefix}/snapshots/`)).toEqual([]);
    await writer.sink('other').write('x.zst', bytes('x'), { kind: 'dump' });
    await writer.abort();
    expect(await s3.keys('api', prefix)).toEqual([`${prefix}/config.json`]);
    expect(await s3.uploads('api', prefix)).toEqual([]);
  });
});
