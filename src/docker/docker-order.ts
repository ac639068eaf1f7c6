import type { ContainerDetails } from './docker-api.js';
import { composeOf } from './docker-labels.js';

/**
 * The order in which to hold containers: dependents before what they depend
 * on (compose depends_on), so an app is stopped before its database and
 * started after it (release runs the order backwards). Ties and cycles fall
 * back to the container name, so the order is stable.
 */
export function holdOrder(containers: readonly ContainerDetails[]): ContainerDetails[] {
  const { key, needs: deps } = composeDependencies(containers);
  const remaining = [...containers].sort((a, b) => a.name.localeCompare(b.name));
  const ordered: ContainerDetails[] = [];
  while (remaining.length > 0) {
    // Held first: a container nothing else still waiting depends on.
    const at = remaining.findIndex((c) => !remaining.some((o) => o !== c && deps.get(o.id)!.has(key(c))));
    ordered.push(...remaining.splice(at >= 0 ? at : 0, 1));
  }
  return ordered;
}

/**
 * Compose dependencies (the `com.docker.compose.depends_on` label): each
 * container's key (`project/service`, or `/name` outside compose) and, by
 * container id, the keys of what it depends on.
 */
export function composeDependencies(containers: readonly ContainerDetails[]): { key: (c: ContainerDetails) => string; needs: Map<string, Set<string>> } {
  const key = (c: ContainerDetails) => {
    const compose = composeOf(c.labels);
    return compose ? `${compose.project}/${compose.service}` : `/${c.name}`;
  };
  const needs = new Map(
    containers.map((c) => {
      const compose = composeOf(c.labels);
      return [c.id, new Set((compose?.dependsOn ?? []).map((d) => `${compose!.project}/${d}`))] as const;
    }),
  );
  return { key, needs };
}
