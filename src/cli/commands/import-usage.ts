import type { CommandUsage } from '../command.js';

export const importUsage: CommandUsage = {
  command: 'import <file>',
  describe: 'Add the snapshot of a bundle (holdfast export) to this repository, under its original id, once every part checks out',
  builder: (y) =>
    y
      .positional('file', { type: 'string', describe: 'the bundle, or - for stdin' })
      .example('$0 --repo /var/backups/holdfast import shop.hfb', 'then: holdfast restore <id>'),
};
