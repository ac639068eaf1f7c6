import { afterEach, describe, expect, test } from 'vitest';
import { runBackup } from '../../src/core/backup-executor.js';
import { HoldfastError } from '../../src/core/errors.js';
import { physicalName, withPhysicalCopies } from '../../src/core/physical-plan.js';
import type { PlanItem } from '../../src/core/planner.js';
import { assertServiceName } from '../../src/core/service.js';
import { bytes, fakeDriver, offer, requirement, service } from './helpers/fake-driver.js';
import { cleanupTemp, silentProgress, tempRepo } from './helpers/temp-repo.js';

afterEach(cleanupTemp);

const dump = offer('dump');
const tar = offer('tar', { consistency: 'quiesced', physical: true, summary: 'tar of pgdata with the writers stopped' });
const tarLive = offer('tar-live', { consistency: 'inconsistent', physical: true });

function item(name: string, strategy: string, offers = [dump, tar, tarLive]): PlanItem {
  return { service: service(name), driver: fakeDriver(), strategy, consistency: 'transactional', reason: 'strongest available', offers };
}

describe('withPhysicalCopies', () => {
  test('a logical backup gets a physical companion entry, pinned to the strongest physical offer that can run', () => {
    const out = withPhysicalCopies([item('db', 'dump')]);
    expect(out.map((i) => [i.service.name, i.strategy, i.consistency, i.physicalOf])).toEqual([
      ['db', 'dump', 'transactional', undefined],
      ['db.physical', 'tar', 'quiesced', 'db'],
    ]);
    expect(out[1]!.service.strategy).toBe('tar');
    // The copy logs in as the service does: HOLDFAST_DB_PASSWORD, not HOLDFAST_DB_PHYSICAL_PASSWORD.
    expect(out[1]!.service.secretEnv).toEqual(['HOLDFAST_DB']);
    // How the volume driver knows to take the engine's fingerprint with the copy.
    expect(out[1]!.service.options.physical_of).toBe('db');
    expect(out[1]!.reason).toBe('physical copy of db for rollback: tar of pgdata with the writers stopped (quiesced), taken after its dump');
  });

  test("the engine's own copy that cannot run gives way to the volume tar, and the reason says why", () => {
    const own = offer('physical', {
      physical: true,
      requirements: [{ ...requirement('mariadb-backup in the image', false), detail: 'its image lacks mariadb-backup or mariabackup; the dump (the default strategy) runs inside the container instead' }],
    });
    const out = withPhysicalCopies([item('db', 'dump', [dump, own, tar, tarLive])]);
    expect(out[1]).toMatchObject({ strategy: 'tar', physicalOf: 'db' });
    expect(out[1]!.reason).toBe(
      'physical copy of db for rollback: tar of pgdata with the writers stopped (quiesced), taken after its dump; not physical: its image lacks mariadb-backup or mariabackup',
    );
  });

  test('a service already copied physically gets none', () => {
    expect(withPhysicalCopies([item('app', 'tar')]).map((i) => i.service.name)).toEqual(['app']);
  });

  test('no runnable physical offer: no companion, and the reason says why; a live copy is never taken for one', () => {
    const blocked = offer('tar', { physical: true, consistency: 'quiesced', requirements: [requirement('every writer may be stopped', false)] });
    const out = withPhysicalCopies([item('db', 'dump', [dump, blocked, tarLive]), item('plain', 'dump', [dump])]);
    expect(out.map((i) => i.service.name)).toEqual(['db', 'plain']);
    expect(out[0]!.reason).toBe('strongest available; no physical copy: tar: every writer may be stopped; tar-live: inconsistent');
    expect(out[1]!.reason).toContain('no physical copy: the engine offers none here');
  });

  test('a service that cannot be backed up passes through untouched', () => {
    const failed: PlanItem = { service: service('db'), reason: 'no driver', offers: [], error: new HoldfastError('config', 'no driver') };
    expect(withPhysicalCopies([failed])).toEqual([failed]);
  });

  test('names stay valid service names, also for long ones', () => {
    expect(physicalName('db')).toBe('db.physical');
    const long = physicalName('s'.repeat(63));
    expect(long).toHaveLength(63);
    expect(() => assertServiceName(long)).not.toThrow();
  });
});

describe('runBackup with physical copies', () => {
  test('the physical entries run after every logical one and are recorded with physicalOf', async () => {
    const { repo } = await tempRepo();
    const order: string[] = [];
    const driver = fakeDriver({
      backup: async (ctx) => {
        order.push(`${ctx.service.name}:start`);
        await ctx.artifacts.write('a.bin', bytes(`${ctx.service.name}\n`), { kind: ctx.strategy });
        await new Promise((r) => setTimeout(r, 20));
        order.push(`${ctx.service.name}:end`);
        return { details: {} };
      },
    });
    const items = withPhysicalCopies([
      { ...item('db', 'dump'), driver },
      { ...item('app', 'tar'), driver },
    ]).map((i) => ({ ...i, driver }));
    const outcome = await runBackup(repo, items, { tags: ['pre-upgrade'], parallel: 4, timeoutMs: () => 0, fingerprint: 'none', signal: new AbortController().signal, progress: silentProgress() });
    expect(outcome.status).toBe('ok');
    expect(order.indexOf('db.physical:start')).toBeGreaterThan(Math.max(order.indexOf('db:end'), order.indexOf('app:end')));
    const manifest = await repo.load(outcome.snapshotId!);
    expect(manifest.services['db.physical']).toMatchObject({ physicalOf: 'db', strategy: 'tar', consistency: 'quiesced', status: 'ok' });
    expect(manifest.services.db!.physicalOf).toBeUndefined();
  });
});
