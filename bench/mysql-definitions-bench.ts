/**
 * The cost of the definitions half of a MySQL / MariaDB fingerprint (issue
 * 11) on a database of ~500 objects, beside the backup and restore it rides on.
 *
 *   npm run build && node dist/bench/mysql-definitions-bench.js [--rows 600000] [--rounds 1]
 *
 * The database: 4 sysbench tables holding the data (--rows in all), 246
 * small tables with indexes and foreign keys, 150 views, 60 routines, 30
 * triggers, 10 events (500 objects). Measured: reading the definitions
 * (mysql-definitions.ts, median of 5) on the source, as the backup does inside its
 * snapshot and the restore does after loading; `holdfast backup` and
 * `holdfast restore` of the database (fingerprint counts). The definitions
 * read does not grow with the data: it reads information_schema only.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import mysql from 'mysql2/promise';
import { readDefinitions } from '../drivers/mysql/mysql-definitions.js';
import { startMariadb } from '../test/servers/mariadb.js';
import { mysqlQuery, mysqlUrl } from '../test/support/mysql-sample.js';
import { createSysbenchDataset, databaseBytes } from './mysql-dataset.js';
import { timed } from './timed.js';

const BIN = fileURLToPath(new URL('../../bin/holdfast.js', import.meta.url));
const arg = (name: string, fallback: string) => {
  const at = process.argv.indexOf(`--${name}`);
  return at > 0 && process.argv[at + 1] ? process.argv[at + 1]! : fallback;
};
const rowsTotal = Number(arg('rows', '600000'));
const rounds = Number(arg('rounds', '1'));
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const log = (text: string) => process.stderr.write(`[definitions bench] ${text}\n`);

const server = await startMariadb({ extraArgs: ['--innodb-buffer-pool-size=512M', '--max-allowed-packet=256M'], timeoutMs: 120_000 });
const work = await mkdtemp(join(tmpdir(), 'holdfast-defs-bench-'));
try {
  await createSysbenchDataset(server, 'wide', 4, Math.round(rowsTotal / 4));
  const ddl: string[] = [];
  for (let i = 1; i <= 246; i++) {
    ddl.push(`CREATE TABLE t${i} (id INT PRIMARY KEY, parent INT NULL, name VARCHAR(80) NOT NULL DEFAULT '', amount DECIMAL(10,2), created DATETIME, note TEXT,
      KEY name_${i} (name), KEY created_${i} (created, amount)${i > 1 ? `, CONSTRAINT fk_${i} FOREIGN KEY (parent) REFERENCES t${i - 1} (id)` : ''}) COMMENT 'table ${i}'`);
  }
  for (let i = 1; i <= 150; i++) ddl.push(`CREATE VIEW v${i} AS SELECT a.id, a.name, b.amount FROM t${i} a LEFT JOIN t${i + 1} b ON b.parent = a.id WHERE a.amount > ${i}`);
  for (let i = 1; i <= 30; i++) ddl.push(`CREATE FUNCTION f${i}(x DECIMAL(10,2)) RETURNS DECIMAL(10,2) DETERMINISTIC RETURN x * ${i}`);
  for (let i = 1; i <= 30; i++) ddl.push(`CREATE PROCEDURE p${i}(IN n INT) SELECT COUNT(*) FROM t${i} WHERE id > n`);
  for (let i = 1; i <= 30; i++) ddl.push(`CREATE TRIGGER tr${i} BEFORE INSERT ON t${i} FOR EACH ROW SET NEW.note = COALESCE(NEW.note, 'none')`);
  for (let i = 1; i <= 10; i++) ddl.push(`CREATE EVENT e${i} ON SCHEDULE EVERY 1 DAY STARTS '2030-01-01 00:00:00' DISABLE DO DELETE FROM t${i} WHERE id < 0`);
  await mysqlQuery(server, ddl.join(';\n'), 'wide');
  const [objects] = await mysqlQuery<{ n: string }>(server, `SELECT (SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = 'wide') + (SELECT COUNT(*) FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA = 'wide')
      + (SELECT COUNT(*) FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = 'wide') + (SELECT COUNT(*) FROM information_schema.EVENTS WHERE EVENT_SCHEMA = 'wide') AS n`);
  const bytes = await databaseBytes(server, 'wide');
  log(`${objects!.n} objects, ${Math.round(bytes / 1048576)} MiB`);

  const c = await mysql.createConnection({ host: '127.0.0.1', port: server.port, user: 'root', password: server.rootPassword, dateStrings: true, supportBigNumbers: true, bigNumberStrings: true });
  const reads: number[] = [];
  let properties = 0;
  for (let r = 0; r < 5; r++) {
    const t0 = performance.now();
    const defs = await readDefinitions(c, 'wide', { scope: 'counts' });
    reads.push((performance.now() - t0) / 1000);
    properties = Object.values(defs).reduce((n, p) => n + Object.keys(p).length, 0);
  }
  await c.end();

  const env = { HOLDFAST_REPO: join(work, 'repo'), HOLDFAST_SRC_PASSWORD: server.rootPassword, HOLDFAST_SRC_TARGET_PASSWORD: server.rootPassword };
  const backups: number[] = [];
  for (let r = 0; r < rounds; r++) backups.push((await timed('node', [BIN, 'backup', '--init', '--quiet', '--fingerprint', 'counts', '--service', `src=${mysqlUrl(server, 'wide')}`], env)).seconds);
  const restores: number[] = [];
  for (let r = 0; r < rounds; r++) {
    restores.push((await timed('node', [BIN, 'restore', 'latest', '--quiet', '--target', `src=${mysqlUrl(server, `copy${r}`)}`], env)).seconds);
    await mysqlQuery(server, `DROP DATABASE copy${r}`);
  }
  const read = median(reads);
  const result = {
    objects: Number(objects!.n),
    mib: Math.round(bytes / 1048576),
    definitionProperties: properties,
    definitionsReadSeconds: Math.round(read * 1000) / 1000,
    backupSeconds: Math.round(median(backups) * 100) / 100,
    restoreSeconds: Math.round(median(restores) * 100) / 100,
    shareOfBackup: `${Math.round((read / median(backups)) * 1000) / 10}%`,
    shareOfRestore: `${Math.round((read / median(restores)) * 1000) / 10}%`,
  };
  process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
} finally {
  await server.stop();
  await rm(work, { recursive: true, force: true });
}
