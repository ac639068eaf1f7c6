import type { HoldfastCommand } from '../command.js';

export const initCommand: HoldfastCommand = {
  command: 'init',
  describe: 'Create a repository, plain or encrypted (--encrypt); a first backup creates a plain one when none exists',
  builder: (y) =>
    y
      .option('encrypt', {
        type: 'boolean',
        describe:
          'encrypt artifacts, manifests and annotations (AES-256-GCM) with a key wrapped by a passphrase (HOLDFAST_PASSWORD[_FILE], or asked twice on a terminal) and/or a key file (--key-file, created with 32 random bytes if absent); ' +
          'the default when a passphrase or key file is set, --no-encrypt for a plain repository',
      })
      .example('HOLDFAST_PASSWORD_FILE=/root/.holdfast-pass $0 init --encrypt --repo /backups/hf', 'an encrypted repository, passphrase from a 0600 file')
      .example('$0 init --encrypt --key-file /root/holdfast.key --repo /backups/hf', 'an encrypted repository opened with a key file'),
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
