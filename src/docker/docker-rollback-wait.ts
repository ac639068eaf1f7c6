import { HoldfastError } from '../core/errors.js';
import { waitFor } from '../core/wait.js';
import type { ContainerDetails, DockerApi } from './docker-api.js';

/**
 * Waits until a container started again is up: running, and healthy when it
 * has a health check. One that exits instead fails at once, with its exit
 * code and where to look.
 */
export async function waitRunning(api: DockerApi, c: ContainerDetails, timeoutMs: number, signal: AbortSignal): Promise<ContainerDetails> {
  const seen = await waitFor(
    `container ${c.name} running${c.health ? ' and healthy' : ''}`,
    async () => {
      const now = await api.inspectContainer(c.id);
      if (!now) return { kind: 'gone' as const };
      if (now.status === 'exited' || now.status === 'dead') return { kind: 'exited' as const, c: now };
      if (now.running && (!now.health || now.health === 'healthy')) return { kind: 'up' as const, c: now };
      return undefined;
    },
    { timeoutMs, intervalMs: 250, signal },
  );
  if (seen.kind === 'gone') throw new HoldfastError('not-found', `container ${c.name} disappeared while it was started again`, { hint: 'docker ps -a' });
  if (seen.kind === 'exited') {
    throw new HoldfastError('target', `container ${c.name} exited (code ${seen.c.exitCode}) right after it was started again`, {
      hint: `see why with docker logs ${c.name}; the data is back as the snapshot had it, so an image that cannot read it is the usual cause`,
    });
  }
  return seen.c;
}
