import type { ScratchContext, ScratchTarget } from '../../src/core/driver.js';
import { sameServerScratchTarget } from '../../src/core/scratch-names.js';
import type { Service } from '../../src/core/service.js';
import { isMongoContainerService } from './mongodb-container.js';
import { withMongo } from './mongodb-place.js';

/** MongoDB allows 64 bytes for a database name; FerretDB's backends one fewer. */
const MAX_NAME_BYTES = 63;

/**
 * A restore test of a `mongodump` or `export` snapshot: each database is
 * restored into a temporary database `holdfast_scratch_<run>_<name>` on the
 * source's server (the restore's database mapping, `rename`), the oplog
 * replayed there too. Cleanup drops every database of the run.
 */
export async function mongoScratchTarget(ctx: ScratchContext): Promise<ScratchTarget | undefined> {
  if (ctx.strategy !== 'mongodump' && ctx.strategy !== 'export') return undefined;
  const target = sameServerScratchTarget(ctx, { maxNameBytes: MAX_NAME_BYTES, keepSourcePath: true, drop: () => dropScratchDatabases(ctx.source, ctx.prefix) });
  if (!isMongoContainerService(ctx.source)) return target;
  // `container:<database>` would read as a container's name: say which container holds the temporary databases.
  const names = Object.values((target.options.rename as Record<string, string> | undefined) ?? {});
  return { ...target, describe: `temporary databases ${names.join(', ') || `${ctx.prefix}*`} in container ${ctx.source.container?.name ?? ctx.source.endpoint?.path}` };
}

/** Drops every database of the run; for a service in a container, through a sidecar of its own. */
export async function dropScratchDatabases(service: Service, prefix: string): Promise<void> {
  await withMongo(service, undefined, async (c) => {
    const { databases } = (await c.db('admin').command({ listDatabases: 1, nameOnly: true })) as { databases: Array<{ name: string }> };
    for (const { name } of databases) if (name.startsWith(prefix)) await c.db(name).dropDatabase();
  });
}
