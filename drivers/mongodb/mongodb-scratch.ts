import type { ScratchContext, ScratchTarget } from '../../src/core/driver.js';
import { sameServerScratchTarget } from '../../src/core/scratch-names.js';
import { mongoTarget, withClient, type MongoTarget } from './mongodb-connection.js';

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
  const t = mongoTarget(ctx.source);
  return sameServerScratchTarget(ctx, { maxNameBytes: MAX_NAME_BYTES, keepSourcePath: true, drop: () => dropScratchDatabases(t, ctx.prefix) });
}

export async function dropScratchDatabases(t: MongoTarget, prefix: string): Promise<void> {
  await withClient(t, async (c) => {
    const { databases } = (await c.db('admin').command({ listDatabases: 1, nameOnly: true })) as { databases: Array<{ name: string }> };
    for (const { name } of databases) if (name.startsWith(prefix)) await c.db(name).dropDatabase();
  });
}
