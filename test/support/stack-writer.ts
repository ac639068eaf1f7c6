import { waitFor } from '../../src/core/wait.js';
import { docker } from './docker.js';

/** The app of the test stack: counts, logs each count, and on SIGTERM finishes its step and records where it stopped. */
export const WRITER = 'i=$(cat /data/counter 2>/dev/null || echo 0); trap "stop=1" TERM; while [ -z "$stop" ]; do i=$((i+1)); echo $i > /data/counter; echo "line $i" >> /data/log; sleep 0.05; done; echo "stop $i" >> /data/events';

/**
 * The app's counter while it runs. `echo $i > counter` truncates before it
 * writes, so a read can land in between and see nothing: read until the file
 * holds a number of at least `atLeast` (the app counts every 50 ms).
 */
export async function readCounter(container: string, atLeast = 0): Promise<number> {
  return waitFor(
    `${container}'s counter to reach ${atLeast}`,
    async () => {
      const text = await docker(['exec', container, 'cat', '/data/counter']).catch(() => '');
      return /^\d+$/.test(text) && Number(text) >= atLeast ? Number(text) : undefined;
    },
    { timeoutMs: 15_000, intervalMs: 50 },
  );
}
