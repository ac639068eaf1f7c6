import { setTimeout as sleep } from 'node:timers/promises';
import type { PgSession } from './postgres-queryable.js';
import { literal } from './postgres-queryable.js';
import { HoldfastError } from '../../src/core/errors.js';

/**
 * The sessions connected to a database that a restore replaces: ALTER
 * DATABASE ... RENAME waits for none of them, it fails while any is there.
 * By default they are terminated and named (how many, which applications,
 * which users), so that a `--force` restore never ends sessions in silence;
 * with `--no-terminate` the restore waits for them to leave, up to a
 * timeout, and then fails naming them.
 */
export interface EndedSessions {
  database: string;
  terminated: number;
  /** `psql (shop@127.0.0.1)`: application, user and client of each, without duplicates. */
  applications: string[];
}

interface SessionRow {
  pid: number;
  application: string;
  user: string;
  client: string | null;
}

async function sessionsOn(c: PgSession, database: string): Promise<SessionRow[]> {
  const { rows } = await c.query<SessionRow>(
    `SELECT pid, application_name AS application, usename AS user, host(client_addr) AS client
       FROM pg_stat_activity WHERE datname = ${literal(database)} AND pid <> pg_backend_pid()`,
  );
  return rows;
}

function describe(rows: readonly SessionRow[]): string[] {
  return [...new Set(rows.map((r) => `${r.application || 'unnamed application'} (${r.user ?? '?'}${r.client ? `@${r.client}` : ''})`))];
}

export interface SessionPolicy {
  /** false: wait for the sessions to end instead of terminating them. */
  terminate: boolean;
  /** How long to wait with terminate = false. */
  waitMs: number;
  service?: string;
}

/** Empties `database` of other sessions, as the policy says; returns who was terminated. */
export async function endSessions(c: PgSession, database: string, policy: SessionPolicy): Promise<EndedSessions> {
  let rows = await sessionsOn(c, database);
  if (!policy.terminate) {
    const deadline = Date.now() + policy.waitMs;
    while (rows.length > 0 && Date.now() < deadline) {
      await sleep(Math.min(500, Math.max(0, deadline - Date.now())));
      rows = await sessionsOn(c, database);
    }
    if (rows.length > 0) {
      throw new HoldfastError('target', `${rows.length} sessions are still connected to database ${database} after ${Math.round(policy.waitMs / 1000)}s: ${describe(rows).join(', ')}`, {
        ...(policy.service ? { service: policy.service } : {}),
        driver: 'postgres',
        hint: 'stop those applications and run the restore again, give them longer (--sessions-timeout SECONDS), or leave out --no-terminate to have them terminated',
      });
    }
    return { database, terminated: 0, applications: [] };
  }
  if (rows.length === 0) return { database, terminated: 0, applications: [] };
  // Only the sessions listed (a WHERE clause may call pg_terminate_backend on rows before it filters them).
  const { rows: ended } = await c.query<{ pid: number; ok: boolean }>(`SELECT pid, pg_terminate_backend(pid) AS ok FROM unnest('{${rows.map((r) => Number(r.pid)).join(',')}}'::int[]) AS pid`);
  const gone = new Set(ended.filter((r) => r.ok).map((r) => r.pid));
  const victims = rows.filter((r) => gone.has(r.pid));
  return { database, terminated: victims.length, applications: describe(victims) };
}

/** The restore options that set the policy: `terminate` (false with --no-terminate) and `sessions_timeout` in seconds. */
export function sessionPolicy(options: Record<string, unknown>, service?: string): SessionPolicy {
  const seconds = Number(options.sessions_timeout ?? 60);
  return { terminate: options.terminate !== false, waitMs: (Number.isFinite(seconds) && seconds >= 0 ? seconds : 60) * 1000, ...(service ? { service } : {}) };
}

/** The note a restore leaves about it, or undefined when nobody was there. */
export function endedNote(ended: EndedSessions): string | undefined {
  if (ended.terminated === 0) return undefined;
  return `terminated ${ended.terminated} session${ended.terminated === 1 ? '' : 's'} on database ${ended.database}: ${ended.applications.join(', ')}`;
}
