import type { LockWait } from '../lock.js';
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { HoldfastError } from '../../core/errors.js';
import type { S3Store } from './s3-store.js';

const LOCK_KEY = 'lock.json';
const REFRESH_MS = 60_000;

/** Minutes after its last refresh at which another host's lock counts as stale (HOLDFAST_S3_LOCK_STALE_MINUTES, default 15). */
function staleAfterMs(): number {
  const minutes = Number(process.env.HOLDFAST_S3_LOCK_STALE_MINUTES ?? 15);
  return (Number.isFinite(minutes) && minutes > 0 ? minutes : 15) * 60_000;
}

export interface S3LockInfo {
  token: string;
  pid: number;
  host: string;
  since: string;
  refreshedAt: string;
  command: string;
}

/**
 * One writer at a time, as a `lock.json` object. It is created with a
 * conditional write (If-None-Match: *), which S3 and most compatible servers
 * honour atomically. Where a server rejects the condition as not implemented,
 * holdfast falls back to a best effort: read, write, read back and compare
 * the owner's token (two writers starting in the same instant can both
 * pass). A lock whose owner is gone is taken over: on the same host when its
 * pid no longer runs (so a `kill -9` never blocks the next run), from another
 * host when it has not been refreshed (every minute while held) for
 * HOLDFAST_S3_LOCK_STALE_MINUTES.
 */
export class S3Lock {
  private timer?: NodeJS.Timeout;

  private constructor(
    private readonly store: S3Store,
    private info: S3LockInfo,
  ) {
    this.timer = setInterval(() => void this.refresh().catch(() => undefined), REFRESH_MS);
    this.timer.unref();
  }

  /** Takes the lock, retrying for `options.waitMs` while a live writer holds it (as the dir repository's lock does). */
  static async acquire(store: S3Store, command: string, options: LockWait = {}): Promise<{ lock: S3Lock; tookOverFrom?: S3LockInfo; bestEffort: boolean }> {
    const deadline = Date.now() + (options.waitMs ?? 0);
    let told = false;
    for (;;) {
      try {
        return await S3Lock.tryAcquire(store, command);
      } catch (error) {
        const holder = error instanceof LockHeld ? error.holder : undefined;
        const remaining = deadline - Date.now();
        if (!holder || remaining <= 0 || options.signal?.aborted) throw holder ? locked(store, holder) : error;
        if (!told) options.onWait?.(holder);
        told = true;
        await new Promise((r) => setTimeout(r, Math.min(1000, remaining)));
      }
    }
  }

  private static async tryAcquire(store: S3Store, command: string): Promise<{ lock: S3Lock; tookOverFrom?: S3LockInfo; bestEffort: boolean }> {
    const now = new Date().toISOString();
    const info: S3LockInfo = { token: randomUUID(), pid: process.pid, host: hostname(), since: now, refreshedAt: now, command };
    let tookOverFrom: S3LockInfo | undefined;
    for (let attempt = 0; attempt < 3; attempt++) {
      const holder = await readLock(store);
      if (holder) {
        if (!isStale(holder)) throw new LockHeld(holder);
        await store.delete(LOCK_KEY);
        tookOverFrom = holder;
      }
      const written = await store.putText(LOCK_KEY, JSON.stringify(info), { ifNoneMatch: true });
      if (written === 'exists') continue; // someone came first: look at them again
      if (written === 'unsupported') await store.putText(LOCK_KEY, JSON.stringify(info));
      // Read back: a server that ignores If-None-Match, or the best-effort path, may have let another writer in.
      const check = await readLock(store);
      if (check?.token !== info.token) {
        if (check) throw new LockHeld(check);
        continue;
      }
      return { lock: new S3Lock(store, info), ...(tookOverFrom ? { tookOverFrom } : {}), bestEffort: written === 'unsupported' };
    }
    throw new HoldfastError('repository', `cannot take the repository lock s3://${store.where.bucket}/${store.key(LOCK_KEY)}: other writers keep taking it`, {
      hint: 'wait for the other holdfast runs to finish',
    });
  }

  private async refresh(): Promise<void> {
    const holder = await readLock(this.store);
    if (holder?.token !== this.info.token) return;
    this.info = { ...this.info, refreshedAt: new Date().toISOString() };
    await this.store.putText(LOCK_KEY, JSON.stringify(this.info));
  }

  async release(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    const holder = await readLock(this.store);
    if (holder?.token === this.info.token) await this.store.delete(LOCK_KEY);
  }
}

async function readLock(store: S3Store): Promise<S3LockInfo | undefined> {
  const text = await store.getText(LOCK_KEY);
  if (text === undefined) return undefined;
  try {
    return JSON.parse(text) as S3LockInfo;
  } catch {
    // Unreadable: nobody can prove ownership; treat it as stale so that it does not block forever.
    return { token: '', pid: 0, host: '', since: '', refreshedAt: '1970-01-01T00:00:00Z', command: 'unknown' };
  }
}

function isStale(info: S3LockInfo): boolean {
  if (info.host === hostname()) {
    try {
      process.kill(info.pid, 0);
      return false;
    } catch (error) {
      return (error as NodeJS.ErrnoException).code !== 'EPERM';
    }
  }
  const refreshed = Date.parse(info.refreshedAt);
  return !Number.isFinite(refreshed) || Date.now() - refreshed > staleAfterMs();
}

/** A live writer holds the lock: retried while waiting, then reported by locked(). */
class LockHeld extends Error {
  constructor(readonly holder: S3LockInfo) {
    super('locked');
  }
}

function locked(store: S3Store, holder: S3LockInfo): HoldfastError {
  return new HoldfastError('repository', `the repository is locked by ${holder.command} (pid ${holder.pid} on ${holder.host}, since ${holder.since})`, {
    hint: `wait for it to finish; a lock from another host that is not refreshed for ${staleAfterMs() / 60_000} minutes is taken over, or delete s3://${store.where.bucket}/${store.key(LOCK_KEY)} if that run is gone`,
  });
}
