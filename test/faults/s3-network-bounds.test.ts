/**
 * Every S3 upload has a bound (issue 12): against a server that answers 500 before reading the
 * body, one that reads half of it and stalls, and one that closes mid-body, an artifact upload
 * fails within the stall timeout (HOLDFAST_STALL_TIMEOUT_SECONDS, the SDK's retries included),
 * naming the status and what the server said, and the artifact stream is destroyed (its producer
 * is not left writing into a pipe nobody reads). One small upload (PutObject) and one multipart.
 */
import { Readable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { parseS3Location } from '../../src/repository/s3/s3-location.js';
import { S3Store } from '../../src/repository/s3/s3-store.js';
import { startMisbehaving, type Misbehaviour, type MisbehavingServer } from '../support/misbehaving-http.js';

const STALL_SECONDS = 1;
/** The stall timeout times the SDK's attempts and their back-off, with room for a busy machine. */
const BOUND_MS = 15_000;
const MIB = 1024 * 1024;

const saved = { ...process.env };
let server: MisbehavingServer | undefined;
beforeEach(() => {
  Object.assign(process.env, {
    HOLDFAST_STALL_TIMEOUT_SECONDS: String(STALL_SECONDS),
    HOLDFAST_S3_PART_MB: '5',
    AWS_ACCESS_KEY_ID: 'holdfasttest',
    AWS_SECRET_ACCESS_KEY: 'holdfasttestsecret',
    AWS_REGION: 'us-east-1',
    AWS_EC2_METADATA_DISABLED: 'true',
  });
});
afterEach(async () => {
  process.env = { ...saved };
  await server?.stop();
  server = undefined;
});

/** A stream of `size` bytes, produced lazily as an artifact's producer would. */
function artifact(size: number): Readable {
  let left = size;
  return new Readable({
    read() {
      const n = Math.min(left, 256 * 1024);
      left -= n;
      this.push(n > 0 ? Buffer.alloc(n, 0x61) : null);
    },
  });
}

async function uploadAgainst(mode: Misbehaviour, size: number): Promise<{ error: Error; ms: number; body: Readable }> {
  server = await startMisbehaving(mode, { body: 'holdfast-test: the gateway ran out of disk' });
  const store = new S3Store(parseS3Location('s3://bounds/repo', { ...process.env, AWS_ENDPOINT_URL_S3: server.url }));
  const body = artifact(size);
  const started = Date.now();
  try {
    await store.upload('snapshots/x/db/data.zst', body);
    throw new Error('the upload succeeded');
  } catch (error) {
    return { error: error as Error, ms: Date.now() - started, body };
  } finally {
    store.destroy();
  }
}

describe('S3 uploads against a misbehaving server', () => {
  for (const [kind, size] of [['one PutObject', 2 * MIB], ['multipart', 12 * MIB]] as const) {
    test(`${kind}: 500 before reading the body fails with the status and the body; the stream is freed`, async () => {
      const { error, ms, body } = await uploadAgainst('error-early', size);
      expect(error.message).toContain('500');
      expect(error.message).toContain('the gateway ran out of disk');
      expect(ms).toBeLessThan(BOUND_MS);
      expect(body.destroyed).toBe(true);
    });

    test(`${kind}: reads half and stalls: fails within the stall timeout; the stream is freed`, async () => {
      const { error, ms, body } = await uploadAgainst('stall-half', size);
      expect(error.message).toMatch(/no answer|timed out|stall/i);
      expect(ms).toBeLessThan(BOUND_MS);
      expect(body.destroyed).toBe(true);
    });

    test(`${kind}: answers, then stalls mid-body: fails within the stall timeout; the stream is freed`, async () => {
      const { error, ms, body } = await uploadAgainst('stall-mid-body', size);
      expect(error.message).toMatch(/no answer|timed out|stall/i);
      expect(ms).toBeLessThan(BOUND_MS);
      expect(body.destroyed).toBe(true);
    });

    test(`${kind}: closes mid-body: fails within the stall timeout; the stream is freed`, async () => {
      const { error, ms, body } = await uploadAgainst('close-mid-body', size);
      expect(error.message).toMatch(/S3 server/);
      expect(ms).toBeLessThan(BOUND_MS);
      expect(body.destroyed).toBe(true);
    });
  }
});

describe('S3 downloads against a misbehaving server', () => {
  test('an answer that stalls mid-body fails the artifact stream within the stall timeout', async () => {
    server = await startMisbehaving('stall-mid-body');
    const store = new S3Store(parseS3Location('s3://bounds/repo', { ...process.env, AWS_ENDPOINT_URL_S3: server.url }));
    const started = Date.now();
    try {
      const stream = store.openRead('snapshots/x/db/data.zst');
      const error = await new Promise<Error>((resolve, reject) => {
        stream.on('data', () => undefined);
        stream.once('error', resolve);
        stream.once('end', () => reject(new Error('the download ended')));
      });
      expect(error.message).toMatch(/no answer|timed out|stall/i);
      expect(Date.now() - started).toBeLessThan(BOUND_MS);
    } finally {
      store.destroy();
    }
  });
});
