import type { BackupContext, BackupResult, Driver, Fingerprint } from '../../src/core/driver.js';
import { HoldfastError, toHoldfastError } from '../../src/core/errors.js';
import { dockerApi } from '../../src/docker/docker-lazy.js';
import { holdContainers, type HoldWindow } from '../../src/docker/docker-holds.js';
import { dependentsOf } from '../../src/docker/docker-dependents.js';
import { holdOrder } from '../../src/docker/docker-order.js';
import { backupVolumes } from './volume-backup.js';
import { stopTimeoutOf } from './volume-mounts.js';
import type { VolumeStrategy } from './volume-strategies.js';

/**
 * The physical copy of a database for rollback (`db.physical`, see
 * src/core/physical-plan.ts): its volumes tarred with the server stopped, as
 * any volume copy, plus the engine's own fingerprint taken just before the
 * stop while the containers that depend on it (compose depends_on, also
 * indirectly) are stopped too. So the fingerprint describes exactly the files
 * copied, and a rollback checks the restored server against it, not against
 * the dump taken a moment earlier.
 */
export async function backupPhysicalCopy(engine: Driver, ctx: BackupContext, strategy: VolumeStrategy): Promise<BackupResult> {
  const api = await dockerApi();
  const own = ctx.service.container;
  const clients = own ? holdOrder(await dependentsOf(api, { id: own.id, labels: own.labels })) : [];
  ctx.progress.phase(clients.length ? 'stop its clients' : 'fingerprint');
  const held = await holdContainers(api, clients.map((c) => ({ container: c, mode: 'stop' as const, stopTimeoutSec: stopTimeoutOf(c), service: ctx.service.name })), ctx.signal);
  let result: BackupResult | undefined;
  let engineFingerprint: Fingerprint | undefined;
  let failure: unknown;
  try {
    if (ctx.fingerprintScope !== 'none') {
      ctx.progress.phase('fingerprint');
      try {
        engineFingerprint = await engine.fingerprint(ctx.service, ctx.fingerprintScope);
      } catch (error) {
        ctx.note(`no ${engine.title} fingerprint with the copy (${toHoldfastError(error).message}); a rollback checks against the dump's`);
      }
    }
    result = await backupVolumes(ctx, strategy);
  } catch (error) {
    failure = error;
  }
  let windows: HoldWindow[] = [];
  try {
    windows = await held.release();
  } catch (error) {
    const e = toHoldfastError(error, { service: ctx.service.name });
    throw failure ? new HoldfastError(e.code, `${e.message}; the copy failed too: ${(failure as Error).message}`, { service: ctx.service.name, ...(e.hint ? { hint: e.hint } : {}) }) : e;
  }
  if (failure) throw failure;
  for (const w of windows) if (w.action === 'stop') ctx.note(`${w.container} (depends on it) was stopped for ${w.heldMs} ms`);
  if (clients.length === 0 && engineFingerprint) ctx.note('no container depends on it (compose depends_on): writes through the network between its fingerprint and its stop are not ruled out');
  return { ...result!, details: { ...result!.details, clientsHeld: windows, ...(engineFingerprint ? { engineFingerprint } : {}) } };
}
