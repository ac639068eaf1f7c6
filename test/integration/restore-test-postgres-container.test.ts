import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { holdfast, savedSnapshot } from '../support/cli.js';
import { docker, DockerLab } from '../support/docker.js';
import { freePort } from '../support/free-port.js';
import { artifactNames, deleteArtifact, expectMissingArtifact, verdicts, type VerifyDocument } from '../support/restore-test-support.js';

describe('restore test: postgres in a container (throwaway container of the same image)', () => {
  const lab = new DockerLab();
  let repo: string;
  let db: string;
  let svc: string;

  const state = async () => ({
    databases: await lab.psql(db, 'SELECT string_agg(datname, \',\' ORDER BY datname) FROM pg_database'),
    orders: await lab.psql(db, "SELECT count(*) || ':' || md5(string_agg(o::text, ',' ORDER BY id)) FROM orders o", 'shop'),
  });
  const scratch = async () => ({
    containers: (await docker(['ps', '-aq', '--filter', 'label=holdfast.scratch', '--filter', `label=holdfast.service=${svc}`])).split('\n').filter(Boolean),
    volumes: (await docker(['volume', 'ls', '-q', '--filter', 'label=holdfast.scratch', '--filter', `label=holdfast.service=${svc}`])).split('\n').filter(Boolean),
  });

  async function backup(): Promise<string> {
    const result = await holdfast(['--repo', repo, 'backup', '--json', '--fingerprint', 'full', '--service', `${svc}=container:${db}`], lab.env());
    return savedSnapshot(result);
  }

  beforeAll(async () => {
    await lab.init();
    svc = lab.prefix;
    repo = join(await lab.dir('repo'), 'repo');
    db = await lab.postgres('db', await freePort(), { volume: await lab.volume('pgdata') });
    await lab.psql(db, 'CREATE DATABASE shop');
    await lab.psql(db, "CREATE TABLE orders (id int PRIMARY KEY, what text); INSERT INTO orders SELECT g, repeat('x', g % 50) FROM generate_series(1, 3000) g", 'shop');
  });
  afterAll(async () => {
    const left = svc ? await scratch().catch(() => ({ containers: [], volumes: [] })) : { containers: [], volumes: [] };
    for (const c of left.containers) await docker(['rm', '-f', '-v', c]).catch(() => undefined);
    for (const v of left.volumes) await docker(['volume', 'rm', '-f', v]).catch(() => undefined);
    await lab.cleanup();
  });

  test('a good snapshot passes in a throwaway container; the source container and its data are untouched; nothing is left', async () => {
    const id = await backup();
    const before = await state();
    const startedAt = await docker(['inspect', '-f', '{{.State.StartedAt}}', db]);
    const result = await holdfast(['--repo', repo, 'verify', id, '--restore-test', '--json'], lab.env());
    expect(result.code, result.stderr + result.stdout).toBe(0);
    const doc = result.json<VerifyDocument>();
    expect(doc.restoreTest.passed).toBe(true);
    expect(verdicts(result)[svc]!.verdict).toBe('ok');
    expect(doc.restoreTest.services[0]!.scratch).toMatch(/throwaway holdfast-test\/postgres:15 container with volume holdfast_scratch_[0-9a-f]{6}_pgdata/);
    expect(await state()).toEqual(before);
    expect(await docker(['inspect', '-f', '{{.State.StartedAt}}', db])).toBe(startedAt);
    expect(await scratch()).toEqual({ containers: [], volumes: [] });
    expect(await lab.held()).toEqual([]);
  });

  test('a deleted artifact fails the checksum phase; no throwaway container is started', async () => {
    const id = await backup();
    const [name] = await artifactNames(repo, id, svc, 'shop');
    await deleteArtifact(repo, id, svc, name!);
    expectMissingArtifact(await holdfast(['--repo', repo, 'verify', id, '--restore-test', '--json'], lab.env()), svc, name!);
    expect(await scratch()).toEqual({ containers: [], volumes: [] });
  });
});
