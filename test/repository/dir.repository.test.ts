import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repositorySuite } from './repository-suite.js';

repositorySuite('plain dir', async () => {
  const work = await mkdtemp(join(tmpdir(), 'holdfast-suite-dir-'));
  const repo = join(work, 'repo');
  return {
    repo,
    env: {},
    leftovers: async () => readdir(join(repo, 'tmp')).catch(() => [] as string[]),
    cleanup: () => rm(work, { recursive: true, force: true }),
  };
});
