import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import { pipeline } from 'node:stream/promises';
import { PassThrough } from 'node:stream';
import { describe, expect, test } from 'vitest';
import { openBuffer, openStream, plainSize, sealBuffer, sealedSize, sealStream, SEGMENT_SIZE } from '../../src/repository/segment-cipher.js';

const KEY = randomBytes(32);
const CONTEXT = '20261130T140000Z-ab12/db/01-app.pgdump';
const WHERE = `artifact ${CONTEXT}`;
const SMALL = 1024; // small segments make boundaries cheap to cross
const HEADER = 48;
const TAG = 16;

/** Feeds `data` in irregular chunks (1 byte up to 3 segments) so that every chunk/segment alignment occurs. */
function chunked(data: Buffer): Readable {
  const parts: Buffer[] = [];
  let at = 0;
  let n = 1;
  while (at < data.length) {
    const size = Math.min(n, data.length - at);
    parts.push(data.subarray(at, at + size));
    at += size;
    n = (n * 7 + 3) % (3 * SMALL) || 1;
  }
  return Readable.from(parts);
}

async function seal(plain: Buffer, segmentSize = SMALL, context = CONTEXT): Promise<Buffer> {
  const out = new PassThrough();
  const [, sealed] = await Promise.all([pipeline(chunked(plain), sealStream(KEY, context, segmentSize), out), buffer(out)]);
  return sealed;
}

async function open(sealed: Buffer, key = KEY, context = CONTEXT): Promise<Buffer> {
  const out = new PassThrough();
  const [, plain] = await Promise.all([pipeline(chunked(sealed), openStream(key, context, `artifact ${context}`), out), buffer(out)]);
  return plain;
}

describe('segmented AES-256-GCM format', () => {
  test.each([0, 1, SMALL - 1, SMALL, SMALL + 1, 2 * SMALL, 3 * SMALL + 7, 10 * SMALL + 513])('round trip of %i bytes, streamed in odd chunks, at the predicted size', async (n) => {
    const plain = randomBytes(n);
    const sealed = await seal(plain);
    expect(sealed.length).toBe(sealedSize(n, SMALL));
    expect(plainSize(sealed.length, SMALL)).toBe(n);
    expect(await open(sealed)).toEqual(plain);
    expect(openBuffer(KEY, CONTEXT, sealed, WHERE)).toEqual(plain);
  });

  test('the default 64 KiB segments: a stream of several MiB and a sealed document open both ways', async () => {
    const plain = randomBytes(3 * SEGMENT_SIZE + 12345);
    const sealed = await seal(plain, SEGMENT_SIZE);
    expect(sealed.length).toBe(sealedSize(plain.length));
    expect(await open(sealed)).toEqual(plain);
    const doc = sealBuffer(KEY, 'id/manifest.json', plain);
    expect(doc.length).toBe(sealedSize(plain.length));
    expect(openBuffer(KEY, 'id/manifest.json', doc, 'the manifest')).toEqual(plain);
  });

  test('the same plaintext seals differently each time (random salt and nonce prefix)', async () => {
    const plain = Buffer.from('CREATE TABLE customers');
    const [a, b] = [sealBuffer(KEY, CONTEXT, plain), sealBuffer(KEY, CONTEXT, plain)];
    expect(a.equals(b)).toBe(false);
    expect(a.includes(plain)).toBe(false);
  });

  const integrity = { code: 'integrity', message: expect.stringContaining(WHERE) };
  const plain = randomBytes(5 * SMALL + 100);

  test.each([
    ['in the header (salt)', HEADER / 2],
    ['in the first segment', HEADER + 10],
    ['in a middle segment', HEADER + 2 * (SMALL + TAG) + 5],
    ['in the last tag', -1],
  ])('a flipped byte %s fails with an integrity error naming the artifact', async (_where, at) => {
    const sealed = await seal(plain);
    const i = at < 0 ? sealed.length + at : at;
    sealed[i] = sealed[i]! ^ 0x01;
    await expect(open(sealed)).rejects.toMatchObject(integrity);
    expect(() => openBuffer(KEY, CONTEXT, sealed, WHERE)).toThrow(/fails decryption/);
  });

  test.each([
    ['at a segment boundary (the last segment dropped)', (s: Buffer) => s.subarray(0, HEADER + 5 * (SMALL + TAG))],
    ['in the middle of a segment', (s: Buffer) => s.subarray(0, HEADER + 2 * (SMALL + TAG) + 300)],
    ['to the header alone', (s: Buffer) => s.subarray(0, HEADER)],
    ['inside the header', (s: Buffer) => s.subarray(0, 20)],
    ['to nothing', () => Buffer.alloc(0)],
  ])('a file truncated %s fails', async (_how, cut) => {
    await expect(open(cut(await seal(plain)))).rejects.toMatchObject(integrity);
  });

  test('a size no sealed file can have (cut inside a tag or the header) has no plaintext size', () => {
    expect(plainSize(HEADER + 2 * (SMALL + TAG) + 5, SMALL)).toBe(-1);
    expect(plainSize(HEADER + 3, SMALL)).toBe(-1);
  });

  test('a truncated empty file (tag removed) fails', async () => {
    const sealed = await seal(Buffer.alloc(0));
    expect(sealed.length).toBe(HEADER + TAG);
    await expect(open(sealed.subarray(0, HEADER))).rejects.toMatchObject(integrity);
  });

  test('swapped segments fail, and so does a duplicated one', async () => {
    const sealed = await seal(plain);
    const seg = (i: number) => sealed.subarray(HEADER + i * (SMALL + TAG), HEADER + (i + 1) * (SMALL + TAG));
    const swapped = Buffer.concat([sealed.subarray(0, HEADER), seg(1), seg(0), sealed.subarray(HEADER + 2 * (SMALL + TAG))]);
    expect(swapped.length).toBe(sealed.length);
    await expect(open(swapped)).rejects.toMatchObject(integrity);
    const duplicated = Buffer.concat([sealed.subarray(0, HEADER), seg(0), seg(0), sealed.subarray(HEADER + (SMALL + TAG))]);
    const replaced = Buffer.concat([sealed.subarray(0, HEADER + (SMALL + TAG)), seg(0), sealed.subarray(HEADER + 2 * (SMALL + TAG))]);
    await expect(open(duplicated)).rejects.toMatchObject(integrity);
    await expect(open(replaced)).rejects.toMatchObject(integrity);
  });

  test('a wrong key fails', async () => {
    const sealed = await seal(plain);
    await expect(open(sealed, randomBytes(32))).rejects.toMatchObject(integrity);
  });

  test('a file moved to another place (another context) fails', async () => {
    const sealed = await seal(plain);
    await expect(open(sealed, KEY, '20261130T140000Z-ab12/db/02-other.pgdump')).rejects.toMatchObject({ code: 'integrity' });
  });

  test('a file that is not in the format says so', async () => {
    const notOurs = Buffer.concat([Buffer.from('PGDMP'), randomBytes(200)]);
    await expect(open(notOurs)).rejects.toMatchObject({ code: 'integrity', message: expect.stringContaining('not a holdfast encrypted file') });
  });
});
