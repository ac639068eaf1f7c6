import { describe, expect, test } from 'vitest';
import { runLimited } from '../../src/core/concurrency.js';
import { delay } from './helpers/fake-driver.js';

describe('runLimited', () => {
  test.each([1, 2, 3, 10])('limit %i: every item runs once, never more than the limit at a time', async (limit) => {
    const items = [1, 2, 3, 4, 5, 6, 7];
    const done: number[] = [];
    let running = 0;
    let most = 0;
    await runLimited(items, limit, async (n) => {
      running++;
      most = Math.max(most, running);
      await delay(5 + (n % 3) * 5);
      running--;
      done.push(n);
    });
    expect([...done].sort()).toEqual(items);
    expect(most).toBe(Math.min(limit, items.length));
  });

  test('items start in order', async () => {
    const started: number[] = [];
    await runLimited([1, 2, 3, 4], 2, async (n) => {
      started.push(n);
      await delay(1);
    });
    expect(started).toEqual([1, 2, 3, 4]);
  });

  test('no items: resolves', async () => {
    await expect(runLimited([], 3, async () => undefined)).resolves.toBeUndefined();
  });

  test('a failing item rejects the whole run', async () => {
    await expect(
      runLimited([1, 2], 2, async (n) => {
        if (n === 2) throw new Error('item 2 failed');
      }),
    ).rejects.toThrow('item 2 failed');
  });
});
