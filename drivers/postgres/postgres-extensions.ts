import type pg from 'pg';
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

export async function recordExtensions(c: PgQueryable): Promise<RecordedExtension[]> {
  const { rows } = await c.query<RecordedExtension>('SELECT x.extname AS name, x.extversion AS version, n.nspname AS schema FROM pg_extension x JOIN pg_namespace n ON n.oid = x.extnamespace ORDER BY 1');
  return rows;
}

/** Before pg_restore, in the new database: the extensions whose recorded version is not the target's default. */
export async function preCreateExtensions(c: pg.Client, recorded: readonly RecordedExtension[], note: (t: string) => void, label: string): Promise<void> {
  for (const x of await pending(c, recorded)) {
    if (!x.installable) {
      note(`${label}: extension ${x.name} ${x.version} cannot be installed on the target (it offers ${x.offered || 'no version of it'}); restored at ${x.defaultVersion ?? 'no version'}`);
      continue;
    }
    const schema = (await c.query('SELECT 1 FROM pg_namespace WHERE nspname = $1', [x.schema])).rowCount;
    if (!schema) continue; // created by pg_restore with its schema; updated afterwards
    try {
      await c.query(`CREATE EXTENSION ${ident(x.name)} WITH SCHEMA ${ident(x.schema)} VERSION '${x.version.replace(/'/g, "''")}'`);
    } catch (error) {
      note(`${label}: extension ${x.name} ${x.version} not created at its recorded version: ${(error as Error).message}`);
    }
  }
}

/** After pg_restore: an extension still at another version is updated to the recorded one when the target has a path. */
export async function updateExtensions(c: pg.Client, recorded: readonly RecordedExtension[], note: (t: string) => void, label: string): Promise<void> {
  for (const x of recorded) {
    const now = (await c.query<{ v: string }>('SELECT extversion AS v FROM pg_extension WHERE extname = $1', [x.name])).rows[0]?.v;
    if (now === undefined || now === x.version) continue;
    try {
      await c.query(`ALTER EXTENSION ${ident(x.name)} UPDATE TO '${x.version.replace(/'/g, "''")}'`);
    } catch (error) {
      note(`${label}: extension ${x.name} is at ${now}, not the recorded ${x.version}: ${(error as Error).message}`);
    }
  }
}

async function pending(c: pg.Client, recorded: readonly RecordedExtension[]) {
  const out = [];
  for (const x of recorded) {
    const { rows } = await c.query<{ d: string | null; versions: string[] | null }>(
      'SELECT (SELECT default_version FROM pg_available_extensions WHERE name = $1) AS d, (SELECT array_agg(version ORDER BY version) FROM pg_available_extension_versions WHERE name = $1) AS versions',
      [x.name],
    );
    const { d, versions } = rows[0]!;
    if (d === x.version) continue;
    out.push({ ...x, defaultVersion: d, installable: (versions ?? []).includes(x.version), offered: (versions ?? []).join(', ') });
  }
  return out;
}
