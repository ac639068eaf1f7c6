import { HoldfastError } from '../../src/core/errors.js';
import type { Service } from '../../src/core/service.js';
import { waitFor } from '../../src/core/wait.js';
import { withClient } from './mongodb-connection.js';
import { openMongo } from './mongodb-place.js';

const READY_TIMEOUT_MS = 120_000;

/**
 * Waits for MongoDB in a container that holdfast has just started
 * (`restore --recreate`): the client through the sidecar tunnel connects and
 * is let in (or refused for its credentials: the server is up, and the restore
 * names the credential problem). A container that stopped meanwhile (a
 * missing MONGO_INITDB_ROOT_PASSWORD, a bad setting) ends the wait at once.
 */
export async function waitForMongoContainer(service: Service, signal: AbortSignal): Promise<void> {
  const name = service.endpoint?.path ?? service.container?.name ?? service.name;
  const stopped = await waitFor(
    `MongoDB in container ${name}`,
    async () => {
      let at;
      try {
        at = await openMongo(service, signal);
      } catch (error) {
        if (error instanceof HoldfastError && (error.code === 'connect' || error.code === 'not-found')) return error;
        throw error;
      }
      try {
        await withClient(at.t, async (c) => c.db('admin').command({ ping: 1 }));
        return null;
      } catch (error) {
        if (error instanceof HoldfastError && error.code === 'auth') return null;
        throw error;
      } finally {
        await at.close();
      }
    },
    { timeoutMs: READY_TIMEOUT_MS, intervalMs: 500, signal },
  );
  if (stopped) {
    throw new HoldfastError('target', `the container ${name} stopped before MongoDB was ready (${stopped.message})`, {
      service: service.name,
      driver: 'mongodb',
      hint: `see docker logs ${name}; the image may need a setting the manifest names but holdfast's environment lacks (e.g. MONGO_INITDB_ROOT_USERNAME=... MONGO_INITDB_ROOT_PASSWORD=... holdfast restore --recreate)`,
    });
  }
}
