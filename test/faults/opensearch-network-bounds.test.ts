/**
 * Every OpenSearch step has a bound (issue 12): against a server that answers 500 before reading the
 * request, one that reads half of it and stalls, and one that closes mid-body, a call fails within
 * the stall timeout (HOLDFAST_STALL_TIMEOUT_SECONDS, retries included), naming the status and the
 * body the server sent. Every OpenSearch step of holdfast goes through this one call().
 */
import { afterEach, beforeEach, describe, expect, test, vi } from 'vitest';
import { parseEndpoint } from '../../src/core/service.js';
import { connectOpenSearch } from '../../drivers/opensearch/opensearch-connection.js';
import { startMisbehaving, type Misbehaviour, type MisbehavingServer } from '../support/misbehaving-http.js';

const STALL_SECONDS = 1;
/** The stall timeout, its retries and their back-off, with room for a busy machine. */
const BOUND_MS = 12_000;

let server: MisbehavingServer | undefined;
beforeEach(() => {
  process.env.HOLDFAST_STALL_TIMEOUT_SECONDS = String(STALL_SECONDS);
});
afterEach(async () => {
  delete process.env.HOLDFAST_STALL_TIMEOUT_SECONDS;
  await server?.stop();
  server = undefined;
});

async function callAgainst(mode: Misbehaviour, method: string, path: string, body?: unknown): Promise<{ error: Error; ms: number }> {
  server = await startMisbehaving(mode, { body: '{"error":{"reason":"holdfast-test: the node ran out of disk"}}', contentType: 'application/json' });
  const os = connectOpenSearch({ name: 'search', endpoint: parseEndpoint(server.url.replace('http:', 'opensearch:'), false, 'search'), options: {}, origin: 'flag' });
  const started = Date.now();
  try {
    const answer = await os.call(method, path, body);
    throw new Error(`the call succeeded: ${JSON.stringify(answer)}`);
  } catch (error) {
    return { error: error as Error, ms: Date.now() - started };
  } finally {
    await os.close();
  }
}

const BIG = { type: 'fs', settings: { location: '/srv/snapshots/holdfast', padding: 'x'.repeat(200_000) } };

describe('OpenSearch calls against a misbehaving server', () => {
  test('500 before reading the body: fails with the status and the body, at once', async () => {
    const { error, ms } = await callAgainst('error-early', 'PUT', '/_snapshot/holdfast', BIG);
    expect(error.message).toContain('(500)');
    expect(error.message).toContain('the node ran out of disk');
    expect(ms).toBeLessThan(BOUND_MS);
  });

  for (const [method, path, body] of [['PUT', '/_snapshot/holdfast', BIG], ['GET', '/_snapshot/_status', undefined]] as const) {
    test(`reads half and stalls (${method} ${path}): fails within the stall timeout, saying so`, async () => {
      const { error, ms } = await callAgainst('stall-half', method, path, body);
      expect(error.message).toMatch(/no answer|timed out|stall/i);
      expect(ms).toBeLessThan(BOUND_MS);
    });

    test(`answers, then stalls mid-body (${method} ${path}): fails within the stall timeout, saying so`, async () => {
      const { error, ms } = await callAgainst('stall-mid-body', method, path, body);
      expect(error.message).toMatch(/no answer|timed out|stall/i);
      expect(ms).toBeLessThan(BOUND_MS);
    });

    test(`closes mid-body (${method} ${path}): fails within the stall timeout, and prints nothing to stdout (it holds --json)`, async () => {
      const log = vi.spyOn(console, 'log');
      try {
        const { error, ms } = await callAgainst('close-mid-body', method, path, body);
        expect(error.message).toMatch(/OpenSearch/);
        expect(ms).toBeLessThan(BOUND_MS);
        await new Promise((r) => setTimeout(r, 100)); // the late socket error
        expect(log).not.toHaveBeenCalled();
      } finally {
        log.mockRestore();
      }
    });
  }
});
