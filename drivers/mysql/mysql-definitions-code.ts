import { rows, type Connection } from './mysql-connection.js';

/**
 * The code objects of a database for the definitions fingerprint
 * (mysql-definitions.ts): views, routines with their parameters, triggers
 * and events, each with its definer, security and sql_mode. Paths are
 * relative to the database: `v` for a view (views share the tables' name
 * space), `function.f`, `procedure.p`, `trigger.t`, `event.e`. Times that
 * say when an object was made (CREATED, LAST_ALTERED) are left out: a
 * restore makes everything anew.
 */
export async function readCodeDefinitions(c: Connection, database: string, put: (path: string, property: string, value: unknown) => void): Promise<void> {
  const views = await rows<{ n: string; def: string; chk: string; up: string; definer: string; sec: string; alg: string | null }>(
    c,
    `SELECT TABLE_NAME AS n, VIEW_DEFINITION AS def, CHECK_OPTION AS chk, IS_UPDATABLE AS up, DEFINER AS definer, SECURITY_TYPE AS sec, ${await viewAlgorithm(c)} AS alg
       FROM information_schema.VIEWS WHERE TABLE_SCHEMA = ?`,
    [database],
  );
  for (const v of views) {
    put(v.n, 'definition', v.def);
    put(v.n, 'check option', v.chk);
    put(v.n, 'updatable', v.up);
    put(v.n, 'definer', v.definer);
    put(v.n, 'security', v.sec);
    put(v.n, 'algorithm', v.alg);
  }

  const params = await rows<{ type: string; n: string; pos: number; mode: string | null; name: string | null; dtd: string }>(
    c,
    `SELECT ROUTINE_TYPE AS type, SPECIFIC_NAME AS n, ORDINAL_POSITION AS pos, PARAMETER_MODE AS mode, PARAMETER_NAME AS name, DTD_IDENTIFIER AS dtd
       FROM information_schema.PARAMETERS WHERE SPECIFIC_SCHEMA = ? ORDER BY ROUTINE_TYPE, SPECIFIC_NAME, ORDINAL_POSITION`,
    [database],
  );
  const signature = new Map<string, string[]>();
  for (const p of params) {
    const key = `${p.type.toLowerCase()}.${p.n}`;
    const list = signature.get(key) ?? [];
    list.push(Number(p.pos) === 0 ? `RETURNS ${p.dtd}` : [p.mode, p.name, p.dtd].filter(Boolean).join(' '));
    signature.set(key, list);
  }
  const routines = await rows<{ type: string; n: string; body: string | null; det: string; access: string; sec: string; definer: string; mode: string; cm: string }>(
    c,
    `SELECT ROUTINE_TYPE AS type, ROUTINE_NAME AS n, ROUTINE_DEFINITION AS body, IS_DETERMINISTIC AS det, SQL_DATA_ACCESS AS access,
            SECURITY_TYPE AS sec, DEFINER AS definer, SQL_MODE AS mode, ROUTINE_COMMENT AS cm
       FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA = ?`,
    [database],
  );
  for (const r of routines) {
    const path = `${r.type.toLowerCase()}.${r.n}`;
    put(path, 'signature', (signature.get(path) ?? []).join(', '));
    put(path, 'body', r.body);
    put(path, 'deterministic', r.det);
    put(path, 'data access', r.access);
    put(path, 'security', r.sec);
    put(path, 'definer', r.definer);
    put(path, 'sql mode', r.mode);
    put(path, 'comment', r.cm);
  }

  const triggers = await rows<{ n: string; t: string; timing: string; ev: string; ord: number; stmt: string; definer: string; mode: string }>(
    c,
    `SELECT TRIGGER_NAME AS n, EVENT_OBJECT_TABLE AS t, ACTION_TIMING AS timing, EVENT_MANIPULATION AS ev, ACTION_ORDER AS ord,
            ACTION_STATEMENT AS stmt, DEFINER AS definer, SQL_MODE AS mode
       FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = ?`,
    [database],
  );
  for (const t of triggers) {
    const path = `trigger.${t.n}`;
    put(path, 'on', `${t.timing} ${t.ev} ON ${t.t} (order ${t.ord})`);
    put(path, 'statement', t.stmt);
    put(path, 'definer', t.definer);
    put(path, 'sql mode', t.mode);
  }

  const events = await rows<{ n: string; def: string; type: string; at: string | null; iv: string | null; field: string | null; starts: string | null; ends: string | null; status: string; done: string; definer: string; tz: string; mode: string; cm: string }>(
    c,
    `SELECT EVENT_NAME AS n, EVENT_DEFINITION AS def, EVENT_TYPE AS type, EXECUTE_AT AS at, INTERVAL_VALUE AS iv, INTERVAL_FIELD AS field,
            STARTS AS starts, ENDS AS ends, STATUS AS status, ON_COMPLETION AS done, DEFINER AS definer, TIME_ZONE AS tz, SQL_MODE AS mode, EVENT_COMMENT AS cm
       FROM information_schema.EVENTS WHERE EVENT_SCHEMA = ?`,
    [database],
  );
  for (const e of events) {
    const path = `event.${e.n}`;
    const when = e.type === 'ONE TIME' ? `AT ${e.at}` : `EVERY ${e.iv} ${e.field}${e.starts ? ` STARTS ${e.starts}` : ''}${e.ends ? ` ENDS ${e.ends}` : ''}`;
    put(path, 'schedule', `${when} (${e.tz})`);
    put(path, 'definition', e.def);
    put(path, 'status', e.status);
    put(path, 'on completion', e.done);
    put(path, 'definer', e.definer);
    put(path, 'sql mode', e.mode);
    put(path, 'comment', e.cm);
  }
}

/** MariaDB has VIEWS.ALGORITHM, MySQL does not: the column or NULL. */
async function viewAlgorithm(c: Connection): Promise<string> {
  const found = await rows(c, "SELECT 1 FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = 'information_schema' AND TABLE_NAME = 'VIEWS' AND COLUMN_NAME = 'ALGORITHM'");
  return found.length > 0 ? 'ALGORITHM' : 'NULL';
}
