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
 * conditional write (If-None-Match: *), and a stale one is taken over with
 * another (If-Match: the ETag of the stale version read): the server lets
 * exactly one of the contenders replace that version, so the takeover is one
 * atomic step; each then reads the lock back to check it is its own. Where a
 * server rejects the conditions as not implemented, holdfast falls back to a
 * best effort: read, write, read back and compare the owner's token (two
 * writers starting in the same instant can both pass). A lock whose owner is
 * gone is taken over: on the same host when its pid no longer runs (so a
 * `kill -9` never blocks the next run), from another host when it has not
 * been refreshed (every minute while held) for HOLDFAST_S3_LOCK_STALE_MINUTES.
 */
export class S3Lock {
  private timer?: NodeJS.Timeout;

  private constructor(
    private readonly store: S3Store,
    private info: S3LockInfo,
    private etag: string | undefined,
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
    const text = JSON.stringify(info);
    let tookOverFrom: S3LockInfo | undefined;
    for (let attempt = 0; attempt < 20; attempt++) {
      const created = await store.putConditional(LOCK_KEY, text, { ifNoneMatch: true });
      if (created.written === 'unsupported') return S3Lock.bestEffort(store, info);
      let etag = created.written === 'ok' ? created.etag : undefined;
      if (!etag) {
        const current = await readLock(store);
        if (!current) continue; // released in between: try again
        if (!isStale(current)) throw new LockHeld(current.info);
        const swapped = await store.putConditional(LOCK_KEY, text, { ifMatch: current.etag });
        if (swapped.written !== 'ok') {
          if (swapped.written === 'unsupported') return S3Lock.bestEffort(store, info);
          // Another contender replaced that version first: look at the lock again in a moment.
          await new Promise((r) => setTimeout(r, 5 + Math.random() * 20));
          continue;
        }
        etag = swapped.etag;
        tookOverFrom ??= current.info;
      }
      // Read back: a server that accepts the conditions but ignores them may have let another writer in.
      const check = await readLock(store);
      if (check?.info.token !== info.token) {
        if (check) throw new LockHeld(check.info);
        continue;
      }
      return { lock: new S3Lock(store, info, etag || check.etag), ...(tookOverFrom ? { tookOverFrom } : {}), bestEffort: false };
    }
    throw new HoldfastError('repository', `cannot take the repository lock s3://${store.where.bucket}/${store.key(LOCK_KEY)}: other writers keep taking it`, {
      hint: 'wait for the other holdfast runs to finish',
    });
  }

  /** For servers without conditional writes: read, write, read back. */
  private static async bestEffort(store: S3Store, info: S3LockInfo): Promise<{ lock: S3Lock; tookOverFrom?: S3LockInfo; bestEffort: boolean }> {
    const holder = await readLock(store);
    if (holder && !isStale(holder)) throw new LockHeld(holder.info);
    await store.putText(LOCK_KEY, JSON.stringify(info));
    const check = await readLock(store);
    if (check?.info.token !== info.token) throw new LockHeld(check?.info ?? info);
    return { lock: new S3Lock(store, info, undefined), ...(holder ? { tookOverFrom: holder.info } : {}), bestEffort: true };
  }

  private async refresh(): Promise<void> {
    const next = { ...this.info, refreshedAt: new Date().toISOString() };
    if (this.etag === undefined) {
      const holder = await readLock(this.store);
      if (holder?.info.token !== this.info.token) return;
      await this.store.putText(LOCK_KEY, JSON.stringify(next));
      this.info = next;
      return;
    }
    // Only the version this holder wrote last: a lock taken over meanwhile is left alone.
    const written = await this.store.putConditional(LOCK_KEY, JSON.stringify(next), { ifMatch: this.etag });
    if (written.written === 'ok') {
      this.info = next;
      this.etag = written.etag;
    }
  }

  async release(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    const holder = await readLock(this.store);
    if (holder?.info.token !== this.info.token) return;
    await this.store.deleteIfMatch(LOCK_KEY, holder.etag);
  }
}

interface SeenLock {
  info: S3LockInfo;
  etag: string;
  lastModified: number;
  readable: boolean;
}

async function readLock(store: S3Store): Promise<SeenLock | undefined> {
  const seen = await store.getVersioned(LOCK_KEY);
  if (seen === undefined) return undefined;
  try {
    const info = JSON.parse(seen.text) as S3LockInfo;
    if (typeof info.token === 'string' && typeof info.pid === 'number') return { info, etag: seen.etag, lastModified: seen.lastModified, readable: true };
  } catch {
    // below
  }
  const since = new Date(seen.lastModified).toISOString();
  return { info: { token: '', pid: 0, host: 'unknown', since, refreshedAt: since, command: 'unknown (unreadable lock)' }, etag: seen.etag, lastModified: seen.lastModified, readable: false };
}

/** Seconds an unreadable lock object is given before it counts as stale (HOLDFAST_LOCK_GRACE_SECONDS, default 10). */
function graceMs(): number {
  const seconds = Number(process.env.HOLDFAST_LOCK_GRACE_SECONDS ?? 10);
  return (Number.isFinite(seconds) && seconds >= 0 ? seconds : 10) * 1000;
}

function isStale(seen: SeenLock): boolean {
  // Unreadable: nobody can prove ownership, yet it may be a writer's of another version: stale after the grace period.
  if (!seen.readable) return Date.now() - seen.lastModified > graceMs();
  const info = seen.info;
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
