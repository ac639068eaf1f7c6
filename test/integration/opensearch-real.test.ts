import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { holdfast, savedSnapshot } from '../support/cli.js';
import { articlesCount, os, seedOpenSearch } from '../support/opensearch-data.js';

// Opt-in: against an OpenSearch node of your own, only when HOLDFAST_TEST_OPENSEARCH_URL is set
// (e.g. opensearch://127.0.0.1:19200 from docker-compose.test.yml). holdfast must see the node's
// path.repo: for the compose node set HOLDFAST_TEST_OPENSEARCH_REPO_PATH_HOST to the
// search_snapshots volume's mountpoint (`docker volume inspect holdfast-test_search_snapshots`).
// CI runs the same cases on the embedded real node (opensearch-snapshot.test.ts).
// Touches only holdfast_test_* / holdfast_restored_* indices.
const URL_ = process.env.HOLDFAST_TEST_OPENSEARCH_URL;
const HOST_PATH = process.env.HOLDFAST_TEST_OPENSEARCH_REPO_PATH_HOST;
const P = 'holdfast_test_';

describe.runIf(!!URL_)('opensearch snapshot strategy against your node (HOLDFAST_TEST_OPENSEARCH_URL)', () => {
  let work: string | undefined;
  afterAll(async () => {
    if (work) await rm(work, { recursive: true, force: true });
  });

  test('backup, then restore under new names with equal fingerprints', async () => {
    const http = URL_!.replace(/^opensearchs?:/, (s) => (s === 'opensearchs:' ? 'https:' : 'http:')).replace(/\/$/, '');
    for (const index of [`${P}articles`, `${P}users`, `.${P}internal`, `holdfast_restored_${P}articles`, `holdfast_restored_${P}users`]) {
      await os(http, 'DELETE', `/${index}`).catch(() => undefined);
    }
    await seedOpenSearch(http, P);
    work = await mkdtemp(join(tmpdir(), 'holdfast-os-real-'));
    const env = { HOLDFAST_REPO: join(work, 'repo') };
    const params = `indices=${P}articles,${P}users${HOST_PATH ? `&repo_path_host=${encodeURIComponent(HOST_PATH)}` : ''}`;
    const backup = await holdfast(['backup', '--json', '--service', `src=${URL_}/?${params}`], env);
    const snapshot = savedSnapshot(backup);
    const target = `src=${URL_}/?rename_pattern=^&rename_replacement=holdfast_restored_${HOST_PATH ? `&repo_path_host=${encodeURIComponent(HOST_PATH)}` : ''}`;
    const restore = await holdfast(['restore', snapshot, '--json', '--target', target], env);
    expect(restore.code, restore.stderr + restore.stdout).toBe(0);
    expect(restore.json<{ services: Array<{ fingerprint?: { equal: boolean } }> }>().services[0]!.fingerprint?.equal).toBe(true);
    expect(await articlesCount(http, `holdfast_restored_${P}`)).toBe(150);
  });
});
