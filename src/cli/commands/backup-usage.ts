import type { CommandUsage } from '../command.js';
import { physicalOptions } from './plan-usage.js';

export const backupUsage: CommandUsage = {
  command: 'backup [services..]',
  describe: 'Back up services into one snapshot (exit 3 when some failed and the rest were saved)',
  builder: (y) =>
    physicalOptions(y)
      .positional('services', { type: 'string', array: true, describe: 'services to back up (default: all)' })
      .option('init', { type: 'boolean', default: false, describe: 'create the repository (a plain one) if there is none yet; without it a missing repository is an error' })
      .option('parallel', { type: 'number', default: 2, describe: 'services backed up at once' })
      .option('timeout', { type: 'number', default: 0, describe: 'seconds per service before it is stopped (0: none, or timeout: in holdfast.yml)' })
      .option('fingerprint', {
        choices: ['counts', 'full', 'none'] as const,
        default: 'counts',
        describe: 'what to record for restore checks: row counts; counts and content checksums (full: reads every row once more, ~1.7x the time of a dump on 2 cores); or nothing',
      })
      .option('strategy', { type: 'string', array: true, describe: 'pin a strategy: NAME=STRATEGY' })
      .option('accept', { type: 'string', array: true, describe: 'a known, declared fingerprint difference that does not fail the comparison: an object path (app.public.t) or one property of it (app.public.t:owner); repeatable (with --verify)' })
      .option('verify', {
        type: 'boolean',
        default: false,
        describe: 'then prove the snapshot: re-read every artifact and check its checksum, restore each service into a scratch target (holdfast_scratch_*, removed afterwards) and compare fingerprints; exit 1 if any differs',
      }),
};
