import { Readable } from 'node:stream';
import type { ArtifactSource, BackupContext } from '../../src/core/driver.js';
import { HoldfastError } from '../../src/core/errors.js';
import { toolToArtifact } from '../../src/core/tool-artifact.js';
import { rows, type Connection, type MyTarget } from './mysql-connection.js';
import type { ServerFacts } from './mysql-inspector.js';
import { splitStatements, statementAccount, literal, type AccountName } from './mysql-sql-text.js';
import { checkMysqlToolExit, type ToolInfo } from './mysql-tools.js';

export const ACCOUNTS_ARTIFACT = 'accounts.sql';

/** Accounts the server creates itself; never written, never restored. */
const SYSTEM_ACCOUNTS = new Set(['mariadb.sys@localhost', 'mysql.sys@localhost', 'mysql.session@localhost', 'mysql.infoschema@localhost']);

/**
 * Accounts, roles and grants as SQL, one artifact: MariaDB's own
 * `mariadb-dump --system=users`; for MySQL, SHOW CREATE USER and SHOW GRANTS
 * of every account (users and roles first, grants after, since a grant may
 * name a role). Without the privileges to read them the backup goes on
 * without, and says so.
 */
export async function backupAccounts(ctx: BackupContext, t: MyTarget, facts: ServerFacts, dump: ToolInfo, optionFile: string, c: Connection): Promise<boolean> {
  try {
    if (facts.family === 'mariadb') {
      await toolToArtifact(ctx.artifacts, { name: ACCOUNTS_ARTIFACT, kind: 'accounts' }, dump.path, [`--defaults-file=${optionFile}`, '--system=users', '--skip-comments'], {
        secrets: [t.password],
        checkExit: (exit) => checkMysqlToolExit(dump.name, exit, t.service),
      });
    } else {
      await ctx.artifacts.write(ACCOUNTS_ARTIFACT, Readable.from([await mysqlAccountsScript(c)]), { kind: 'accounts' });
    }
    return true;
  } catch (error) {
    if (error instanceof HoldfastError && (error.code === 'auth' || error.code === 'not-found' || error.code === 'connect')) throw error;
    const message = (error as Error).message;
    ctx.note(`accounts and grants were not saved: ${/denied/i.test(message) ? `${t.user} may not read them (it needs SELECT on mysql.*)` : message}`);
    return false;
  }
}

async function mysqlAccountsScript(c: Connection): Promise<string> {
  // Password hashes of caching_sha2_password hold binary bytes: as hex, they survive a text file.
  await c.query('SET SESSION print_identified_with_as_hex = ON').catch(() => undefined);
  const accounts = await rows<{ u: string; h: string; role: number }>(
    c,
    `SELECT u.User AS u, u.Host AS h, EXISTS (SELECT 1 FROM mysql.role_edges e WHERE e.FROM_USER = u.User AND e.FROM_HOST = u.Host) AS role
       FROM mysql.user u ORDER BY role DESC, u.User, u.Host`,
  );
  const creates: string[] = [];
  const grants: string[] = [];
  for (const a of accounts) {
    if (SYSTEM_ACCOUNTS.has(`${a.u}@${a.h}`)) continue;
    const account = `${literal(a.u)}@${literal(a.h)}`;
    const [create] = await rows<Record<string, string>>(c, `SHOW CREATE USER ${account}`);
    creates.push(`${Object.values(create!)[0]};`);
    for (const g of await rows<Record<string, string>>(c, `SHOW GRANTS FOR ${account}`)) grants.push(`${Object.values(g)[0]};`);
  }
  return `-- holdfast: accounts and grants (SHOW CREATE USER, SHOW GRANTS)\n${[...creates, ...grants].join('\n')}\n`;
}

export interface AccountsOutcome {
  applied: number;
  skipped: number;
  /** Statements that failed, to try again once the databases exist (grants on tables and routines). */
  failed: string[];
  firstError?: string;
}

/**
 * Applies the accounts artifact to another server, statement by statement,
 * leaving every account that already exists there as it is: a statement that
 * creates, alters or grants to an existing account is skipped. Run it before
 * the databases are loaded (definers exist then) and `retryAccounts` after
 * (grants on tables and routines need them).
 */
export async function restoreAccounts(c: Connection, artifacts: ArtifactSource): Promise<AccountsOutcome> {
  const chunks: Buffer[] = [];
  for await (const chunk of artifacts.open(ACCOUNTS_ARTIFACT)) chunks.push(chunk as Buffer);
  const existing = await rows<{ u: string; h: string }>(c, 'SELECT User AS u, Host AS h FROM mysql.user');
  const exists = new Set(existing.map((a) => `${a.u}@${a.h}`));
  const outcome: AccountsOutcome = { applied: 0, skipped: 0, failed: [] };
  for (const statement of splitStatements(Buffer.concat(chunks).toString('utf8'))) {
    const account = statementAccount(statement);
    if (account && (isExisting(account, exists) || isSystem(account))) outcome.skipped++;
    else await apply(c, statement, outcome);
  }
  return outcome;
}

/** The statements that failed the first time, once more; what fails again is reported. */
export async function retryAccounts(c: Connection, first: AccountsOutcome): Promise<AccountsOutcome> {
  const outcome: AccountsOutcome = { applied: first.applied, skipped: first.skipped, failed: [] };
  for (const statement of first.failed) await apply(c, statement, outcome);
  return outcome;
}

async function apply(c: Connection, statement: string, outcome: AccountsOutcome): Promise<void> {
  try {
    await c.query(statement);
    outcome.applied++;
  } catch (error) {
    outcome.failed.push(statement);
    // The statement itself is not shown: it may carry a password hash.
    const account = statementAccount(statement);
    const about = account ? ` (${account.user}${account.host !== undefined ? `@${account.host}` : ''})` : '';
    outcome.firstError ??= `${(error as Error).message.replace(/ near '[\s\S]*$/, '')}${about}`;
  }
}

function isExisting(a: AccountName, exists: ReadonlySet<string>): boolean {
  // Without a host, MariaDB means a role (host '') and MySQL the host '%'.
  return a.host === undefined ? exists.has(`${a.user}@`) || exists.has(`${a.user}@%`) : exists.has(`${a.user}@${a.host}`);
}

function isSystem(a: AccountName): boolean {
  return SYSTEM_ACCOUNTS.has(`${a.user}@${a.host ?? 'localhost'}`);
}
