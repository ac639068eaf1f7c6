import type { ContainerDetails } from './docker-api.js';
import { composeDependencies } from './docker-order.js';

/**
 * The order in which to start containers again: what a container depends on
 * first (compose `depends_on`, from the `com.docker.compose.depends_on`
 * label), and where that says nothing, databases before the apps that use
 * them; then by name, so the order is stable. Stop in the reverse order.
 * A dependency cycle is broken at the first container by that same rule.
 */
export function startOrder(containers: readonly ContainerDetails[], isDatabase: (c: ContainerDetails) => boolean): ContainerDetails[] {
  const { key, needs } = composeDependencies(containers);
  const rank = (c: ContainerDetails) => `${isDatabase(c) ? 0 : 1}\u0000${c.name}`;
  const remaining = [...containers].sort((a, b) => rank(a).localeCompare(rank(b)));
  const ordered: ContainerDetails[] = [];
  while (remaining.length > 0) {
    // Next: one that needs nothing still waiting to start.
    const at = remaining.findIndex((c) => !remaining.some((o) => o !== c && needs.get(c.id)!.has(key(o))));
    ordered.push(...remaining.splice(at >= 0 ? at : 0, 1));
  }
  return ordered;
}
