import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { holdfast, savedSnapshot } from '../support/cli.js';
import { docsCount, mutateQdrant, seedQdrant } from '../support/qdrant-data.js';

// Opt-in: against a REAL Qdrant, only when HOLDFAST_TEST_QDRANT_URL is set (e.g.
// qdrant://127.0.0.1:16333 from docker-compose.test.yml; api key in HOLDFAST_TEST_QDRANT_API_KEY).
// No real Qdrant can be installed on the CI machine, so CI runs the same cases on the fake
// (qdrant-snapshot.test.ts, qdrant.conformance.test.ts). Touches only holdfast_test_* collections.
const URL_ = process.env.HOLDFAST_TEST_QDRANT_URL;
const KEY = process.env.HOLDFAST_TEST_QDRANT_API_KEY;
const P = 'holdfast_test_';

describe.runIf(!!URL_)('qdrant snapshot strategy against a real Qdrant (HOLDFAST_TEST_QDRANT_URL)', () => {
  let work: string | undefined;
  afterAll(async () => {
    if (work) await rm(work, { recursive: true, force: true });
  });

  test('backup, mutate, refused restore, forced restore with equal fingerprints', async () => {
    const http = URL_!.replace(/^qdrants?:/, (s) => (s === 'qdrants:' ? 'https:' : 'http:'));
    const client = await seedQdrant(http, KEY, P);
    work = await mkdtemp(join(tmpdir(), 'holdfast-qdrant-real-'));
    const env: Record<string, string> = { HOLDFAST_REPO: join(work, 'repo'), ...(KEY ? { HOLDFAST_SRC_PASSWORD: KEY } : {}) };
    const service = ['--service', `src=${URL_}/?collections=${P}docs,${P}images`];
    const backup = await holdfast(['backup', '--json', ...service], env);
    const snapshot = savedSnapshot(backup);
    const before = await docsCount(client, P);
    await mutateQdrant(client, P);
    const refused = await holdfast(['restore', snapshot, ...service], env);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/--force/);
    const forced = await holdfast(['restore', snapshot, '--force', '--json', ...service], env);
    expect(forced.code, forced.stderr + forced.stdout).toBe(0);
    expect(forced.json<{ services: Array<{ fingerprint?: { equal: boolean } }> }>().services[0]!.fingerprint?.equal).toBe(true);
    expect(await docsCount(client, P)).toBe(before);
    for (const c of [`${P}docs`, `${P}images`]) {
      expect(await client.listSnapshots(c)).toEqual([]);
      await client.deleteCollection(c);
    }
  });

  test('full-snapshot: the archive maps our collections; restored in place by uploads when the node holds only test collections', async () => {
    const http = URL_!.replace(/^qdrants?:/, (s) => (s === 'qdrants:' ? 'https:' : 'http:'));
    const client = await seedQdrant(http, KEY, P);
    work ??= await mkdtemp(join(tmpdir(), 'holdfast-qdrant-real-'));
    const env: Record<string, string> = { HOLDFAST_REPO: join(work, 'repo-full'), ...(KEY ? { HOLDFAST_SRC_PASSWORD: KEY } : {}) };
    const service = ['--service', `src=${URL_}`];
    const backup = await holdfast(['backup', '--json', ...service, '--strategy', 'src=full-snapshot'], env);
    const snapshot = savedSnapshot(backup);
    const show = await holdfast(['show', snapshot, '--json'], env);
    const full = show.json<{ services: { src: { details: { full: { collections: Array<{ name: string; sha256: string }> } } } } }>().services.src.details.full;
    expect(full.collections.map((c) => c.name)).toEqual(expect.arrayContaining([`${P}docs`, `${P}images`]));
    expect(await client.listFullSnapshots()).toEqual([]);
    for (const c of [`${P}docs`, `${P}images`]) expect(await client.listSnapshots(c)).toEqual([]);
    // A full restore replaces every collection of the node: only done when the node holds nothing else.
    if (full.collections.every((c) => c.name.startsWith(P))) {
      const before = await docsCount(client, P);
      await mutateQdrant(client, P);
      const forced = await holdfast(['restore', snapshot, '--force', '--json', ...service], env);
      expect(forced.code, forced.stderr + forced.stdout).toBe(0);
      expect(forced.json<{ services: Array<{ fingerprint?: { equal: boolean } }> }>().services[0]!.fingerprint?.equal).toBe(true);
      expect(await docsCount(client, P)).toBe(before);
    }
    for (const c of [`${P}docs`, `${P}images`]) await client.deleteCollection(c);
  });
});
