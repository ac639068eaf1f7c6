import { mkdtemp, rm, unlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { DirRepository } from '../../src/repository/dir-repository.js';
import type { Manifest } from '../../src/repository/manifest.js';
import { holdfast } from '../support/cli.js';
import { startPgCluster, type PgCluster } from '../support/pg-cluster.js';
import { flipByte } from '../support/repo-files.js';
import { seedSample } from '../support/sample-data.js';

interface CheckJson {
  status: string;
  snapshots: number;
  artifacts: number;
  readData: boolean;
  problems: Array<{ snapshot: string; service?: string; artifact?: string; problem: string }>;
}

describe('check --read-data reads every artifact of every snapshot', () => {
  let db: PgCluster;
  let work: string;
  let repo: string;
  let env: Record<string, string>;
  const manifests: Manifest[] = [];

  beforeAll(async () => {
    db = await startPgCluster();
    await seedSample(db, 'app', 300);
    await seedSample(db, 'shop', 100);
    work = await mkdtemp(join(tmpdir(), 'holdfast-check-'));
    repo = join(work, 'repo');
    env = { HOLDFAST_REPO: repo, HOLDFAST_DB_PASSWORD: db.password };
    for (let i = 0; i < 2; i++) {
      const backup = await holdfast(['backup', '--json', '--service', `db=postgres://postgres@127.0.0.1:${db.port}`], env);
      expect(backup.code, backup.stderr).toBe(0);
      const r = new DirRepository(repo);
      await r.open({ create: false });
      manifests.push(await r.load(backup.json<{ snapshot: string }>().snapshot));
    }
  });

  afterAll(async () => {
    await db?.stop();
    if (work) await rm(work, { recursive: true, force: true });
  });

  const artifactsOf = (m: Manifest) => Object.entries(m.services).flatMap(([service, s]) => s.artifacts.map((a) => ({ service, name: a.name, label: a.label })));

  test('a healthy repository: every artifact read, exit 0', async () => {
    const total = manifests.reduce((n, m) => n + artifactsOf(m).length, 0);
    expect(total).toBeGreaterThanOrEqual(6); // per snapshot: globals and one dump per database
    const r = await holdfast(['check', '--read-data', '--json'], env);
    expect(r.code, r.stderr).toBe(0);
    expect(r.json<CheckJson>()).toEqual({ status: 'ok', snapshots: 2, artifacts: total, readData: true, problems: [] });
  });

  test('damage in two snapshots, sizes unchanged: plain check misses it, --read-data names each damaged artifact and exits 1', async () => {
    const [older, newer] = manifests as [Manifest, Manifest];
    const flipped = artifactsOf(older).find((a) => a.label === 'shop')!;
    const missing = artifactsOf(newer).at(-1)!;
    await flipByte(join(repo, 'snapshots', older.id, flipped.service, flipped.name));

    const quick = await holdfast(['check'], env);
    expect(quick.code, quick.stdout + quick.stderr).toBe(0); // sizes only: a flipped bit needs --read-data

    await unlink(join(repo, 'snapshots', newer.id, missing.service, missing.name));
    const r = await holdfast(['check', '--read-data', '--json'], env);
    expect(r.code).toBe(1);
    const doc = r.json<CheckJson>();
    expect(doc.status).toBe('damaged');
    expect(doc.artifacts).toBe(artifactsOf(older).length + artifactsOf(newer).length);
    expect(doc.problems).toEqual([
      expect.objectContaining({ snapshot: older.id, service: flipped.service, artifact: flipped.name, problem: expect.stringMatching(/is corrupt: sha256 [0-9a-f]{64} differs from the manifest's/) }),
      expect.objectContaining({ snapshot: newer.id, service: missing.service, artifact: missing.name, problem: expect.stringMatching(/is corrupt: the file is missing/) }),
    ]);

    const text = await holdfast(['check', '--read-data'], env);
    expect(text.code).toBe(1);
    expect(text.stdout).toContain(`PROBLEM  ${older.id}  artifact ${older.id}/${flipped.service}/${flipped.name} is corrupt`);
    expect(text.stdout).toContain(`PROBLEM  ${newer.id}  artifact ${newer.id}/${missing.service}/${missing.name} is corrupt: the file is missing`);
    expect(text.stdout).toMatch(/2 snapshots, \d+ artifacts read; 2 problems/);
    expect(text.stderr).toContain(`reading snapshot ${newer.id} (2 of 2)`);
  });
});
