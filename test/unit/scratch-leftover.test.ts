import { expect, test } from 'vitest';
import type { ScratchContext } from '../../src/core/driver.js';
import { scratchPrefixRemover } from '../../src/core/scratch-leftover.js';
import type { Service } from '../../src/core/service.js';

const service: Service = { name: 'search', engine: 'qdrant', endpoint: { scheme: 'qdrant', host: '127.0.0.1', port: 6333, path: '', params: {} }, options: {}, origin: 'flag' };

test('a dead restore test\'s scratch-prefix leftover is removed by the cleanup of the same scratch target, for that prefix and strategy', async () => {
  const seen: ScratchContext[] = [];
  let cleaned = 0;
  const remove = scratchPrefixRemover(async (ctx) => {
    seen.push(ctx);
    return { target: ctx.source, options: {}, describe: 'x', cleanup: async () => void cleaned++ };
  });
  const did = await remove(service, { kind: 'scratch-prefix', name: 'holdfast_scratch_ab12cd_', data: { strategy: 'snapshot' }, at: 'x' });
  expect(did).toBe("removed the restore test's scratch copies holdfast_scratch_ab12cd_*");
  expect(cleaned).toBe(1);
  expect(seen.map((c) => [c.prefix, c.run, c.strategy, c.source.name])).toEqual([['holdfast_scratch_ab12cd_', 'ab12cd', 'snapshot', 'search']]);
});

test('anything else is not its to remove: another kind, a name without the scratch prefix, no strategy', async () => {
  let called = 0;
  const remove = scratchPrefixRemover(async () => (called++, undefined));
  expect(await remove(service, { kind: 'swap', name: 'holdfast_scratch_ab12cd_', data: { strategy: 'snapshot' }, at: 'x' })).toBe(false);
  expect(await remove(service, { kind: 'scratch-prefix', name: 'products', data: { strategy: 'snapshot' }, at: 'x' })).toBe(false);
  expect(await remove(service, { kind: 'scratch-prefix', name: 'holdfast_scratch_ab12cd_', at: 'x' })).toBe(false);
  expect(called).toBe(0);
});
