import { leftoverEndpoint, leftoverJournal, type Leftover } from '../../src/core/leftover-journal.js';
import { HoldfastError } from '../../src/core/errors.js';
import { SCRATCH_PREFIX } from '../../src/core/scratch-names.js';
import type { Service } from '../../src/core/service.js';
import type { MyTarget } from './mysql-connection.js';
import { ident, withConnection } from './mysql-connection.js';
import { withTarget } from './mysql-target.js';
import { dropScratchDatabases } from './mysql-scratch.js';

/**
 * What a MySQL / MariaDB restore writes to the leftover journal, and how the
 * next command removes it after a kill -9:
 * - 'working-copy': the scratch database `<name>__holdfast` a restore over a
 *   non-empty database loads into; dropped.
 * - 'swap': the same scratch while it is moved into the target (mysql-swap.ts:
 *   MySQL has no atomic RENAME DATABASE). Killed then, the target may hold
 *   part of the snapshot: the scratch is dropped and the message says to run
 *   the restore again with --force (the journal line names the command).
 * - 'partial-load': a database that did not exist and that a restore loads
 *   into directly; killed half-way, it holds part of the data: dropped.
 * - 'scratch-prefix': a restore test's `holdfast_scratch_<run>_*` databases.
 */
export function recordMysqlLeftover(service: Service, kind: 'working-copy' | 'partial-load' | 'swap', name: string, target?: string): Promise<Leftover> {
  const container = containerOf(service);
  const data = { ...(target ? { target } : {}), ...(container ? { container } : {}) };
  return leftoverJournal().add({ kind, name, driver: 'mysql', service: service.name, endpoint: leftoverEndpoint(service.endpoint!), ...(Object.keys(data).length > 0 ? { data } : {}) });
}

/**
 * The container of a `container:NAME` service. Its journal endpoint is
 * `container://` for every container (leftoverEndpoint keeps no path), so
 * the entry names the container, and only that container's service removes it.
 */
function containerOf(service: Service): string | undefined {
  return service.endpoint?.scheme === 'container' ? service.endpoint.path || service.container?.name : undefined;
}

export function forgetMysqlLeftover(leftover: Leftover): Promise<void> {
  return leftoverJournal().remove(leftover);
}

export async function removeMysqlLeftover(service: Service, leftover: Leftover): Promise<string | false> {
  const container = containerOf(service);
  if (leftover.data?.container !== undefined && leftover.data.container !== container) {
    // Kept in the journal (an error, not false) for the command that touches that container.
    throw new HoldfastError('config', `the leftover ${JSON.stringify(leftover.name)} is in container ${leftover.data.container}, not ${container ?? service.name}`, { service: service.name, driver: 'mysql' });
  }
  return withTarget(service, (t) => removeLeftover(t, leftover));
}

async function removeLeftover(t: MyTarget, leftover: Leftover): Promise<string | false> {
  if (leftover.kind === 'scratch-prefix') {
    if (!leftover.name.startsWith(SCRATCH_PREFIX)) return false;
    await dropScratchDatabases(t, leftover.name);
    return `dropped the restore test's databases ${leftover.name}*`;
  }
  if ((leftover.kind === 'working-copy' || leftover.kind === 'swap') && !leftover.name.endsWith('__holdfast')) return false;
  if (leftover.kind !== 'working-copy' && leftover.kind !== 'partial-load' && leftover.kind !== 'swap') return false;
  await withConnection(t, undefined, (c) => c.query(`DROP DATABASE IF EXISTS ${ident(leftover.name)}`));
  if (leftover.kind === 'partial-load') return `dropped ${JSON.stringify(leftover.name)}, which held part of a restore`;
  if (leftover.kind === 'swap') return `dropped ${JSON.stringify(leftover.name)}; that restore was killed while moving it into ${JSON.stringify(leftover.data?.target)}, which may hold part of the snapshot: run that restore again with --force`;
  return `dropped ${JSON.stringify(leftover.name)}`;
}
