import type { ScratchContext, ScratchTarget } from '../../src/core/driver.js';
import { scratchRenames } from '../../src/core/scratch-names.js';
import { formatEndpoint } from '../../src/core/service.js';
import { physicalScratchTarget } from './mysql-scratch-server.js';
import { ident, mysqlTarget, rows, withConnection, type MyTarget } from './mysql-connection.js';

/** MySQL and MariaDB take database names of up to 64 characters. */
const MAX_NAME_BYTES = 64;

/**
 * A restore test of a `dump` snapshot: each database is loaded into a
 * temporary database `holdfast_scratch_<run>_<name>` on the source's server
 * (the restore's database mapping, `rename`); accounts are not applied, they
 * are the live ones. Cleanup drops every database of the run. Physical
 * snapshots get a throwaway server (mysql-scratch-server.ts).
 */
export async function mysqlScratchTarget(ctx: ScratchContext): Promise<ScratchTarget | undefined> {
  if (ctx.strategy === 'physical') return physicalScratchTarget(ctx);
  if (ctx.strategy !== 'dump') return undefined;
  const t = mysqlTarget(ctx.source);
  const recorded = ((ctx.recorded.details.databases as Array<{ name: string }> | undefined) ?? []).map((d) => d.name);
  const rename = scratchRenames(ctx.prefix, recorded, MAX_NAME_BYTES);
  const endpoint = { ...ctx.source.endpoint!, path: '' };
  return {
    target: { ...ctx.source, endpoint },
    options: { rename, globals: false },
    describe: Object.values(rename).map((name) => formatEndpoint({ ...endpoint, path: name }, false)).join(', ') || formatEndpoint(endpoint, false),
    cleanup: () => dropScratchDatabases(t, ctx.prefix),
  };
}

export async function dropScratchDatabases(t: MyTarget, prefix: string): Promise<void> {
  await withConnection(t, undefined, async (c) => {
    const found = await rows<{ name: string }>(c, 'SELECT SCHEMA_NAME AS name FROM information_schema.SCHEMATA WHERE LEFT(SCHEMA_NAME, CHAR_LENGTH(?)) = ?', [prefix, prefix]);
    for (const { name } of found) await c.query(`DROP DATABASE IF EXISTS ${ident(name)}`);
  });
}
