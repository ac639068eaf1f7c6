import { describe, expect, test } from 'vitest';
import { waitFor } from '../../src/core/wait.js';

describe('waitFor', () => {
  test('returns the first value that is not undefined', async () => {
    let calls = 0;
    const value = await waitFor('the thing', async () => (++calls >= 3 ? 'ready' : undefined), { timeoutMs: 2000, intervalMs: 5 });
    expect(value).toBe('ready');
    expect(calls).toBe(3);
  });

  test('errors are retried like undefined', async () => {
    let calls = 0;
    const value = await waitFor(
      'the thing',
      async () => {
        if (++calls < 3) throw new Error('ECONNREFUSED');
        return 0;
      },
      { timeoutMs: 2000, intervalMs: 5 },
    );
    expect(value).toBe(0);
  });

  test('runs out of time: a timeout error naming what and the last error', async () => {
    const started = Date.now();
    await expect(
      waitFor(
        'the server',
        async () => {
          throw new Error('connection refused');
        },
        { timeoutMs: 100, intervalMs: 10 },
      ),
    ).rejects.toMatchObject({ code: 'timeout', message: expect.stringMatching(/the server not ready after 100ms: connection refused/) });
    expect(Date.now() - started).toBeGreaterThanOrEqual(100);
    expect(Date.now() - started).toBeLessThan(2000);
  });

  test('an aborted signal stops the wait: interrupted', async () => {
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 30);
    await expect(waitFor('the server', async () => undefined, { timeoutMs: 10_000, intervalMs: 5, signal: controller.signal })).rejects.toMatchObject({
      code: 'interrupted',
    });
  });
});
