import { ident, rows, type Connection } from './mysql-connection.js';

/**
 * A database's own properties: default character set, collation and comment
 * (MariaDB 10.5+ has SCHEMA_COMMENT). Per-database dumps carry no CREATE
 * DATABASE, so the backup records them and the restore creates (or alters)
 * the database with them.
 */
export interface DatabaseProperties {
  charset: string;
  collation: string;
  /** Undefined on servers without database comments (MySQL). */
  comment?: string;
}

export async function readDatabaseProperties(c: Connection, database: string): Promise<DatabaseProperties | undefined> {
  const read = (comment: string) =>
    rows<{ charset: string; collation: string; comment: string | null }>(
      c,
      `SELECT DEFAULT_CHARACTER_SET_NAME AS charset, DEFAULT_COLLATION_NAME AS collation, ${comment} AS comment FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?`,
      [database],
    );
  const [row] = await read('SCHEMA_COMMENT').catch(() => read('NULL'));
  if (!row) return undefined;
  return { charset: row.charset, collation: row.collation, ...(row.comment !== null ? { comment: row.comment } : {}) };
}

/** `CHARACTER SET ? COLLATE ? [COMMENT ?]` and its values. */
function clause(p: DatabaseProperties): { sql: string; values: string[] } {
  const values = [p.charset, p.collation];
  let sql = 'CHARACTER SET ? COLLATE ?';
  if (p.comment !== undefined && p.comment !== '') {
    sql += ' COMMENT ?';
    values.push(p.comment);
  }
  return { sql, values };
}

export async function createDatabase(c: Connection, name: string, p: DatabaseProperties): Promise<void> {
  const { sql, values } = clause(p);
  await c.query(`CREATE DATABASE ${ident(name)} ${sql}`, values);
}

/** An existing (empty) database takes the recorded properties. */
export async function alterDatabase(c: Connection, name: string, p: DatabaseProperties): Promise<void> {
  const { sql, values } = clause(p);
  await c.query(`ALTER DATABASE ${ident(name)} ${sql}${p.comment === '' ? " COMMENT ''" : ''}`, values);
}
