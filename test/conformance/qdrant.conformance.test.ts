import { startFakeQdrant, type FakeQdrant } from '../servers/qdrant-fake.js';
import { docsCount, mutateQdrant, seedQdrant } from '../support/qdrant-data.js';
import { runConformance } from './driver-conformance.js';

// Against the FAKE Qdrant (test/servers/qdrant-fake.ts): no real Qdrant server is
// obtainable here. test/integration/qdrant-real.test.ts runs against a real one when
// HOLDFAST_TEST_QDRANT_URL is set.
runConformance({
  engine: 'qdrant',
  async start() {
    const fakes: FakeQdrant[] = [await startFakeQdrant({ apiKey: 'conformance-key' })];
    const client = await seedQdrant(fakes[0]!.url, 'conformance-key');
    return {
      sourceUrl: `qdrant://127.0.0.1:${fakes[0]!.port}`,
      env: { HOLDFAST_SRC_PASSWORD: 'conformance-key', HOLDFAST_SRC_TARGET_PASSWORD: 'conformance-key' },
      async freshTargetUrl() {
        const fresh = await startFakeQdrant({ apiKey: 'conformance-key' });
        fakes.push(fresh);
        return `qdrant://127.0.0.1:${fresh.port}`;
      },
      mutate: () => mutateQdrant(client),
      probe: () => docsCount(client),
      stop: async () => void (await Promise.all(fakes.map((f) => f.stop()))),
    };
  },
});
