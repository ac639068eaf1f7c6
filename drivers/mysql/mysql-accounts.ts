import { Readable } from 'node:stream';
import type { ArtifactSource, BackupContext } from '../../src/core/driver.js';
import { HoldfastError } from '../../src/core/errors.js';
import { rows, type Connection, type MyTarget } from './mysql-connection.js';
import type { ServerFacts } from './mysql-inspector.js';
import { grantOn, splitStatements, statementAccount, literal, type AccountName } from './mysql-sql-text.js';
import type { ToolRunPlan } from './mysql-tool-place.js';
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
export async function backupAccounts(ctx: BackupContext, t: MyTarget, facts: ServerFacts, dump: ToolInfo, run: ToolRunPlan, c: Connection): Promise<boolean> {
  try {
    if (facts.family === 'mariadb') {
      await run.toArtifact(ctx.artifacts, { name: ACCOUNTS_ARTIFACT, kind: 'accounts' }, ['--system=users', '--skip-comments'], (exit) => checkMysqlToolExit(dump.name, exit, t.service));
    } else {
      await ctx.artifacts.write(ACCOUNTS_ARTIFACT, Readable.from([await mysqlAccountsScript(c)]), { kind: 'accounts' });
    }
    return true;
  } catch (error) {
    if (error instanceof HoldfastError && (error.code === 'auth' || error.code === 'not-found' || error.code === 'connect')) throw error;
    const message = (error as Error).message;
    ctx.note(`accounts and grants were not saved (the definitions fingerprint leaves grants out): ${/denied/i.test(message) ? `${t.user} may not read them (it needs SELECT on mysql.*)` : message}`);
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
  /** Statements that failed; what failed is reported. */
  failed: string[];
  firstError?: string;
  /** Accounts and roles this restore created: removed again if the restore fails. */
  created: Array<AccountName & { role: boolean }>;
  /** Grants on objects of the restored databases (renamed where they were), applied once every database is loaded. */
  deferred: string[];
  /** Grants rewritten from a database's recorded name to the name it was restored under. */
  renamed: number;
  /** Grants on databases of the snapshot that this restore does not bring (one database at a time): they come with theirs. */
  elsewhere: number;
  /** Accounts of the target that share a name with the snapshot's but are not its own: their grants on restored databases were not applied. */
  withheld: string[];
}

/** Which databases a restore brings: recorded name → restored name, and the snapshot's whole list. */
export interface AccountsScope {
  restored: ReadonlyMap<string, string>;
  recorded: readonly string[];
  /** The target is the server of the backup: accounts are the live ones; only grants under new names are added. */
  sameServer: boolean;
}

/**
 * Applies the accounts artifact before the databases are loaded (definers
 * exist then), statement by statement:
 * - an account missing on the target is created with its global grants;
 * - an account that exists there is left as it is, unless it is the
 *   snapshot's own (the same CREATE USER, and no grant the snapshot's lacks:
 *   e.g. made by the restore of another database of this snapshot), which
 *   gets the grants on the databases restored now;
 * - grants on restored databases are rewritten to the restored name:
 *   database-level ones applied now (a definer's view is checked against
 *   them while it loads), those on tables, columns and routines deferred
 *   until every database is there (`applyDeferred`);
 *   grants on databases of the snapshot not restored now are left for theirs.
 * On the backup's own server only grants under new names are added.
 */
export async function restoreAccounts(c: Connection, artifacts: ArtifactSource, scope: AccountsScope): Promise<AccountsOutcome> {
  const chunks: Buffer[] = [];
  for await (const chunk of artifacts.open(ACCOUNTS_ARTIFACT)) chunks.push(chunk as Buffer);
  const statements = splitStatements(Buffer.concat(chunks).toString('utf8'));
  const existing = await rows<{ u: string; h: string }>(c, 'SELECT User AS u, Host AS h FROM mysql.user');
  const exists = new Set(existing.map((a) => `${a.u}@${a.h}`));
  const own = scope.sameServer ? new Set<string>() : await ownAccounts(c, statements, exists);
  const outcome: AccountsOutcome = { applied: 0, skipped: 0, failed: [], created: [], deferred: [], renamed: 0, elsewhere: 0, withheld: [] };
  for (const statement of statements) {
    const account = statementAccount(statement);
    const on = grantOn(statement);
    const to = on ? scope.restored.get(on.database) : undefined;
    if (account && isSystem(account)) outcome.skipped++;
    else if (scope.sameServer) {
      // Only live accounts get the grants of their database under its new name.
      if (!account || !isExisting(account, exists)) outcome.skipped++;
      else if (on && to !== undefined && to !== on.database && on.wholeDatabase) {
        if (await apply(c, on.rewrite(to), outcome)) outcome.renamed++;
      } else if (on && to !== undefined && to !== on.database) defer(outcome, on.rewrite(to), true);
      else outcome.skipped++;
    } else if (account && isExisting(account, exists) && !own.has(key(account))) {
      outcome.skipped++;
      if (on && to !== undefined && !outcome.withheld.includes(show(account))) outcome.withheld.push(show(account));
    }
    else if (on && to !== undefined) {
      // Database-level grants go first: a definer's view or routine is checked against them while loading.
      const text = to === on.database ? statement : on.rewrite(to);
      if (on.wholeDatabase) {
        if (await apply(c, text, outcome)) outcome.renamed += to === on.database ? 0 : 1;
      } else defer(outcome, text, to !== on.database);
    }
    else if (on && scope.recorded.includes(on.database)) outcome.elsewhere++;
    else if (account && isExisting(account, exists)) outcome.skipped++; // the snapshot's own: its global grants are there already
    else if (on) outcome.deferred.push(statement); // a database outside the snapshot: as it was granted
    else {
      const created = await apply(c, statement, outcome);
      const creates = /^(?:\/\*M?!\d*\s*)?CREATE\s+(USER|ROLE)\b/i.exec(statement);
      if (created && creates && account) outcome.created.push({ ...account, role: creates[1]!.toUpperCase() === 'ROLE' });
    }
  }
  return outcome;
}

function defer(outcome: AccountsOutcome, statement: string, renamed: boolean): void {
  outcome.deferred.push(statement);
  if (renamed) outcome.renamed++;
}

/** The deferred grants, once every database is loaded. */
export async function applyDeferred(c: Connection, outcome: AccountsOutcome): Promise<void> {
  for (const statement of outcome.deferred.splice(0)) await apply(c, statement, outcome);
}

/** A failed restore removes the accounts it created (unless asked to keep them); returns the names of those it removed. */
export async function dropCreated(c: Connection, outcome: AccountsOutcome): Promise<{ dropped: string[]; left: string[] }> {
  const dropped: string[] = [];
  const left: string[] = [];
  for (const a of await createdAccounts(c, outcome)) {
    const name = a.role || a.host === undefined ? literal(a.user) : `${literal(a.user)}@${literal(a.host)}`;
    const ok = await c.query(`DROP ${a.role ? 'ROLE' : 'USER'} IF EXISTS ${name}`).then(() => true, () => false);
    (ok ? dropped : left).push(show(a));
  }
  return { dropped, left };
}

/** The accounts this restore created that are still there (the dump's own helper role drops itself). */
export async function createdAccounts(c: Connection, outcome: AccountsOutcome): Promise<Array<AccountName & { role: boolean }>> {
  const present = new Set((await rows<{ u: string; h: string }>(c, 'SELECT User AS u, Host AS h FROM mysql.user')).map((a) => `${a.u}@${a.h}`));
  const seen = new Set<string>();
  return outcome.created.filter((a) => {
    const k = key(a);
    if (seen.has(k) || !isExisting(a, present)) return false;
    seen.add(k);
    return true;
  });
}

const show = (a: AccountName) => (a.host === undefined ? a.user : `${a.user}@${a.host}`);
const key = (a: AccountName) => `${a.user}@${a.host ?? ''}`;
const normal = (s: string) => s.replace(/^\/\*M?!\d*\s*/, '').replace(/\*\/\s*$/, '').replace(/;\s*$/, '').replace(/\s+/g, ' ').trim();

/**
 * Accounts that exist on the target and are the snapshot's own: the same
 * CREATE USER text (credentials included), and every grant the target shows
 * for it is one the snapshot has. A role has no credentials: its grants decide.
 */
async function ownAccounts(c: Connection, statements: string[], exists: ReadonlySet<string>): Promise<Set<string>> {
  const creates = new Map<string, { text: string; role: boolean }>();
  const grants = new Map<string, Set<string>>();
  for (const statement of statements) {
    const account = statementAccount(statement);
    if (!account || !isExisting(account, exists)) continue;
    const role = /^(?:\/\*M?!\d*\s*)?CREATE\s+ROLE\b/i.test(statement);
    if (/^(?:\/\*M?!\d*\s*)?CREATE\s+(USER|ROLE)\b/i.test(statement)) creates.set(key(account), { text: normal(statement), role });
    else if (/^GRANT\s/i.test(statement)) grants.set(key(account), (grants.get(key(account)) ?? new Set()).add(normal(statement)));
  }
  await c.query('SET SESSION print_identified_with_as_hex = ON').catch(() => undefined);
  const own = new Set<string>();
  for (const [name, create] of creates) {
    const [user, host] = [name.slice(0, name.lastIndexOf('@')), name.slice(name.lastIndexOf('@') + 1)];
    const account = create.role ? literal(user) : `${literal(user)}@${literal(host)}`;
    try {
      if (!create.role) {
        const [shown] = await rows<Record<string, string>>(c, `SHOW CREATE USER ${account}`);
        if (normal(String(Object.values(shown ?? {})[0] ?? '')) !== create.text) continue;
      }
      const held = (await rows<Record<string, string>>(c, `SHOW GRANTS FOR ${account}`)).map((g) => normal(String(Object.values(g)[0])));
      const recorded = grants.get(name) ?? new Set();
      if (held.every((g) => recorded.has(g))) own.add(name);
    } catch {
      // Cannot tell: treat it as someone else's.
    }
  }
  return own;
}

async function apply(c: Connection, statement: string, outcome: AccountsOutcome): Promise<boolean> {
  try {
    await c.query(statement);
    outcome.applied++;
    return true;
  } catch (error) {
    outcome.failed.push(statement);
    // The statement itself is not shown: it may carry a password hash.
    const account = statementAccount(statement);
    const about = account ? ` (${account.user}${account.host !== undefined ? `@${account.host}` : ''})` : '';
    outcome.firstError ??= `${(error as Error).message.replace(/ near '[\s\S]*$/, '')}${about}`;
    return false;
  }
}

function isExisting(a: AccountName, exists: ReadonlySet<string>): boolean {
  // Without a host, MariaDB means a role (host '') and MySQL the host '%'.
  return a.host === undefined ? exists.has(`${a.user}@`) || exists.has(`${a.user}@%`) : exists.has(`${a.user}@${a.host}`);
}

function isSystem(a: AccountName): boolean {
  return SYSTEM_ACCOUNTS.has(`${a.user}@${a.host ?? 'localhost'}`);
}
