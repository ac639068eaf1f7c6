import { HoldfastError } from '../../core/errors.js';
import type { HoldfastCommand } from '../command.js';

export const initCommand: HoldfastCommand = {
  command: 'init',
  describe: 'Create a repository (a first backup creates a plain one when none exists)',
  builder: (y) => y.option('encrypt', { type: 'boolean', default: false, describe: 'encrypt the repository (not available yet)' }),
  async run(ctx, args) {
    if (args.encrypt) {
      throw new HoldfastError('usage', 'encrypted repositories are not available in this version', {
        hint: 'create a plain repository with `holdfast init`, on an encrypted disk if you need encryption at rest',
      });
    }
    const repo = ctx.repository();
    await repo.init();
    if (ctx.out.json) ctx.out.document({ status: 'ok', repository: repo.location });
    else ctx.out.line(`created repository ${repo.location}`);
    return 0;
  },
};
