import type { CommandUsage } from '../command.js';

export const showUsage: CommandUsage = {
  command: 'show <snapshot>',
  describe: 'Print one snapshot manifest',
  builder: (y) => y.positional('snapshot', { type: 'string', describe: 'id, unique prefix, tag or "latest"' }),
};
