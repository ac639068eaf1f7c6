import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repositorySuite } from './repository-suite.js';

/**
 * The repository suite against an encrypted dir repository: the passphrase
 * comes from HOLDFAST_PASSWORD_FILE, so the suite's plain `holdfast init`
 * creates an encrypted one. Before removing it, cleanup checks that it was
 * encrypted and that no table name of the sample is readable in any file.
 */
repositorySuite('encrypted dir', async () => {
  const work = await mkdtemp(join(tmpdir(), 'holdfast-suite-enc-'));
  const repo = join(work, 'repo');
  const passFile = join(work, 'passphrase');
  await writeFile(passFile, 'suite passphrase, long enough\n', { mode: 0o600 });
  return {
    repo,
    env: { HOLDFAST_PASSWORD_FILE: passFile },
    leftovers: async () => readdir(join(repo, 'tmp')).catch(() => [] as string[]),
    cleanup: async () => {
      try {
        const config = JSON.parse(await readFile(join(repo, 'config.json'), 'utf8')) as { encryption: unknown };
        if (!config.encryption) throw new Error(`${repo} was not encrypted`);
        for (const entry of await readdir(repo, { withFileTypes: true, recursive: true })) {
          if (!entry.isFile()) continue;
          const content = await readFile(join(entry.parentPath, entry.name));
          for (const text of ['customers', 'CREATE TABLE', 'example.test']) {
            if (content.includes(text)) throw new Error(`"${text}" readable in ${join(entry.parentPath, entry.name)}`);
          }
        }
      } finally {
        await rm(work, { recursive: true, force: true });
      }
    },
  };
});
