import { ident, qualified, rows, type Connection } from './mysql-connection.js';
import { createDatabase, type DatabaseProperties } from './mysql-database-properties.js';

/**
 * MySQL has no RENAME DATABASE. A restore over a non-empty database loads
 * into a scratch database first (a failed load leaves the target as it was),
 * then moves everything in:
 *   1. read every view, trigger, routine and event definition of the scratch;
 *   2. drop and recreate the target (the point of no return: all that can fail
 *      in loading has already succeeded);
 *   3. move all tables in one RENAME TABLE (no copy, atomic), after dropping
 *      the scratch's triggers (RENAME TABLE refuses to move a table that has
 *      triggers to another database);
 *   4. recreate routines, views, triggers and events in the target, each with
 *      the sql_mode, collation and time zone it was created with (the text
 *      travels as utf8mb4, so the stored character_set_client becomes utf8mb4);
 *   5. drop the scratch.
 * Database-level grants live in mysql.db and survive the drop.
 */
export async function swapIn(c: Connection, scratch: string, target: string, properties: DatabaseProperties): Promise<void> {
  const objects = await readDefinitions(c, scratch);
  await c.query(`DROP DATABASE ${ident(target)}`);
  await createDatabase(c, target, properties);
  for (const trigger of objects.triggers) await c.query(`DROP TRIGGER ${qualified(scratch, trigger.name)}`);
  if (objects.tables.length > 0) {
    await c.query(`RENAME TABLE ${objects.tables.map((t) => `${qualified(scratch, t)} TO ${qualified(target, t)}`).join(', ')}`);
  }
  await c.query(`USE ${ident(target)}`);
  try {
    // Routines first: they bind late, and a view may call one (SHOW CREATE VIEW checks it).
    for (const d of objects.routines) await createWith(c, d);
    await createViews(c, objects.views);
    for (const d of [...objects.triggers, ...objects.events]) await createWith(c, d);
  } finally {
    await c.query("SET NAMES utf8mb4, sql_mode = DEFAULT, time_zone = '+00:00'");
  }
  await c.query(`DROP DATABASE ${ident(scratch)}`);
}

interface Definition {
  name: string;
  sql: string;
  sqlMode?: string;
  collation?: string;
  timeZone?: string;
}

interface Definitions {
  tables: string[];
  views: Definition[];
  triggers: Definition[];
  routines: Definition[];
  events: Definition[];
}

async function readDefinitions(c: Connection, db: string): Promise<Definitions> {
  // SHOW CREATE VIEW leaves out the database of tables in the current one: USE it.
  await c.query(`USE ${ident(db)}`);
  const tables = await rows<{ n: string; type: string }>(c, 'SELECT TABLE_NAME AS n, TABLE_TYPE AS type FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? ORDER BY TABLE_NAME', [db]);
  const defs: Definitions = { tables: tables.filter((t) => t.type !== 'VIEW').map((t) => t.n), views: [], triggers: [], routines: [], events: [] };
  for (const v of tables.filter((t) => t.type === 'VIEW')) defs.views.push(await showCreate(c, 'VIEW', v.n));
  const triggers = await rows<{ n: string }>(c, 'SELECT TRIGGER_NAME AS n FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = ? ORDER BY EVENT_OBJECT_TABLE, EVENT_MANIPULATION, ACTION_TIMING, ACTION_ORDER', [db]);
  for (const t of triggers) defs.triggers.push(await showCreate(c, 'TRIGGER', t.n));
  // PACKAGE before PACKAGE BODY (MariaDB); procedures and functions in any order (they bind late).
  const routines = await rows<{ n: string; type: string }>(c, 'SELECT ROUTINE_NAME AS n, ROUTINE_TYPE AS type FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA = ? ORDER BY ROUTINE_TYPE, ROUTINE_NAME', [db]);
  for (const r of routines) defs.routines.push(await showCreate(c, r.type, r.n));
  const events = await rows<{ n: string }>(c, 'SELECT EVENT_NAME AS n FROM information_schema.EVENTS WHERE EVENT_SCHEMA = ? ORDER BY EVENT_NAME', [db]);
  for (const e of events) defs.events.push(await showCreate(c, 'EVENT', e.n));
  return defs;
}

async function showCreate(c: Connection, kind: string, name: string): Promise<Definition> {
  const [row] = await rows<Record<string, string | null>>(c, `SHOW CREATE ${kind} ${ident(name)}`);
  const r = row ?? {};
  // The statement sits in `Create View`, `Create Procedure`, ..., or for triggers `SQL Original Statement`.
  const sql = r['SQL Original Statement'] ?? Object.entries(r).find(([k]) => /^Create /.test(k))?.[1];
  if (!sql) throw new Error(`SHOW CREATE ${kind} ${name} returned no definition (missing privilege?)`);
  const d: Definition = { name, sql };
  if (r.sql_mode !== undefined && r.sql_mode !== null) d.sqlMode = r.sql_mode;
  if (r.collation_connection) d.collation = r.collation_connection;
  if (r.time_zone) d.timeZone = r.time_zone;
  return d;
}

async function createWith(c: Connection, d: Definition): Promise<void> {
  await c.query('SET NAMES utf8mb4');
  if (d.collation) await c.query('SET collation_connection = ?', [d.collation]);
  if (d.sqlMode !== undefined) await c.query('SET sql_mode = ?', [d.sqlMode]);
  if (d.timeZone) await c.query('SET time_zone = ?', [d.timeZone]);
  await c.query(d.sql);
}

/** Views may select from views: create what can be created until nothing more can. */
async function createViews(c: Connection, views: Definition[]): Promise<void> {
  let pending = views;
  while (pending.length > 0) {
    const failed: Array<{ view: Definition; error: unknown }> = [];
    for (const view of pending) {
      try {
        await createWith(c, view);
      } catch (error) {
        failed.push({ view, error });
      }
    }
    if (failed.length === pending.length) throw failed[0]!.error;
    pending = failed.map((f) => f.view);
  }
}
