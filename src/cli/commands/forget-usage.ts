import type { CommandUsage } from '../command.js';

/** The --keep-<unit> counts of a retention policy. */
export const COUNTS = ['last', 'hourly', 'daily', 'weekly', 'monthly', 'yearly'] as const;

export const forgetUsage: CommandUsage = {
  command: 'forget',
  describe: 'Remove snapshots by a retention policy (restic semantics); the newest restore-tested snapshot is always kept',
  builder: (y) => {
    let b = y;
    for (const unit of COUNTS) {
      b = b.option(`keep-${unit}`, {
        type: 'string',
        describe: unit === 'last' ? 'keep the N newest snapshots ("unlimited": all)' : `for the N newest ${unit === 'daily' ? 'days' : unit.replace(/ly$/, 's')} that have snapshots, keep the newest of each (local time; "unlimited": all)`,
      });
    }
    return b
      .option('keep-tag', { type: 'string', array: true, describe: 'keep every snapshot with this tag (repeatable; "a,b": with both tags; "": untagged ones)' })
      .option('dry-run', { type: 'boolean', default: false, describe: 'print what would be kept and removed; change nothing' })
      .option('allow-forget-verified', { type: 'boolean', default: false, describe: 'let the policy remove the newest snapshot that passed a restore test (kept otherwise)' })
      .option('retry-lock', { type: 'number', default: 0, describe: 'seconds to wait for a running backup to release the repository lock' })
      .example('$0 forget --keep-daily 7 --keep-weekly 4 --keep-monthly 12 --keep-tag pre-upgrade --dry-run', 'see what a policy would remove')
      .epilogue(
        'Buckets follow natural boundaries of the local time zone (TZ): hours :00-:59, days 00:00-23:59, weeks Monday-Sunday; only hours/days/... that have snapshots count. A snapshot matching any rule is kept. Snapshots with an unreadable manifest are listed and never removed.',
      );
  },
};
