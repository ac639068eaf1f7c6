import type { ContainerDetails, DockerApi } from './docker-api.js';
import { composeOf, COMPOSE_PROJECT } from './docker-labels.js';

/**
 * The running containers of a container's compose project that depend on
 * its service (compose depends_on), directly or through others: the clients
 * that write to a database through the network. None for a container
 * outside compose.
 */
export async function dependentsOf(api: DockerApi, target: { id: string; labels: Record<string, string> }): Promise<ContainerDetails[]> {
  const compose = composeOf(target.labels);
  if (!compose) return [];
  const project: ContainerDetails[] = [];
  for (const id of await api.listContainers({ label: [`${COMPOSE_PROJECT}=${compose.project}`], status: ['running'] })) {
    const c = id === target.id ? undefined : await api.inspectContainer(id);
    if (c) project.push(c);
  }
  const needed = new Set([compose.service]);
  const out: ContainerDetails[] = [];
  for (let grew = true; grew; ) {
    grew = false;
    for (const c of project) {
      const own = composeOf(c.labels);
      if (!own || out.includes(c) || !own.dependsOn.some((d) => needed.has(d))) continue;
      out.push(c);
      needed.add(own.service);
      grew = true;
    }
  }
  return out;
}
