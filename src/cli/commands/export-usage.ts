import type { CommandUsage } from '../command.js';

export const exportUsage: CommandUsage = {
  command: 'export <snapshot>',
  describe: 'Write one snapshot as a single checksummed bundle, to carry it to another host (holdfast import)',
  builder: (y) =>
    y
      .positional('snapshot', { type: 'string', describe: 'id, unique prefix, tag or "latest"' })
      .option('to', { type: 'string', demandOption: true, describe: 'the bundle file (written as FILE.partial, renamed when complete), or - for stdout' })
      .option('force', { type: 'boolean', default: false, describe: 'replace an existing FILE' })
      .example('$0 export latest --to /mnt/usb/shop.hfb', 'a file to copy to the new host')
      .example('$0 export pre-move --to - | ssh newhost holdfast import -', 'straight to another host'),
};
