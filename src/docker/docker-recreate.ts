import { HoldfastError } from '../core/errors.js';
import type { ServiceMount } from '../core/service.js';
import type { ContainerSpec, DockerApi } from './docker-api.js';

/** What a manifest keeps of a container (src/core/container-record.ts writes it). */
export interface RecordedContainer {
  name: string;
  image: string;
  mounts: ServiceMount[];
  envNames: string[];
  labels: Record<string, string>;
  stopTimeout?: number;
}

export interface Recreated {
  /** False when the container was there already: the restore goes into it as it is. */
  created: boolean;
  name: string;
  notes: string[];
  /** Removes what was created (container and its fresh volumes), when the server never came up; returns the container's last log lines. */
  discard(): Promise<string>;
}

/**
 * Rebuilds a service's container on this Docker host (another host, after a
 * migration) so that its engine can take a restore: same name, image, labels
 * and mount points, every named volume created fresh. The manifest keeps only
 * the names of environment variables: each one the image does not set itself
 * gets its value from holdfast's own environment (POSTGRES_PASSWORD=...
 * holdfast restore --recreate), the others are left out and named in a note.
 * The container gets no network (`none`): holdfast reaches it through docker
 * exec, and the user's compose file puts it on its networks and ports later,
 * keeping the volumes. Nothing is replaced: an existing volume is refused.
 */
export async function recreateContainer(api: DockerApi, recorded: RecordedContainer, context: { service: string; snapshot: string; env?: NodeJS.ProcessEnv; readOnlyBinds?: boolean }): Promise<Recreated> {
  const { service } = context;
  const env = context.env ?? process.env;
  if (await api.inspectContainer(recorded.name)) return { created: false, name: recorded.name, notes: [], discard: async () => '' };
  const imageEnv = await api.imageEnvNames(recorded.image);
  if (!imageEnv) {
    throw new HoldfastError('target', `the image ${recorded.image} of container ${recorded.name} is not on the Docker host ${api.host}`, {
      service,
      hint: `pull or build it there first (or carry it: docker save ${recorded.image} | docker -H NEWHOST load); holdfast never pulls`,
    });
  }
  const notes: string[] = [];
  const mounts: ContainerSpec['mounts'] = [];
  const fresh: string[] = [];
  for (const m of recorded.mounts) {
    if (m.type === 'tmpfs') mounts.push({ type: 'tmpfs', source: '', target: m.destination, readOnly: false });
    else if (m.type === 'volume' && !m.readOnly) {
      if (await api.inspectVolume(m.source)) {
        throw new HoldfastError('target', `volume ${m.source} already exists on ${api.host}; --recreate starts ${recorded.name} on fresh volumes only`, {
          service,
          hint: `remove it (docker volume rm ${m.source}) if it holds nothing you need, or start the container yourself and restore into it: --target ${service}=container:NAME`,
        });
      }
      fresh.push(m.source);
      mounts.push({ type: 'volume', source: m.source, target: m.destination, readOnly: false });
    } else if (m.type === 'bind' && !m.readOnly) {
      throw new HoldfastError('target', `container ${recorded.name} kept ${m.destination} in the host directory ${m.source}, which --recreate does not rebuild`, {
        service,
        hint: `start the container yourself with that directory and restore into it: --target ${service}=container:NAME`,
      });
    } else if (m.type === 'bind' && context.readOnlyBinds) {
      // A host path from the manifest (untrusted input) is mounted only when the user said --force, and read-only.
      mounts.push({ type: 'bind', source: m.source, target: m.destination, readOnly: true });
      notes.push(`mounted the host directory ${m.source} read-only at ${m.destination}, as the manifest records it (--force)`);
    } else notes.push(`${m.type} ${m.source} at ${m.destination} (read-only: not state) was not mounted; add it with your compose file${m.type === 'bind' ? ', or restore with --force to mount it read-only again' : ''}`);
  }
  const own = new Set(imageEnv);
  const wanted = recorded.envNames.filter((n) => !own.has(n));
  const passed = wanted.filter((n) => env[n] !== undefined);
  const missing = wanted.filter((n) => env[n] === undefined);
  if (missing.length) notes.push(`environment variables not set in holdfast's environment, left out: ${missing.join(', ')}`);

  const labels = { ...recorded.labels, 'holdfast.restored-from': context.snapshot, 'holdfast.service': service };
  const made: string[] = [];
  let id = '';
  try {
    for (const name of fresh) {
      await api.createVolume({ name, labels: { 'holdfast.restored-from': context.snapshot, 'holdfast.service': service } });
      made.push(name);
    }
    id = await api.createContainer({
      name: recorded.name,
      image: recorded.image,
      env: passed.map((n) => `${n}=${env[n]}`),
      labels,
      mounts,
      networkMode: 'none',
      ...(recorded.stopTimeout !== undefined ? { stopTimeout: recorded.stopTimeout } : {}),
    });
  } catch (error) {
    // Nothing half-built stays behind: the volumes made here are still empty.
    for (const name of made) await api.removeVolume(name).catch(() => undefined);
    throw error;
  }
  notes.unshift(
    `started container ${recorded.name} from ${recorded.image} on ${api.host}, without network, on fresh volumes ${fresh.join(', ') || '(none)'}; ` +
      'bring it up with your compose file or docker run afterwards (the volumes keep the data)',
  );
  const discard = async () => {
    const logs = await api.logsTail(id, 8).catch(() => '');
    await api.remove(id).catch(() => undefined);
    for (const name of made) await api.removeVolume(name).catch(() => undefined);
    return logs;
  };
  return { created: true, name: recorded.name, notes, discard };
}
