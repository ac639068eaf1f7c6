import type { ScratchContext, ScratchTarget } from '../../src/core/driver.js';
import { connectOpenSearch } from './opensearch-connection.js';
import { listIndices } from './opensearch-inspector.js';

/**
 * A restore test of a `snapshot`: the indices are restored on the source's
 * node under `holdfast_scratch_<run>_<index>` (rename_pattern /
 * rename_replacement of _restore), without their aliases (an alias of the
 * source would otherwise start to cover the scratch copy), then deleted by
 * name (wildcard deletes may be forbidden by action.destructive_requires_name).
 */
export async function openSearchScratchTarget(ctx: ScratchContext): Promise<ScratchTarget | undefined> {
  if (ctx.strategy !== 'snapshot') return undefined;
  const indices = (ctx.recorded.details.indices as string[] | undefined) ?? [];
  return {
    target: ctx.source,
    options: { rename_pattern: '^(.+)$', rename_replacement: `${ctx.prefix}$1`, aliases: false },
    describe: `${ctx.source.endpoint?.host ?? ''}:${ctx.source.endpoint?.port ?? 9200} (${indices.map((i) => ctx.prefix + i).join(', ')})`,
    cleanup: async () => {
      const os = connectOpenSearch(ctx.source);
      try {
        const left = (await listIndices(os)).map((i) => i.name).filter((n) => n.startsWith(ctx.prefix));
        if (left.length > 0) await os.call('DELETE', `/${left.map(encodeURIComponent).join(',')}`, undefined, { expand_wildcards: 'all' });
      } finally {
        await os.close();
      }
    },
  };
}
