import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { openSearchAvailable } from '../servers/opensearch.js';
import { holdfast } from '../support/cli.js';
import { docker, DockerLab, IMAGES } from '../support/docker.js';
import { ensureOpenSearchImage, isolatedOpenSearch, OPENSEARCH_PATH_REPO } from '../support/opensearch-container.js';
import { articlesCount, mutateOpenSearch, os, seedOpenSearch } from '../support/opensearch-data.js';

// REAL OpenSearch 2.19.6 nodes (the embedded runner of scripts/install/opensearch.sh on the host's
// Java, holdfast-test/opensearch-hostbin) in containers with NO network but their own loopback
// (--network none): no port is published, nothing on the host can reach them. holdfast finds the
// node by discovery (container:NAME), reaches its API through a sidecar joined to the container's
// network namespace, and copies the repository out of the node's path.repo volume through a
// helper, or, where path.repo is on the container's own filesystem (the fresh node), with the
// image's tar through docker exec: no host path, no host port. Two nodes, started once for the file.
interface Doc {
  snapshot?: string;
  services: Array<{ service: string; status: string; strategy?: string; fingerprint?: { equal: boolean; compared: number }; error?: { message: string; hint?: string }; notes?: string[] }>;
}

describe.runIf(openSearchAvailable() && process.getuid?.() === 0)('opensearch inside its container, no published port: through a sidecar', () => {
  const lab = new DockerLab();
  let project: string;
  let source: Awaited<ReturnType<typeof isolatedOpenSearch>>;
  let fresh: Awaited<ReturnType<typeof isolatedOpenSearch>>;
  let env: Record<string, string>;
  let snapshot: string;

  beforeAll(async () => {
    await lab.init();
    ensureOpenSearchImage();
    project = lab.name('stack');
    env = lab.env({ HOLDFAST_SIDECAR_IMAGE: IMAGES.busybox, HOLDFAST_REPO: `${await lab.dir('repo')}/repo` });
    [source, fresh] = await Promise.all([isolatedOpenSearch(lab, 'search', await lab.volume('snaps'), { project }), isolatedOpenSearch(lab, 'fresh', undefined)]);
    await seedOpenSearch(source.url);
  }, 400_000);

  afterAll(async () => {
    await source?.close();
    await fresh?.close();
    await lab.cleanup();
  });

  test('plan --docker --project: the engine snapshot, in a sidecar because port 9200 is not published', async () => {
    const plan = await holdfast(['plan', '--project', project, '--json'], env);
    expect(plan.code, plan.stderr + plan.stdout).toBe(0);
    expect(plan.json<{ services: unknown[] }>().services).toMatchObject([
      { service: 'search', engine: 'opensearch', strategy: 'snapshot', place: { kind: 'sidecar', where: `in a sidecar joined to container ${source.container}`, reason: 'port 9200 is not published' } },
    ]);
    expect(await lab.helpers()).toEqual([]);
  }, 60_000);

  test('backup with a restore test: the snapshot through the tunnel, the repository through the volume; nothing left on the node', async () => {
    const backup = await holdfast(['backup', '--project', project, '--json', '--verify'], env);
    expect(backup.code, backup.stderr + backup.stdout).toBe(0);
    const doc = backup.json<Doc>();
    expect(doc.services[0]).toMatchObject({ service: 'search', status: 'ok', strategy: 'snapshot' });
    snapshot = doc.snapshot!;
    const show = await holdfast(['show', snapshot, '--json'], env);
    const details = show.json<{ services: { search: { details: { indices: string[]; place: unknown; copiedFrom: Record<string, unknown> } } } }>().services.search.details;
    expect(details.indices).toEqual(['articles', 'users']);
    expect(details.place).toEqual({ kind: 'sidecar', where: `in a sidecar joined to container ${source.container}`, reason: 'port 9200 is not published' });
    expect(details.copiedFrom).toMatchObject({ container: source.container, type: 'volume', source: lab.name('snaps'), subdir: 'holdfast' });
    expect((await holdfast(['show', snapshot], env)).stdout).toMatch(/restore test: passed/);
    expect(await os<Record<string, unknown>>(source.url, 'GET', '/_snapshot/_all')).toEqual({});
    expect((await os<Array<{ index: string }>>(source.url, 'GET', '/_cat/indices?format=json')).map((i) => i.index).filter((n) => n.startsWith('holdfast_scratch_'))).toEqual([]);
    expect(await lab.helpers()).toEqual([]);
    expect(await lab.held()).toEqual([]);
  }, 300_000);

  test('restore into a fresh container whose path.repo has no volume: the repository in and out by exec, equal fingerprints, the copy gone', async () => {
    await mutateOpenSearch(source.url);
    const restore = await holdfast(['restore', snapshot, '--json', '--target', `search=container:${fresh.container}`], env);
    expect(restore.code, restore.stderr + restore.stdout).toBe(0);
    expect(restore.json<Doc>().services[0]!.fingerprint).toMatchObject({ equal: true, compared: 4 });
    expect(await articlesCount(fresh.url)).toBe(150);
    expect(await docker(['exec', fresh.container, 'ls', '-A', OPENSEARCH_PATH_REPO])).not.toContain('holdfast-restore');
    expect(await lab.helpers()).toEqual([]);

    const again = await holdfast(['backup', '--service', `copy=container:${fresh.container}`, '--json'], env);
    expect(again.code, again.stderr + again.stdout).toBe(0);
    const id = again.json<Doc>().snapshot!;
    const details = (await holdfast(['show', id, '--json'], env)).json<{ services: { copy: { details: { indices: string[]; copiedFrom: unknown } } } }>().services.copy.details;
    expect(details.indices).toEqual(['articles', 'users']);
    expect(details.copiedFrom).toEqual({ container: fresh.container, path: `${OPENSEARCH_PATH_REPO}/holdfast`, transport: 'exec' });
    expect((await holdfast(['verify', id], env)).code).toBe(0);
    expect(await os<Record<string, unknown>>(fresh.url, 'GET', '/_snapshot/_all')).toEqual({});
  }, 300_000);

  test('kill -9 mid-backup: the next backup removes the sidecar and the server-side snapshot left behind, and says what it cleaned', async () => {
    // Killed while our snapshot is in the node's repository (between the engine snapshot and its deletion).
    const snapFiles = async () => (await docker(['exec', source.container, 'ls', '-A', `${OPENSEARCH_PATH_REPO}/holdfast`]).catch(() => '')).split('\n').filter((f) => f.startsWith('snap-'));
    let pid = 0;
    let left: string[] = [];
    for (let attempt = 0; attempt < 5 && left.length === 0; attempt++) {
      const running = holdfast(['backup', '--project', project, '--json'], env, { onSpawn: (p) => (pid = p) });
      const deadline = Date.now() + 60_000;
      while (Date.now() < deadline && (await snapFiles()).length === 0) await new Promise((r) => setTimeout(r, 20));
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // it had finished already: try again
      }
      await running;
      left = await snapFiles();
    }
    expect(left.length, 'a snapshot of the killed run is on the node').toBeGreaterThan(0);
    const next = await holdfast(['backup', '--project', project, '--json'], env);
    expect(next.code, next.stderr + next.stdout).toBe(0);
    const doc = next.json<Doc & { notes?: string[] }>();
    const said = [...(doc.notes ?? []), ...doc.services.flatMap((s) => s.notes ?? [])].join('\n');
    expect(said).toMatch(new RegExp(`removed the helper container .* left by holdfast pid ${pid} \\(that run died\\)`));
    expect(said).toMatch(new RegExp(`removed leftover server-snapshot "holdfast-\\d{14}-[0-9a-f]{6}" on container:${source.container} of a run killed .*pid ${pid}`));
    expect(await snapFiles()).toEqual([]);
    expect(await os<Record<string, unknown>>(source.url, 'GET', '/_snapshot/_all')).toEqual({});
    expect(await lab.helpers()).toEqual([]);
    expect(await lab.held()).toEqual([]);
  }, 300_000);
});
