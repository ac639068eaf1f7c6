import { createHash } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { openSearchAvailable, startOpenSearch, type OpenSearchServer } from '../servers/opensearch.js';
import { holdfast, savedSnapshot } from '../support/cli.js';
import { mutateOpenSearch, os, seedOpenSearch } from '../support/opensearch-data.js';
import { artifactNames, deleteArtifact, expectMissingArtifact, graftArtifacts, verdicts, expectRestoreTestPassed } from '../support/restore-test-support.js';

// Against a REAL OpenSearch 2.19.6 node (embedded, test/servers/opensearch.ts).
describe.runIf(openSearchAvailable())('restore test: opensearch snapshot (real node)', () => {
  let work: string;
  let node: OpenSearchServer;
  let env: Record<string, string>;
  let url: string;

  /** Indices (hidden ones too), aliases, and per index its ids, versions and sources: what "untouched" means. */
  async function sourceState() {
    const indices = (await os<Array<{ index: string }>>(node.url, 'GET', '/_cat/indices?format=json&expand_wildcards=all&h=index')).map((i) => i.index).sort();
    const aliases = (await os<Array<{ alias: string; index: string }>>(node.url, 'GET', '/_cat/aliases?format=json&h=alias,index')).map((a) => `${a.alias}->${a.index}`).sort();
    const docs: Record<string, string> = {};
    for (const index of indices.filter((i) => !i.startsWith('.'))) {
      const res = await os<{ hits: { hits: Array<{ _id: string; _version: number; _source: unknown }> } }>(node.url, 'POST', `/${index}/_search`, { size: 1000, version: true, sort: ['_doc'] });
      const lines = res.hits.hits.map((h) => `${h._id}:${h._version}:${JSON.stringify(h._source)}`).sort();
      docs[index] = `${lines.length}:${createHash('sha256').update(lines.join('\n')).digest('hex')}`;
    }
    return { indices, aliases, docs };
  }
  const scratch = async () => (await os<Array<{ index: string }>>(node.url, 'GET', '/_cat/indices?format=json&expand_wildcards=all&h=index')).map((i) => i.index).filter((i) => i.startsWith('holdfast_scratch_'));

  async function backup(): Promise<string> {
    const result = await holdfast(['backup', '--json', '--fingerprint', 'full', '--service', `src=${url}`], env);
    return savedSnapshot(result);
  }

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'holdfast-rt-os-'));
    node = await startOpenSearch({ pathRepo: join(work, 'path-repo') });
    await seedOpenSearch(node.url);
    // An alias on a source index: a restore under scratch names must not bring it along.
    await os(node.url, 'POST', '/_aliases', { actions: [{ add: { index: 'articles', alias: 'published' } }] });
    env = { HOLDFAST_REPO: join(work, 'repo') };
    url = `opensearch://127.0.0.1:${node.port}`;
  }, 180_000);
  afterAll(async () => {
    await node?.stop();
    if (work) await rm(work, { recursive: true, force: true });
  });

  test('a good snapshot passes under scratch index names; indices, aliases and documents of the source are untouched', async () => {
    const id = await backup();
    const before = await sourceState();
    const result = await holdfast(['verify', id, '--restore-test', '--json'], env);
    expectRestoreTestPassed(result, 'src', '4 objects equal (full)'); // 2 indices: rows and definitions
    expect(await sourceState()).toEqual(before);
    expect(await scratch()).toEqual([]);
  });

  test('a deleted artifact fails the checksum phase with the service named', async () => {
    const id = await backup();
    const [name] = await artifactNames(env.HOLDFAST_REPO!, id, 'src');
    await deleteArtifact(env.HOLDFAST_REPO!, id, 'src', name!);
    expectMissingArtifact(await holdfast(['verify', id, '--restore-test', '--json'], env), 'src', name!);
    expect(await scratch()).toEqual([]);
  });

  test('an artifact from another backup fails the restore test clearly and leaves no scratch index', async () => {
    const good = await backup();
    await mutateOpenSearch(node.url);
    const other = await backup();
    await graftArtifacts(env.HOLDFAST_REPO!, good, other, 'src', await artifactNames(env.HOLDFAST_REPO!, good, 'src'));
    const before = await sourceState();
    const result = await holdfast(['verify', good, '--restore-test', '--json'], env);
    expect(result.code).toBe(1);
    const v = verdicts(result).src!;
    expect(v.verdict).toBe('failed');
    expect(v.detail).toMatch(/holdfast-\d{14}-[0-9a-f]{6}/);
    expect(await sourceState()).toEqual(before);
    expect(await scratch()).toEqual([]);
  });
});
