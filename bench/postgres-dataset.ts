import type { PgCluster } from '../test/support/pg-cluster.js';

/**
 * A realistic dataset: mixed text, JSON and numbers, neither all-random nor
 * all-repeated (pgbench's filler compresses 50:1 and flatters compressors).
 * About 330 bytes a row on disk: `rows` = MB * 3200 for a target size.
 */
export async function createDataset(pg: PgCluster, database: string, rows: number): Promise<void> {
  await pg.query(`CREATE DATABASE ${database}`);
  await pg.query(
    `CREATE TABLE events (
       id bigint PRIMARY KEY, at timestamptz NOT NULL, kind text NOT NULL, user_id int NOT NULL,
       payload jsonb NOT NULL, note text, score double precision, amount numeric(12,2));
     INSERT INTO events
     SELECT g,
            timestamptz '2026-01-01' + (random() * 300 * 86400 || ' seconds')::interval,
            (ARRAY['login','purchase','view','search','logout','refund','signup'])[1 + floor(random() * 7)::int],
            floor(random() * 1000000)::int,
            jsonb_build_object(
              'agent', (ARRAY['Mozilla/5.0 (X11; Linux x86_64)','Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5)','curl/8.5.0','okhttp/4.12'])[1 + floor(random() * 4)::int],
              'path', '/shop/' || (ARRAY['cart','item','search','account'])[1 + floor(random() * 4)::int] || '/' || floor(random() * 50000)::int,
              'session', md5(random()::text),
              'items', floor(random() * 9)::int,
              'ok', random() > 0.1),
            CASE WHEN random() < 0.3 THEN NULL ELSE 'customer says: ' || (ARRAY['great','slow delivery','wrong size','thanks','will order again','package damaged'])[1 + floor(random() * 6)::int] || ' #' || floor(random() * 1e6)::int END,
            random() * 1000,
            round((random() * 500)::numeric, 2)
     FROM generate_series(1, ${rows}) g;
     CREATE INDEX events_user ON events (user_id, at);
     CREATE TABLE users AS SELECT g AS id, 'user' || g || '@example.test' AS email, md5(g::text) AS token, now() AS created FROM generate_series(1, ${Math.ceil(rows / 20)}) g;
     ALTER TABLE users ADD PRIMARY KEY (id);`,
    database,
  );
  await pg.query('VACUUM ANALYZE', database);
  await pg.query('CHECKPOINT');
}

export async function databaseBytes(pg: PgCluster, database: string): Promise<number> {
  const rows = await pg.query<{ b: string }>('SELECT pg_database_size($1)::text AS b', 'postgres', [database]);
  return Number(rows[0]!.b);
}
