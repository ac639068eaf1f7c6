import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import pg from 'pg';
import { holdfast, savedSnapshot } from '../support/cli.js';
import { startPgCluster, type PgCluster } from '../support/pg-cluster.js';

/**
 * An ordinary application role (no CREATEDB, no superuser) that owns its
 * database: what it can restore is said before anything is tried, each
 * missing right with the statement that grants it, and a restore into an
 * empty database it owns works without CREATEDB.
 */
describe('a role without CREATEDB: needs checked before they are needed', () => {
  let pg_: PgCluster;
  let work: string;
  let env: Record<string, string>;
  let snapshot: string;
  const appUrl = (db: string) => `postgres://app@127.0.0.1:${pg_.port}/${db}`;

  beforeAll(async () => {
    pg_ = await startPgCluster();
    await pg_.query("CREATE ROLE app LOGIN PASSWORD 'app-secret-pw'");
    await pg_.query('CREATE DATABASE shop OWNER app');
    const app = new pg.Client({ host: '127.0.0.1', port: pg_.port, user: 'app', password: 'app-secret-pw', database: 'shop' });
    await app.connect();
    await app.query('CREATE TABLE orders (id int PRIMARY KEY, item text); INSERT INTO orders SELECT g, md5(g::text) FROM generate_series(1, 500) g');
    await app.end();
    work = await mkdtemp(join(tmpdir(), 'holdfast-privs-'));
    env = { HOLDFAST_REPO: join(work, 'repo'), HOLDFAST_DB_PASSWORD: 'app-secret-pw' };
    expect((await holdfast(['init'], env)).code).toBe(0);
    snapshot = savedSnapshot(await holdfast(['backup', '--json', '--service', `db=${appUrl('shop')}`], env));
  }, 120_000);
  afterAll(async () => {
    await pg_?.stop();
    if (work) await rm(work, { recursive: true, force: true });
  });

  test('plan lists what an in-place restore needs, naming the role and the fix', async () => {
    const r = await holdfast(['plan', '--service', `db=${appUrl('shop')}`], env);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('A restore in place needs:');
    expect(r.stdout).toMatch(/db: ok +replace database shop \(role app must own it; it belongs to app\)/);
    expect(r.stdout).toMatch(/db: MISSING +build the replacement of shop beside it \(role app needs CREATEDB\)/);
    expect(r.stdout).toContain('fix: ALTER ROLE "app" CREATEDB;');
    const doc = (await holdfast(['plan', '--json', '--service', `db=${appUrl('shop')}`], env)).json<{ services: Array<{ restoreNeeds: Array<{ met: boolean; fix: string }> }> }>();
    expect(doc.services[0]!.restoreNeeds.filter((n) => !n.met).map((n) => n.fix)).toEqual(['ALTER ROLE "app" CREATEDB;']);
  });

  test('restore --dry-run into a database that does not exist: MISSING CREATEDB, with the fix, exit 1, nothing created', async () => {
    const r = await holdfast(['restore', snapshot, '--dry-run', '--target', `db=${appUrl('shop_new')}`], env);
    expect(r.code, r.stderr + r.stdout).toBe(1);
    expect(r.stdout).toMatch(/MISSING +create database shop_new \(role app needs CREATEDB\)/);
    expect(r.stdout).toContain('fix: ALTER ROLE "app" CREATEDB;   -- or, as a superuser: CREATE DATABASE "shop_new" OWNER "app";');
    expect(await pg_.query("SELECT 1 FROM pg_database WHERE datname LIKE 'shop_new%'")).toEqual([]);
  });

  test('a restore into an existing, empty database the role owns works without CREATEDB (dry run first)', async () => {
    await pg_.query('CREATE DATABASE shop_copy OWNER app');
    const dry = await holdfast(['restore', snapshot, '--dry-run', '--target', `db=${appUrl('shop_copy')}`], env);
    expect(dry.code, dry.stdout + dry.stderr).toBe(0);
    expect(dry.stdout).toMatch(/ok +restore into the existing empty database shop_copy/);
    const r = await holdfast(['restore', snapshot, '--target', `db=${appUrl('shop_copy')}`], env);
    expect(r.code, r.stderr + r.stdout).toBe(0);
    expect(r.stdout).toMatch(/fingerprints equal/);
    expect(await pg_.query('SELECT count(*)::int AS n FROM orders', 'shop_copy')).toEqual([{ n: 500 }]);
  });

  test('the restore test says up front where its scratch copy goes and that the role cannot make it, with the fix', async () => {
    const r = await holdfast(['verify', snapshot, '--restore-test'], { ...env, HOLDFAST_CONFIG: undefined });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/db: restore test into postgres:\/\/127\.0\.0\.1:\d+\/holdfast_scratch_\w+_shop: the account cannot: create database holdfast_scratch_\w+_shop \(role app needs CREATEDB\)/);
    expect(r.stdout).toContain('ALTER ROLE "app" CREATEDB;');
    expect(r.stdout + r.stderr).not.toContain('default locale');
  });
});
