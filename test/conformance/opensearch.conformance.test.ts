import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe } from 'vitest';
import { openSearchAvailable, startOpenSearch } from '../servers/opensearch.js';
import { articlesCount, mutateOpenSearch, seedOpenSearch } from '../support/opensearch-data.js';
import { runConformance } from './driver-conformance.js';

// Against a REAL OpenSearch 2.19.6 node (embedded, test/servers/opensearch.ts), one per file.
// The fresh target is the same node under new index names (rename_pattern in the target URL),
// as the postgres suite uses a new database; test/integration/opensearch-restore.test.ts
// restores into a second, fresh node.
describe.runIf(openSearchAvailable())('opensearch (needs bash scripts/install/opensearch.sh)', () => {
  let fresh = 0;
  runConformance({
    engine: 'opensearch',
    async start() {
      const dir = await mkdtemp(join(tmpdir(), 'holdfast-os-conf-'));
      const node = await startOpenSearch({ pathRepo: join(dir, 'snapshots') });
      await seedOpenSearch(node.url);
      return {
        sourceUrl: `opensearch://127.0.0.1:${node.port}`,
        env: {},
        freshTargetUrl: async () => `opensearch://127.0.0.1:${node.port}/?rename_pattern=^&rename_replacement=restored${++fresh}_`,
        mutate: () => mutateOpenSearch(node.url),
        probe: () => articlesCount(node.url),
        async stop() {
          await node.stop();
          await rm(dir, { recursive: true, force: true });
        },
      };
    },
  });
});
