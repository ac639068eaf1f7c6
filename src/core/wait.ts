import { HoldfastError } from './errors.js';

/**
 * Retries `check` until it returns a value other than undefined, or the time
 * runs out. One helper for every "is it up yet" in holdfast and its tests.
 */
export async function waitFor<T>(
  what: string,
  check: () => Promise<T | undefined>,
  options: { timeoutMs: number; intervalMs?: number; signal?: AbortSignal },
): Promise<T> {
  const deadline = Date.now() + options.timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined) return value;
    } catch (error) {
      last = error;
    }
    if (options.signal?.aborted) throw new HoldfastError('interrupted', `stopped while waiting for ${what}`);
    if (Date.now() >= deadline) {
      throw new HoldfastError('timeout', `${what} not ready after ${options.timeoutMs}ms${last ? `: ${(last as Error).message}` : ''}`, { cause: last });
    }
    await new Promise((r) => setTimeout(r, options.intervalMs ?? 200));
  }
}
