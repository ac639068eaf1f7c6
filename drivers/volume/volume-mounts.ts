import { HoldfastError } from '../../src/core/errors.js';
import type { Service, ServiceMount } from '../../src/core/service.js';
import type { ContainerDetails, DockerApi } from '../../src/docker/docker-api.js';
import { isStateMount } from '../../src/docker/docker-discovery.js';
import { HELPER_LABEL, userLabels } from '../../src/docker/docker-labels.js';

/** What a volume backup copies: the service's read-write volumes and bind mounts, or the one `volume:NAME`. */
export function stateMounts(service: Service): ServiceMount[] {
  if (service.container) return service.container.mounts.filter(isStateMount);
  if (service.endpoint?.scheme === 'volume') return [{ type: 'volume', source: service.endpoint.path, destination: '/', readOnly: false }];
  throw new HoldfastError('config', 'a volume service needs a container (Docker discovery, container:NAME) or a volume:NAME URL', {
    service: service.name,
    hint: 'for example --service uploads=volume:app_uploads',
  });
}

/** A label for a mount in artifacts and fingerprints: the volume name, or the bind's host path. */
export function mountLabel(m: Pick<ServiceMount, 'source'>): string {
  return m.source;
}

function sameData(a: ServiceMount, b: ServiceMount): boolean {
  if (a.type === 'volume' || b.type === 'volume') return a.type === b.type && a.source === b.source;
  if (a.type !== 'bind' || b.type !== 'bind') return false;
  // Bind mounts overlap when one host path contains the other.
  const inside = (x: string, y: string) => x === y || x.startsWith(y.endsWith('/') ? y : `${y}/`);
  return inside(a.source, b.source) || inside(b.source, a.source);
}

/**
 * Every container that can write to these mounts now: running or paused
 * ones that mount any of them read-write (holdfast's own helpers aside),
 * plus, when one of them is in a `holdfast.group`, the rest of that group.
 */
export async function findWriters(api: DockerApi, mounts: readonly ServiceMount[], service: Service): Promise<ContainerDetails[]> {
  const live = await containers(api, mounts, ['running', 'paused']);
  const writers = live.filter((c) => c.mounts.some((m) => !m.readOnly && mounts.some((t) => sameData(m, t))));
  const groups = new Set<string>();
  if (typeof service.options.group === 'string') groups.add(service.options.group);
  for (const w of writers) if (w.labels['holdfast.group']) groups.add(w.labels['holdfast.group']);
  for (const group of groups) {
    for (const id of await api.listContainers({ label: [`holdfast.group=${group}`], status: ['running', 'paused'] })) {
      if (writers.some((w) => w.id === id)) continue;
      const c = await api.inspectContainer(id);
      if (c) writers.push(c);
    }
  }
  return writers;
}

/** Every container, running or not, that mounts this volume or bind path (for restores). */
export async function usersOf(api: DockerApi, mount: ServiceMount): Promise<ContainerDetails[]> {
  return (await containers(api, [mount])).filter((c) => c.mounts.some((m) => sameData(m, mount)));
}

/**
 * Candidate containers for these mounts, inspected: for named volumes
 * Docker's own `volume=` filter finds them; a bind mount needs every
 * container looked at (Docker cannot filter by host path).
 */
async function containers(api: DockerApi, mounts: readonly ServiceMount[], status?: Array<'running' | 'paused'>): Promise<ContainerDetails[]> {
  const ids = new Set<string>();
  if (mounts.some((m) => m.type !== 'volume')) {
    for (const id of await api.listContainers(status ? { status } : {})) ids.add(id);
  } else {
    for (const m of mounts) for (const id of await api.listContainers({ volume: m.source, ...(status ? { status } : {}) })) ids.add(id);
  }
  const out: ContainerDetails[] = [];
  for (const id of ids) {
    const c = await api.inspectContainer(id);
    if (c && c.labels[HELPER_LABEL] !== 'true') out.push(c);
  }
  return out;
}

/** How long `docker stop` may take for this container: its label, else its own setting, else Docker's 10 s. */
export function stopTimeoutOf(c: ContainerDetails): number {
  try {
    return userLabels(c.labels, c.name).stopTimeout ?? c.stopTimeout ?? 10;
  } catch {
    return c.stopTimeout ?? 10;
  }
}

/** The quiesce label of a writer, if any. */
export function quiesceLabel(c: ContainerDetails): string | undefined {
  return c.labels['holdfast.quiesce'];
}
