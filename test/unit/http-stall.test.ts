import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import { afterEach, describe, expect, test } from 'vitest';
import { boundedUpload, UploadStallError } from '../../src/core/http-stall.js';

// The generic bounded upload (src/core/http-stall.ts) against plain HTTP servers that misbehave
// as issue 12 item 5 lists: an answer before the body is read, a reader that stops, a connection
// closed mid-body, a server that takes everything and never answers. Each ends within its bound
// and destroys the body stream.
let server: Server | undefined;
afterEach(async () => {
  server?.closeAllConnections();
  await new Promise((r) => server?.close(r) ?? r(undefined));
  server = undefined;
});

async function serve(handler: Parameters<typeof createServer>[1]): Promise<URL> {
  server = createServer(handler);
  await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
  return new URL(`http://127.0.0.1:${(server.address() as AddressInfo).port}/upload`);
}

/** 32 MiB in 64 KiB chunks: more than loopback socket buffers hold. */
function body(): Readable {
  return Readable.from((function* () {
    for (let i = 0; i < 512; i++) yield Buffer.alloc(65536, i);
  })());
}

describe('boundedUpload', () => {
  test('an answer before the body is read ends the upload at once with its status and text', async () => {
    const url = await serve((req, res) => {
      res.writeHead(500, { 'content-type': 'application/json' }).end('{"status":{"error":"No space left on device"}}');
      req.resume();
    });
    const b = body();
    const answer = await boundedUpload({ url, headers: {}, body: b, stallMs: 2000, answerMs: 2000 });
    expect(answer).toMatchObject({ status: 500, early: true });
    expect(answer.text).toContain('No space left on device');
    expect(b.destroyed).toBe(true);
  });

  test('a server that stops reading fails as stalled, with the bytes sent', async () => {
    const url = await serve((req) => req.once('data', () => req.pause()));
    const b = body();
    const started = Date.now();
    await expect(boundedUpload({ url, headers: {}, body: b, stallMs: 800, answerMs: 60_000 })).rejects.toThrow(/stopped reading the upload after \d+ bytes/);
    expect(Date.now() - started).toBeLessThan(5000);
    expect(b.destroyed).toBe(true);
  });

  test('a connection closed mid-body fails at once', async () => {
    const url = await serve((req) => req.once('data', () => req.socket.destroy()));
    const b = body();
    const error = await boundedUpload({ url, headers: {}, body: b, stallMs: 5000, answerMs: 5000 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UploadStallError);
    expect((error as Error).message).toMatch(/connection failed after \d+ bytes/);
    expect(b.destroyed).toBe(true);
  });

  test('a server that takes the whole body and never answers fails after the answer bound', async () => {
    const url = await serve((req) => req.resume());
    const small = Readable.from([Buffer.from('x'.repeat(1000))]);
    await expect(boundedUpload({ url, headers: {}, body: small, stallMs: 5000, answerMs: 600 })).rejects.toThrow(/gave no answer within/);
  });
});
