import { HoldfastError } from '../core/errors.js';
import { calendarBuckets, type CalendarUnit } from './calendar-buckets.js';

/**
 * Which snapshots `forget` keeps: restic's policy, so that its users meet no
 * surprise. A pure function of the snapshot list, the policy and a time zone.
 *
 * - `last` keeps the n newest snapshots.
 * - `hourly` / `daily` / `weekly` / `monthly` / `yearly` keep, for each of the
 *   n newest hours / days / ISO weeks / months / years that have at least one
 *   snapshot, the newest snapshot in it (wall-clock buckets in the local time
 *   zone, not periods counted back from now).
 * - A count of -1 is `unlimited`: every such bucket.
 * - While a count is not used up when the oldest snapshot is reached, the
 *   oldest snapshot is kept too ("oldest daily snapshot"), as restic >= 0.17
 *   does, to keep the longest history the count allows.
 * - `tags`: each entry is a tag list; a snapshot that has every tag of one
 *   list is kept (an empty list matches untagged snapshots).
 * - The rules are combined as a union: a snapshot matching any rule is kept,
 *   and it is told every rule it matched.
 * - An empty policy is refused, so that a typo never removes everything.
 *
 * Beyond restic: the newest snapshot whose restore test passed is kept even
 * when no rule matches it, unless `allowForgetVerified` is set.
 */
export interface RetentionPolicy {
  last?: number;
  hourly?: number;
  daily?: number;
  weekly?: number;
  monthly?: number;
  yearly?: number;
  tags?: string[][];
}

export interface RetentionCandidate {
  id: string;
  time: Date;
  tags: readonly string[];
  /** When a restore test of this snapshot passed (ISO string), if one did. */
  restoreTestPassedAt?: string;
}

export interface RetentionDecision {
  id: string;
  time: Date;
  keep: boolean;
  /** Why it is kept, in restic's words ("daily snapshot", "has tags [pre-upgrade]"); empty when removed. */
  reasons: string[];
  /** Kept only because it is the newest snapshot whose restore test passed. */
  protectedAsVerified: boolean;
}

export interface RetentionOptions {
  /** IANA zone of the wall clock the buckets follow; the local one by default. */
  timeZone?: string;
  allowForgetVerified?: boolean;
}

export interface RetentionResult {
  /** Newest first, as the policy walks them. */
  decisions: RetentionDecision[];
  keep: RetentionDecision[];
  remove: RetentionDecision[];
  timeZone: string;
}

const COUNTED: ReadonlyArray<{ rule: keyof Omit<RetentionPolicy, 'tags'>; unit?: CalendarUnit; reason: string }> = [
  { rule: 'last', reason: 'last snapshot' },
  { rule: 'hourly', unit: 'hourly', reason: 'hourly snapshot' },
  { rule: 'daily', unit: 'daily', reason: 'daily snapshot' },
  { rule: 'weekly', unit: 'weekly', reason: 'weekly snapshot' },
  { rule: 'monthly', unit: 'monthly', reason: 'monthly snapshot' },
  { rule: 'yearly', unit: 'yearly', reason: 'yearly snapshot' },
];

export const UNLIMITED = -1;

export function isEmptyPolicy(policy: RetentionPolicy): boolean {
  return COUNTED.every(({ rule }) => !policy[rule]) && (policy.tags ?? []).length === 0;
}

/** "keep 7 daily, 4 weekly snapshots and all snapshots with tags [pre-upgrade]", as restic says it. */
export function describePolicy(policy: RetentionPolicy): string {
  const counts = COUNTED.filter(({ rule }) => policy[rule]).map(({ rule }) => {
    const n = policy[rule]!;
    return `${n === UNLIMITED ? 'all' : n} ${rule === 'last' ? 'latest' : rule}`;
  });
  let text = counts.length ? `${counts.join(', ')} snapshots` : '';
  if ((policy.tags ?? []).length) text += `${text ? ' and ' : ''}all snapshots with tags ${policy.tags!.map(formatTagList).join(' or ')}`;
  return text ? `keep ${text}` : 'remove';
}

export function applyRetention(snapshots: readonly RetentionCandidate[], policy: RetentionPolicy, options: RetentionOptions = {}): RetentionResult {
  assertPolicy(policy);
  const buckets = calendarBuckets(options.timeZone);
  // Newest first; equal times keep the id order (ids sort by time).
  const list = [...snapshots].sort((a, b) => b.time.getTime() - a.time.getTime() || b.id.localeCompare(a.id));
  const counters = COUNTED.map(({ rule, unit, reason }) => ({ count: policy[rule] ?? 0, unit, reason, last: undefined as string | undefined }));

  const decisions: RetentionDecision[] = list.map((snapshot, index) => {
    const reasons: string[] = [];
    for (const tagList of policy.tags ?? []) {
      if (hasTags(snapshot.tags, tagList)) reasons.push(`has tags ${formatTagList(tagList)}`);
    }
    const oldest = index === list.length - 1;
    const keys = buckets.keysOf(snapshot.time);
    for (const counter of counters) {
      if (counter.count === 0) continue;
      const key = counter.unit ? keys[counter.unit] : `#${index}`;
      if (key !== counter.last || oldest) {
        reasons.push(key === counter.last ? `oldest ${counter.reason}` : counter.reason);
        counter.last = key;
        if (counter.count > 0) counter.count--;
      }
    }
    return { id: snapshot.id, time: snapshot.time, keep: reasons.length > 0, reasons, protectedAsVerified: false };
  });

  if (decisions.length > 0 && decisions.every((d) => !d.keep)) {
    // Only tag rules can keep nothing; restic refuses the same way.
    throw new HoldfastError('usage', `no snapshot matches the policy (${describePolicy(policy)}): forget would remove every snapshot`, {
      hint: 'check the --keep-tag names against `holdfast snapshots`, or add a count such as --keep-last 1',
    });
  }

  if (!options.allowForgetVerified) {
    const verified = list.find((s) => s.restoreTestPassedAt !== undefined);
    const decision = verified && decisions.find((d) => d.id === verified.id);
    if (decision && !decision.keep) {
      decision.keep = true;
      decision.protectedAsVerified = true;
      decision.reasons.push(`newest snapshot that passed a restore test (${verified!.restoreTestPassedAt}); --allow-forget-verified lets forget remove it`);
    }
  }

  return { decisions, keep: decisions.filter((d) => d.keep), remove: decisions.filter((d) => !d.keep), timeZone: buckets.timeZone };
}

function assertPolicy(policy: RetentionPolicy): void {
  for (const { rule } of COUNTED) {
    const n = policy[rule];
    if (n !== undefined && !(Number.isInteger(n) && (n >= 0 || n === UNLIMITED))) {
      throw new HoldfastError('usage', `--keep-${rule} must be a whole number of at least 0, or "unlimited" (got ${n})`);
    }
  }
  if (isEmptyPolicy(policy)) {
    throw new HoldfastError('usage', 'no retention policy given: forget refuses to remove every snapshot', {
      hint: 'give at least one of --keep-last, --keep-hourly, --keep-daily, --keep-weekly, --keep-monthly, --keep-yearly (N >= 1) or --keep-tag',
    });
  }
}

function hasTags(tags: readonly string[], list: readonly string[]): boolean {
  return list.length === 0 ? tags.length === 0 : list.every((t) => tags.includes(t));
}

function formatTagList(list: readonly string[]): string {
  return `[${list.join(',')}]`;
}
