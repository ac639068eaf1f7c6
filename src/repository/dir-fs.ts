import { open, stat } from 'node:fs/promises';
import { HoldfastError, toHoldfastError } from '../core/errors.js';

export async function fsyncDir(path: string): Promise<void> {
  const handle = await open(path, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

export async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

/** A repository or disk error that names where it happened. */
export function wrap(error: unknown, where: string, service?: string): HoldfastError {
  const e = toHoldfastError(error, service ? { service } : {});
  if (e.code === 'repository' || e.code === 'no-space') {
    if (!e.message.includes(where)) {
      return new HoldfastError(e.code, `${e.message} (repository path ${where})`, { service: e.service, hint: e.hint, cause: e.cause });
    }
  }
  return e;
}

const SAFE_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;

export function isSafeArtifactName(name: string): boolean {
  return SAFE_NAME.test(name) && name.length <= 200;
}
