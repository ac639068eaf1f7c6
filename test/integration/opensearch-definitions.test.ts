/**
 * The definitions half of the OpenSearch fingerprint (issue 11, item 6): a backup records each
 * index's mappings, the settings that matter and its aliases; a restore compares them property by
 * property; and a property changed on the restored index afterwards is named in the comparison
 * (the index, the property, the values). One real node (test/servers/opensearch.ts).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { compareFingerprints } from '../../src/core/fingerprint.js';
import type { Fingerprint } from '../../src/core/driver.js';
import { parseEndpoint } from '../../src/core/service.js';
import { connectOpenSearch } from '../../drivers/opensearch/opensearch-connection.js';
import { fingerprintIndices } from '../../drivers/opensearch/opensearch-fingerprint.js';
import { openSearchAvailable, startOpenSearch, type OpenSearchServer } from '../servers/opensearch.js';
import { holdfast, savedSnapshot } from '../support/cli.js';
import { os } from '../support/opensearch-data.js';

describe.runIf(openSearchAvailable())('OpenSearch definitions: mappings, settings, aliases', () => {
  let work: string;
  let node: OpenSearchServer;
  let env: Record<string, string>;
  let recorded: Fingerprint;

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'holdfast-osdef-'));
    node = await startOpenSearch({ pathRepo: join(work, 'path-repo') });
    await os(node.url, 'PUT', '/books', {
      settings: { index: { number_of_shards: 1, number_of_replicas: 0, max_result_window: 5000 }, analysis: { analyzer: { folded: { type: 'custom', tokenizer: 'standard', filter: ['lowercase', 'asciifolding'] } } } },
      mappings: { dynamic: 'strict', properties: { title: { type: 'text', analyzer: 'folded' }, year: { type: 'integer' } } },
      aliases: { shelf: {}, recent: { filter: { range: { year: { gte: 2000 } } } } },
    });
    await os(node.url, 'POST', '/books/_doc/1?refresh=true', { title: 'Éléments', year: 2001 });
    env = { HOLDFAST_REPO: join(work, 'repo') };
    const id = savedSnapshot(await holdfast(['backup', '--json', '--service', `search=opensearch://127.0.0.1:${node.port}`], env));
    const show = await holdfast(['show', id, '--json'], env);
    recorded = show.json<{ services: { search: { fingerprint: Fingerprint } } }>().services.search.fingerprint;
    env.SNAPSHOT = id;
  }, 180_000);
  afterAll(async () => {
    await node?.stop();
    if (work) await rm(work, { recursive: true, force: true });
  });

  test('the backup records mappings, settings and aliases per index', () => {
    const books = recorded.definitions?.books ?? {};
    expect(books['mapping.title']).toBe('{"analyzer":"folded","type":"text"}');
    expect(books['mapping:dynamic']).toBe('strict');
    expect(books['setting.max_result_window']).toBe('5000');
    expect(books['setting.analysis.analyzer.folded.tokenizer']).toBe('standard');
    expect(books['alias.recent']).toContain('"gte":2000');
    expect(books['alias.shelf']).toBe('{}');
    expect(Object.keys(books).some((k) => /uuid|creation_date|version/.test(k))).toBe(false);
  });

  test('a restore compares them equal; a property changed on the target afterwards is named', async () => {
    const target = `search=opensearch://127.0.0.1:${node.port}/?rename_pattern=${encodeURIComponent('(.+)')}&rename_replacement=${encodeURIComponent('copy_$1')}`;
    const restore = await holdfast(['restore', env.SNAPSHOT!, '--json', '--target', target], env);
    expect(restore.code, restore.stderr + restore.stdout).toBe(0);
    expect(restore.json<{ services: Array<{ fingerprint: { equal: boolean; differences: string[] } }> }>().services[0]!.fingerprint).toMatchObject({ equal: true, differences: [] });

    await os(node.url, 'PUT', '/copy_books/_settings', { index: { max_result_window: 9000 } });
    await os(node.url, 'POST', '/_aliases', { actions: [{ remove: { index: 'copy_books', alias: 'shelf' } }] });
    const api = connectOpenSearch({ name: 'search', endpoint: parseEndpoint(`opensearch://127.0.0.1:${node.port}`, false, 'search'), options: {}, origin: 'flag' });
    try {
      const now = await fingerprintIndices(api, ['copy_books'], recorded.scope, () => 'books');
      const comparison = compareFingerprints(recorded, now, { prefixes: ['books'] });
      expect(comparison.equal).toBe(false);
      expect(comparison.differences).toEqual([
        'books: setting.max_result_window is "9000" after restore, "5000" at backup',
        'books: alias.shelf missing after restore (was "{}")',
      ]);
    } finally {
      await api.close();
    }
  });
});
