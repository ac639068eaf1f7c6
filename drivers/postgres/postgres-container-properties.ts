import { Readable } from 'node:stream';
import type { ToolExit } from '../../src/core/process.js';
import type { PgContainer } from './postgres-container.js';
import { databasePropertyStatements, type ApplyOptions, type DatabaseProperties } from './postgres-database-properties.js';
import type { ExtensionSession } from './postgres-extensions.js';
import { PsqlSession } from './postgres-psql-session.js';
import { psqlErrors } from './postgres-restore-steps.js';

/**
 * The database-level half of a restore into a container, through psql
 * there: the same statements and extension steps as the host path. psql with
 * ON_ERROR_STOP ends at the first error, so a statement that may fail runs in
 * a session of its own, and the property statements go in as one script
 * (ON_ERROR_STOP=0) whose errors become a note in psql's own words.
 */
export async function withExtensionSession<T>(pc: PgContainer, database: string, signal: AbortSignal, work: (s: ExtensionSession) => Promise<T>): Promise<T> {
  const session = await PsqlSession.open(pc, database, signal);
  try {
    return await work({
      query: (sql) => session.query(sql),
      async exec(sql) {
        const own = await PsqlSession.open(pc, database, signal);
        try {
          await own.command(sql);
        } finally {
          await own.close();
        }
      },
    });
  } finally {
    await session.close();
  }
}

/** Applies owner, ACL, comment, connection limit and settings to `scratch`; `runScript` feeds SQL to psql in the admin database. */
export async function applyPropertiesInContainer(scratch: string, p: DatabaseProperties, o: ApplyOptions, runScript: (script: Readable) => Promise<ToolExit>): Promise<void> {
  const statements = databasePropertyStatements(scratch, p, o);
  if (statements.length === 0) return;
  const exit = await runScript(Readable.from(statements.map((s) => `${s.sql};\nRESET ROLE;\n`).join('')));
  const errors = psqlErrors(exit.stderr);
  if (errors || exit.code !== 0) o.note(`${o.label}: database properties not all applied: ${errors || `psql exited with ${exit.code}`}`);
}
