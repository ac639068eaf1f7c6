import { HoldfastError } from '../../src/core/errors.js';
import type { RestoreContext } from '../../src/core/driver.js';
import type { ToolExit } from '../../src/core/process.js';
import { createdAccounts, dropCreated, type AccountsOutcome } from './mysql-accounts.js';
import type { Connection, MyTarget } from './mysql-connection.js';

/**
 * What a restore of several databases says when it stops part-way, and what
 * it says about accounts when it ends. Databases are replaced one by one
 * (each through its own scratch database), so a failure leaves some
 * replaced and others not: the error names both lists. Accounts the restore
 * created are dropped again unless the user asked to keep them
 * (`--option keep_accounts=true`).
 */
export async function partialFailure(
  ctx: RestoreContext,
  t: MyTarget,
  admin: Connection,
  o: { error: unknown; replaced: string[]; plan: string[]; accounts: AccountsOutcome | undefined },
): Promise<HoldfastError> {
  const keep = ctx.options.keep_accounts === true || ctx.options.keep_accounts === 'true';
  let accounts = '';
  if (o.accounts) {
    if (keep) {
      const kept = (await createdAccounts(admin, o.accounts)).map((a) => (a.host === undefined ? a.user : `${a.user}@${a.host}`));
      if (kept.length > 0) accounts = `; the accounts it created are kept (keep_accounts): ${kept.join(', ')}`;
    } else {
      const { dropped, left } = await dropCreated(admin, o.accounts);
      if (dropped.length > 0) accounts = `; the accounts it created were removed: ${dropped.join(', ')}`;
      if (left.length > 0) accounts += `; could not remove: ${left.join(', ')}`;
    }
  }
  const notReplaced = o.plan.filter((d) => !o.replaced.includes(d));
  const cause = o.error as Error;
  const base = cause instanceof HoldfastError ? cause.message : trimmed(cause?.message ?? String(o.error));
  const where = o.plan.length > 1 || accounts ? ` (replaced: ${o.replaced.join(', ') || 'none'}; not replaced: ${notReplaced.join(', ') || 'none'}${accounts})` : '';
  if (cause instanceof HoldfastError) {
    return new HoldfastError(cause.code, `${notReplaced[0] ? `restoring ${notReplaced[0]}: ` : ''}${base}${where}`, {
      service: t.service,
      driver: 'mysql',
      ...(cause.hint ? { hint: cause.hint } : {}),
      cause,
    });
  }
  return new HoldfastError('internal', `restoring ${notReplaced[0] ?? 'the grants'} failed: ${base}${where}`, {
    service: t.service,
    driver: 'mysql',
    hint: 'the databases not replaced are as they were; restore them again once the cause is fixed',
    cause,
  });
}

/**
 * The client's stderr as a message shows it: the `ERROR nnnn` lines when
 * there are any (the client echoes the failing statement before them, which
 * may be a megabyte of INSERT), else the last lines; each at most 300 characters.
 */
export function trimmedToolExit(exit: ToolExit): ToolExit {
  const lines = exit.stderr.split('\n').filter((l) => l.trim() !== '' && !/^-+$/.test(l.trim()));
  const errors = lines.filter((l) => /^ERROR \d+/.test(l));
  return { ...exit, stderr: (errors.length > 0 ? errors : lines.slice(-4)).map(trimmed).join('\n') };
}

/** A server error on one line, at most 300 characters. */
export function trimmed(text: string): string {
  const line = text.replace(/\s+/g, ' ').trim();
  return line.length > 300 ? `${line.slice(0, 297)}...` : line;
}

export function accountsNote(a: AccountsOutcome, sameServer: boolean): string {
  const parts = [`accounts: ${a.applied} statements applied, ${a.skipped} skipped (accounts that exist on the target are left as they are)`];
  if (a.renamed > 0) parts.push(`${a.renamed} grants rewritten to the new database names${sameServer ? ' for the live accounts' : ''}`);
  if (a.elsewhere > 0) parts.push(`${a.elsewhere} grants on databases not restored now are left for their restore`);
  if (a.withheld.length > 0) parts.push(`grants on the restored databases not given to ${a.withheld.join(', ')}: an account of that name exists on the target with other credentials or grants (the comparison names them; --accept DB:grants if intended)`);
  if (a.failed.length > 0) parts.push(`${a.failed.length} failed: ${a.firstError}`);
  return parts.join(', ');
}

/**
 * Code that names its own database (`UPDATE shop.stock` in a procedure, a
 * trigger written `ON shop.orders`): under a new name it still acts on the
 * old database, and no rewrite can tell a name from text that merely looks
 * like one. The restore names such objects. Views are not among them: the
 * dump writes them without their own database's name.
 */
export function selfReferences(definitions: Record<string, Record<string, string>> | undefined, database: string): string[] {
  if (!definitions) return [];
  const escaped = database.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const named = new RegExp(`(^|[^\\w\`$])(\`${escaped.replace(/`/g, '``')}\`|${escaped})\\s*\\.`, 'i');
  const code = ['body', 'statement', 'definition'];
  return Object.entries(definitions)
    .filter(([path, props]) => path.startsWith(`${database}.`) && props.kind === undefined && code.some((p) => props[p] !== undefined && named.test(props[p]!)))
    .map(([path]) => path);
}
