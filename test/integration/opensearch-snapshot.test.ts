import { mkdir, mkdtemp, readdir, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { openSearchAvailable, startOpenSearch, type OpenSearchServer } from '../servers/opensearch.js';
import { holdfast } from '../support/cli.js';
import { articlesCount, mutateOpenSearch, os, seedOpenSearch } from '../support/opensearch-data.js';
import { committedSnapshots, stagingLeftovers } from '../support/repo-files.js';

// Against REAL OpenSearch 2.19.6 nodes (embedded, test/servers/opensearch.ts): a source node
// and a second, fresh node with its own path.repo. Two JVMs in this file (512m heap each).
interface Doc {
  snapshot?: string;
  services: Array<{ status: string; error?: { code: string; message: string; hint?: string }; fingerprint?: { equal: boolean; compared: number } }>;
}

describe.runIf(openSearchAvailable())('opensearch snapshot strategy (real nodes; needs bash scripts/install/opensearch.sh)', () => {
  let work: string;
  let source: OpenSearchServer;
  let fresh: OpenSearchServer;
  let env: Record<string, string>;
  let snapshot: string;

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'holdfast-os-'));
    [source, fresh] = await Promise.all([startOpenSearch({ pathRepo: join(work, 'source-repo') }), startOpenSearch({ pathRepo: join(work, 'fresh-repo') })]);
    await seedOpenSearch(source.url);
    env = { HOLDFAST_REPO: join(work, 'repo') };
    // holdfast reaches path.repo through another path (a symlink standing in for a mounted volume).
    await symlink(join(work, 'source-repo'), join(work, 'mounted'));
    const backup = await holdfast(['backup', '--json', '--service', `src=opensearch://127.0.0.1:${source.port}/?repo_path_host=${encodeURIComponent(join(work, 'mounted'))}`], env);
    expect(backup.code, backup.stderr + backup.stdout).toBe(0);
    snapshot = backup.json<Doc>().snapshot!;
  }, 180_000);
  afterAll(async () => {
    await Promise.all([source?.stop(), fresh?.stop()]);
    if (work) await rm(work, { recursive: true, force: true });
  });

  test('the manifest names our snapshot and leaves system indices out; the node keeps no snapshot', async () => {
    const show = await holdfast(['show', snapshot, '--json'], env);
    const details = show.json<{ services: { src: { details: { snapshot: string; indices: string[] } } } }>().services.src.details;
    expect(details.snapshot).toMatch(/^holdfast-\d{14}-[0-9a-f]{6}$/);
    expect(details.indices).toEqual(['articles', 'users']);
    // Our snapshot is deleted and the repository unregistered again once copied out.
    expect(await os<Record<string, unknown>>(source.url, 'GET', '/_snapshot/_all')).toEqual({});
    expect((await readdir(join(work, 'source-repo', 'holdfast'))).filter((f) => f.startsWith('snap-'))).toEqual([]);
  });

  test('restore into a fresh node (its own path.repo) has the fingerprints of the backup', async () => {
    await mutateOpenSearch(source.url);
    const restore = await holdfast(['restore', snapshot, '--json', '--target', `src=opensearch://127.0.0.1:${fresh.port}`], env);
    expect(restore.code, restore.stderr + restore.stdout).toBe(0);
    expect(restore.json<Doc>().services[0]!.fingerprint).toMatchObject({ equal: true, compared: 4 }); // 2 indices: rows and definitions
    expect(await articlesCount(fresh.url)).toBe(150);
    // The copied repository is unregistered and removed from the target again.
    const repos = await os<Record<string, unknown>>(fresh.url, 'GET', '/_snapshot/_all');
    expect(Object.keys(repos)).toEqual([]);
  });

  test('over existing indices: refused without --force (nothing changes), replaced with --force', async () => {
    await os(fresh.url, 'POST', '/articles/_doc/extra?refresh=true', { title: 'added on the target' });
    const to = ['--target', `src=opensearch://127.0.0.1:${fresh.port}`];
    const refused = await holdfast(['restore', snapshot, ...to], env);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/\[src\].*already has the indices articles, users/);
    expect(refused.stderr).toMatch(/--force/);
    expect(await articlesCount(fresh.url)).toBe(151);

    const forced = await holdfast(['restore', snapshot, '--force', '--json', ...to], env);
    expect(forced.code, forced.stderr + forced.stdout).toBe(0);
    expect(forced.json<Doc>().services[0]!.fingerprint?.equal).toBe(true);
    expect(await articlesCount(fresh.url)).toBe(150);
  });

  test('under new names with rename_pattern, next to the existing indices', async () => {
    const target = `src=opensearch://127.0.0.1:${fresh.port}/?rename_pattern=${encodeURIComponent('(.+)')}&rename_replacement=${encodeURIComponent('copy_$1')}`;
    const restore = await holdfast(['restore', snapshot, '--json', '--target', target], env);
    expect(restore.code, restore.stderr + restore.stdout).toBe(0);
    expect(restore.json<Doc>().services[0]!.fingerprint?.equal).toBe(true);
    expect(await articlesCount(fresh.url, 'copy_')).toBe(150);
    expect(await articlesCount(fresh.url)).toBe(150);
  });

  test('a repository location outside path.repo is refused with a clear error, and nothing is stored', async () => {
    const outside = join(work, 'outside');
    await mkdir(outside);
    const repo = join(work, 'refused-repo');
    const refusedEnv = { HOLDFAST_REPO: repo };
    const init = await holdfast(['init'], refusedEnv);
    expect(init.code, init.stderr).toBe(0);
    const backup = await holdfast(['backup', '--json', '--service', `src=opensearch://127.0.0.1:${source.port}/?repo_location=${encodeURIComponent(outside)}`], refusedEnv);
    expect(backup.code).toBe(1);
    const error = backup.json<Doc>().services[0]!.error!;
    expect(error.message).toMatch(/refused the snapshot repository at .*outside.*not under the node's path\.repo/);
    expect(error.hint).toMatch(/path\.repo/);
    expect(await committedSnapshots(repo)).toEqual([]);
    expect(await stagingLeftovers(repo)).toEqual([]);
    expect((await holdfast(['snapshots', '--json'], refusedEnv)).json<{ snapshots: unknown[] }>().snapshots).toEqual([]);
  });
});
