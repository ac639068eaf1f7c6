import type { LockInfo } from '../repository/lock.js';
import { isBroken, type Repository } from '../repository/repository.js';
import { applyRetention, type RetentionCandidate, type RetentionDecision, type RetentionPolicy } from '../repository/retention-policy.js';
import { toHoldfastError } from './errors.js';

export interface ForgetOptions {
  dryRun: boolean;
  allowForgetVerified: boolean;
  /** How long to wait for a running backup's lock, in milliseconds. */
  lockWaitMs: number;
  timeZone?: string;
  signal: AbortSignal;
  /** Told when a running backup makes forget wait. */
  onLockWait?: (holder: LockInfo) => void;
  /** Called after each removal, for progress. */
  onRemoved?: (id: string) => void;
}

export interface ForgetEntry extends RetentionDecision {
  createdAt: string;
  tags: string[];
  status: string;
  /** When its restore test passed, if one did. */
  restoreTestPassedAt?: string;
  /** Set once the snapshot is gone (never in a dry run). */
  removed: boolean;
}

export interface ForgetOutcome {
  keep: ForgetEntry[];
  remove: ForgetEntry[];
  /** Snapshots whose manifest cannot be read: listed, never removed by a policy. */
  broken: Array<{ id: string; error: string }>;
  timeZone: string;
  notes: string[];
}

/**
 * Applies a retention policy to the repository. Holding the writer lock (no
 * backup commits meanwhile, and a running one makes this wait or fail), it
 * lists the snapshots, reads their restore-test verdicts, decides, and
 * removes. A dry run takes no lock and changes nothing.
 */
export async function forgetByPolicy(repo: Repository, policy: RetentionPolicy, options: ForgetOptions): Promise<ForgetOutcome> {
  const lock = options.dryRun ? undefined : await repo.lock('forget', { waitMs: options.lockWaitMs, signal: options.signal, onWait: options.onLockWait });
  try {
    const entries = await repo.list();
    const broken: ForgetOutcome['broken'] = [];
    const candidates: Array<RetentionCandidate & { createdAt: string; status: string; tags: string[] }> = [];
    for (const entry of entries) {
      if (isBroken(entry)) {
        broken.push({ id: entry.id, error: entry.broken });
        continue;
      }
      const time = new Date(entry.createdAt);
      if (Number.isNaN(time.getTime())) {
        broken.push({ id: entry.id, error: `the manifest's createdAt ${JSON.stringify(entry.createdAt)} is not a time` });
        continue;
      }
      const passedAt = restoreTestPassedAt((await repo.annotations(entry.id))['restore-test']);
      candidates.push({ id: entry.id, time, tags: entry.tags ?? [], createdAt: entry.createdAt, status: entry.status, ...(passedAt ? { restoreTestPassedAt: passedAt } : {}) });
    }
    const result = applyRetention(candidates, policy, { timeZone: options.timeZone, allowForgetVerified: options.allowForgetVerified });
    const byId = new Map(candidates.map((c) => [c.id, c]));
    const entry = (d: RetentionDecision): ForgetEntry => {
      const c = byId.get(d.id)!;
      return { ...d, createdAt: c.createdAt, tags: c.tags, status: c.status, removed: false, ...(c.restoreTestPassedAt ? { restoreTestPassedAt: c.restoreTestPassedAt } : {}) };
    };
    // Oldest first, as `snapshots` lists them.
    const outcome: ForgetOutcome = { keep: result.keep.map(entry).reverse(), remove: result.remove.map(entry).reverse(), broken, timeZone: result.timeZone, notes: lock?.notes ?? [] };
    if (!options.dryRun) {
      for (const doomed of outcome.remove) {
        if (options.signal.aborted) throw toHoldfastError(options.signal.reason);
        await repo.remove(doomed.id);
        doomed.removed = true;
        options.onRemoved?.(doomed.id);
      }
    }
    return outcome;
  } finally {
    await lock?.release();
  }
}

/** The time of a passed restore test, from a `restore-test` annotation (see DESIGN: verify --restore-test). */
function restoreTestPassedAt(annotation: unknown): string | undefined {
  if (typeof annotation !== 'object' || annotation === null) return undefined;
  const { passed, at } = annotation as { passed?: unknown; at?: unknown };
  if (passed !== true) return undefined;
  return typeof at === 'string' ? at : 'time unknown';
}
