import { HoldfastError } from '../../src/core/errors.js';
import { readBinlogPosition, type BinlogPosition } from './mysql-binlog.js';
import { connect, type Connection, type MyTarget } from './mysql-connection.js';
import type { ServerFacts } from './mysql-inspector.js';
import { toolThreadFinder, type ThreadCheck } from './mysql-tool-thread.js';

/**
 * One moment for a dump and its fingerprint. MySQL has no exportable
 * snapshot (pg_export_snapshot): the dump tool opens its own transaction.
 * So commits are held for an instant, during which holdfast opens its
 * fingerprint snapshot, reads the binlog position and starts the tool, and
 * the hold ends once the server shows the tool's snapshot transaction open
 * (mysql-tool-thread.ts). Nothing commits in between, so both snapshots see the same
 * data. Never a guessed sleep.
 *
 * How commits are held: MariaDB `BACKUP STAGE START` + `BLOCK_COMMIT`
 * (blocks commits and non-transactional writes, but does not flush tables, so
 * it does not queue behind a long SELECT the way FLUSH TABLES WITH READ LOCK
 * does); MySQL `FLUSH TABLES WITH READ LOCK`. Both need the RELOAD privilege.
 * The hold is released in a finally, and the server drops it anyway if
 * holdfast's connection goes away.
 */
export interface HoldOptions {
  facts: ServerFacts;
  /** Seconds to wait for the lock (a long statement or another backup may hold it). */
  lockWaitSeconds: number;
  /** Work to do inside the hold before the tool starts (open the fingerprint snapshot, lock tables). */
  inside: () => Promise<void>;
  /** The tool's private option-file path: it finds the tool's process (undefined: the tool runs in a container, matched by connection order). */
  marker: string | undefined;
  /** The database the tool dumps (it selects it once its snapshot is open). */
  database: string;
  /** Starts the tool; `exited()` tells whether it has ended. */
  startTool: () => void;
  exited: () => boolean;
  signal: AbortSignal;
  /** How long to wait for the tool's snapshot before releasing anyway. */
  timeoutMs?: number;
  /** An idle connection of the caller's to hold commits on (left open); else one of its own. Each new connection through a tunnel costs a docker exec. */
  connection?: Connection;
}

export interface HoldResult {
  /** Whether writers were held at all (false without the RELOAD privilege). */
  held: boolean;
  /** How the tool's snapshot was seen inside the hold; undefined when it was not. */
  confirmedBy?: ThreadCheck | 'finished-inside-hold';
  binlog?: BinlogPosition;
  heldMs: number;
  /** Why writers were not held, the snapshot not confirmed, or the binlog position not read. */
  problems: string[];
}

export async function atOneMoment(t: MyTarget, o: HoldOptions): Promise<HoldResult> {
  const hold = o.connection ?? (await connect(t));
  let held = false;
  let heldAt = Date.now();
  try {
    await hold.query('SET SESSION lock_wait_timeout = ?', [o.lockWaitSeconds]);
    const problems: string[] = [];
    try {
      await holdCommits(hold, o.facts);
      held = true;
      heldAt = Date.now();
    } catch (error) {
      problems.push(describeHoldFailure(error, t, o));
    }
    const read = o.facts.binlog ? await readBinlogPosition(hold, o.facts.family, o.facts.gtidMode) : {};
    const binlog = read.position;
    if (read.problem) problems.push(read.problem);
    await o.inside();
    if (!held) {
      // Nothing to wait for: no moment is shared with the tool.
      o.startTool();
      return { held, ...(binlog ? { binlog } : {}), heldMs: 0, problems };
    }
    // A tool in a container (or behind a tunnel) is no local process: the connection order finds its thread.
    const find = await toolThreadFinder(hold, { marker: o.marker ?? '', user: t.user, database: o.database, exact: !t.socket && !t.container && o.marker !== undefined });
    o.startTool();
    const deadline = Date.now() + (o.timeoutMs ?? 30_000);
    let confirmedBy: HoldResult['confirmedBy'];
    while (!confirmedBy) {
      if (o.signal.aborted) throw new HoldfastError('interrupted', 'interrupted while writers were held', { service: t.service, driver: 'mysql' });
      const thread = await find();
      if (thread?.inTransaction) confirmedBy = thread.how;
      else if (o.exited()) confirmedBy = 'finished-inside-hold';
      else if (Date.now() > deadline) {
        problems.push(`the dump tool did not open its snapshot within ${Math.round((o.timeoutMs ?? 30_000) / 1000)}s`);
        break;
      } else await new Promise((r) => setTimeout(r, 5));
    }
    return { held, ...(confirmedBy ? { confirmedBy } : {}), ...(binlog ? { binlog } : {}), heldMs: Date.now() - heldAt, problems };
  } finally {
    if (held) await releaseCommits(hold, o.facts).catch(() => undefined);
    if (!o.connection) await hold.end().catch(() => hold.destroy());
  }
}

async function holdCommits(c: Connection, facts: ServerFacts): Promise<void> {
  if (facts.family === 'mariadb') {
    await c.query('BACKUP STAGE START');
    try {
      await c.query('BACKUP STAGE BLOCK_COMMIT');
    } catch (error) {
      await c.query('BACKUP STAGE END').catch(() => undefined);
      throw error;
    }
  } else {
    await c.query('FLUSH TABLES WITH READ LOCK');
  }
}

async function releaseCommits(c: Connection, facts: ServerFacts): Promise<void> {
  await c.query(facts.family === 'mariadb' ? 'BACKUP STAGE END' : 'UNLOCK TABLES');
}

/** No RELOAD privilege: go on without the hold (the dump is still transactional). A lock timeout: fail. */
function describeHoldFailure(error: unknown, t: MyTarget, o: HoldOptions): string {
  const err = error as { code?: string; message?: string };
  if (err.code === 'ER_SPECIFIC_ACCESS_DENIED_ERROR' || err.code === 'ER_ACCESS_DENIED_ERROR' || err.code === 'ER_DBACCESS_DENIED_ERROR') {
    return `writers were not held (${t.user} lacks the RELOAD privilege): the dump is still one transaction, but its fingerprint was taken in another snapshot and may differ if the database was written meanwhile`;
  }
  if (err.code === 'ER_LOCK_WAIT_TIMEOUT') {
    throw new HoldfastError('timeout', `could not hold commits for the snapshot within ${o.lockWaitSeconds}s: a long statement, DDL or another backup held the lock`, {
      service: t.service,
      driver: 'mysql',
      hint: 'run the backup again when it has finished, or raise hold_timeout (seconds) in the service options',
      cause: error,
    });
  }
  throw new HoldfastError('internal', `could not hold commits for the snapshot: ${err.message ?? String(error)}`, { service: t.service, driver: 'mysql', cause: error });
}
