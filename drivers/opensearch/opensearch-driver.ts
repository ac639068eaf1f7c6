import type { Driver } from '../../src/core/driver.js';
import { HoldfastError } from '../../src/core/errors.js';
import type { Service } from '../../src/core/service.js';
import { backupWithSnapshot } from './opensearch-backup.js';
import { connectOpenSearch, type OpenSearchApi } from './opensearch-connection.js';
import { detectOpenSearch, OPENSEARCH_SCHEMES } from './opensearch-detect.js';
import { fingerprintIndices } from './opensearch-fingerprint.js';
import { inspectOpenSearch, nodeFacts, selectIndices } from './opensearch-inspector.js';
import { restoreSnapshot } from './opensearch-restore.js';
import { openSearchStrategies } from './opensearch-strategies.js';
import { openSearchScratchTarget } from './opensearch-scratch.js';
import { scratchPrefixRemover } from '../../src/core/scratch-leftover.js';

async function withNode<T>(service: Service, fn: (os: OpenSearchApi) => Promise<T>): Promise<T> {
  const os = connectOpenSearch(service);
  try {
    return await fn(os);
  } finally {
    await os.close();
  }
}

export const openSearchDriver: Driver = {
  engine: 'opensearch',
  title: 'OpenSearch',
  schemes: OPENSEARCH_SCHEMES,

  detect: detectOpenSearch,

  strategies: (service) => withNode(service, async (os) => openSearchStrategies(await nodeFacts(os))),

  inspect: (service) => withNode(service, inspectOpenSearch),

  fingerprint: (service, scope) => withNode(service, async (os) => fingerprintIndices(os, await selectIndices(os, service), scope)),

  backup(ctx) {
    if (ctx.strategy !== 'snapshot') throw new HoldfastError('config', `unknown strategy ${ctx.strategy}`, { service: ctx.service.name, driver: 'opensearch', hint: 'the opensearch driver offers: snapshot' });
    return backupWithSnapshot(ctx);
  },

  scratchTarget: openSearchScratchTarget,
  removeLeftover: scratchPrefixRemover(openSearchScratchTarget),

  restore(ctx) {
    if (ctx.strategy !== 'snapshot') throw new HoldfastError('integrity', `the snapshot names an unknown strategy ${ctx.strategy}`, { service: ctx.source.name, driver: 'opensearch' });
    return restoreSnapshot(ctx);
  },
};
