import mysql from 'mysql2/promise';
import type { MariadbServer } from '../servers/mariadb.js';

/** A server the tests reach: a throwaway MariaDB, or the opt-in MySQL 8. */
export type SqlServer = Pick<MariadbServer, 'port' | 'rootPassword'> & { host?: string; user?: string };

/** Runs SQL (several statements allowed) as root on a test server, optionally in one database. */
export async function mysqlQuery<T = Record<string, unknown>>(server: SqlServer, sql: string, database?: string, values?: unknown[]): Promise<T[]> {
  const conn = await mysql.createConnection({
    host: server.host ?? '127.0.0.1',
    port: server.port,
    user: server.user ?? 'root',
    password: server.rootPassword,
    multipleStatements: true,
    supportBigNumbers: true,
    bigNumberStrings: true,
    dateStrings: true,
    ...(database ? { database } : {}),
  });
  try {
    const [result] = await conn.query(sql, values);
    return result as T[];
  } finally {
    await conn.end();
  }
}

/** `mysql://root@127.0.0.1:PORT/DB` (no password: the tests pass it through HOLDFAST_<NAME>_PASSWORD). */
export function mysqlUrl(server: Pick<MariadbServer, 'port'>, database = ''): string {
  return `mysql://root@127.0.0.1:${server.port}/${encodeURIComponent(database)}`;
}

/**
 * A small database with what a dump must carry: UTF-8 beyond the BMP, JSON,
 * DECIMAL, FLOAT, dates and timestamps, binary data with NUL bytes, BIT,
 * ENUM, NULLs, a foreign key, a view over a view, a trigger, a procedure, a
 * function and an event.
 */
export async function seedMysqlSample(server: SqlServer, database: string, rows = 2000): Promise<void> {
  const q = database.replace(/`/g, '``');
  await mysqlQuery(server, `CREATE DATABASE \`${q}\` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci`);
  await mysqlQuery(
    server,
    `CREATE TABLE customers (id INT AUTO_INCREMENT PRIMARY KEY, name VARCHAR(100) NOT NULL, email VARCHAR(120) UNIQUE, meta JSON,
        balance DECIMAL(12,2), ratio DOUBLE, created TIMESTAMP NOT NULL DEFAULT '2024-01-02 03:04:05', born DATE, photo VARBINARY(64),
        flags BIT(4), tier ENUM('free','pro','team')) ENGINE=InnoDB;
     CREATE TABLE orders (id BIGINT AUTO_INCREMENT PRIMARY KEY, customer_id INT NOT NULL, total DOUBLE, note TEXT,
        KEY orders_customer (customer_id), CONSTRAINT orders_fk FOREIGN KEY (customer_id) REFERENCES customers (id)) ENGINE=InnoDB;
     CREATE TABLE events_log (at DATETIME(3), what VARCHAR(200)) ENGINE=InnoDB;
     INSERT INTO customers (name, email, meta, balance, ratio, created, born, photo, flags, tier)
       SELECT CONCAT('customer ', n, IF(n % 11 = 0, ' 🐘 ünïcødé', '')), CONCAT('c', n, '@example.test'),
              JSON_OBJECT('tier', n % 5, 'tags', JSON_ARRAY('a', n)), n * 1.25, n / 7,
              TIMESTAMP('2024-01-01') + INTERVAL n MINUTE, DATE('1970-01-01') + INTERVAL n DAY,
              IF(n % 7 = 0, NULL, UNHEX(CONCAT(MD5(n), '00', MD5(n + 1)))), n % 16, ELT(1 + n % 3, 'free', 'pro', 'team')
         FROM ${numbers(rows)} g;
     INSERT INTO orders (customer_id, total, note)
       SELECT 1 + (n % ${rows}), n / 3, REPEAT('x', n % 50) FROM ${numbers(rows * 2)} g;
     INSERT INTO events_log
       SELECT TIMESTAMP('2024-06-01 12:00:00.123') - INTERVAL n MINUTE, CONCAT('event ', n) FROM ${numbers(100)} g;
     CREATE VIEW big_customers AS SELECT id, name, balance FROM customers WHERE balance > 1000;
     CREATE VIEW biggest_customers AS SELECT id, name FROM big_customers WHERE balance > 2000;
     CREATE TRIGGER orders_note BEFORE INSERT ON orders FOR EACH ROW SET NEW.note = COALESCE(NEW.note, 'none');
     CREATE PROCEDURE order_count(IN cid INT, OUT n INT) SELECT COUNT(*) INTO n FROM orders WHERE customer_id = cid;
     CREATE FUNCTION with_tax(x DECIMAL(12,2)) RETURNS DECIMAL(12,2) DETERMINISTIC RETURN x * 1.2;
     CREATE EVENT nightly ON SCHEDULE EVERY 1 DAY STARTS '2030-01-01 00:00:00' DISABLE DO DELETE FROM events_log WHERE at < NOW() - INTERVAL 1 YEAR;`,
    database,
  );
}

/**
 * A derived table `(n)` of 1..max from cross joins of digits: portable
 * between MariaDB and MySQL, whose recursive-CTE limits (1000) differ in name.
 */
export function numbers(max: number): string {
  const digits = '(SELECT 0 AS d UNION ALL SELECT 1 UNION ALL SELECT 2 UNION ALL SELECT 3 UNION ALL SELECT 4 UNION ALL SELECT 5 UNION ALL SELECT 6 UNION ALL SELECT 7 UNION ALL SELECT 8 UNION ALL SELECT 9)';
  const levels = Math.max(1, Math.ceil(Math.log10(max + 1)));
  const names = Array.from({ length: levels }, (_, i) => `d${i}`);
  const sum = names.map((d, i) => `${d}.d * ${10 ** i}`).join(' + ');
  return `(SELECT n FROM (SELECT ${sum} + 1 AS n FROM ${names.map((d) => `${digits} ${d}`).join(', ')}) x WHERE n <= ${max})`;
}

/** The objects of a database other than tables, by kind, to check that a restore brought them. */
export async function schemaObjects(server: SqlServer, database: string): Promise<Record<string, string[]>> {
  const list = async (sql: string) => (await mysqlQuery<{ n: string }>(server, sql, undefined, [database])).map((r) => r.n).sort();
  return {
    views: await list("SELECT TABLE_NAME AS n FROM information_schema.VIEWS WHERE TABLE_SCHEMA = ?"),
    triggers: await list('SELECT TRIGGER_NAME AS n FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = ?'),
    routines: await list("SELECT CONCAT(ROUTINE_TYPE, ' ', ROUTINE_NAME) AS n FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA = ?"),
    events: await list('SELECT EVENT_NAME AS n FROM information_schema.EVENTS WHERE EVENT_SCHEMA = ?'),
    foreignKeys: await list("SELECT CONSTRAINT_NAME AS n FROM information_schema.REFERENTIAL_CONSTRAINTS WHERE CONSTRAINT_SCHEMA = ?"),
  };
}
