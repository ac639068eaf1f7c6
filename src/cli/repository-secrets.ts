import { readFileSync } from 'node:fs';
import { HoldfastError } from '../core/errors.js';
import type { RepositorySecrets } from '../repository/repository-key.js';
import { promptHidden } from './passphrase-prompt.js';

const HOW_TO_SET =
  'set HOLDFAST_PASSWORD, or HOLDFAST_PASSWORD_FILE to a file holding it (mode 0600), or run holdfast on a terminal to be asked; ' +
  'for a key-file repository set HOLDFAST_KEY_FILE or --key-file';

/**
 * The repository passphrase, never from argv: HOLDFAST_PASSWORD,
 * HOLDFAST_PASSWORD_FILE, or a prompt without echo when stdin is a
 * terminal (asked twice at init). A key file from --key-file or
 * HOLDFAST_KEY_FILE. Read once, only when the repository asks.
 */
export function repositorySecrets(keyFileFlag: string | undefined, env: NodeJS.ProcessEnv = process.env, terminal = process.stdin.isTTY === true): RepositorySecrets {
  let cached: string | undefined;
  const keyFile = keyFileFlag ?? (env.HOLDFAST_KEY_FILE || undefined);
  return {
    howToSet: HOW_TO_SET,
    passphraseSet: env.HOLDFAST_PASSWORD !== undefined || !!env.HOLDFAST_PASSWORD_FILE,
    ...(keyFile ? { keyFile } : {}),
    async passphrase({ confirm }) {
      if (cached !== undefined) return cached;
      if (env.HOLDFAST_PASSWORD !== undefined) return (cached = env.HOLDFAST_PASSWORD);
      if (env.HOLDFAST_PASSWORD_FILE) return (cached = readPassphraseFile(env.HOLDFAST_PASSWORD_FILE));
      if (!terminal) return undefined;
      const first = await promptHidden('repository passphrase: ');
      if (confirm && (await promptHidden('the same passphrase again: ')) !== first) {
        throw new HoldfastError('usage', 'the two passphrases differ', { hint: 'run the command again' });
      }
      return (cached = first);
    },
  };
}

function readPassphraseFile(path: string): string {
  try {
    return readFileSync(path, 'utf8').replace(/\r?\n$/, '');
  } catch (cause) {
    throw new HoldfastError('config', `cannot read HOLDFAST_PASSWORD_FILE ${path}`, { hint: 'check the path and that holdfast may read it', cause });
  }
}
