import { leftoverEndpoint, leftoverJournal, type Leftover } from '../../src/core/leftover-journal.js';
import { SCRATCH_PREFIX } from '../../src/core/scratch-names.js';
import type { Service } from '../../src/core/service.js';
import { ident } from './postgres-connection.js';
import { isContainerService } from './postgres-container.js';
import { literal, type PgSession } from './postgres-queryable.js';
import { withSession, withSite } from './postgres-site.js';
import { dropScratchDatabases } from './postgres-scratch.js';

/**
 * What a PostgreSQL restore writes to the leftover journal, and how the next
 * command removes it after a kill -9:
 * - 'swap': the working copy `<name>__holdfast` of a restore (on a server
 *   reached by URL, or in a container: endpoint `container:NAME`), and the
 *   `<name>__holdfast_old` that the swap renames the target to for a moment.
 *   Killed between the two renames, the target is missing: the old database
 *   is renamed back (the target as it was before the restore), then both
 *   copies are dropped. Never half-applied: either the restored database is
 *   the target, or the one from before is.
 * - 'scratch-prefix': a restore test's `holdfast_scratch_<run>_*` databases.
 */
export async function recordWorkingCopy(service: Service, scratch: string, target: string): Promise<Leftover> {
  return leftoverJournal().add({ kind: 'swap', name: scratch, driver: 'postgres', service: service.name, endpoint: leftoverEndpoint(service.endpoint!), data: { target, old: `${scratch}_old` } });
}

/** Crosses a working copy out: swapped in, or dropped. */
export function forgetLeftover(leftover: Leftover): Promise<void> {
  return leftoverJournal().remove(leftover);
}

export async function removePostgresLeftover(service: Service, leftover: Leftover): Promise<string | false> {
  if (leftover.kind === 'scratch-prefix') {
    // In a container the restore test's copies are a throwaway container and volume, swept by their labels (docker-scratch.ts).
    if (isContainerService(service)) return false;
    if (!leftover.name.startsWith(SCRATCH_PREFIX)) return false;
    await withSite(service, undefined, (site) => dropScratchDatabases(site, leftover.name));
    return `dropped the restore test's databases ${leftover.name}*`;
  }
  if (leftover.kind !== 'swap' || !leftover.data?.target || !leftover.data.old) return false;
  const { target, old } = leftover.data;
  return withSite(service, undefined, (site) => withSession(site, 'postgres', async (c) => {
    const done: string[] = [];
    if (!(await exists(c, target)) && (await exists(c, old))) {
      await c.exec(`ALTER DATABASE ${ident(old)} RENAME TO ${ident(target)}`);
      done.push(`put ${JSON.stringify(target)} back as it was before that restore (it was killed half-way through the swap)`);
    }
    for (const name of [leftover.name, old]) {
      if (!(await exists(c, name))) continue;
      await dropDatabase(c, name);
      done.push(`dropped ${JSON.stringify(name)}`);
    }
    return done.join('; ') || 'already gone';
  }));
}

async function exists(c: PgSession, name: string): Promise<boolean> {
  return (await c.query(`SELECT 1 AS x FROM pg_database WHERE datname = ${literal(name)}`)).rows.length > 0;
}

/** DROP … WITH (FORCE) from PostgreSQL 13: a backend of the killed pg_restore may still be finishing a statement. */
export async function dropDatabase(c: PgSession, name: string): Promise<void> {
  const version = Number((await c.query<{ v: string }>("SELECT current_setting('server_version_num') AS v")).rows[0]!.v);
  if (version >= 130000) {
    await c.exec(`DROP DATABASE IF EXISTS ${ident(name)} WITH (FORCE)`);
  } else {
    await c.query(`SELECT pg_terminate_backend(pid) AS t FROM pg_stat_activity WHERE datname = ${literal(name)} AND pid <> pg_backend_pid()`);
    await c.exec(`DROP DATABASE IF EXISTS ${ident(name)}`);
  }
}
