import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mysql from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { startMariadb, type MariadbServer } from '../servers/mariadb.js';
import { holdfast, savedSnapshot } from '../support/cli.js';

/** MariaDB: what a restore needs from the account, listed with the GRANT that meets it, before anything changes. */
describe('MySQL / MariaDB: an application account, its rights checked before the restore needs them', () => {
  let db: MariadbServer;
  let work: string;
  let env: Record<string, string>;
  let snapshot: string;
  const appUrl = (name: string) => `mysql://shopapp@127.0.0.1:${db.port}/${name}`;

  beforeAll(async () => {
    db = await startMariadb();
    const root = await mysql.createConnection({ host: '127.0.0.1', port: db.port, user: 'root', password: db.rootPassword });
    await root.query('CREATE DATABASE shop');
    await root.query('CREATE TABLE shop.orders (id INT PRIMARY KEY, item TEXT)');
    await root.query('INSERT INTO shop.orders VALUES (1, "a"), (2, "b")');
    await root.query("CREATE USER 'shopapp'@'%' IDENTIFIED BY 'shop-secret-pw'");
    await root.query("GRANT SELECT, INSERT, UPDATE, DELETE ON shop.* TO 'shopapp'@'%'");
    await root.query("GRANT ALL PRIVILEGES ON `shop\\_copy`.* TO 'shopapp'@'%'");
    await root.end();
    work = await mkdtemp(join(tmpdir(), 'holdfast-mysql-privs-'));
    env = { HOLDFAST_REPO: join(work, 'repo'), HOLDFAST_DB_PASSWORD: db.rootPassword, HOLDFAST_DB_TARGET_PASSWORD: 'shop-secret-pw' };
    expect((await holdfast(['init'], env)).code).toBe(0);
    snapshot = savedSnapshot(await holdfast(['backup', '--json', '--service', `db=mysql://root@127.0.0.1:${db.port}/shop`], env));
  }, 180_000);
  afterAll(async () => {
    await db?.stop();
    if (work) await rm(work, { recursive: true, force: true });
  });

  test('plan: the account may read and write rows of shop, but not reload it: listed with the GRANT', async () => {
    const r = await holdfast(['plan', '--service', `db=${appUrl('shop')}`], { ...env, HOLDFAST_DB_PASSWORD: 'shop-secret-pw' });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/db: MISSING +load the dump into shop \('shopapp'@'%' lacks CREATE, DROP, ALTER, INDEX, LOCK TABLES on it\)/);
    expect(r.stdout).toContain("fix: GRANT ALL PRIVILEGES ON `shop`.* TO 'shopapp'@'%';");
  });

  test('restore --dry-run: a new database it has no grant for is MISSING; one it has every right on is ok; nothing changes', async () => {
    const denied = await holdfast(['restore', snapshot, '--dry-run', '--target', `db=${appUrl('shop_new')}`], env);
    expect(denied.code, denied.stdout + denied.stderr).toBe(1);
    expect(denied.stdout).toMatch(/MISSING +create database shop_new and load it/);
    expect(denied.stdout).toContain("fix: GRANT ALL PRIVILEGES ON `shop_new`.* TO 'shopapp'@'%';");
    const allowed = await holdfast(['restore', snapshot, '--dry-run', '--target', `db=${appUrl('shop_copy')}`], env);
    expect(allowed.code, allowed.stdout + allowed.stderr).toBe(0);
    expect(allowed.stdout).toMatch(/ok +create database shop_copy and load it/);
    const root = await mysql.createConnection({ host: '127.0.0.1', port: db.port, user: 'root', password: db.rootPassword });
    const [rows] = await root.query("SHOW DATABASES LIKE 'shop%'");
    await root.end();
    expect((rows as Array<Record<string, string>>).map((r) => Object.values(r)[0])).toEqual(['shop']);
  });
});
