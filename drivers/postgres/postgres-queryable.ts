/**
 * What the driver's SQL needs from a connection: a SELECT in, rows out, and
 * statements without rows. A pg.Client on the host (postgres-connection.ts)
 * and a PsqlSession inside a container (postgres-psql-session.ts) both are
 * one, so the backup, restore, inspector and fingerprint code is written
 * once. A failed statement rejects with the server's message (and its
 * SQLSTATE as `code`); the session stays usable, as a pg.Client does.
 */
export interface PgQueryable {
  query<R extends Record<string, any> = any>(sql: string): Promise<{ rows: R[] }>; // eslint-disable-line @typescript-eslint/no-explicit-any
}

export interface PgSession extends PgQueryable {
  /** Runs one statement (no rows). */
  exec(sql: string): Promise<void>;
  close(): Promise<void>;
  /**
   * Moves the session to another database of the same server (psql's \connect), where a new session costs more
   * than a connection (in a container each is a docker exec). False when it cannot: the caller opens a new one.
   */
  moveTo?(database: string): Promise<boolean>;
}

/** A SQL string literal (standard_conforming_strings on, as since PostgreSQL 9.1). */
export function literal(value: string): string {
  return `'${value.replace(/'/g, "''")}'`;
}
