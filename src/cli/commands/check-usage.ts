import type { CommandUsage } from '../command.js';

export const checkUsage: CommandUsage = {
  command: 'check',
  describe: 'Check the whole repository: every manifest readable; with --read-data every artifact checksummed and decompressed',
  builder: (y) => y.option('read-data', { type: 'boolean', default: false, describe: 'read every artifact, recompute its sha256 and decompress it (a truncated stream is caught here, not in a restore; restic: also restic check --read-data)' }),
};
