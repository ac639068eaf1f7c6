import type { Driver } from './driver.js';
import { HoldfastError, toHoldfastError } from './errors.js';
import type { Service } from './service.js';
import { waitFor } from './wait.js';

const READY_TIMEOUT_MS = 120_000;

/**
 * A driver's `waitReady` for a server in a container that `restore
 * --recreate` has just started: its own `inspect` is retried until the
 * server answers (a refusal of the credentials counts: the server is up, and
 * the restore names the credential problem). A container that stopped ends
 * the wait at once, with its reason.
 */
export async function waitUntilAnswering(driver: Pick<Driver, 'inspect' | 'title' | 'engine'>, service: Service, signal: AbortSignal, timeoutMs = READY_TIMEOUT_MS): Promise<void> {
  const name = service.endpoint?.path ?? service.container?.name ?? service.name;
  let last: HoldfastError | undefined;
  try {
    await waitFor(
      `${driver.title} in container ${name}`,
      async () => {
        try {
          await driver.inspect(service);
          return true;
        } catch (error) {
          const e = toHoldfastError(error, { service: service.name });
          if (e.code === 'auth') return true;
          if (/ is (exited|dead|created)\b/.test(e.message)) throw new HoldfastError('target', `the container ${name} stopped before ${driver.title} was ready`, { service: service.name, driver: driver.engine, hint: `see docker logs ${name}; the image may need a setting the manifest names but holdfast's environment lacks` });
          last = e;
          return undefined;
        }
      },
      { timeoutMs, intervalMs: 500, signal },
    );
  } catch (error) {
    if (error instanceof HoldfastError && error.code === 'target') throw error;
    throw new HoldfastError('target', `${driver.title} in container ${name} did not answer within ${Math.round(timeoutMs / 1000)} s${last ? ` (${last.message})` : ''}`, {
      service: service.name,
      driver: driver.engine,
      hint: `see docker logs ${name}`,
      cause: error,
    });
  }
}
