import { HoldfastError, toHoldfastError } from '../../src/core/errors.js';
import { ident } from './postgres-connection.js';
import type { PgSession } from './postgres-queryable.js';

/**
 * How a restore of several databases reports a failure: the error names the
 * service, the database and the step that failed, and which databases were
 * already replaced and which were not (those are as they were: each is
 * restored into a working copy that is dropped on failure).
 */
export async function inStep<T>(service: string, database: string, step: string, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    const e = toHoldfastError(error, { service, driver: 'postgres' });
    const message = `database ${JSON.stringify(database)}, ${step}: ${e.message}`;
    throw new HoldfastError(e.code, message, { service, driver: 'postgres', ...(e.hint ? { hint: e.hint } : {}), cause: error });
  }
}

/** The error of a restore that stopped part-way, with what it had done. */
export function partialFailure(error: unknown, service: string, replaced: readonly string[], notReplaced: readonly string[]): HoldfastError {
  const e = toHoldfastError(error, { service, driver: 'postgres' });
  if (replaced.length === 0 && notReplaced.length <= 1) return e;
  const list = (names: readonly string[]) => names.map((n) => JSON.stringify(n)).join(', ');
  const done = replaced.length ? `already restored: ${list(replaced)}` : 'no database was restored';
  const message = `${e.message}; ${done}; not restored (left as they were): ${list(notReplaced)}`;
  return new HoldfastError(e.code, message, {
    service,
    driver: 'postgres',
    hint: `${e.hint ? `${e.hint}; ` : ''}after fixing the cause, restore the rest with --database NAME (once per database), or all again with --force`,
    cause: error,
  });
}

/** psql's ERROR lines (without the `psql:<stdin>:12:` prefix), the first few, for a note. */
export function psqlErrors(stderr: string, max = 3): string {
  const errors = stderr
    .split('\n')
    .filter((l) => /ERROR:/.test(l))
    .map((l) => l.replace(/^psql:[^:]*:\d+:\s*/, '').replace(/\s+/g, ' ').trim());
  if (errors.length === 0) return '';
  return errors.slice(0, max).join('; ') + (errors.length > max ? `; and ${errors.length - max} more` : '');
}

/**
 * A restore that failed: the roles its globals created are dropped again when
 * no database was restored (nothing uses them), unless asked to keep them
 * (`--option keep_roles=true`); the error says which were removed or kept.
 */
export async function withRolesUndone(error: unknown, admin: PgSession, service: string, before: Set<string> | undefined, someRestored: boolean, keep: boolean): Promise<unknown> {
  if (!before || !(error instanceof HoldfastError)) return error;
  const now = (await admin.query<{ rolname: string }>('SELECT rolname FROM pg_roles').catch(() => ({ rows: [] as Array<{ rolname: string }> }))).rows.map((r) => r.rolname);
  const created = now.filter((r) => !before.has(r));
  if (created.length === 0) return error;
  let tail: string;
  if (someRestored || keep) {
    tail = `the roles it created are kept (${someRestored ? 'the restored databases use them' : 'keep_roles'}): ${created.join(', ')}`;
  } else {
    const failed: string[] = [];
    for (const role of created) {
      await admin.exec(`DROP OWNED BY ${ident(role)}`).then(() => admin.exec(`DROP ROLE ${ident(role)}`)).catch((e: Error) => failed.push(`${role} (${e.message})`));
    }
    tail = `the roles it had created were removed${failed.length ? `, except ${failed.join(', ')}` : ''}`;
  }
  return new HoldfastError(error.code, `${error.message}; ${tail}`, { service, driver: 'postgres', ...(error.hint ? { hint: error.hint } : {}), cause: error });
}
