import { isAbsolute, posix } from 'node:path';
import { HoldfastError } from '../../src/core/errors.js';
import type { Service, ServiceMount } from '../../src/core/service.js';
import { osOption } from './opensearch-connection.js';
import { PATH_REPO_HINT } from './opensearch-inspector.js';
import { repoPlace, type RepoPlace } from './opensearch-repository.js';

/** The repository directory of a containerized node, as a directory inside one of its mounts. */
export interface RepoVolume {
  container: string;
  type: 'volume' | 'bind';
  /** Volume name or host path. */
  source: string;
  /** The repository's path relative to the mount's root. */
  subdir: string;
}

/** The container a node runs in: the service option / URL parameter `container`, else the one discovery attached. */
export function nodeContainer(service: Service): string | undefined {
  return osOption(service, 'container') ?? service.container?.name;
}

/**
 * Which of the container's volumes or bind mounts holds `location` (a path
 * as the node sees it), the deepest mount first. A repository on the
 * container's own filesystem cannot be reached without docker cp of a live
 * layer, so that is refused with the compose lines that fix it.
 */
export function repoVolume(service: Service, container: string, mounts: readonly ServiceMount[], location: string): RepoVolume {
  const covering = mounts
    .filter((m): m is ServiceMount & { type: 'volume' | 'bind' } => m.type === 'volume' || m.type === 'bind')
    .map((m) => ({ m, rel: posix.relative(m.destination, location) }))
    .filter(({ rel }) => !rel.startsWith('..') && !isAbsolute(rel))
    .sort((a, b) => b.m.destination.length - a.m.destination.length)[0];
  if (!covering) {
    throw new HoldfastError('config', `the snapshot repository ${location} of the node in container ${container} is not on a volume or bind mount of that container, so holdfast cannot copy it out`, {
      service: service.name,
      driver: 'opensearch',
      hint: PATH_REPO_HINT,
    });
  }
  return { container, type: covering.m.type, source: covering.m.source, subdir: covering.rel };
}

function coveredByMount(mounts: readonly ServiceMount[], location: string): boolean {
  return mounts.some((m) => (m.type === 'volume' || m.type === 'bind') && !posix.relative(m.destination, location).startsWith('..') && !isAbsolute(posix.relative(m.destination, location)));
}

/**
 * Where a holdfast repository lives, with the volume that holds it when the
 * node runs in a container (and repo_path_host does not name a host path
 * for it): the copy then goes through a helper container.
 */
export async function resolveRepoPlace(service: Service, pathRepo: string, dir: string, allowLocationOption = true): Promise<RepoPlace> {
  const place = repoPlace(service, pathRepo, dir, allowLocationOption);
  const container = osOption(service, 'repo_path_host') ? undefined : nodeContainer(service);
  if (!container) return place;
  const mounts = await containerMounts(service, container);
  // A node holdfast knows runs in that container (opensearch-place.ts) may keep path.repo on the container's own filesystem.
  if (service.options.repo_by_exec === true && !coveredByMount(mounts, place.location)) return { ...place, inContainer: container };
  return { ...place, volume: repoVolume(service, container, mounts, place.location) };
}

async function containerMounts(service: Service, ref: string): Promise<readonly ServiceMount[]> {
  if (service.container && (service.container.name === ref || service.container.id.startsWith(ref))) return service.container.mounts;
  const { dockerApi } = await import('../../src/docker/docker-lazy.js');
  const api = await dockerApi();
  const details = await api.inspectContainer(ref);
  if (!details) {
    throw new HoldfastError('not-found', `there is no container ${JSON.stringify(ref)} on ${api.host} (the service option container names the one the OpenSearch node runs in)`, {
      service: service.name,
      driver: 'opensearch',
      hint: 'check the name (docker ps -a) and DOCKER_HOST, or drop the container option for a node that runs on this host',
    });
  }
  return details.mounts;
}
