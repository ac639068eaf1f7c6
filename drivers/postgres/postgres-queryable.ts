/**
 * What the inspector and fingerprint queries need from a connection: plain
 * SQL in, rows out. A pg.Client (host tools, over TCP) and a PsqlSession
 * (psql inside the container, through docker exec) both are one.
 */
export interface PgQueryable {
  query<R extends Record<string, any> = any>(sql: string): Promise<{ rows: R[] }>; // eslint-disable-line @typescript-eslint/no-explicit-any
}
