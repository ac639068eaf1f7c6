import type { CommandUsage } from '../command.js';

export const checkUsage: CommandUsage = {
  command: 'check',
  describe: 'Check the whole repository: every manifest readable; with --read-data every artifact checksummed',
  builder: (y) => y.option('read-data', { type: 'boolean', default: false, describe: 'read every artifact and recompute its sha256 (restic: also restic check --read-data)' }),
};
