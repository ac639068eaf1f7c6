import { describe, expect, test } from 'vitest';
import type { Driver } from '../../src/core/driver.js';
import { lazyDriver } from '../../src/core/lazy-driver.js';

describe('lazyDriver', () => {
  test('detects without loading, loads once on first use, and forwards every call', async () => {
    let loads = 0;
    const calls: string[] = [];
    const real = {
      engine: 'x',
      title: 'X',
      schemes: ['x'],
      detect: () => undefined,
      strategies: async () => (calls.push('strategies'), []),
      inspect: async () => (calls.push('inspect'), { version: '1', objects: [], details: {} }),
      fingerprint: async (_s: unknown, scope: 'full' | 'counts') => (calls.push(`fingerprint ${scope}`), { scope, items: {} }),
      backup: async () => (calls.push('backup'), { details: {} }),
      restore: async () => (calls.push('restore'), { location: 'x:', details: {} }),
    } as unknown as Driver;
    const lazy = lazyDriver({ engine: 'x', title: 'X', schemes: ['x'], detect: (c) => (c.engine === 'x' ? { engine: 'x', signal: 's', strength: 100 } : undefined) }, async () => {
      loads++;
      return real;
    });
    expect(lazy.detect({ engine: 'x' })?.engine).toBe('x');
    expect(loads).toBe(0);
    const service = { name: 'a', options: {}, origin: 'flag' as const };
    await lazy.strategies(service);
    await lazy.inspect(service);
    await lazy.fingerprint(service, 'counts');
    await lazy.backup({} as never);
    await lazy.restore({} as never);
    expect(loads).toBe(1);
    expect(calls).toEqual(['strategies', 'inspect', 'fingerprint counts', 'backup', 'restore']);
  });

  test('a module that fails to load fails the call, not the process', async () => {
    const lazy = lazyDriver({ engine: 'y', title: 'Y', schemes: ['y'], detect: () => undefined }, async () => {
      throw new Error('cannot load');
    });
    await expect(lazy.inspect({ name: 'a', options: {}, origin: 'flag' })).rejects.toThrow('cannot load');
  });
});
