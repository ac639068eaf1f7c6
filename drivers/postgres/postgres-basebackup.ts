import { chown, mkdir, readdir, rm, stat } from 'node:fs/promises';
import { isAbsolute, resolve } from 'node:path';
import type { BackupContext, BackupResult, RestoreContext, RestoreResult } from '../../src/core/driver.js';
import { HoldfastError } from '../../src/core/errors.js';
import { hostPlaceRecord } from '../../src/core/place-record.js';
import { assertToolSucceeded, runTool } from '../../src/core/process.js';
import { containerRecord } from '../../src/core/container-record.js';
import { dataMountRecord } from '../volume/volume-data-mount.js';
import { serverFacts } from './postgres-inspector.js';
import { fingerprintOfSite } from './postgres-site-fingerprint.js';
import { requireSiteTool, withSession, withSite } from './postgres-site.js';
import { checkPgToolExit, toolVersion } from './postgres-tools.js';

/**
 * Strategy `pg_basebackup`: a physical copy of the whole cluster as one tar
 * stream (`-D - -Ft`), with the WAL needed to make it consistent (`-X fetch`)
 * and the backup manifest with SHA256 checksums inside the tar.
 * `--checkpoint=fast`: a spread checkpoint made it wait minutes (ENGINES.md).
 * Wherever the server is: the host's tool over the URL, or the image's own
 * inside the container over its Unix socket (a replication connection that
 * the image's pg_hba.conf allows locally), streamed out of the exec, so the
 * physical copy needs no stop of the server.
 */
export function backupWithBasebackup(ctx: BackupContext): Promise<BackupResult> {
  return withSite(ctx.service, ctx.signal, async (site) => {
    // The role it connected as: a restore test starts a server on the copy and connects as it (in a container, POSTGRES_USER).
    const { facts, user, dataDir } = await withSession(
      site,
      undefined,
      async (c) => ({
        facts: await serverFacts(c),
        user: (await c.query<{ u: string }>('SELECT current_user AS u')).rows[0]!.u,
        dataDir: (await c.query<{ d: string }>("SELECT current_setting('data_directory', true) AS d")).rows[0]?.d,
      }),
      ctx.signal,
    );
    const tool = await requireSiteTool(site, 'pg_basebackup', facts.major);
    ctx.progress.phase('pg_basebackup');
    await site.place.toArtifact(
      [tool.path, '--pgdata=-', '--format=tar', '--wal-method=fetch', '--checkpoint=fast', '--manifest-checksums=SHA256', '--no-password', '--label=holdfast'],
      ctx.artifacts,
      { name: 'base.tar', kind: 'basebackup' },
      { env: site.env(), secrets: site.secrets, signal: ctx.signal, judge: (exit) => checkPgToolExit('pg_basebackup', exit, site.service) },
    );
    // Rows and definitions (issue #11: a physical copy is proven like a dump), taken after the copy: they
    // describe the cluster as the copy left it when nothing writes; under writes they are indicative.
    let fingerprint: BackupResult['fingerprint'];
    if (ctx.fingerprintScope !== 'none') {
      ctx.progress.phase('fingerprint');
      fingerprint = await fingerprintOfSite(site, undefined, ctx.fingerprintScope, ctx.signal);
      ctx.note('pg_basebackup: the fingerprint was taken after the copy; it matches the restore only if nothing wrote meanwhile');
    }
    return {
      details: {
        serverVersion: facts.version,
        serverVersionNum: facts.versionNum,
        systemIdentifier: facts.systemIdentifier,
        toolVersion: tool.version,
        fingerprintExact: false,
        connectedAs: user,
        ...site.record(tool),
        ...(ctx.service.container ? { container: containerRecord(ctx.service.container) } : {}),
        // The container's data volume: what a rollback stops its users for and puts this copy back into (postgres-basebackup-volume.ts).
        ...(site.place.kind !== 'host' || ctx.service.container ? dataMountRecord(ctx.service.container?.mounts, dataDir) : {}),
      },
      ...(fingerprint ? { fingerprint } : {}),
    };
  }, (text) => ctx.note(text));
}

/** Target of a physical restore: `file:/path` or a plain absolute path, an empty or missing directory. */
export function physicalTargetDir(ctx: RestoreContext): string {
  const e = ctx.target.endpoint;
  if (!e || e.scheme !== 'file' || !isAbsolute(e.path)) {
    throw new HoldfastError('usage', 'a pg_basebackup snapshot restores into an empty data directory, not into a running server', {
      service: ctx.source.name,
      hint: `pass --target ${ctx.source.name}=file:/absolute/path/to/new/datadir (or =volume:NAME for a container), then start a server of the same major version on it`,
    });
  }
  return resolve(e.path);
}

/**
 * Restores the tar into an empty data directory, checks it with
 * pg_verifybackup, and leaves it ready for `pg_ctl start` (same major).
 * Run as root, the files go to the owner of the target directory.
 */
export async function restoreBasebackup(ctx: RestoreContext): Promise<RestoreResult> {
  // Into a Docker volume: the data directory of a container to be started on it (a copy taken inside a container, say).
  if (ctx.target.endpoint?.scheme === 'volume') return (await import('./postgres-basebackup-volume.js')).restoreBasebackupIntoVolume(ctx);
  // In place into its container (a rollback, the container stopped): into the data volume the copy recorded.
  if (ctx.target.endpoint?.scheme === 'container') return (await import('./postgres-basebackup-volume.js')).restoreBasebackupIntoContainerVolume(ctx);
  const dir = physicalTargetDir(ctx);
  const entries = await readdir(dir).catch((e: NodeJS.ErrnoException) => {
    if (e.code === 'ENOENT') return undefined;
    throw e;
  });
  if (entries && entries.length > 0) {
    if (!ctx.force) {
      throw new HoldfastError('target', `the data directory ${dir} is not empty`, {
        service: ctx.source.name,
        hint: 'restore into a new empty directory, or pass --force to replace its contents',
      });
    }
    if (entries.includes('postmaster.pid')) {
      throw new HoldfastError('target', `a server is running on ${dir} (postmaster.pid exists)`, {
        service: ctx.source.name,
        hint: 'stop it first; holdfast never replaces the files of a running server',
      });
    }
    for (const entry of entries) await rm(`${dir}/${entry}`, { recursive: true, force: true });
  }
  await mkdir(dir, { recursive: true, mode: 0o700 });
  ctx.progress.phase('extract');
  const exit = await ctx.artifacts.pipeToCommand('base.tar', { command: 'tar', args: ['--extract', '--file=-', `--directory=${dir}`, '--no-same-permissions'] });
  assertToolSucceeded('tar', exit);
  if (process.getuid?.() === 0) await chownTree(dir);
  const verify = await toolVersion('pg_verifybackup');
  let verified = false;
  if (verify) {
    ctx.progress.phase('pg_verifybackup');
    const run = runTool(verify.path, ['--quiet', dir], { stdout: 'ignore', signal: ctx.signal });
    assertToolSucceeded('pg_verifybackup', await run.done, 'the restored files do not match the backup manifest: restore from another snapshot');
    verified = true;
  } else {
    ctx.note('pg_verifybackup not found: the restored files were not checked against the backup manifest');
  }
  // This machine's tar extracted (and its pg_verifybackup checked): the place, in the shape the backup records.
  const place = hostPlaceRecord(verify ? `this machine's tar extracts, ${verify.path} ${verify.version} checks` : "this machine's tar extracts");
  return { location: `file:${dir}`, details: { dataDirectory: dir, verifiedWithManifest: verified, place } };
}

async function chownTree(dir: string): Promise<void> {
  const owner = await stat(dir);
  if (owner.uid === 0) return;
  const walk = async (path: string): Promise<void> => {
    await chown(path, owner.uid, owner.gid);
    const info = await stat(path);
    if (info.isDirectory()) for (const entry of await readdir(path)) await walk(`${path}/${entry}`);
  };
  await walk(dir);
}
