import { HoldfastError } from '../../src/core/errors.js';
import type { Definitions } from './postgres-definitions.js';
import type { PgQueryable } from './postgres-queryable.js';

/**
 * Tablespaces at backup and restore. A backup records, per database, the
 * relations that sit outside the database's default tablespace; a restore
 * onto a server that lacks a tablespace is refused before anything changes,
 * unless the user maps it (`--tablespace-map OLD=NEW`: restored with
 * `pg_restore --no-tablespaces`, then each recorded relation is moved with
 * `ALTER ... SET TABLESPACE NEW`) or drops them all (`--no-tablespaces`:
 * everything in the database's default tablespace).
 */
export interface TablespaceObject {
  tablespace: string;
  /** `table`, `index` or `materialized view` (the ALTER statement's word). */
  kind: string;
  /** Schema-qualified and quoted. */
  name: string;
}

export async function tablespaceObjects(c: PgQueryable): Promise<TablespaceObject[]> {
  const { rows } = await c.query<TablespaceObject>(
    `SELECT t.spcname AS tablespace, CASE c.relkind WHEN 'i' THEN 'index' WHEN 'm' THEN 'materialized view' ELSE 'table' END AS kind,
            quote_ident(n.nspname) || '.' || quote_ident(c.relname) AS name
       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace JOIN pg_tablespace t ON t.oid = c.reltablespace
      WHERE c.reltablespace <> 0 AND c.relkind IN ('r', 'p', 'i', 'm') AND n.nspname NOT LIKE 'pg\\_%' AND n.nspname <> 'information_schema'
      ORDER BY 1, 3`,
  );
  return rows;
}

export interface TablespacePlan {
  /** pg_restore --no-tablespaces (then moves). */
  noTablespaces: boolean;
  /** recorded name -> name on the target; undefined: the database default. */
  target(recorded: string): string | undefined;
  /** Moves after the restore, for a database's recorded objects. */
  moves(objects: readonly TablespaceObject[]): Array<{ sql: string; what: string }>;
  /** Restored tablespace names back to the recorded ones (a mapping is a rename, like a database rename). */
  renameBack(definitions: Definitions): void;
}

/** `--tablespace-map OLD=NEW` (repeatable, or a map from a scratch target) and `--no-tablespaces`, checked against the target. */
export function planTablespaces(options: Record<string, unknown>, used: ReadonlySet<string>, onTarget: ReadonlySet<string>, service: string, globalsErrors: string): TablespacePlan {
  const map = parseMap(options.tablespace_map, service);
  const none = options.tablespaces === false;
  const target = (ts: string) => (none ? undefined : (map[ts] ?? ts));
  for (const [from, to] of Object.entries(map)) {
    if (!onTarget.has(to)) {
      throw new HoldfastError('target', `--tablespace-map ${from}=${to}: the target has no tablespace ${JSON.stringify(to)}`, { service, driver: 'postgres', hint: `create it first (CREATE TABLESPACE ${to} LOCATION '...'), or map to one of: ${[...onTarget].join(', ')}` });
    }
  }
  const missing = [...used].filter((ts) => target(ts) !== undefined && !onTarget.has(target(ts)!));
  if (missing.length) {
    throw new HoldfastError('target', `the snapshot uses tablespace${missing.length > 1 ? 's' : ''} ${missing.join(', ')}, which the target does not have${globalsErrors ? ` (creating it failed: ${globalsErrors})` : ''}`, {
      service,
      driver: 'postgres',
      hint: `map each to a tablespace of the target (--tablespace-map ${missing[0]}=pg_default), or restore everything into the default tablespace (--no-tablespaces)`,
    });
  }
  const renamed = Object.entries(map).filter(([from, to]) => from !== to && used.has(from));
  const noTablespaces = none || renamed.length > 0;
  const inverse = new Map(renamed.map(([from, to]) => [to, from]));
  return {
    noTablespaces,
    target,
    moves(objects) {
      if (none || !noTablespaces) return [];
      return objects.filter((o) => target(o.tablespace) !== 'pg_default').map((o) => ({
        sql: `ALTER ${o.kind.toUpperCase()} ${o.name} SET TABLESPACE "${target(o.tablespace)!.replace(/"/g, '""')}"`,
        what: `${o.kind} ${o.name} into tablespace ${target(o.tablespace)}`,
      }));
    },
    renameBack(definitions) {
      if (inverse.size === 0) return;
      for (const props of Object.values(definitions)) {
        for (const [p, v] of Object.entries(props)) {
          if (p === 'tablespace' && inverse.has(v)) props[p] = inverse.get(v)!;
          const m = p.startsWith('index ') ? / TABLESPACE (.+?)( CLUSTER)?( INVALID)?$/.exec(v) : null;
          if (m && inverse.has(m[1]!)) props[p] = v.slice(0, m.index) + ` TABLESPACE ${inverse.get(m[1]!)}${m[2] ?? ''}${m[3] ?? ''}`;
        }
      }
    },
  };
}

function parseMap(value: unknown, service: string): Record<string, string> {
  if (value === undefined) return {};
  if (typeof value === 'object' && value !== null && !Array.isArray(value)) return value as Record<string, string>;
  const out: Record<string, string> = {};
  for (const raw of (Array.isArray(value) ? value : [value]).map(String)) {
    const at = raw.indexOf('=');
    if (at <= 0 || at === raw.length - 1) throw new HoldfastError('usage', `--tablespace-map expects OLD=NEW, got ${JSON.stringify(raw)}`, { service, hint: 'for example --tablespace-map fast=pg_default' });
    out[raw.slice(0, at)] = raw.slice(at + 1);
  }
  return out;
}

export async function targetTablespaces(c: PgQueryable): Promise<Set<string>> {
  return new Set((await c.query<{ n: string }>('SELECT spcname AS n FROM pg_tablespace')).rows.map((r) => r.n));
}
