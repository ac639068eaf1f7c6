import type { CommandUsage } from '../command.js';

export const rollbackUsage: CommandUsage = {
  command: 'rollback [snapshot] [services..]',
  describe: 'Put a Docker stack back as a snapshot holds it: stop its containers, restore volumes (and databases), start them in dependency order, check fingerprints',
  builder: (y) =>
    y
      .positional('snapshot', { type: 'string', describe: 'id, unique prefix, tag (e.g. pre-upgrade: the newest with it) or "latest"' })
      .positional('services', { type: 'string', array: true, describe: 'services to roll back (default: all of the snapshot)' })
      .option('dry-run', { type: 'boolean', default: false, describe: 'say what would be stopped, restored and started; change nothing' })
      .option('wait-timeout', { type: 'number', default: 120, describe: 'seconds each container and database may take to come up again' })
      .option('allow-new-image', { type: 'boolean', default: false, describe: 'put files back even when a container now runs another image than at backup' })
      .option('resume', { type: 'boolean', default: false, describe: 'finish a rollback that was killed while it rewrote data (its containers are kept stopped until then)' })
      .option('abandon', { type: 'boolean', default: false, describe: 'start the containers of a killed rollback on what their volumes hold now, and forget it (asks for yes)' })
      .option('yes', { type: 'boolean', default: false, describe: 'with --abandon: the explicit yes, for scripts' })
      .example('$0 backup --project shop --tag pre-upgrade', 'before the upgrade: logical and physical copies')
      .example('$0 rollback pre-upgrade --project shop --dry-run', 'what a rollback would do')
      .example('$0 rollback pre-upgrade --project shop', 'put the stack back')
      .example('$0 rollback --resume', 'finish a rollback that was killed half-way'),
};
