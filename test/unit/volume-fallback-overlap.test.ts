import { describe, expect, test, vi } from 'vitest';
import type { Driver, StrategyOffer } from '../../src/core/driver.js';
import type { Service } from '../../src/core/service.js';

// The volume checks talk to Docker: stood in for, recording when they were asked.
const asked: string[] = [];
vi.mock('../../drivers/volume/volume-strategies.js', async (original) => ({
  ...(await original<typeof import('../../drivers/volume/volume-strategies.js')>()),
  volumeOffers: async (): Promise<StrategyOffer[]> => {
    asked.push('volume checks');
    return [{ name: 'tar', consistency: 'quiesced', summary: 'tar of pgdata with the writers stopped', requirements: [], place: { kind: 'host', where: 'on this host', reason: 'its tar' }, restoresIntoNewer: false, physical: true }];
  },
}));

const { withVolumeFallback } = await import('../../drivers/volume/volume-fallback.js');

const service = {
  name: 'db',
  engine: 'postgres',
  options: {},
  container: { id: 'c1', name: 'shop-db-1', labels: {}, mounts: [{ type: 'volume', source: 'pgdata', destination: '/var/lib/postgresql/data', readOnly: false }] },
} as unknown as Service;

function engine(offer: (release: Promise<void>) => Promise<StrategyOffer[]>, release: Promise<void>): Driver {
  return { engine: 'postgres', title: 'PostgreSQL', schemes: [], detect: () => false, strategies: () => offer(release) } as unknown as Driver;
}

describe("the volume fallback asks its checks beside the engine's own offers", () => {
  test('the volume checks are asked while the engine still plans (each is docker API calls and a tar probe: ~30 ms of fixed cost)', async () => {
    asked.length = 0;
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    const driver = withVolumeFallback(
      engine(async (r) => {
        await r;
        asked.push('engine answered');
        return [{ name: 'pg_dump', consistency: 'transactional', summary: 'pg_dump', requirements: [{ what: 'psql connects', met: true }], place: { kind: 'container', where: 'inside container shop-db-1', reason: 'its image has pg_dump' }, restoresIntoNewer: true }];
      }, released),
    );
    const offers = driver.strategies(service);
    await new Promise((resolve) => setTimeout(resolve, 20));
    // Before: asked only once the engine had answered.
    expect(asked).toEqual(['volume checks']);
    release();
    const all = await offers;
    expect(asked).toEqual(['volume checks', 'engine answered']);
    expect(all.map((o) => o.name)).toEqual(['pg_dump', 'tar']);
    expect(all[1]!.summary).toBe('tar of pgdata with the writers stopped');
  });

  test("when the engine's own method cannot run, the fallback's summary still says why", async () => {
    const driver = withVolumeFallback(engine(async () => [{ name: 'pg_dump', consistency: 'transactional', summary: 'pg_dump', requirements: [{ what: 'psql connects', met: false }], place: { kind: 'container', where: 'inside container shop-db-1', reason: 'no psql' }, restoresIntoNewer: true }], Promise.resolve()));
    const all = await driver.strategies(service);
    expect(all[1]!.summary).toBe("tar of pgdata with the writers stopped (PostgreSQL's own methods cannot run)");
  });

  test("an engine that fails to plan still gets the fallback, and the volume checks' answer is not lost", async () => {
    const driver = withVolumeFallback(engine(async () => Promise.reject(new Error('connection refused')), Promise.resolve()));
    const all = await driver.strategies(service);
    expect(all.map((o) => o.name)).toEqual(['postgres-native', 'tar']);
    expect(all[0]!.requirements[0]).toMatchObject({ met: false, detail: 'connection refused' });
  });
});
