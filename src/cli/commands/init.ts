import type { HoldfastCommand } from '../command.js';
import { initUsage } from './init-usage.js';

export const initCommand: HoldfastCommand = {
  ...initUsage,
  async run(ctx, args) {
    const repo = ctx.repository();
    await repo.init(typeof args.encrypt === 'boolean' ? { encrypt: args.encrypt } : {});
    const encrypt = repo.encrypted === true;
    if (ctx.out.json) ctx.out.document({ status: 'ok', repository: repo.location, encrypted: encrypt });
    else {
      ctx.out.line(`created ${encrypt ? 'encrypted ' : ''}repository ${repo.location}`);
      if (encrypt) ctx.out.info('keep the passphrase or key file safe and apart from the repository: without it no snapshot can be read');
    }
    return 0;
  },
};
