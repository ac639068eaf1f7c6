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

export class RepositoryLock {
  private constructor(private readonly path: string) {}

  static async acquire(path: string, command: string): Promise<{ lock: RepositoryLock; tookOverFrom?: LockInfo }> {
    const info: LockInfo = { pid: process.pid, host: hostname(), since: new Date().toISOString(), command };
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        await writeFile(path, JSON.stringify(info), { flag: 'wx' });
        return { lock: new RepositoryLock(path) };
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      }
      const holder = await readLock(path);
      if (holder && isAlive(holder)) {
        throw new HoldfastError('repository', `the repository is locked by ${holder.command} (pid ${holder.pid} on ${holder.host}, since ${holder.since})`, {
          hint: 'wait for it to finish; if that process is gone from another host, remove the lock file ' + path,
        });
      }
      await rm(path, { force: true });
      if (attempt === 0 && holder) {
        const again = await RepositoryLock.acquire(path, command);
        return { lock: again.lock, tookOverFrom: holder };
      }
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
