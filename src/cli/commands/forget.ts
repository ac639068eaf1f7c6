import { HoldfastError } from '../../core/errors.js';
import { forgetByPolicy, type ForgetEntry } from '../../core/forget-executor.js';
import { describePolicy, isEmptyPolicy, UNLIMITED, type RetentionPolicy } from '../../repository/retention-policy.js';
import { strings, type HoldfastCommand } from '../command.js';
import { table } from '../output.js';
import { COUNTS, forgetUsage } from './forget-usage.js';

export const forgetCommand: HoldfastCommand = {
  ...forgetUsage,
  async run(ctx, args) {
    const policy = policyFrom(args);
    const retryLock = Number(args['retry-lock']);
    if (!Number.isFinite(retryLock) || retryLock < 0) throw new HoldfastError('usage', '--retry-lock must be a number of seconds, at least 0');
    const repo = ctx.repository();
    await repo.open({ create: false });
    const dryRun = !!args['dry-run'];
    const outcome = await forgetByPolicy(repo, policy, {
      dryRun,
      allowForgetVerified: !!args['allow-forget-verified'],
      lockWaitMs: retryLock * 1000,
      signal: ctx.signal,
      onLockWait: (holder) => ctx.out.info(`waiting up to ${retryLock}s for the repository lock held by ${holder.command} (pid ${holder.pid} on ${holder.host})`),
      onRemoved: (id) => ctx.out.info(`removed snapshot ${id}`),
    });
    for (const note of outcome.notes) ctx.out.info(`note: ${note}`);
    for (const b of outcome.broken) ctx.out.warn(`snapshot ${b.id} is broken and was left in place: ${b.error} (run \`holdfast check\`; remove it by hand once you have looked at it)`);
    const when = localTimeFormat(outcome.timeZone);
    if (ctx.out.json) {
      const json = (e: ForgetEntry) => ({
        id: e.id,
        createdAt: e.createdAt,
        localTime: when(e.createdAt),
        tags: e.tags,
        status: e.status,
        ...(e.keep ? { reasons: e.reasons, protectedAsVerified: e.protectedAsVerified } : { removed: e.removed }),
        ...(e.restoreTestPassedAt ? { restoreTestPassedAt: e.restoreTestPassedAt } : {}),
      });
      ctx.out.document({ status: 'ok', repository: repo.location, dryRun, policy: describePolicy(policy), timeZone: outcome.timeZone, keep: outcome.keep.map(json), remove: outcome.remove.map(json), broken: outcome.broken });
      return 0;
    }
    ctx.out.details(`policy: ${describePolicy(policy)} (calendar buckets in ${outcome.timeZone})`);
    const row = (e: ForgetEntry) => [e.id, when(e.createdAt), e.status, e.tags.join(',') || '-'];
    ctx.out.details();
    ctx.out.details(`keep ${outcome.keep.length} snapshots:`);
    ctx.out.details(table(['ID', 'TIME', 'STATUS', 'TAGS', 'REASONS'], outcome.keep.map((e) => [...row(e), e.reasons.join(', ')])));
    ctx.out.details();
    ctx.out.details(`${dryRun ? 'would remove' : 'remove'} ${outcome.remove.length} snapshots:`);
    if (outcome.remove.length) ctx.out.details(table(['ID', 'TIME', 'STATUS', 'TAGS'], outcome.remove.map(row)));
    if (outcome.broken.length) {
      ctx.out.details();
      ctx.out.details(`${outcome.broken.length} broken snapshots, never removed by a policy:`);
      ctx.out.details(table(['ID', 'PROBLEM'], outcome.broken.map((b) => [b.id, b.error])));
    }
    ctx.out.details();
    ctx.out.line(dryRun ? `dry run: ${outcome.remove.length} snapshots would be removed from ${repo.location}; nothing was changed` : `${outcome.remove.length} snapshots removed, ${outcome.keep.length} kept, in ${repo.location}`);
    return 0;
  },
};

function policyFrom(args: Record<string, unknown>): RetentionPolicy {
  const policy: RetentionPolicy = {};
  for (const unit of COUNTS) {
    const raw = args[`keep-${unit}`];
    if (raw === undefined) continue;
    const text = String(Array.isArray(raw) ? raw[raw.length - 1] : raw).trim();
    const n = text === 'unlimited' ? UNLIMITED : /^\d+$/.test(text) ? Number(text) : NaN;
    if (Number.isNaN(n)) throw new HoldfastError('usage', `--keep-${unit} ${JSON.stringify(text)}: give a whole number of at least 0, or "unlimited"`);
    policy[unit] = n;
  }
  const tags = strings(args['keep-tag']);
  if (tags.length) policy.tags = tags.map((t) => t.split(',').map((x) => x.trim()).filter(Boolean));
  if (isEmptyPolicy(policy)) {
    throw new HoldfastError('usage', 'forget needs a policy: with none (or only zeros) it would remove every snapshot, so it refuses', {
      hint: 'e.g. holdfast forget --keep-daily 7 --keep-weekly 4 --dry-run',
    });
  }
  return policy;
}

/** "2026-11-30 14:05:09" on the wall clock of the zone the buckets follow. */
function localTimeFormat(timeZone: string): (iso: string) => string {
  const format = new Intl.DateTimeFormat('sv-SE', { timeZone, year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit', hourCycle: 'h23' });
  return (iso) => format.format(new Date(iso));
}
