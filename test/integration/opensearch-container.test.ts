import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { openSearchAvailable } from '../servers/opensearch.js';
import { holdfast } from '../support/cli.js';
import { DockerLab, IMAGES } from '../support/docker.js';
import { ensureOpenSearchImage, openSearchContainer } from '../support/opensearch-container.js';
import { articlesCount, mutateOpenSearch, os, seedOpenSearch } from '../support/opensearch-data.js';
import { committedSnapshots } from '../support/repo-files.js';

// REAL OpenSearch 2.19.6 nodes in containers of the private test dockerd: the image
// holdfast-test/opensearch-hostbin runs the embedded runner of scripts/install/opensearch.sh
// on the host's Java (both mounted read-only). path.repo is a named volume that holdfast,
// like a user whose node runs in Docker, cannot see as a host path: the repository goes
// out of and back into that volume through a helper container.
interface Doc {
  snapshot?: string;
  services: Array<{ status: string; location?: string; fingerprint?: { equal: boolean; compared: number }; error?: { message: string; hint?: string } }>;
}

describe.runIf(openSearchAvailable() && process.getuid?.() === 0)('opensearch in a container: the repository copied through its volume', () => {
  const lab = new DockerLab();
  let source: Awaited<ReturnType<typeof openSearchContainer>>;
  let fresh: Awaited<ReturnType<typeof openSearchContainer>>;
  let freshVolume: string;
  let repo: string;
  let snapshot: string;

  beforeAll(async () => {
    await lab.init();
    ensureOpenSearchImage();
    repo = `${await lab.dir('repo')}/repo`;
    freshVolume = await lab.volume('fresh-snaps');
    [source, fresh] = await Promise.all([openSearchContainer(lab, 'search', await lab.volume('snaps')), openSearchContainer(lab, 'fresh', freshVolume)]);
    await seedOpenSearch(source.url);
    const backup = await holdfast(['--repo', repo, 'backup', '--json', '--service', `src=opensearch://127.0.0.1:${source.port}/?container=${source.container}`], lab.env());
    expect(backup.code, backup.stderr + backup.stdout).toBe(0);
    snapshot = backup.json<Doc>().snapshot!;
  }, 400_000);

  afterAll(async () => {
    await lab.cleanup();
  });

  test('the backup copied the repository out of the node\'s volume through a helper; no helper is left', async () => {
    const show = await holdfast(['--repo', repo, 'show', snapshot, '--json'], lab.env());
    const details = show.json<{ services: { src: { details: { indices: string[]; copiedFrom: Record<string, unknown> } } } }>().services.src.details;
    expect(details.indices).toEqual(['articles', 'users']);
    expect(details.copiedFrom).toMatchObject({ container: source.container, type: 'volume', source: lab.name('snaps'), subdir: 'holdfast' });
    // The node keeps no snapshot of ours and the repository is unregistered again.
    expect(await os<Record<string, unknown>>(source.url, 'GET', '/_snapshot/_all')).toEqual({});
    expect(await lab.held()).toEqual([]);
    expect(await lab.helpers()).toEqual([]);
    const verify = await holdfast(['--repo', repo, 'verify', snapshot], lab.env());
    expect(verify.code, verify.stderr).toBe(0);
  });

  test('restore into another containerized node puts the repository into its volume, restores, and removes the copy', async () => {
    await mutateOpenSearch(source.url);
    const restore = await holdfast(['--repo', repo, 'restore', snapshot, '--json', '--target', `src=opensearch://127.0.0.1:${fresh.port}/?container=${fresh.container}`], lab.env());
    expect(restore.code, restore.stderr + restore.stdout).toBe(0);
    expect(restore.json<Doc>().services[0]!.fingerprint).toMatchObject({ equal: true, compared: 4 }); // 2 indices: rows and definitions
    expect(await articlesCount(fresh.url)).toBe(150);
    expect(Object.keys(await os<Record<string, unknown>>(fresh.url, 'GET', '/_snapshot/_all'))).toEqual([]);
    // The scratch copy (holdfast-restore) is gone from the target's volume.
    expect(await lab.inVolume(freshVolume, 'ls -A /v')).not.toContain('holdfast-restore');
  });

  test('restore --rename-pattern/--rename-replacement: the indices come back under new names next to the existing ones', async () => {
    const res = await holdfast(['--repo', repo, 'restore', snapshot, '--json', '--target', `src=opensearch://127.0.0.1:${fresh.port}/?container=${fresh.container}`, '--rename-pattern', '(.+)', '--rename-replacement', 'copy_$1'], lab.env());
    expect(res.code, res.stderr + res.stdout).toBe(0);
    expect(res.json<Doc>().services[0]!.fingerprint?.equal).toBe(true);
    expect(await articlesCount(fresh.url, 'copy_')).toBe(150);
    expect(await articlesCount(fresh.url)).toBe(150);
  });

  test('in place over the mutated source with --force', async () => {
    const forced = await holdfast(['--repo', repo, 'restore', snapshot, '--force', '--json', '--target', `src=opensearch://127.0.0.1:${source.port}/?container=${source.container}`], lab.env());
    expect(forced.code, forced.stderr + forced.stdout).toBe(0);
    expect(forced.json<Doc>().services[0]!.fingerprint?.equal).toBe(true);
    expect(await articlesCount(source.url)).toBe(150);
  });

  test('a container that does not exist, or whose mounts do not hold path.repo: a clear error and nothing stored', async () => {
    const before = await committedSnapshots(repo);
    const missing = await holdfast(['--repo', repo, 'backup', '--service', `src=opensearch://127.0.0.1:${source.port}/?container=${lab.name('nope')}`], lab.env());
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain(`there is no container "${lab.name('nope')}"`);

    const bystander = await lab.run('bystander', [IMAGES.busybox, 'sleep', '600']);
    const wrong = await holdfast(['--repo', repo, 'backup', '--service', `src=opensearch://127.0.0.1:${source.port}/?container=${bystander}`], lab.env());
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toMatch(/\[src\].*\/opensearch\/snapshots\/holdfast .*is not on a volume or bind mount of that container/);
    expect(wrong.stderr).toContain('path.repo');
    expect(await committedSnapshots(repo)).toEqual(before);
    expect(await os<Record<string, unknown>>(source.url, 'GET', '/_snapshot/_all')).toEqual({});
  });
});
