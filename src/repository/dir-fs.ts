import { lstat, mkdir, open, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { HoldfastError, toHoldfastError } from '../core/errors.js';

/**
 * A repository holds dumps and, with a superuser URL, every role's password
 * hash (globals.sql): its folders are 0700 and its files 0600 whatever the
 * umask, so that only the user who runs holdfast can read them.
 */
export const PRIVATE_DIR = 0o700;
export const PRIVATE_FILE = 0o600;

/** mkdir -p with every folder it creates private. */
export async function mkdirPrivate(path: string): Promise<void> {
  await mkdir(path, { recursive: true, mode: PRIVATE_DIR });
}

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

/**
 * The files and folders under `root` (itself included) that users other than
 * the owner may read or enter (group or other permission bits), for `check`:
 * at most `examples` paths, and how many there are. Symbolic links below the
 * root are not followed.
 */
export async function openToOthers(root: string, examples = 3): Promise<{ count: number; examples: Array<{ path: string; mode: string }> }> {
  const found = { count: 0, examples: [] as Array<{ path: string; mode: string }> };
  const visit = async (path: string, isRoot = false): Promise<void> => {
    // The root may be a symbolic link to the real folder (--repo /backups/current): followed.
    const info = await (isRoot ? stat(path) : lstat(path)).catch(() => undefined);
    if (!info || info.isSymbolicLink()) return;
    if ((info.mode & 0o077) !== 0) {
      found.count++;
      if (found.examples.length < examples) found.examples.push({ path, mode: (info.mode & 0o777).toString(8).padStart(4, '0') });
    }
    if (!info.isDirectory()) return;
    for (const name of await readdir(path).catch(() => [] as string[])) await visit(join(path, name));
  };
  await visit(root, true);
  return found;
}
