import type { ScratchContext, ScratchTarget } from '../../src/core/driver.js';
import { scratchRenames } from '../../src/core/scratch-names.js';
import type { CollectionRecord } from './qdrant-backup.js';
import { connectQdrant, q } from './qdrant-connection.js';
import { listCollections } from './qdrant-inspector.js';

/** Qdrant's limit on collection names. */
const MAX_NAME_BYTES = 255;

/**
 * A restore test of a `snapshot`: each collection's snapshot is uploaded to
 * `holdfast_scratch_<run>_<name>` on the source's node (restore option
 * `rename`). Cleanup deletes every collection of the run.
 */
export async function qdrantScratchTarget(ctx: ScratchContext): Promise<ScratchTarget | undefined> {
  if (ctx.strategy !== 'snapshot') return undefined;
  const recorded = ((ctx.recorded.details.collections as CollectionRecord[] | undefined) ?? []).map((c) => c.name);
  const rename = scratchRenames(ctx.prefix, recorded, MAX_NAME_BYTES);
  const node = connectQdrant(ctx.source);
  return {
    target: ctx.source,
    // alias_prefix: the collections' aliases come back under the scratch prefix too (qdrant-aliases.ts).
    options: { rename, alias_prefix: ctx.prefix },
    describe: `${node.location} (${Object.values(rename).join(', ')})`,
    cleanup: async () => {
      for (const name of (await listCollections(node)).filter((n) => n.startsWith(ctx.prefix))) {
        await q(node, `delete the scratch collection ${name}`, () => node.client.deleteCollection(name));
      }
    },
  };
}
