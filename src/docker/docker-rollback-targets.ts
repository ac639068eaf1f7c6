import { HoldfastError } from '../core/errors.js';
import { recordedContainer, recordedVolumes, type RollbackStep } from '../core/rollback-plan.js';
import { usersOf } from '../../drivers/volume/volume-mounts.js';
import type { ContainerDetails, DockerApi } from './docker-api.js';
import { dependentsOf } from './docker-dependents.js';
import { startOrder } from './docker-start-order.js';

/** The containers a rollback touches, found before anything is stopped. */
export interface RollbackTargets {
  /** Stopped before the restores, in this order (dependents first); started again in the reverse order. */
  stop: ContainerDetails[];
  /** Containers of the snapshot's services that are not running now: started with the others at the end. */
  alsoStart: ContainerDetails[];
  /** Containers a logical restore runs its tools in: they must run during the restore. */
  keepRunning: ContainerDetails[];
  /** The order in which everything is started at the end. */
  start: ContainerDetails[];
  /** The container of each step's service, when it has one. */
  containerOf: Map<string, ContainerDetails>;
  /** Why each container is stopped, for --dry-run and messages. */
  why: Map<string, string>;
}

/**
 * Finds, per step, the container its service lives in (by the name the
 * snapshot recorded) and, for physical steps, every container that mounts
 * one of its volumes. A container that is gone, or now runs another image
 * than the one whose files are put back, is an error before anything stops.
 */
export async function rollbackTargets(api: DockerApi, steps: readonly RollbackStep[], options: { allowNewImage: boolean }): Promise<RollbackTargets> {
  const containerOf = new Map<string, ContainerDetails>();
  const stop = new Map<string, ContainerDetails>();
  const keep = new Map<string, ContainerDetails>();
  const why = new Map<string, string>();
  const databases = new Set<string>();
  for (const step of steps) {
    const recorded = recordedContainer(step.record) ?? (step.logical ? recordedContainer(step.logical) : undefined);
    const current = recorded ? await api.inspectContainer(recorded.name) : undefined;
    if (recorded && !current) {
      throw new HoldfastError('not-found', `container ${recorded.name} of service ${step.service} is gone; nothing was stopped`, {
        service: step.service,
        hint: `create it again first (e.g. docker compose up --no-start ${step.service}); rollback puts the data back into the stack's existing containers`,
      });
    }
    if (current) {
      containerOf.set(step.service, current);
      if (step.record.engine !== 'volume') databases.add(current.id);
    }
    // Its clients (compose depends_on) stay stopped until it is back and checked.
    if (current) {
      for (const client of await dependentsOf(api, current)) {
        stop.set(client.id, client);
        if (!why.has(client.id)) why.set(client.id, `depends on ${step.service}`);
      }
    }
    if (step.method === 'logical') {
      if (current) keep.set(current.id, current);
      continue;
    }
    if (current && recorded) checkImage(step, current, recorded, options.allowNewImage);
    if (current) {
      stop.set(current.id, current);
      why.set(current.id, `container of ${step.service}`);
    }
    for (const v of recordedVolumes(step.record)) {
      for (const user of await usersOf(api, { type: v.type, source: v.source, destination: v.destination, readOnly: false })) {
        stop.set(user.id, user);
        if (!why.has(user.id)) why.set(user.id, `mounts ${v.source} of ${step.service}`);
      }
    }
  }
  for (const [id, c] of keep) {
    if (stop.has(id)) {
      throw new HoldfastError('config', `container ${c.name} must run for a logical restore and be stopped for a physical one (it mounts ${why.get(id)}); nothing was stopped`, {
        hint: 'roll back those services one at a time: holdfast rollback SNAPSHOT SERVICE',
      });
    }
  }
  const isDatabase = (c: ContainerDetails) => databases.has(c.id);
  const running = [...stop.values()].filter((c) => c.running || c.paused);
  const alsoStart = [...stop.values()].filter((c) => !c.running && !c.paused && [...containerOf.values()].some((o) => o.id === c.id));
  const start = startOrder([...running, ...alsoStart], isDatabase);
  return {
    stop: startOrder(running, isDatabase).reverse(),
    alsoStart,
    keepRunning: [...keep.values()],
    start,
    containerOf,
    why,
  };
}

function checkImage(step: RollbackStep, current: ContainerDetails, recorded: { image?: string; imageId?: string }, allow: boolean): void {
  const differs = recorded.imageId && current.imageId ? recorded.imageId !== current.imageId : !!recorded.image && recorded.image !== current.image;
  if (!differs || allow) return;
  const was = `${recorded.image ?? '?'}${recorded.imageId ? ` (${recorded.imageId.slice(0, 19)})` : ''}`;
  const now = `${current.image}${current.imageId ? ` (${current.imageId.slice(0, 19)})` : ''}`;
  throw new HoldfastError('target', `container ${current.name} of service ${step.service} now runs ${now}, but the files in the snapshot were written by ${was}; nothing was stopped`, {
    service: step.service,
    hint: `recreate it from the old image first (put ${recorded.image ?? 'the old image'} back in the compose file, docker compose up -d ${step.service}), then run rollback again; or pass --allow-new-image`,
  });
}
