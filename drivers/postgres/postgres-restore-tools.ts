import { statfs } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import type { RestoreContext } from '../../src/core/driver.js';
import type { ToolExit } from '../../src/core/process.js';
import { spoolDir, type SpoolDir } from '../../src/core/spool-dir.js';
import { runWithInput } from '../../src/place/place.js';
import { conninfoFor } from './postgres-container.js';
import { skipExistingRoles } from './postgres-globals-filter.js';
import { psqlErrors } from './postgres-restore-steps.js';
import type { PgSite } from './postgres-site.js';
import { checkPgToolExit } from './postgres-tools.js';

/**
 * The tools of a `pg_dump` restore, where the site's place is: the globals
 * through psql, the archives into pg_restore. On the host, the repository
 * decompresses straight into the tool (pipeToCommand) and a large restore
 * runs `pg_restore -j` on a spooled file; inside a container the archives
 * stream into the tool's stdin through the exec.
 */

/** Archives above this size are restored with `pg_restore -j` from a temporary file (host only). */
const PARALLEL_THRESHOLD = 64 * 1024 * 1024;

/** Streams an artifact into a command where the place is; resolves with its exit. */
export async function feedArtifact(ctx: RestoreContext, site: PgSite, name: string, argv: string[], database: string): Promise<ToolExit> {
  if (site.place.kind === 'host') {
    const [command, ...args] = argv;
    return ctx.artifacts.pipeToCommand(name, { command: command!, args, env: site.env(database), secrets: site.secrets });
  }
  return feed(site, argv, database, ctx.artifacts.open(name), ctx.signal);
}

/** Streams `source` into a command's stdin where the place is. */
export async function feed(site: PgSite, argv: string[], database: string, source: Readable, signal: AbortSignal): Promise<ToolExit> {
  const exit = await runWithInput(site.place, argv, source, { env: site.env(database), secrets: site.secrets, signal });
  return { code: exit.exitCode, signal: null, stderr: exit.stderr };
}

/** `pg_dumpall --globals-only` into psql, roles that exist left out; the failed statements in psql's words. */
export async function applyGlobals(ctx: RestoreContext, site: PgSite, psql: string, artifact: string, existingRoles: ReadonlySet<string>, database: string): Promise<{ count: number; text: string }> {
  const exit = await feed(site, [psql, '--no-psqlrc', '--quiet', '--set', 'ON_ERROR_STOP=0', '--no-password', '--dbname', conninfoFor(database)], database, ctx.artifacts.open(artifact).pipe(skipExistingRoles(existingRoles)), ctx.signal);
  checkPgToolExit('psql', exit, site.service);
  return { count: (exit.stderr.match(/ERROR:/g) ?? []).length, text: psqlErrors(exit.stderr) };
}

export interface PgRestoreRun {
  /** The archive and its post-data section (snapshots since 0.1.0). */
  artifact: string;
  postData?: string;
  rawBytes: number;
  label: string;
}

export async function runPgRestore(ctx: RestoreContext, site: PgSite, pgRestore: string, database: string, item: PgRestoreRun, no: { noOwner: boolean; noAcl: boolean; noTablespaces: boolean }, jobs: number): Promise<void> {
  const base = [pgRestore, '--exit-on-error', '--no-password', `--dbname=${conninfoFor(database)}`, ...(no.noOwner ? ['--no-owner'] : []), ...(no.noAcl ? ['--no-acl'] : []), ...(no.noTablespaces ? ['--no-tablespaces'] : [])];
  const stream = async (artifact: string, extra: string[]) => checkPgToolExit('pg_restore', await feedArtifact(ctx, site, artifact, [...base, ...extra], database), site.service);
  const fromFile = async (file: string, extra: string[]) => {
    const run = await site.place.run([...base, ...extra, file], { env: site.env(database), secrets: site.secrets, signal: ctx.signal });
    run.stdout.resume();
    const exit = await run.done;
    checkPgToolExit('pg_restore', { code: exit.exitCode, signal: null, stderr: exit.stderr }, site.service);
  };
  const postData = item.postData ? ctx.artifacts.records.find((r) => r.name === item.postData) : undefined;
  // A file for -j exists only on this host: inside a container the archives stream, one section after the other.
  const parallel = jobs > 1 && site.place.kind === 'host';

  if (postData) {
    // Data streamed straight from the repository (no temporary copy), then
    // indexes and constraints (with -j from the few-KB post-data archive).
    await stream(item.artifact, ['--section=pre-data', '--section=data']);
    ctx.progress.phase(`indexes ${item.label}`);
    if (!parallel) return stream(postData.name, ['--section=post-data']);
    const spool = await spoolDir('holdfast-restore-');
    try {
      const file = join(spool.path, 'post-data.pgdump');
      await ctx.artifacts.extractToFile(postData.name, file);
      await fromFile(file, ['--jobs', String(jobs), '--section=post-data']);
    } finally {
      await spool.remove();
    }
    return;
  }
  // Snapshots without a post-data archive: -j needs the whole dump as a file.
  const spool = parallel && item.rawBytes >= PARALLEL_THRESHOLD ? await scratchDirFor(item.rawBytes) : undefined;
  if (!spool) return stream(item.artifact, []);
  try {
    const file = join(spool.path, 'archive.pgdump');
    await ctx.artifacts.extractToFile(item.artifact, file);
    await fromFile(file, ['--jobs', String(jobs)]);
  } finally {
    await spool.remove();
  }
}

/** A private temporary directory with room for `bytes`, or undefined (then the restore streams). */
async function scratchDirFor(bytes: number): Promise<SpoolDir | undefined> {
  const base = process.env.HOLDFAST_TMPDIR ?? tmpdir();
  try {
    const fs = await statfs(base);
    if (fs.bavail * fs.bsize < bytes * 1.1) return undefined;
    return await spoolDir('holdfast-restore-', base);
  } catch {
    return undefined;
  }
}
