import type { ServiceContainer } from './service.js';

/**
 * What the manifest keeps of a container so that a rollback or a migration
 * can rebuild it: image, mounts, labels and the names (never the values) of
 * its environment variables.
 */
export function containerRecord(c: ServiceContainer): Record<string, unknown> {
  return {
    name: c.name,
    image: c.image,
    ...(c.imageId ? { imageId: c.imageId } : {}),
    state: c.state,
    mounts: c.mounts,
    envNames: c.envNames,
    labels: c.labels,
    ...(c.compose ? { compose: c.compose } : {}),
    ...(c.stopTimeout !== undefined ? { stopTimeout: c.stopTimeout } : {}),
  };
}
