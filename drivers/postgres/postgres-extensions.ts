import { ident } from './postgres-connection.js';
import type { PgQueryable } from './postgres-queryable.js';

/**
 * Extension versions. `pg_dump` writes `CREATE EXTENSION IF NOT EXISTS x`
 * without a version, so a restore gets the target's default version. The
 * backup records each extension's version; the restore creates those in
 * schemas that a new database already has (`public`) at the recorded version
 * before pg_restore runs (whose IF NOT EXISTS then keeps it), updates the
 * others afterwards when the target has an update path, and says so when the
 * recorded version cannot be installed on the target.
 */
export interface RecordedExtension {
  name: string;
  version: string;
  schema: string;
}

/** Queries and statements in the new database (a pg.Client, or psql in a container). */
export interface ExtensionSession extends PgQueryable {
  /** Runs one statement; rejects with the server's message. */
  exec(sql: string): Promise<void>;
}

const literal = (s: string) => `'${s.replace(/'/g, "''")}'`;

export async function recordExtensions(c: PgQueryable): Promise<RecordedExtension[]> {
  const { rows } = await c.query<RecordedExtension>('SELECT x.extname AS name, x.extversion AS version, n.nspname AS schema FROM pg_extension x JOIN pg_namespace n ON n.oid = x.extnamespace ORDER BY 1');
  return rows;
}

/** Before pg_restore, in the new database: the extensions whose recorded version is not the target's default. */
export async function preCreateExtensions(c: ExtensionSession, recorded: readonly RecordedExtension[], note: (t: string) => void, label: string): Promise<void> {
  for (const x of await pending(c, recorded)) {
    if (!x.installable) {
      note(`${label}: extension ${x.name} ${x.version} cannot be installed on the target (it offers ${x.offered || 'no version of it'}); restored at ${x.defaultVersion ?? 'no version'}`);
      continue;
    }
    if (!x.schemaExists) continue; // created by pg_restore with its schema; updated afterwards
    try {
      await c.exec(`CREATE EXTENSION ${ident(x.name)} WITH SCHEMA ${ident(x.schema)} VERSION ${literal(x.version)}`);
    } catch (error) {
      note(`${label}: extension ${x.name} ${x.version} not created at its recorded version: ${(error as Error).message}`);
    }
  }
}

/** After pg_restore: an extension still at another version is updated to the recorded one when the target has a path. */
export async function updateExtensions(c: ExtensionSession, recorded: readonly RecordedExtension[], note: (t: string) => void, label: string): Promise<void> {
  if (recorded.length === 0) return;
  const { rows } = await c.query<{ name: string; v: string }>(`SELECT extname AS name, extversion AS v FROM pg_extension WHERE extname IN (${recorded.map((x) => literal(x.name)).join(', ')})`);
  for (const x of recorded) {
    const now = rows.find((r) => r.name === x.name)?.v;
    if (now === undefined || now === x.version) continue;
    try {
      await c.exec(`ALTER EXTENSION ${ident(x.name)} UPDATE TO ${literal(x.version)}`);
    } catch (error) {
      note(`${label}: extension ${x.name} is at ${now}, not the recorded ${x.version}: ${(error as Error).message}`);
    }
  }
}

async function pending(c: PgQueryable, recorded: readonly RecordedExtension[]) {
  if (recorded.length === 0) return [];
  const { rows } = await c.query<{ name: string; d: string | null; versions: string[] | null; schema: boolean }>(
    `SELECT x.name, (SELECT default_version FROM pg_available_extensions WHERE name = x.name) AS d,
            (SELECT array_agg(version ORDER BY version) FROM pg_available_extension_versions WHERE name = x.name) AS versions,
            EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = x.schema) AS schema
       FROM (VALUES ${recorded.map((x) => `(${literal(x.name)}, ${literal(x.schema)})`).join(', ')}) AS x(name, schema)`,
  );
  return recorded.flatMap((x) => {
    const r = rows.find((row) => row.name === x.name);
    if (!r || r.d === x.version) return [];
    const versions = r.versions ?? [];
    return [{ ...x, defaultVersion: r.d, installable: versions.includes(x.version), offered: versions.join(', '), schemaExists: r.schema }];
  });
}
