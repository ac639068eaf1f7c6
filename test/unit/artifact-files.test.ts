import { createHash } from 'node:crypto';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import { afterEach, beforeAll, describe, expect, test } from 'vitest';
import { openArtifactFile, verifyArtifactFile } from '../../src/repository/artifact-reader.js';
import { writeArtifactFile } from '../../src/repository/artifact-writer.js';
import { DEFAULT_COMPRESSION } from '../../src/repository/compression.js';
import type { ArtifactRecord } from '../../src/repository/manifest.js';
import { flipByte, truncateTo } from './helpers/files.js';
import { cleanupTemp, tempDir } from './helpers/temp-repo.js';

afterEach(cleanupTemp);

const CHUNK = 64 * 1024;
const WHERE = '20260101T000000Z-abcd/db/data.zst';

/** ~5 MB: 64 KiB chunks alternating between pseudo-random bytes (xorshift) and repeated text. */
function testData(): Buffer[] {
  let x = 0x9e3779b9;
  const chunks: Buffer[] = [];
  const line = Buffer.from('INSERT INTO accounts VALUES (42, \'alice\', 100.00);\n');
  for (let i = 0; i < 80; i++) {
    const chunk = Buffer.alloc(CHUNK);
    if (i % 2 === 0) {
      for (let j = 0; j < CHUNK; j += 4) {
        x ^= x << 13;
        x ^= x >>> 17;
        x ^= x << 5;
        chunk.writeUInt32LE(x >>> 0, j);
      }
    } else {
      for (let j = 0; j < CHUNK; j += line.length) line.copy(chunk, j);
    }
    chunks.push(chunk);
  }
  return chunks;
}

let chunks: Buffer[];
let input: Buffer;
beforeAll(() => {
  chunks = testData();
  input = Buffer.concat(chunks);
});

/** Writes the test data as an artifact; returns its path and manifest record. */
async function written(): Promise<{ path: string; record: ArtifactRecord }> {
  const path = join(await tempDir(), 'data.zst');
  const result = await writeArtifactFile(path, Readable.from(chunks), DEFAULT_COMPRESSION);
  return { path, record: { name: 'data.zst', kind: 'dump', compression: 'zstd', ...result } };
}

/** Reads an artifact to the end, or the error its stream ends with. */
function readAll(path: string, record: ArtifactRecord): Promise<Buffer> {
  return buffer(openArtifactFile(path, record, WHERE));
}

describe('artifact files', () => {
  test('a round trip of ~5 MB gives back the input; sizes and sha256 are right', async () => {
    const { path, record } = await written();
    const stored = await readFile(path);
    expect(record.rawBytes).toBe(input.length);
    expect(record.rawBytes).toBeGreaterThan(5_000_000);
    expect(record.storedBytes).toBe(stored.length);
    expect(record.storedBytes).toBeLessThan(record.rawBytes); // the repetitive half compresses
    expect(record.sha256).toBe(createHash('sha256').update(stored).digest('hex'));
    expect(stored.subarray(0, 4)).toEqual(Buffer.from([0x28, 0xb5, 0x2f, 0xfd])); // a zstd frame
    const back = await readAll(path, record);
    expect(back.length).toBe(input.length);
    expect(back.equals(input)).toBe(true);
    await expect(verifyArtifactFile(path, record, WHERE)).resolves.toBeUndefined();
  });

  test('the writer reports raw bytes as they pass', async () => {
    const path = join(await tempDir(), 'counted.zst');
    let seen = 0;
    await writeArtifactFile(path, Readable.from(chunks.slice(0, 4)), DEFAULT_COMPRESSION, { onRawBytes: (n) => (seen += n) });
    expect(seen).toBe(4 * CHUNK);
  });

  test('an empty source makes a valid empty artifact', async () => {
    const path = join(await tempDir(), 'empty.zst');
    const result = await writeArtifactFile(path, Readable.from([]), DEFAULT_COMPRESSION);
    expect(result.rawBytes).toBe(0);
    const back = await readAll(path, { name: 'empty.zst', kind: 'dump', compression: 'zstd', ...result });
    expect(back.length).toBe(0);
  });

  test('the writer never overwrites an existing file', async () => {
    const path = join(await tempDir(), 'exists.zst');
    await writeFile(path, 'precious');
    await expect(writeArtifactFile(path, Readable.from([Buffer.from('new')]), DEFAULT_COMPRESSION)).rejects.toMatchObject({ code: 'EEXIST' });
    expect(await readFile(path, 'utf8')).toBe('precious');
  });

  test('a source that errors makes the writer reject with its error', async () => {
    const path = join(await tempDir(), 'broken.zst');
    const source = new Readable({ read() {} });
    source.push(chunks[0]);
    setTimeout(() => source.destroy(new Error('connection reset by peer')), 20);
    await expect(writeArtifactFile(path, source, DEFAULT_COMPRESSION)).rejects.toThrow('connection reset by peer');
  });

  test('one flipped byte: the read stream errors with integrity, and verify names the artifact', async () => {
    const { path, record } = await written();
    await flipByte(path);
    await expect(readAll(path, record)).rejects.toMatchObject({ code: 'integrity' });
    await expect(verifyArtifactFile(path, record, WHERE)).rejects.toMatchObject({ code: 'integrity', message: expect.stringContaining(WHERE) });
  });

  test('one flipped byte near the end: the read stream errors with integrity', async () => {
    const { path, record } = await written();
    await flipByte(path, record.storedBytes - 10);
    await expect(readAll(path, record)).rejects.toMatchObject({ code: 'integrity' });
  });

  test('a truncated file: both reading and verifying fail with integrity', async () => {
    const { path, record } = await written();
    await truncateTo(path, 0.6);
    await expect(readAll(path, record)).rejects.toMatchObject({ code: 'integrity' });
    await expect(verifyArtifactFile(path, record, WHERE)).rejects.toMatchObject({ code: 'integrity', message: expect.stringContaining(WHERE) });
  });

  test('a missing file: both reading and verifying say it is missing', async () => {
    const { path, record } = await written();
    await rm(path);
    await expect(readAll(path, record)).rejects.toMatchObject({ code: 'integrity', message: expect.stringContaining('missing') });
    await expect(verifyArtifactFile(path, record, WHERE)).rejects.toMatchObject({ code: 'integrity', message: expect.stringMatching(/data\.zst.*missing/) });
  });

  test('a record whose rawBytes disagree with the content: the read stream errors', async () => {
    const { path, record } = await written();
    await expect(readAll(path, { ...record, rawBytes: record.rawBytes + 1 })).rejects.toMatchObject({ code: 'integrity' });
  });

  test('an uncompressed artifact (compression none) is checked the same way', async () => {
    const path = join(await tempDir(), 'plain.bin');
    const data = Buffer.from('plain bytes\n'.repeat(100));
    await writeFile(path, data);
    const record: ArtifactRecord = {
      name: 'plain.bin',
      kind: 'raw',
      compression: 'none',
      sha256: createHash('sha256').update(data).digest('hex'),
      storedBytes: data.length,
      rawBytes: data.length,
    };
    expect((await readAll(path, record)).equals(data)).toBe(true);
    await flipByte(path);
    await expect(readAll(path, record)).rejects.toMatchObject({ code: 'integrity' });
  });
});
