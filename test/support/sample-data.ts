import type { PgCluster } from './pg-cluster.js';

/** A small database with the awkward types a dump must carry: text, JSON, numbers, timestamps, bytea, NULLs. */
export async function seedSample(cluster: PgCluster, database: string, rows = 2000): Promise<void> {
  await cluster.query(`CREATE DATABASE ${JSON.stringify(database)}`);
  await cluster.query(
    `CREATE TABLE customers (id serial PRIMARY KEY, name text NOT NULL, email text UNIQUE, meta jsonb, balance numeric(12,2), created timestamptz DEFAULT now(), photo bytea);
     CREATE TABLE orders (id bigserial PRIMARY KEY, customer_id int REFERENCES customers(id), total double precision, note text);
     CREATE INDEX orders_customer ON orders(customer_id);
     CREATE SCHEMA audit;
     CREATE TABLE audit.events (at timestamptz, what text);
     INSERT INTO customers (name, email, meta, balance, photo)
       SELECT 'customer ' || g, 'c' || g || '@example.test', jsonb_build_object('tier', g % 5, 'tags', jsonb_build_array('a', g)), g * 1.25, CASE WHEN g % 7 = 0 THEN NULL ELSE decode(md5(g::text), 'hex') END
       FROM generate_series(1, ${rows}) g;
     INSERT INTO orders (customer_id, total, note) SELECT 1 + (g % ${rows}), g / 3.0, repeat('x', g % 50) FROM generate_series(1, ${rows * 2}) g;
     INSERT INTO audit.events SELECT now() - (g || ' minutes')::interval, 'event ' || g FROM generate_series(1, 100) g;`,
    database,
  );
}
