import { hostname } from 'node:os';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { HoldfastError } from '../core/errors.js';

/**
 * One writer at a time: an exclusive lock file holding the owner's pid and
 * host. A lock whose process is gone (same host) is stale and taken over, so
 * a `kill -9` never blocks the next run.
 */
export interface LockInfo {
  pid: number;
  host: string;
  since: string;
  command: string;
}

export interface LockWait {
  /** How long to retry while a live process holds the lock; 0 fails at once. */
  waitMs?: number;
  signal?: AbortSignal;
  /** Told once, when the wait begins. */
  onWait?: (holder: LockInfo) => void;
}

export class RepositoryLock {
  private constructor(private readonly path: string) {}

  /**
   * Takes the lock. While a live process holds it, retries every second for
   * up to `waitMs` (0: fail at once), then fails naming the holder.
   */
  static async acquire(path: string, command: string, options: LockWait = {}): Promise<{ lock: RepositoryLock; tookOverFrom?: LockInfo }> {
    let told = false;
    const deadline = Date.now() + (options.waitMs ?? 0);
    for (;;) {
      const attempt = await RepositoryLock.tryAcquire(path, command);
      if ('lock' in attempt) return attempt;
      const remaining = deadline - Date.now();
      if (remaining <= 0 || options.signal?.aborted) {
        const { holder } = attempt;
        throw new HoldfastError('repository', `the repository is locked by ${holder.command} (pid ${holder.pid} on ${holder.host}, since ${holder.since})${options.waitMs ? `; still locked after waiting ${Math.round(options.waitMs / 1000)}s` : ''}`, {
          hint: `wait for that ${holder.command} to finish and run this again${options.waitMs === undefined ? '' : ' (or give --retry-lock a longer time)'}; if that process is gone from another host, remove the lock file ${path}`,
        });
      }
      if (!told) options.onWait?.(attempt.holder);
      told = true;
      await new Promise((r) => setTimeout(r, Math.min(1000, remaining)));
    }
  }

  private static async tryAcquire(path: string, command: string): Promise<{ lock: RepositoryLock; tookOverFrom?: LockInfo } | { holder: LockInfo }> {
    const info: LockInfo = { pid: process.pid, host: hostname(), since: new Date().toISOString(), command };
    let tookOverFrom: LockInfo | undefined;
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        await writeFile(path, JSON.stringify(info), { flag: 'wx', mode: 0o600 });
        return tookOverFrom ? { lock: new RepositoryLock(path), tookOverFrom } : { lock: new RepositoryLock(path) };
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      }
      const holder = await readLock(path);
      if (holder && isAlive(holder)) return { holder };
      await rm(path, { force: true });
      tookOverFrom ??= holder;
    }
    throw new HoldfastError('repository', `cannot take the repository lock ${path}`, { hint: 'remove it if no holdfast is running' });
  }

  async release(): Promise<void> {
    const holder = await readLock(this.path);
    if (holder?.pid === process.pid) await rm(this.path, { force: true });
  }
}

async function readLock(path: string): Promise<LockInfo | undefined> {
  try {
    return JSON.parse(await readFile(path, 'utf8')) as LockInfo;
  } catch {
    return undefined; // vanished or half-written: treat as stale
  }
}

function isAlive(info: LockInfo): boolean {
  if (info.host !== hostname()) return true; // cannot tell: assume it runs
  try {
    process.kill(info.pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
