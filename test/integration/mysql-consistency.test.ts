import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mysql from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { startMariadb, type MariadbServer } from '../servers/mariadb.js';
import { holdfast } from '../support/cli.js';
import { mysqlQuery, mysqlUrl, numbers } from '../support/mysql-sample.js';

const ACCOUNTS = 2000;
const START_BALANCE = 1000;

/**
 * A bank under load: clients move money between accounts in transactions
 * while holdfast backs up. Every transfer keeps the total and adds one row to
 * the history and one to a counter, in the same transaction; so in any
 * consistent snapshot the total is constant and the counter equals the
 * history's row count. The fingerprint recorded at backup must equal the
 * restored copy's, which holds only if the fingerprint's snapshot and the
 * dump's were opened at the same moment.
 */
describe('mysql: a backup taken while transfers run is one point in time', () => {
  let db: MariadbServer;
  let work: string;
  let env: Record<string, string>;

  beforeAll(async () => {
    db = await startMariadb();
    await mysqlQuery(db, 'CREATE DATABASE bank');
    await mysqlQuery(
      db,
      `CREATE TABLE accounts (id INT PRIMARY KEY, balance BIGINT NOT NULL, owner CHAR(60) NOT NULL) ENGINE=InnoDB;
       CREATE TABLE history (id BIGINT AUTO_INCREMENT PRIMARY KEY, src INT, dst INT, amount INT, at DATETIME(6) DEFAULT NOW(6)) ENGINE=InnoDB;
       CREATE TABLE counter (id INT PRIMARY KEY, transfers BIGINT NOT NULL) ENGINE=InnoDB;
       INSERT INTO counter VALUES (1, 0);
       INSERT INTO accounts SELECT n, ${START_BALANCE}, MD5(n) FROM ${numbers(ACCOUNTS)} g;
       -- ballast, so that the dump takes a while and transfers land during it
       CREATE TABLE ballast (id INT PRIMARY KEY, pad CHAR(200)) ENGINE=InnoDB;
       INSERT INTO ballast SELECT n, REPEAT(MD5(n), 6) FROM ${numbers(20000)} g;`,
      'bank',
    );
    work = await mkdtemp(join(tmpdir(), 'holdfast-mysql-bank-'));
    env = { HOLDFAST_REPO: join(work, 'repo'), HOLDFAST_BANK_PASSWORD: db.rootPassword, HOLDFAST_BANK_TARGET_PASSWORD: db.rootPassword };
  });
  afterAll(async () => {
    await db?.stop();
    if (work) await rm(work, { recursive: true, force: true });
  });

  const state = async (database: string) => {
    const [row] = await mysqlQuery<{ total: string; history: string; counted: string }>(
      db,
      'SELECT (SELECT SUM(balance) FROM accounts) AS total, (SELECT COUNT(*) FROM history) AS history, (SELECT transfers FROM counter) AS counted',
      database,
    );
    return { total: Number(row!.total), history: Number(row!.history), counted: Number(row!.counted) };
  };

  test('the restored copy keeps the total, the counter matches the history, the fingerprints are equal', async () => {
    const stop = { now: false };
    const clients = Array.from({ length: 3 }, (_, i) => transfers(db, i, stop));
    try {
      await new Promise((r) => setTimeout(r, 500));
      const before = await state('bank');
      const backup = await holdfast(['backup', '--json', '--fingerprint', 'full', '--service', `bank=${mysqlUrl(db, 'bank')}`], env);
      const after = await state('bank');
      // The writes that matter happened during the backup; the restore needs the cores.
      stop.now = true;
      await Promise.all(clients);
      expect(backup.code, backup.stderr + backup.stdout).toBe(0);
      expect(after.history).toBeGreaterThan(before.history); // the clients really wrote during the backup
      const id = backup.json<{ snapshot: string }>().snapshot;

      const show = await holdfast(['show', id, '--json'], env);
      const details = show.json<{ services: { bank: { details: { fingerprintExact: boolean; databases: Array<{ snapshotConfirmedBy?: string; heldMs: number }> } } } }>().services.bank.details;
      expect(details.fingerprintExact).toBe(true);
      expect(details.databases[0]!.snapshotConfirmedBy).toBe('client-port');
      expect(details.databases[0]!.heldMs).toBeLessThan(2000);

      const restore = await holdfast(['restore', id, '--json', '--target', `bank=${mysqlUrl(db, 'bank_copy')}`], env);
      expect(restore.code, restore.stderr + restore.stdout).toBe(0);
      const outcome = restore.json<{ services: Array<{ fingerprint: { equal: boolean; compared: number; differences: string[] } }> }>().services[0]!;
      expect(outcome.fingerprint.differences).toEqual([]);
      expect(outcome.fingerprint.equal).toBe(true);

      const copy = await state('bank_copy');
      expect(copy.total).toBe(ACCOUNTS * START_BALANCE);
      expect(copy.counted).toBe(copy.history);
      expect(copy.history).toBeGreaterThanOrEqual(before.history);
      expect(copy.history).toBeLessThanOrEqual(after.history);
    } finally {
      stop.now = true;
      await Promise.all(clients);
    }
  });
});

/** One client: transfers between random accounts until told to stop; deadlocks are retried. */
async function transfers(db: MariadbServer, seed: number, stop: { now: boolean }): Promise<void> {
  const conn = await mysql.createConnection({ host: '127.0.0.1', port: db.port, user: 'root', password: db.rootPassword, database: 'bank' });
  let x = seed + 1;
  const rand = (n: number) => {
    x = (x * 1103515245 + 12345) % 2147483648;
    return x % n;
  };
  try {
    while (!stop.now) {
      const a = 1 + rand(ACCOUNTS);
      const b = 1 + rand(ACCOUNTS);
      if (a === b) continue;
      const amount = 1 + rand(50);
      try {
        await conn.query('START TRANSACTION');
        await conn.query('UPDATE accounts SET balance = balance - ? WHERE id = ?', [amount, a]);
        await conn.query('UPDATE accounts SET balance = balance + ? WHERE id = ?', [amount, b]);
        await conn.query('INSERT INTO history (src, dst, amount) VALUES (?, ?, ?)', [a, b, amount]);
        await conn.query('UPDATE counter SET transfers = transfers + 1 WHERE id = 1');
        await conn.query('COMMIT');
      } catch (error) {
        await conn.query('ROLLBACK').catch(() => undefined);
        if (!/Deadlock|Lock wait timeout/i.test((error as Error).message)) throw error;
      }
    }
  } finally {
    await conn.end();
  }
}
