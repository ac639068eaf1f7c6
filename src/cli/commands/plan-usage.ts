import type { Argv } from 'yargs';
import { PRE_UPGRADE_TAG } from '../../core/physical-plan.js';
import type { CommandUsage } from '../command.js';

/** `--physical`, on by default with `--tag pre-upgrade` (`--no-physical` turns it off). */
export function physicalOptions(y: Argv): Argv {
  return y
    .option('physical', {
      type: 'boolean',
      describe: `also copy the files of each database (its volume with the container stopped, or pg_basebackup), for rollback; on with --tag ${PRE_UPGRADE_TAG}`,
    })
    .option('tag', { type: 'string', array: true, describe: `label the snapshot (repeatable), e.g. ${PRE_UPGRADE_TAG}` });
}

export const planUsage: CommandUsage = {
  command: 'plan [services..]',
  describe: 'Show the strategy per service and why (a dry run)',
  builder: (y) =>
    physicalOptions(y)
      .positional('services', { type: 'string', array: true, describe: 'services to plan (default: all)' })
      .option('strategy', { type: 'string', array: true, describe: 'pin a strategy: NAME=STRATEGY' }),
};
