import { chown, mkdir, readdir, readFile, rm, stat } from 'node:fs/promises';
import { isAbsolute, join, resolve } from 'node:path';
import type { OfferPlace, RestoreContext, RestoreResult } from '../../src/core/driver.js';
import { hostPlaceRecord } from '../../src/core/place-record.js';
import { HoldfastError } from '../../src/core/errors.js';
import { runTool } from '../../src/core/process.js';
import { PHYSICAL_ARTIFACT } from './mysql-physical-backup.js';
import { sameSeries } from './mysql-strategies.js';
import { checkMysqlToolExit, requireTool, TOOLS_HINT, type Family, type ToolInfo } from './mysql-tools.js';

/** Target of a physical restore: `file:/path` (or `--target NAME=/path`), an empty or missing directory; `volume:NAME` is handled before. */
function targetDir(ctx: RestoreContext): string {
  const e = ctx.target.endpoint;
  if (!e || e.scheme !== 'file' || !isAbsolute(e.path)) {
    throw new HoldfastError('usage', 'a physical snapshot restores into an empty data directory, not into a running server', {
      service: ctx.source.name,
      driver: 'mysql',
      hint: `pass --target ${ctx.source.name}=/absolute/path/to/new/datadir (or =volume:NAME, a container's data volume), then start a server of the same version on it`,
    });
  }
  return resolve(e.path);
}

/**
 * Unpacks the stream into an empty directory (mbstream / xbstream -x), then
 * `--prepare` applies the redo log copied during the backup, which makes the
 * files consistent; the directory is then a data directory for a server of
 * the same series (`mariadbd --datadir=DIR`). Run as root, the files go to
 * the directory's owner, or to the `mysql` user when root owns it.
 * `--target NAME=volume:VOL` puts it into a container's data volume instead;
 * a rollback (its container's own endpoint) into the mount it was copied from.
 */
export async function restorePhysical(ctx: RestoreContext): Promise<RestoreResult> {
  // Into the data volume of a container (mysql-physical-volume.ts).
  if (ctx.target.endpoint?.scheme === 'volume') return withPlace(ctx, await (await import('./mysql-physical-volume.js')).restorePhysicalIntoVolume(ctx));
  // In place into its container (a rollback, the container stopped): into the data mount the copy recorded.
  if (ctx.target.endpoint?.scheme === 'container') return withPlace(ctx, await (await import('./mysql-physical-volume.js')).restorePhysicalIntoContainerVolume(ctx));
  const dir = targetDir(ctx);
  const { family, version, backup } = await checkRestoreTools(ctx);
  await prepareTargetDir(ctx, dir);
  await unpackAndPrepare(ctx, dir);
  if (process.getuid?.() === 0) await chownTree(dir, await ownerFor(dir));
  ctx.note(`start a ${family === 'mariadb' ? 'mariadbd' : 'mysqld'} of the ${version.split('.').slice(0, 2).join('.')} series on it: --datadir=${dir}`);
  return { location: `file:${dir}`, details: { dataDirectory: dir, prepared: true, serverVersion: ctx.recorded.details.serverVersion, place: physicalRestorePlace(backup) } };
}

/** This host's mariadb-backup unpacked and prepared the copy (into a volume too: a helper only copies the prepared files in). */
function physicalRestorePlace(backup: ToolInfo): OfferPlace {
  return hostPlaceRecord(`${backup.name} ${backup.version} (${backup.path}) prepares the copy`);
}

/** A restore into a volume ran the tools checked here as well: its place, in the shape the backup records. */
async function withPlace(ctx: RestoreContext, result: RestoreResult): Promise<RestoreResult> {
  if (result.details.place) return result;
  const { backup } = await checkRestoreTools(ctx);
  return { ...result, details: { ...result.details, place: physicalRestorePlace(backup) } };
}

/** This host's mbstream and mariadb-backup of the backup's series: checked before anything is written. */
export async function checkRestoreTools(ctx: RestoreContext): Promise<{ family: Family; version: string; stream: ToolInfo; backup: ToolInfo }> {
  const family = (ctx.recorded.details.family as Family | undefined) ?? 'mariadb';
  const version = String(ctx.recorded.details.serverVersionNumber ?? '');
  const service = ctx.source.name;
  const stream = await requireTool('stream', family, service);
  const backup = await requireTool('backup', family, service);
  if (version && !sameSeries(backup.version, version)) {
    throw new HoldfastError('tool', `${backup.path} is ${backup.version} and the backup comes from ${version}: --prepare needs the tool of the same series`, { service, driver: 'mysql', hint: TOOLS_HINT[family] });
  }
  return { family, version, stream, backup };
}

/** The stream unpacked into an empty directory and prepared: a data directory for a server of the backup's series. */
export async function unpackAndPrepare(ctx: RestoreContext, dir: string): Promise<void> {
  const { stream, backup } = await checkRestoreTools(ctx);
  const service = ctx.source.name;
  ctx.progress.phase('extract');
  checkMysqlToolExit(stream.name, await ctx.artifacts.pipeToCommand(PHYSICAL_ARTIFACT, { command: stream.path, args: ['-x', '-C', dir] }), service);
  ctx.progress.phase('prepare');
  const prepare = runTool(backup.path, ['--prepare', `--target-dir=${dir}`], { stdout: 'ignore', signal: ctx.signal });
  checkMysqlToolExit(backup.name, await prepare.done, service, 'the backup could not be prepared: restore from another snapshot');
}

async function prepareTargetDir(ctx: RestoreContext, dir: string): Promise<void> {
  const entries = await readdir(dir).catch((e: NodeJS.ErrnoException) => {
    if (e.code === 'ENOENT') return undefined;
    throw e;
  });
  if (entries && entries.length > 0) {
    if (!ctx.force) {
      throw new HoldfastError('target', `the data directory ${dir} is not empty`, {
        service: ctx.source.name,
        driver: 'mysql',
        hint: 'restore into a new empty directory, or pass --force to replace its contents',
      });
    }
    const live = entries.filter((e) => e.endsWith('.pid') || e.endsWith('.sock'));
    if (live.length > 0) {
      throw new HoldfastError('target', `a server may be running on ${dir} (${live.join(', ')})`, {
        service: ctx.source.name,
        driver: 'mysql',
        hint: 'stop it first; holdfast never replaces the files of a running server',
      });
    }
    for (const entry of entries) await rm(join(dir, entry), { recursive: true, force: true });
  }
  await mkdir(dir, { recursive: true, mode: 0o750 });
}

/** The directory's owner, or the `mysql` user when root owns it (the server refuses to run as root). */
async function ownerFor(dir: string): Promise<{ uid: number; gid: number }> {
  const s = await stat(dir);
  if (s.uid !== 0) return { uid: s.uid, gid: s.gid };
  const passwd = await readFile('/etc/passwd', 'utf8').catch(() => '');
  const line = passwd.split('\n').find((l) => l.startsWith('mysql:'));
  const f = line?.split(':');
  return f && f[2] && f[3] ? { uid: Number(f[2]), gid: Number(f[3]) } : { uid: s.uid, gid: s.gid };
}

export async function chownTree(dir: string, owner: { uid: number; gid: number }): Promise<void> {
  const walk = async (path: string): Promise<void> => {
    await chown(path, owner.uid, owner.gid);
    if ((await stat(path)).isDirectory()) for (const entry of await readdir(path)) await walk(join(path, entry));
  };
  await walk(dir);
}
