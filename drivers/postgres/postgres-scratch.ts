import type { ScratchContext, ScratchTarget } from '../../src/core/driver.js';
import { sameServerScratchTarget } from '../../src/core/scratch-names.js';
import { literal } from './postgres-queryable.js';
import { dropDatabase } from './postgres-leftovers.js';
import { pgSite, withSession, type PgSite } from './postgres-site.js';
import { isContainerService } from './postgres-container.js';
import { containerScratchTarget } from './postgres-container-scratch.js';
import { basebackupScratchTarget } from './postgres-scratch-server.js';

/** 63 bytes is PostgreSQL's name limit; the restore appends `__holdfast` (10) to its own working copy. */
const MAX_NAME_BYTES = 53;

/**
 * A restore test of a `pg_dump` snapshot: every database goes into a
 * temporary database `holdfast_scratch_<run>_<name>` on the source's own
 * server, through the restore's database mapping (`rename`). Globals are not
 * applied: the roles already exist there, and they are live. Cleanup drops
 * every database of the run (FORCE: a killed pg_restore may still hold a
 * connection). Physical snapshots get a throwaway server on the restored
 * files (postgres-scratch-server.ts), PostgreSQL in a container a throwaway
 * container of its image (postgres-container-scratch.ts).
 */
export async function postgresScratchTarget(ctx: ScratchContext): Promise<ScratchTarget | undefined> {
  if (ctx.strategy === 'pg_basebackup') return basebackupScratchTarget(ctx);
  if (ctx.strategy !== 'pg_dump') return undefined;
  if (isContainerService(ctx.source)) return containerScratchTarget(ctx);
  const site = await pgSite(ctx.source);
  return sameServerScratchTarget(ctx, { maxNameBytes: MAX_NAME_BYTES, restoreOptions: { globals: false }, drop: () => dropScratchDatabases(site, ctx.prefix) });
}

/** Drops every database whose name starts with the prefix (the scratch copies and the restore's working copies). */
export async function dropScratchDatabases(site: PgSite, prefix: string): Promise<void> {
  await withSession(site, 'postgres', async (c) => {
    const { rows } = await c.query<{ name: string }>(`SELECT datname AS name FROM pg_database WHERE left(datname, length(${literal(prefix)})) = ${literal(prefix)}`);
    for (const { name } of rows) await dropDatabase(c, name);
  });
}
