import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { resticLeftovers } from '../support/restic.js';
import { repositorySuite } from './repository-suite.js';

repositorySuite('restic (local restic repository, password from a 0600 file)', async () => {
  const work = await mkdtemp(join(tmpdir(), 'holdfast-suite-restic-'));
  const passwordFile = join(work, 'restic-password');
  await writeFile(passwordFile, 'suite-restic-secret\n');
  await chmod(passwordFile, 0o600);
  const repo = join(work, 'repo');
  const env = { RESTIC_PASSWORD_FILE: passwordFile, XDG_CACHE_HOME: join(work, 'cache') };
  return {
    repo: `restic:${repo}`,
    env,
    leftovers: () => resticLeftovers(repo, env),
    cleanup: () => rm(work, { recursive: true, force: true }),
  };
});
