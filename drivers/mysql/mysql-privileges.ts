import { renameOption, type RestoreNeed, type RestoreNeedsContext } from '../../src/core/driver.js';
import { rows, withConnection, type Connection } from './mysql-connection.js';
import { withTarget } from './mysql-target.js';
import { serverFacts } from './mysql-inspector.js';

/**
 * Driver.restoreNeeds for MySQL / MariaDB `dump` snapshots, read from SHOW
 * GRANTS of the connected account (global and database-level grants; a
 * grant through a role that is not active is not seen, which errs on the
 * side of saying "missing"):
 * - a database that does not exist yet: CREATE on it;
 * - loading the dump: CREATE, DROP, INSERT, ALTER, INDEX and LOCK TABLES on it
 *   (the dump drops and creates its tables under LOCK TABLES);
 * - replacing a non-empty database (--force): the same on its working copy
 *   `<name>__holdfast`, built beside it and swapped in;
 * - accounts onto another server: CREATE USER, with GRANT OPTION.
 */
const LOAD = ['CREATE', 'DROP', 'INSERT', 'ALTER', 'INDEX', 'LOCK TABLES'];

interface Grant {
  privileges: Set<string>;
  /** `*` for every database, else the database name pattern (`%`, `_` wildcards, `\_` literal). */
  database: string;
  grantOption: boolean;
}

export function parseGrants(lines: readonly string[]): Grant[] {
  const out: Grant[] = [];
  for (const line of lines) {
    const m = /^GRANT (.+?) ON (?:(\*)|`((?:[^`]|``)+)`)\.\* TO /.exec(line);
    if (!m) continue;
    const privileges = new Set(m[1]!.split(',').map((p) => p.trim().toUpperCase()).filter((p) => !p.includes('(')));
    out.push({ privileges, database: m[2] ?? m[3]!.replace(/``/g, '`'), grantOption: /WITH GRANT OPTION/.test(line) });
  }
  return out;
}

function matches(pattern: string, name: string): boolean {
  if (pattern === '*') return true;
  let re = '';
  for (let i = 0; i < pattern.length; i++) {
    const ch = pattern[i]!;
    if (ch === '\\' && i + 1 < pattern.length) re += pattern[++i]!.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    else if (ch === '%') re += '.*';
    else if (ch === '_') re += '.';
    else re += ch.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`^${re}$`).test(name);
}

/** The privileges of `wanted` that no grant gives on `database` (or, for `*`, globally). */
export function missingOn(grants: readonly Grant[], database: string, wanted: readonly string[]): string[] {
  const applicable = grants.filter((g) => (database === '*' ? g.database === '*' : matches(g.database, database)));
  return wanted.filter((p) => !applicable.some((g) => g.privileges.has('ALL PRIVILEGES') || g.privileges.has('ALL') || g.privileges.has(p)));
}

export async function mysqlRestoreNeeds(ctx: RestoreNeedsContext): Promise<RestoreNeed[]> {
  if (ctx.strategy !== 'dump') return [];
  return withTarget(ctx.target, (t) => withConnection(t, undefined, async (c) => {
    const grants = parseGrants((await rows<Record<string, string>>(c, 'SHOW GRANTS')).map((r) => Object.values(r)[0]!));
    const account = (await rows<{ account: string }>(c, 'SELECT CURRENT_USER() AS account'))[0]?.account ?? '?@%';
    const at = account.lastIndexOf('@');
    const who = `'${account.slice(0, at)}'@'${account.slice(at + 1)}'`;
    let names: string[];
    let force = ctx.force;
    let accounts = false;
    if (ctx.recorded) {
      const recorded = ((ctx.recorded.details.databases as Array<{ name: string }> | undefined) ?? []).map((d) => d.name);
      const only = ctx.options.database === undefined ? recorded : recorded.filter((n) => n === String(ctx.options.database));
      const rename = renameOption(ctx.options);
      names = only.map((n) => rename?.[n] ?? (!ctx.inPlace && t.database ? t.database : n));
      const facts = await serverFacts(c);
      accounts = ctx.options.globals !== false && facts.identity !== ctx.recorded.details.serverIdentity;
    } else {
      names = t.database ? [t.database] : [];
      force = true;
    }
    const needs: RestoreNeed[] = [];
    const grantAll = (db: string) => `GRANT ALL PRIVILEGES ON \`${db.replace(/`/g, '``')}\`.* TO ${who};`;
    for (const name of names) {
      const state = await databaseState(c, name);
      if (state === 'missing') {
        const missing = missingOn(grants, name, ['CREATE', ...LOAD.filter((p) => p !== 'CREATE')]);
        needs.push({ need: `create database ${name} and load it (${who} lacks ${missing.join(', ') || 'nothing'} on it)`, met: missing.length === 0, fix: grantAll(name) });
        continue;
      }
      const missing = missingOn(grants, name, LOAD);
      needs.push({ need: `load the dump into ${name} (${who} lacks ${missing.join(', ') || 'nothing'} on it)`, met: missing.length === 0, fix: grantAll(name) });
      if (state === 'full' && force) {
        const scratch = `${name}__holdfast`;
        const short = missingOn(grants, scratch, LOAD);
        needs.push({ need: `build the replacement ${scratch} beside it (${who} lacks ${short.join(', ') || 'nothing'} on it)`, met: short.length === 0, fix: grantAll(scratch) });
      }
    }
    if (accounts) {
      const missing = missingOn(grants, '*', ['CREATE USER']);
      const option = grants.some((g) => g.database === '*' && g.grantOption);
      needs.push({ need: `create the accounts of the snapshot on this server (${who} needs CREATE USER and GRANT OPTION)`, met: missing.length === 0 && option, fix: `GRANT CREATE USER ON *.* TO ${who} WITH GRANT OPTION;   -- or restore with --no-globals` });
    }
    return needs;
  }));
}

async function databaseState(c: Connection, name: string): Promise<'missing' | 'empty' | 'full'> {
  const found = await rows<{ n: number }>(c, 'SELECT COUNT(*) AS n FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?', [name]);
  if (Number(found[0]?.n ?? 0) === 0) return 'missing';
  const tables = await rows<{ n: number }>(c, 'SELECT COUNT(*) AS n FROM information_schema.TABLES WHERE TABLE_SCHEMA = ?', [name]);
  return Number(tables[0]?.n ?? 0) === 0 ? 'empty' : 'full';
}
