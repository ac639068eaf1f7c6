import type { ScratchContext, ScratchTarget } from '../../src/core/driver.js';
import { sameServerScratchTarget } from '../../src/core/scratch-names.js';
import { physicalScratchTarget } from './mysql-scratch-server.js';
import { dumpScratchServer } from './mysql-scratch-dump-server.js';
import { ident, rows, withConnection, type MyTarget } from './mysql-connection.js';
import { isContainerService } from './mysql-container.js';
import { withTarget } from './mysql-target.js';
import { revokeScratchGrants } from './mysql-grants.js';

/** MySQL and MariaDB take database names of up to 64 characters. */
const MAX_NAME_BYTES = 64;

/**
 * A restore test of a `dump` snapshot: on a throwaway server under the
 * original names when one of the backup's series is installed (and the
 * source is not in a container)
 * (mysql-scratch-dump-server.ts); otherwise each database is loaded into a
 * temporary database `holdfast_scratch_<run>_<name>` on the source's server
 * (the restore's database mapping, `rename`); accounts are not created
 * (they are the live ones), but the live accounts get the snapshot's grants
 * on the temporary names (a definer view loads, the grants compare), and
 * cleanup takes those back with every database of the run. Physical
 * snapshots get a throwaway server (mysql-scratch-server.ts).
 */
export async function mysqlScratchTarget(ctx: ScratchContext): Promise<ScratchTarget | undefined> {
  if (ctx.strategy === 'physical') return physicalScratchTarget(ctx);
  if (ctx.strategy !== 'dump') return undefined;
  // A server in a container is tested where it runs (its own client loads the dump there), not on this host's server.
  const inContainer = isContainerService(ctx.source);
  const server = inContainer ? undefined : await dumpScratchServer(ctx);
  if (server) return server;
  // container:NAME names the container, not a database: the target stays the source itself.
  return sameServerScratchTarget(ctx, { maxNameBytes: MAX_NAME_BYTES, restoreOptions: {}, keepSourcePath: inContainer, drop: () => withTarget(ctx.source, (t) => dropScratchDatabases(t, ctx.prefix)) });
}

export async function dropScratchDatabases(t: MyTarget, prefix: string): Promise<void> {
  await withConnection(t, undefined, async (c) => {
    const found = await rows<{ name: string }>(c, 'SELECT SCHEMA_NAME AS name FROM information_schema.SCHEMATA WHERE LEFT(SCHEMA_NAME, CHAR_LENGTH(?)) = ?', [prefix, prefix]);
    for (const { name } of found) await c.query(`DROP DATABASE IF EXISTS ${ident(name)}`);
    await revokeScratchGrants(c, prefix);
  });
}
