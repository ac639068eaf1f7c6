import type { Driver } from './driver.js';
import { HoldfastError, toHoldfastError } from './errors.js';
import type { ProgressSink } from './driver.js';
import type { Service } from './service.js';
import type { ServiceRecord } from '../repository/manifest.js';

/**
 * `restore --recreate`: when a service whose tools ran inside its container
 * is restored in place and that container does not exist on this Docker host
 * (a migration), starts it again from what the manifest recorded (image,
 * labels, mount points; fresh volumes) and waits until its server is ready.
 * A container that exists is left as it is; so is every other service.
 */
export async function recreateForRestore(
  driver: Driver,
  record: ServiceRecord,
  target: Service,
  context: { service: string; snapshot: string; signal: AbortSignal; progress: ProgressSink; note: (text: string) => void; force?: boolean },
): Promise<void> {
  const container = record.details.container as { name?: unknown } | undefined;
  // Its tools ran in the container, or holdfast reached it there (a place: exec or a sidecar, issue #14). A tar of its
  // volumes (details.quiesce: the volume driver's, which records a place too) is put back with no server to wait for, as before.
  const ranInContainer = (String(record.details.toolsRanIn ?? '').startsWith('container ') || record.details.place !== undefined) && record.details.quiesce === undefined;
  if (!driver.waitReady || !ranInContainer || typeof container?.name !== 'string') return;
  if (target.endpoint?.scheme !== 'container' || target.endpoint.path !== container.name) return;
  const [{ dockerApi }, { recreateContainer }] = await Promise.all([import('../docker/docker-lazy.js'), import('../docker/docker-recreate.js')]);
  context.progress.phase('recreate container');
  const rebuilt = await recreateContainer(await dockerApi(), record.details.container as Parameters<typeof recreateContainer>[1], { service: context.service, snapshot: context.snapshot, readOnlyBinds: context.force === true });
  for (const n of rebuilt.notes) context.note(n);
  if (!rebuilt.created) return;
  context.progress.phase('wait for the server');
  try {
    await driver.waitReady({ ...target, container: undefined }, context.signal);
  } catch (error) {
    const logs = await rebuilt.discard();
    const e = toHoldfastError(error, { service: context.service });
    throw new HoldfastError(e.code, `${e.message}${logs ? `; its last output:\n${logs}` : ''}\n(holdfast removed the container and its new volumes again)`, {
      service: context.service,
      ...(e.hint ? { hint: e.hint } : {}),
      cause: error,
    });
  }
}
