/**
 * `show` of a snapshot written before the place had one shape: every service
 * still prints its place, and `show --json` gives each one `{ kind, where,
 * reason }`, whatever form the older holdfast wrote (a PostgreSQL `why`, only
 * `toolsRanIn`, a MySQL or MongoDB phrase, a volume copy's transport).
 */
import { readFile } from 'node:fs/promises';
import { afterAll, describe, expect, test } from 'vitest';
import type { Manifest } from '../../src/repository/manifest.js';
import { holdfast } from '../support/cli.js';
import { cleanupTemp, tempRepo } from './helpers/temp-repo.js';

const FIXTURE = new URL('./fixtures/places-older-manifest.json', import.meta.url);

/** What each service's place reads as, in the one shape. */
const EXPECTED: Record<string, { kind: string; where: string; reason: string }> = {
  db: { kind: 'container', where: 'inside container shop-db-1', reason: 'its image has pg_dump 15.4' },
  legacy: { kind: 'container', where: 'inside container shop-old-1', reason: '' },
  maria: { kind: 'container', where: 'inside container shop-maria-1', reason: '' },
  tunnelled: { kind: 'host', where: 'on this host, through a tunnel to container shop-bare-1', reason: '' },
  mongo: { kind: 'container', where: 'inside container shop-mongo-1', reason: 'its image has mongodump 100.9.5' },
  vectors: { kind: 'sidecar', where: 'in a sidecar joined to container shop-qdrant-1', reason: 'port 6333 is not published' },
  search: { kind: 'sidecar', where: 'in a sidecar joined to container shop-search-1', reason: 'port 9200 is not published' },
  app: { kind: 'sidecar', where: 'in a helper container of debian:stable-slim', reason: '' },
  files: { kind: 'host', where: 'on this host', reason: '' },
};

describe('show: the place of an older snapshot, in the one shape', () => {
  afterAll(cleanupTemp);

  test('every service prints one place line, and --json gives { kind, where, reason } for every engine', async () => {
    const { repo, root } = await tempRepo();
    await repo.open({ create: false });
    const writer = await repo.beginSnapshot('test');
    const manifest = JSON.parse((await readFile(FIXTURE, 'utf8')).replace('SNAPSHOT_ID', writer.id)) as Manifest;
    await writer.commit(manifest);

    const text = await holdfast(['--repo', root, 'show', writer.id], {}, { init: false });
    expect(text.code, text.stderr).toBe(0);
    for (const [name, p] of Object.entries(EXPECTED)) {
      const block = text.stdout.split('\n\n').find((b) => b.startsWith(`${name}: `));
      const lines = (block ?? '').split('\n').filter((l) => l.startsWith('  place: '));
      expect(lines, name).toEqual([`  place: ${p.reason ? `${p.where}: ${p.reason}` : p.where}`]);
    }

    const json = await holdfast(['--repo', root, 'show', writer.id, '--json'], {}, { init: false });
    expect(json.code, json.stderr).toBe(0);
    const services = json.json<{ services: Record<string, { engine: string; details: Record<string, unknown> }> }>().services;
    expect(new Set(Object.values(services).map((s) => s.engine))).toEqual(new Set(['postgres', 'mysql', 'mongodb', 'qdrant', 'opensearch', 'volume']));
    for (const [name, p] of Object.entries(EXPECTED)) expect(services[name]!.details.place, name).toEqual(p);
    // The rest of the record is as stored.
    expect(services.maria!.details).toMatchObject({ output: 'pipe', sqlTunnel: 'exec' });
  });
});
