import { createHash, randomUUID } from 'node:crypto';
import { link, open, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

/**
 * The file primitives of the repository lock: a lock file created whole and
 * exclusively (written to a unique temporary name, then hard-linked into
 * place, so nobody ever reads it half-written), and the removal of a stale
 * one as a step only one of its contenders can take.
 */

/** What was at the lock's path, read from one open file: its identity is the inode and a hash of the content. */
export interface LockFileState {
  identity: string;
  text: string;
  mtimeMs: number;
}

/** Links that refuse: filesystems without hard links (some FUSE, SMB, FAT mounts). */
const NO_LINKS = new Set(['EPERM', 'ENOTSUP', 'EOPNOTSUPP', 'ENOSYS', 'EXDEV']);

/** Creates `path` holding `text`, atomically: true when created, false when something is already there. */
export async function createExclusive(path: string, text: string): Promise<boolean> {
  const tmp = `${path}.${randomUUID()}.tmp`;
  await writeFile(tmp, text, { flag: 'wx', mode: 0o600 });
  try {
    await link(tmp, path);
    return true;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? '';
    if (code === 'EEXIST') return false;
    if (!NO_LINKS.has(code)) throw error;
    // Without hard links: an exclusive create, which others may see half-written for an instant (they wait: see the grace period).
    return writeFile(path, text, { flag: 'wx', mode: 0o600 }).then(
      () => true,
      (e: NodeJS.ErrnoException) => {
        if (e.code === 'EEXIST') return false;
        throw e;
      },
    );
  } finally {
    await rm(tmp, { force: true });
  }
}

/** The file at `path` now, or undefined when there is none. */
export async function inspect(path: string): Promise<LockFileState | undefined> {
  let file;
  try {
    file = await open(path, 'r');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  try {
    const info = await file.stat({ bigint: true });
    const text = await file.readFile('utf8');
    const hash = createHash('sha256').update(text).digest('hex').slice(0, 16);
    return { identity: `${info.ino}-${hash}`, text, mtimeMs: Number(info.mtimeMs) };
  } finally {
    await file.close();
  }
}

/**
 * Removes the lock file at `path` if it is still the one judged stale. Of all
 * the processes that judged it stale, only the one that creates the takeover
 * file `<path>.takeover-<identity>` (exclusively) may remove it, and only
 * after it has checked, holding that file, that `path` still has that
 * identity: so a contender that judged it stale a moment ago never removes
 * the fresh lock of the one that took over first. A takeover file whose
 * taker died is itself judged by `isStale` and taken over the same way.
 * True when this call removed it; false when another taker is at work or the
 * lock changed (look again).
 */
export async function removeStale(path: string, stale: LockFileState, ownText: string, isStale: (state: LockFileState) => boolean, depth = 0): Promise<boolean> {
  if (depth > 3) return false;
  const claim = `${path}.takeover-${stale.identity}`;
  for (;;) {
    if (await createExclusive(claim, ownText)) break;
    const taker = await inspect(claim);
    if (!taker) continue;
    if (!isStale(taker)) return false;
    await removeStale(claim, taker, ownText, isStale, depth + 1);
  }
  try {
    const now = await inspect(path);
    if (now?.identity !== stale.identity) return false;
    await rm(path, { force: true });
    return true;
  } finally {
    await rm(claim, { force: true });
  }
}

/**
 * Removes temporary and takeover files of the lock at `path` left by
 * processes killed in the middle (older than a minute). Called by the holder
 * only: no contender acts on a takeover file while the lock is held by a live
 * process, so removing them cannot let two takers in.
 */
export async function removeLeftovers(path: string): Promise<void> {
  const dir = dirname(path);
  const prefix = `${basename(path)}.`;
  const names = await readdir(dir).catch(() => [] as string[]);
  for (const name of names) {
    if (!name.startsWith(prefix) || !(name.endsWith('.tmp') || name.includes('.takeover-'))) continue;
    const info = await stat(join(dir, name)).catch(() => undefined);
    if (info && Date.now() - info.mtimeMs > 60_000) await rm(join(dir, name), { force: true });
  }
}
