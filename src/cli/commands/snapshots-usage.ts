import type { CommandUsage } from '../command.js';

export const snapshotsUsage: CommandUsage = {
  command: 'snapshots',
  describe: 'List snapshots: id, time, tags, services, size, and the verdict of the last restore test',
};
