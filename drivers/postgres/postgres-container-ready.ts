import { HoldfastError } from '../../src/core/errors.js';
import type { Service } from '../../src/core/service.js';
import { waitFor } from '../../src/core/wait.js';
import { runText } from '../../src/place/place.js';
import { ContainerPlace } from '../../src/place/container-place.js';
import { PG_WRAPPER } from './postgres-container.js';
import { pgCredentials } from './postgres-place.js';

const READY_TIMEOUT_MS = 180_000;

/** The service's own container as a place, whatever place its work is pinned to: the server's own pg_isready answers there. */
async function openPgContainer(service: Service, signal: AbortSignal): Promise<ContainerPlace> {
  const ref = service.container?.id ?? service.endpoint?.path;
  if (!ref) throw new HoldfastError('config', 'no container named for this service', { service: service.name, hint: 'use container:NAME' });
  const { env } = await pgCredentials(service, signal);
  return ContainerPlace.open(ref, { service: service.name, engine: 'PostgreSQL', wrapper: PG_WRAPPER, env, signal });
}

/**
 * Waits for PostgreSQL in a container that holdfast has just started: the
 * image's entrypoint first runs initdb and a temporary server on the Unix
 * socket only, then stops it and starts the real one. pg_isready over TCP on
 * the container's own loopback answers only for the real one (it works with
 * `--network none` too), so a restore never lands in the temporary server.
 */
export async function waitForContainerServer(service: Service, signal: AbortSignal): Promise<void> {
  const stopped = await waitFor(
    `PostgreSQL in container ${service.endpoint?.path ?? service.name}`,
    async () => {
      const opened = await openPgContainer(service, signal).catch((error: unknown) => {
        // The container stopped (a missing POSTGRES_PASSWORD, a bad setting): no point waiting on.
        if (error instanceof HoldfastError && (error.code === 'connect' || error.code === 'not-found')) return error;
        throw error;
      });
      if (opened instanceof HoldfastError) return opened;
      try {
        const probe = await runText(opened, ['pg_isready', '-q', '-h', '127.0.0.1'], { signal });
        return probe.exitCode === 0 ? null : undefined;
      } finally {
        await opened.close();
      }
    },
    { timeoutMs: READY_TIMEOUT_MS, intervalMs: 500, signal },
  );
  if (stopped) {
    const name = service.endpoint?.path ?? service.name;
    throw new HoldfastError('target', `the container ${name} stopped before PostgreSQL was ready (${stopped.message})`, {
      service: service.name,
      hint: `see docker logs ${name}; the image may need an environment variable the manifest names but holdfast's environment lacks (e.g. POSTGRES_PASSWORD=... holdfast restore --recreate)`,
    });
  }
}
