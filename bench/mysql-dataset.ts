import { mysqlQuery } from '../test/support/mysql-sample.js';
import type { MariadbServer } from '../test/servers/mariadb.js';

/**
 * sysbench's oltp tables (`sbtest1..N`: id, k, c CHAR(120), pad CHAR(60)),
 * filled the way sysbench fills them: c is 10 groups of 11 random digits,
 * pad 5 groups, k random. Random digits compress about 2:1, like the real
 * thing; a constant filler would flatter every compressor. Built with
 * MariaDB's SEQUENCE engine (seq_1_to_N).
 */
export async function createSysbenchDataset(server: MariadbServer, database: string, tables: number, rowsPerTable: number): Promise<void> {
  await mysqlQuery(server, `CREATE DATABASE ${database}`);
  const group = "LPAD(FLOOR(RAND() * 100000000000), 11, '0')";
  const groups = (n: number) => `CONCAT_WS('-', ${Array.from({ length: n }, () => group).join(', ')})`;
  for (let i = 1; i <= tables; i++) {
    await mysqlQuery(
      server,
      `CREATE TABLE sbtest${i} (id INT NOT NULL AUTO_INCREMENT, k INT NOT NULL DEFAULT 0, c CHAR(120) NOT NULL DEFAULT '', pad CHAR(60) NOT NULL DEFAULT '',
          PRIMARY KEY (id), KEY k_${i} (k)) ENGINE=InnoDB;
       INSERT INTO sbtest${i} (id, k, c, pad) SELECT seq, FLOOR(1 + RAND() * ${rowsPerTable}), ${groups(10)}, ${groups(5)} FROM seq_1_to_${rowsPerTable};`,
      database,
    );
  }
}

export async function databaseBytes(server: MariadbServer, database: string): Promise<number> {
  const [row] = await mysqlQuery<{ b: string }>(server, 'SELECT SUM(DATA_LENGTH + INDEX_LENGTH) AS b FROM information_schema.TABLES WHERE TABLE_SCHEMA = ?', undefined, [database]);
  return Number(row!.b);
}
