import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, expect, test } from 'vitest';
import type { Service } from '../../src/core/service.js';
import { forgetMysqlLeftover, recordMysqlLeftover, removeMysqlLeftover } from '../../drivers/mysql/mysql-leftovers.js';

// Every container service's journal endpoint is `container://`: a leftover of a restore into one
// container must not be dropped on another (a half-loaded `shop` there is someone's data).
let work: string;
let saved: string | undefined;
beforeEach(async () => {
  work = await mkdtemp(join(tmpdir(), 'holdfast-mysql-leftovers-'));
  saved = process.env.HOLDFAST_STATE_DIR;
  process.env.HOLDFAST_STATE_DIR = join(work, 'state');
});
afterEach(async () => {
  if (saved === undefined) delete process.env.HOLDFAST_STATE_DIR;
  else process.env.HOLDFAST_STATE_DIR = saved;
  await rm(work, { recursive: true, force: true });
});

const inContainer = (name: string): Service => ({ name: 'db', engine: 'mysql', endpoint: { scheme: 'container', host: '', path: name, params: {} }, options: {}, origin: 'flag' });

test('a leftover of a restore into one container is not removed through another container', async () => {
  const leftover = await recordMysqlLeftover(inContainer('shop-db-1'), 'partial-load', 'shop');
  expect(leftover.data).toEqual({ container: 'shop-db-1' });
  // The check comes before any connection: no Docker is needed to see it refuse.
  await expect(removeMysqlLeftover(inContainer('other-db-1'), leftover)).rejects.toThrow('the leftover "shop" is in container shop-db-1, not other-db-1');
  await forgetMysqlLeftover(leftover);
});
