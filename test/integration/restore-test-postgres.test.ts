import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { waitFor } from '../../src/core/wait.js';
import { holdfast, savedSnapshot } from '../support/cli.js';
import { startPgCluster, type PgCluster } from '../support/pg-cluster.js';
import { artifactNames, deleteArtifact, expectMissingArtifact, graftArtifacts, verdicts, type VerifyDocument } from '../support/restore-test-support.js';
import { seedSample } from '../support/sample-data.js';

const BIN = fileURLToPath(new URL('../../bin/holdfast.js', import.meta.url));

describe('restore test: postgres pg_dump', () => {
  let pg: PgCluster;
  let work: string;
  let env: Record<string, string>;
  let url: string;

  /** The databases of the server, and every table's row count and content hash: what "untouched" means. */
  async function sourceState(): Promise<{ databases: string[]; tables: Record<string, string> }> {
    const databases = (await pg.query<{ d: string }>('SELECT datname AS d FROM pg_database ORDER BY 1')).map((r) => r.d);
    const tables: Record<string, string> = {};
    for (const db of databases.filter((d) => !d.startsWith('template'))) {
      const list = await pg.query<{ t: string }>("SELECT format('%I.%I', schemaname, tablename) AS t FROM pg_tables WHERE schemaname NOT IN ('pg_catalog', 'information_schema') ORDER BY 1", db);
      for (const { t } of list) {
        const [row] = await pg.query<{ n: string; h: string }>(`SELECT count(*)::text AS n, coalesce(md5(string_agg(x::text, ',' ORDER BY x::text)), '') AS h FROM ${t} x`, db);
        tables[`${db}.${t}`] = `${row!.n}:${row!.h}`;
      }
    }
    return { databases, tables };
  }

  const scratchDatabases = async () => (await pg.query<{ d: string }>("SELECT datname AS d FROM pg_database WHERE datname LIKE 'holdfast\\_scratch\\_%'")).map((r) => r.d);

  async function backup(...extra: string[]): Promise<string> {
    const result = await holdfast(['backup', '--json', '--fingerprint', 'full', '--service', `db=${url}`, ...extra], env);
    return savedSnapshot(result);
  }

  beforeAll(async () => {
    pg = await startPgCluster();
    await seedSample(pg, 'app');
    await seedSample(pg, 'shop', 300);
    await pg.query("CREATE ROLE app_owner LOGIN PASSWORD 'owner-pw'");
    await pg.query('CREATE TABLE owned (x int); ALTER TABLE owned OWNER TO app_owner; INSERT INTO owned VALUES (1), (2)', 'app');
    work = await mkdtemp(join(tmpdir(), 'holdfast-rt-pg-'));
    env = { HOLDFAST_REPO: join(work, 'repo'), HOLDFAST_DB_PASSWORD: pg.password };
    url = `postgres://postgres@127.0.0.1:${pg.port}`;
  });
  afterAll(async () => {
    await pg?.stop();
    if (work) await rm(work, { recursive: true, force: true });
  });

  test('a good snapshot passes; the source keeps its data and its list of databases; the verdict is stored and shown', async () => {
    const id = await backup();
    const before = await sourceState();
    const result = await holdfast(['verify', id, '--restore-test', '--json'], env);
    expect(result.code, result.stderr).toBe(0);
    const doc = result.json<VerifyDocument>();
    expect(doc.status).toBe('ok');
    expect(doc.restoreTest.passed).toBe(true);
    expect(verdicts(result)).toEqual({ db: { verdict: 'ok', detail: expect.stringMatching(/^\d+ objects equal \(full\)$/) } });
    expect(doc.restoreTest.services[0]!.scratch).toMatch(/holdfast_scratch_[0-9a-f]{6}_app/);
    expect(await sourceState()).toEqual(before);
    expect(await scratchDatabases()).toEqual([]);
    expect(result.stdout + result.stderr).not.toContain(pg.password);

    const list = await holdfast(['snapshots', '--json'], env);
    const entry = list.json<{ snapshots: Array<{ id: string; restoreTest: { passed: boolean; at: string; services: Record<string, { verdict: string }> } | null }> }>().snapshots.find((s) => s.id === id)!;
    expect(entry.restoreTest).toMatchObject({ passed: true, services: { db: { verdict: 'ok' } } });
    const table = await holdfast(['snapshots'], env);
    expect(table.stdout).toMatch(/RESTORE TEST/);
    expect(table.stdout).toMatch(new RegExp(`${id}.*passed \\d{4}-\\d\\d-\\d\\d`));
    const show = await holdfast(['show', id], env);
    expect(show.stdout).toMatch(/restore test: passed/);
    expect(show.stdout).toMatch(/ {2}restore test: ok/);

    const text = await holdfast(['verify', id, '--restore-test'], env);
    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout).toMatch(/SERVICE\s+ENGINE\s+STRATEGY\s+VERDICT/);
    expect(text.stdout).toMatch(/db\s+postgres\s+pg_dump\s+ok/);
  });

  test('backup --verify takes the snapshot, then proves it', async () => {
    const before = await sourceState();
    const result = await holdfast(['backup', '--verify', '--json', '--fingerprint', 'full', '--service', `db=${url}`], env);
    expect(result.code, result.stderr).toBe(0);
    const doc = result.json<{ snapshot: string; verified: boolean; restoreTest: { passed: boolean } }>();
    expect(doc.verified).toBe(true);
    expect(doc.restoreTest.passed).toBe(true);
    expect(await sourceState()).toEqual(before);
    expect(await scratchDatabases()).toEqual([]);
    const show = await holdfast(['show', doc.snapshot, '--json'], env);
    expect(show.json<{ restoreTest: { passed: boolean } }>().restoreTest.passed).toBe(true);
  });

  test('backup --verify prints in the order of the work: the backup table and its saved line, then the restore test', async () => {
    const result = await holdfast(['backup', '--verify', '--service', `db=${url}`], env);
    expect(result.code, result.stderr).toBe(0);
    const lines = result.stdout.split('\n');
    const saved = lines.findIndex((l) => /^snapshot \S+ saved to /.test(l));
    const verdicts = lines.findIndex((l) => /^SERVICE\s+ENGINE\s+STRATEGY\s+VERDICT/.test(l));
    const proved = lines.findIndex((l) => /^snapshot \S+ verified and restore-tested$/.test(l));
    expect(saved, result.stdout).toBeGreaterThan(lines.findIndex((l) => /^SERVICE\s+ENGINE\s+STRATEGY\s+CONSISTENCY/.test(l)));
    expect(verdicts, result.stdout).toBeGreaterThan(saved);
    expect(proved, result.stdout).toBeGreaterThan(verdicts);
  });

  test('a deleted artifact fails the checksum phase, names the service, restores nothing', async () => {
    const id = await backup();
    const [first] = await artifactNames(env.HOLDFAST_REPO!, id, 'db');
    await deleteArtifact(env.HOLDFAST_REPO!, id, 'db', first!);
    const result = await holdfast(['verify', id, '--restore-test', '--json'], env);
    expectMissingArtifact(result, 'db', first!);
    expect(await scratchDatabases()).toEqual([]);
    const plain = await holdfast(['verify', id], env);
    expect(plain.code).toBe(1);
    expect(plain.stdout).toContain('CORRUPT');
  });

  test('a dump that holds less than the server did is a mismatch; the scratch copy is removed', async () => {
    const good = await backup();
    // A second snapshot after rows vanished: its dump of "app" is grafted into the first one.
    await pg.query('BEGIN; CREATE TABLE keep AS SELECT * FROM orders WHERE id % 10 = 0; DELETE FROM orders WHERE id % 10 = 0; COMMIT', 'app');
    const short = await backup();
    await pg.query('INSERT INTO orders SELECT * FROM keep; DROP TABLE keep', 'app');
    const names = await artifactNames(env.HOLDFAST_REPO!, good, 'db', 'app');
    expect(names.length).toBeGreaterThan(0);
    await graftArtifacts(env.HOLDFAST_REPO!, good, short, 'db', names);

    const before = await sourceState();
    const result = await holdfast(['verify', good, '--restore-test', '--json'], env);
    expect(result.code).toBe(1);
    const doc = result.json<VerifyDocument>();
    expect(doc.status).toBe('failed');
    expect(doc.artifacts.every((a) => a.ok)).toBe(true);
    expect(verdicts(result).db).toEqual({ verdict: 'mismatch', detail: expect.stringContaining('app.public.orders: 3600 rows after restore, 4000 at backup') });
    expect(await sourceState()).toEqual(before);
    expect(await scratchDatabases()).toEqual([]);
    const list = await holdfast(['snapshots'], env);
    expect(list.stdout).toMatch(new RegExp(`${good}.*FAILED`));
  });

  test('SIGINT during the restore removes the scratch databases and stores no verdict', async () => {
    await pg.query('CREATE DATABASE big');
    await pg.query("CREATE TABLE t AS SELECT g AS id, md5(g::text) AS v FROM generate_series(1, 1500000) g", 'big');
    const id = await backup();
    const child = spawn(process.execPath, [BIN, 'verify', id, '--restore-test'], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.once('close', resolve));
    // Interrupt once the scratch copy of "big" is being loaded.
    await waitFor('a scratch database of big', async () => (await scratchDatabases()).some((d) => d.includes('big')) || undefined, { timeoutMs: 120_000, intervalMs: 50 });
    child.kill('SIGINT');
    const code = await exited;
    expect(code, stderr).not.toBe(0);
    expect(stderr).toMatch(/SIGINT received/);
    expect(stderr).toMatch(/interrupted/);
    expect(await scratchDatabases()).toEqual([]);
    const show = await holdfast(['show', id, '--json'], env);
    expect(show.json<{ restoreTest: unknown }>().restoreTest).toBeNull();
    await pg.query('DROP DATABASE big');
  });
});
