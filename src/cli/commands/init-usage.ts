import type { CommandUsage } from '../command.js';

export const initUsage: CommandUsage = {
  command: 'init',
  describe: 'Create a repository, plain or encrypted (--encrypt); or `backup --init` creates a plain one on first use; nothing else creates one',
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
};
