import { hostname } from 'node:os';
import { randomUUID } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { basename } from 'node:path';
import { HoldfastError } from '../core/errors.js';
import { createExclusive, inspect, removeLeftovers, removeStale, type LockFileState } from './lock-file.js';

/**
 * One writer at a time: a lock file holding the owner's pid, host and a
 * token, created whole and exclusively (lock-file.ts). A lock whose process
 * is gone (same host) is stale and taken over in one step that only one
 * contender can take, so a `kill -9` never blocks the next run and two runs
 * starting together never both hold it.
 */
export interface LockInfo {
  pid: number;
  host: string;
  since: string;
  command: string;
  /** Tells this holder's lock from any other (absent in locks of older versions). */
  token?: string;
}

export interface LockWait {
  /** How long to retry while a live process holds the lock; 0 fails at once. */
  waitMs?: number;
  signal?: AbortSignal;
  /** Told once, when the wait begins. */
  onWait?: (holder: LockInfo) => void;
}

export class RepositoryLock {
  private constructor(
    private readonly path: string,
    private readonly token: string,
  ) {}

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
    const info: LockInfo = { pid: process.pid, host: hostname(), since: new Date().toISOString(), command, token: randomUUID() };
    const text = JSON.stringify(info);
    let tookOverFrom: LockInfo | undefined;
    for (let attempt = 0; attempt < 100; attempt++) {
      if (await createExclusive(path, text)) {
        await removeLeftovers(path).catch(() => undefined);
        return { lock: new RepositoryLock(path, info.token!), ...(tookOverFrom ? { tookOverFrom } : {}) };
      }
      const state = await inspect(path);
      if (!state) continue; // released in between: try again
      const holder = parseLock(state);
      if (!isStale(state)) return { holder: holder ?? beingWritten(state) };
      if (await removeStale(path, state, text, isStale)) tookOverFrom ??= holder ?? beingWritten(state);
      else await new Promise((r) => setTimeout(r, 5 + Math.random() * 20)); // another taker is at work: look again in a moment
    }
    throw new HoldfastError('repository', `cannot take the repository lock ${path}: other writers keep taking it`, {
      hint: `wait for the other holdfast runs to finish; if none runs, remove ${path} and any ${basename(path)}.takeover-* next to it`,
    });
  }

  async release(): Promise<void> {
    // Only while the lock is still ours: nobody takes over the lock of a live process, so this is a check, not a race.
    const state = await inspect(this.path);
    if (state && parseLock(state)?.token === this.token) await rm(this.path, { force: true });
  }
}

function parseLock(state: LockFileState): LockInfo | undefined {
  try {
    const info = JSON.parse(state.text) as LockInfo;
    return typeof info.pid === 'number' && typeof info.host === 'string' ? info : undefined;
  } catch {
    return undefined;
  }
}

/** Seconds an unreadable lock file is given before it counts as stale (HOLDFAST_LOCK_GRACE_SECONDS, default 10). */
function graceMs(): number {
  const seconds = Number(process.env.HOLDFAST_LOCK_GRACE_SECONDS ?? 10);
  return (Number.isFinite(seconds) && seconds >= 0 ? seconds : 10) * 1000;
}

/**
 * A lock is stale when its process is gone (same host). One that cannot be
 * read (empty, half-written by a version that wrote in place, or on a
 * filesystem without hard links) may be being written right now: it is stale
 * only once it is older than the grace period.
 */
function isStale(state: LockFileState): boolean {
  const info = parseLock(state);
  if (!info) return Date.now() - state.mtimeMs > graceMs();
  if (info.host !== hostname()) return false; // cannot tell: assume it runs
  try {
    process.kill(info.pid, 0);
    return false;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code !== 'EPERM';
  }
}

/** The holder of a lock file that cannot be read yet, for messages. */
function beingWritten(state: LockFileState): LockInfo {
  return { pid: 0, host: 'unknown', since: new Date(state.mtimeMs).toISOString(), command: 'a writer whose lock file is not readable yet' };
}
