import { hostPlaceRecord } from '../../src/core/place-record.js';
import type { Driver, ScratchContext } from '../../src/core/driver.js';
import { waitUntilAnswering } from '../../src/core/wait-answering.js';
import { HoldfastError } from '../../src/core/errors.js';
import { leftoverEndpoint, type Leftover } from '../../src/core/leftover-journal.js';
import type { Service } from '../../src/core/service.js';
import { backupWithSnapshot } from './opensearch-backup.js';
import { removeServerSnapshot, SERVER_SNAPSHOT } from './opensearch-leftovers.js';
import { connectOpenSearch, type OpenSearchApi } from './opensearch-connection.js';
import { detectOpenSearch, OPENSEARCH_SCHEMES } from './opensearch-detect.js';
import { fingerprintIndices } from './opensearch-fingerprint.js';
import { inspectOpenSearch, nodeFacts, selectIndices } from './opensearch-inspector.js';
import { withOpenSearchPlace } from './opensearch-place.js';
import { restoreSnapshot } from './opensearch-restore.js';
import { openSearchStrategies } from './opensearch-strategies.js';
import { openSearchScratchTarget } from './opensearch-scratch.js';
import { scratchPrefixRemover } from '../../src/core/scratch-leftover.js';

// Every entry point runs where the node is reached (opensearch-place.ts): by its URL, or through a tunnel into its container.
async function withNode<T>(service: Service, fn: (os: OpenSearchApi, service: Service) => Promise<T>): Promise<T> {
  const os = connectOpenSearch(service);
  try {
    return await fn(os, service);
  } finally {
    await os.close();
  }
}

const removeScratchLeftover = scratchPrefixRemover(openSearchScratchTarget);

export const openSearchDriver: Driver = {
  engine: 'opensearch',
  title: 'OpenSearch',
  schemes: OPENSEARCH_SCHEMES,

  detect: detectOpenSearch,

  strategies: (service, signal) =>
    withOpenSearchPlace(service, signal ? { signal } : {}, (s, reached) =>
      withNode(s, async (os) => {
        const offers = openSearchStrategies(await nodeFacts(os));
        return offers.map((o) => ({ ...o, place: reached?.record ?? hostPlaceRecord() }));
      }),
    ),

  // `restore --recreate` started its container: a JVM takes seconds to answer, so wait through its place before restoring.
  waitReady(service, signal) {
    return waitUntilAnswering(openSearchDriver, service, signal);
  },

  inspect: (service) => withOpenSearchPlace(service, {}, (s) => withNode(s, inspectOpenSearch)),

  fingerprint: (service, scope) => withOpenSearchPlace(service, {}, (s) => withNode(s, async (os, s2) => fingerprintIndices(os, await selectIndices(os, s2), scope))),

  backup(ctx) {
    if (ctx.strategy !== 'snapshot') throw new HoldfastError('config', `unknown strategy ${ctx.strategy}`, { service: ctx.service.name, driver: 'opensearch', hint: 'the opensearch driver offers: snapshot' });
    return withOpenSearchPlace(ctx.service, { signal: ctx.signal, note: ctx.note }, async (service, reached) => {
      // The leftover journal names the service as the user does (its container), not the tunnel's passing port.
      const result = await backupWithSnapshot({ ...ctx, service }, ctx.service.endpoint ? leftoverEndpoint(ctx.service.endpoint) : undefined);
      result.details.place = reached?.record ?? hostPlaceRecord();
      return result;
    });
  },

  // The scratch indices live on the source's node; their cleanup runs later, through a place of its own.
  async scratchTarget(ctx: ScratchContext) {
    let location: string | undefined;
    const target = await withOpenSearchPlace(ctx.source, { signal: ctx.signal }, (source, reached) => ((location = reached?.location), openSearchScratchTarget({ ...ctx, source })));
    if (!target || target.target === ctx.source) return target;
    return {
      ...target,
      target: ctx.source,
      // The node's own name, not the tunnel's passing port.
      describe: location ? target.describe.replace(/^\S+/, location) : target.describe,
      cleanup: () => withOpenSearchPlace(ctx.source, {}, async (source) => (await openSearchScratchTarget({ ...ctx, source }))?.cleanup()),
    };
  },
  removeLeftover: (service: Service, leftover: Leftover) =>
    withOpenSearchPlace(service, {}, (s) => (leftover.kind === SERVER_SNAPSHOT ? withNode(s, (os) => removeServerSnapshot(os, leftover)) : removeScratchLeftover(s, leftover))),

  restore(ctx) {
    if (ctx.strategy !== 'snapshot') throw new HoldfastError('integrity', `the snapshot names an unknown strategy ${ctx.strategy}`, { service: ctx.source.name, driver: 'opensearch' });
    return withOpenSearchPlace(ctx.target, { signal: ctx.signal, note: ctx.note }, async (target, reached) => {
      const result = await restoreSnapshot({ ...ctx, target });
      result.details.place = reached?.record ?? hostPlaceRecord();
      return result;
    });
  },
};
