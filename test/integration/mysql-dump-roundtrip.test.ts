import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mysql from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { startMariadb, type MariadbServer } from '../servers/mariadb.js';
import { holdfast, savedSnapshot } from '../support/cli.js';
import { mysqlQuery, mysqlUrl, schemaObjects, seedMysqlSample } from '../support/mysql-sample.js';

interface RestoreDoc {
  status: string;
  services: Array<{ status: string; notes: string[]; fingerprint?: { equal: boolean; compared: number; differences: string[] }; error?: { code: string; message: string } }>;
}

const EXPECTED_OBJECTS = {
  views: ['big_customers', 'biggest_customers'],
  triggers: ['orders_note'],
  routines: ['FUNCTION with_tax', 'PROCEDURE order_count'],
  events: ['nightly'],
  foreignKeys: ['orders_fk'],
};

/** Logs in as a user and returns CURRENT_USER(), or the error message. */
async function loginAs(server: MariadbServer, user: string, password: string): Promise<string> {
  try {
    const c = await mysql.createConnection({ host: '127.0.0.1', port: server.port, user, password });
    const [rows] = await c.query('SELECT CURRENT_USER() AS u');
    await c.end();
    return (rows as Array<{ u: string }>)[0]!.u;
  } catch (error) {
    return (error as Error).message;
  }
}

describe('mysql dump: round trips with every kind of object, accounts, and failures that leave targets as they were', () => {
  let source: MariadbServer;
  let other: MariadbServer;
  let work: string;
  let env: Record<string, string>;
  let snapshot: string;

  beforeAll(async () => {
    const started = await Promise.allSettled([startMariadb(), startMariadb()]);
    [source, other] = started.map((s) => (s.status === 'fulfilled' ? s.value : undefined!));
    const failed = started.find((s) => s.status === 'rejected');
    if (failed) throw failed.reason; // afterAll stops the one that did start
    await seedMysqlSample(source, 'shop', 500);
    await mysqlQuery(
      source,
      `CREATE USER 'app'@'%' IDENTIFIED BY 'app-secret-1';
       CREATE ROLE reader; GRANT SELECT ON shop.* TO reader; GRANT reader TO 'app'@'%';
       GRANT INSERT, UPDATE ON shop.orders TO 'app'@'%';
       CREATE USER 'shared'@'%' IDENTIFIED BY 'password-on-source'; GRANT ALL ON shop.* TO 'shared'@'%';`,
    );
    // The other server already has an account of that name, with its own password and no grants.
    await mysqlQuery(other, "CREATE USER 'shared'@'%' IDENTIFIED BY 'password-on-target'");
    work = await mkdtemp(join(tmpdir(), 'holdfast-mysql-rt-'));
    env = { HOLDFAST_REPO: join(work, 'repo'), HOLDFAST_SRC_PASSWORD: source.rootPassword, HOLDFAST_SRC_TARGET_PASSWORD: other.rootPassword };
    const backup = await holdfast(['backup', '--json', '--fingerprint', 'full', '--service', `src=${mysqlUrl(source, 'shop')}`], env);
    snapshot = savedSnapshot(backup);
  });
  afterAll(async () => {
    await Promise.all([source?.stop(), other?.stop()]);
    if (work) await rm(work, { recursive: true, force: true });
  });

  test('into another server: data, views, trigger, routines, event, foreign key and accounts; existing accounts untouched', async () => {
    // The grants 'shared' had on shop are withheld from the target's own 'shared': the comparison names them, accepted here.
    const r = await holdfast(['restore', snapshot, '--json', '--target', `src=${mysqlUrl(other)}`, '--accept', 'shop:grants'], env);
    expect(r.code, r.stderr + r.stdout).toBe(0);
    const outcome = r.json<RestoreDoc & { services: Array<{ fingerprint?: { accepted?: string[] } }> }>().services[0]!;
    expect(outcome.fingerprint).toMatchObject({ equal: true, compared: 13 });
    expect(outcome.fingerprint!.accepted).toEqual([expect.stringMatching(/^shop: grants is "'reader'@'': SELECT" after restore, "'reader'@'': SELECT; 'shared'@'%': ALTER, /)]);
    const accountsNote = outcome.notes.find((n) => n.startsWith('accounts:'));
    expect(accountsNote).toMatch(/^accounts: \d+ statements applied, \d+ skipped \(accounts that exist on the target are left as they are\), grants on the restored databases not given to shared@%: /);
    expect(await schemaObjects(other, 'shop')).toEqual(EXPECTED_OBJECTS);
    expect(await mysqlQuery(other, 'SELECT with_tax(10) AS x, (SELECT COUNT(*) FROM biggest_customers) AS v, (SELECT COUNT(*) FROM customers WHERE balance > 200) AS w', 'shop')).toEqual([
      { x: '12.00', v: '0', w: '340' },
    ]);

    expect(await loginAs(other, 'app', 'app-secret-1')).toBe('app@%');
    const grants = (await mysqlQuery<Record<string, string>>(other, "SHOW GRANTS FOR 'app'@'%'")).map((g) => Object.values(g)[0]).join('\n');
    expect(grants).toMatch(/GRANT `reader` TO `app`@`%`/);
    expect(grants).toMatch(/GRANT INSERT, UPDATE ON `shop`\.`orders` TO `app`@`%`/);
    // The account that existed on the target keeps its password and gets no grant from the snapshot.
    expect(await loginAs(other, 'shared', 'password-on-target')).toBe('shared@%');
    expect(await loginAs(other, 'shared', 'password-on-source')).toMatch(/Access denied/);
    const shared = (await mysqlQuery<Record<string, string>>(other, "SHOW GRANTS FOR 'shared'@'%'")).map((g) => Object.values(g)[0]);
    expect(shared.join('\n')).not.toMatch(/shop/);
  });

  test('--force over a changed database brings every object back through the scratch swap, and they work', async () => {
    await mysqlQuery(source, 'DELETE FROM orders WHERE id % 2 = 0; DROP VIEW biggest_customers; DROP TRIGGER orders_note; DROP PROCEDURE order_count; CREATE TABLE extra (x INT)', 'shop');
    const r = await holdfast(['restore', snapshot, '--json', '--force'], env);
    expect(r.code, r.stderr + r.stdout).toBe(0);
    expect(r.json<RestoreDoc>().services[0]!.fingerprint).toMatchObject({ equal: true, compared: 13 });
    expect(await schemaObjects(source, 'shop')).toEqual(EXPECTED_OBJECTS);
    const tables = await mysqlQuery<{ n: string }>(source, "SELECT TABLE_NAME AS n FROM information_schema.TABLES WHERE TABLE_SCHEMA = 'shop' AND TABLE_TYPE = 'BASE TABLE' ORDER BY 1");
    expect(tables.map((t) => t.n)).toEqual(['customers', 'events_log', 'orders']);
    // The trigger fires, the procedure runs, the foreign key holds.
    await mysqlQuery(source, 'INSERT INTO orders (customer_id, total, note) VALUES (1, 1, NULL)', 'shop');
    expect(await mysqlQuery(source, 'SELECT note FROM orders ORDER BY id DESC LIMIT 1', 'shop')).toEqual([{ note: 'none' }]);
    const [, counted] = (await mysqlQuery(source, 'CALL order_count(1, @n); SELECT @n AS n', 'shop')) as unknown as [unknown, Array<{ n: string }>];
    expect(counted).toEqual(await mysqlQuery(source, 'SELECT COUNT(*) AS n FROM orders WHERE customer_id = 1', 'shop'));
    await expect(mysqlQuery(source, 'INSERT INTO orders (customer_id, total) VALUES (999999, 1)', 'shop')).rejects.toThrow(/foreign key constraint fails/);
    expect(await mysqlQuery(source, "SELECT SCHEMA_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME LIKE '%holdfast%'")).toEqual([]);
  });

  test('a load that fails half-way leaves a non-empty target as it was and a new one absent', async () => {
    // A user that may create tables but not routines, nor views with another definer: the load stops after the data.
    await mysqlQuery(
      source,
      `CREATE USER 'limited'@'127.0.0.1' IDENTIFIED BY 'limited-pw';
       GRANT SELECT, INSERT, UPDATE, DELETE, CREATE, DROP, INDEX, ALTER, CREATE VIEW, SHOW VIEW, TRIGGER, EVENT, LOCK TABLES, REFERENCES ON *.* TO 'limited'@'127.0.0.1';`,
    );
    await mysqlQuery(source, 'DELETE FROM orders WHERE id % 5 = 0', 'shop');
    const before = await mysqlQuery(source, 'SELECT COUNT(*) AS n, SUM(total) AS s FROM orders', 'shop');
    const limitedEnv = { ...env, HOLDFAST_SRC_TARGET_PASSWORD: 'limited-pw' };
    const over = await holdfast(['restore', snapshot, '--json', '--force', '--target', `src=mysql://limited@127.0.0.1:${source.port}/shop`], limitedEnv);
    expect(over.code).toBe(1);
    expect(over.json<RestoreDoc>().services[0]!.error!.message).toMatch(/mariadb exited with status 1: [\s\S]*(Access denied|SUPER|SET USER|CREATE ROUTINE)/);
    expect(await mysqlQuery(source, 'SELECT COUNT(*) AS n, SUM(total) AS s FROM orders', 'shop')).toEqual(before);
    expect(await schemaObjects(source, 'shop')).toEqual(EXPECTED_OBJECTS);

    const fresh = await holdfast(['restore', snapshot, '--json', '--target', `src=mysql://limited@127.0.0.1:${source.port}/shop_new`], limitedEnv);
    expect(fresh.code).toBe(1);
    expect(await mysqlQuery(source, "SELECT SCHEMA_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME LIKE 'shop%' ORDER BY 1")).toEqual([{ SCHEMA_NAME: 'shop' }]);
  });
});
