import type { RestoreContext, RestoreResult } from '../../src/core/driver.js';
import { HoldfastError } from '../../src/core/errors.js';
import { dockerApi } from '../../src/docker/docker-lazy.js';
import { helperImage, helperText } from '../../src/docker/docker-helper.js';
import { copyDirIn } from '../volume/volume-dir-transfer.js';
import { assertRestorableVolume } from '../volume/volume-restore-target.js';

/**
 * A `pg_basebackup` snapshot restored into a Docker volume
 * (`--target db=volume:NAME`): the data directory of a PostgreSQL container
 * to be started on it, as the physical restore into a directory does on this
 * host. The volume is created when missing; one that holds files is refused
 * without --force, and one that a running container mounts always (its
 * server would see its files replaced). The tar goes in through a helper
 * (volume-dir-transfer.ts); then pg_verifybackup of the image the backup
 * came from checks the files against the backup manifest, when that image
 * is on the daemon.
 */
export async function restoreBasebackupIntoVolume(ctx: RestoreContext, into: { type?: 'volume' | 'bind'; volume?: string; subdir?: string } = {}): Promise<RestoreResult> {
  const service = ctx.source.name;
  const type = into.type ?? 'volume';
  const volume = into.volume ?? ctx.target.endpoint!.path;
  const subdir = into.subdir ?? '';
  const at = subdir ? `/v/${subdir}` : '/v';
  const api = await dockerApi();
  const image = helperImage(typeof ctx.target.options.helper_image === 'string' ? ctx.target.options.helper_image : undefined);
  if (type === 'volume') {
    await assertRestorableVolume(ctx, api, volume, image);
  } else {
    // Docker lists the users of a named volume only; a bind mount's is the target's own container, checked by the caller.
    const listed = await helperText(api, 'restore', { image, cmd: ['ls', '-A', '/v'], mounts: [{ type, source: volume, target: '/v', readOnly: true }] });
    if (listed.exitCode !== 0) throw new HoldfastError('target', `cannot read ${volume}: ${listed.stderr.trim()}`, { service });
    if (listed.stdout.trim() && !ctx.force) {
      throw new HoldfastError('target', `${volume} is not empty`, { service, hint: 'restore into a new volume (--target db=volume:NEW), or pass --force to replace its contents' });
    }
  }
  ctx.progress.phase('extract');
  // Emptied first, then extracted as root: the files keep the owner (the server's user id) the copy recorded.
  await copyDirIn(ctx, { type, source: volume, subdir }, 'base.tar');
  const source = (ctx.recorded.details.container as { image?: string } | undefined)?.image;
  let verified = false;
  if (source && (await api.imagePresent(source))) {
    ctx.progress.phase('pg_verifybackup');
    const out = await helperText(api, 'restore', { image: source, cmd: ['pg_verifybackup', '--quiet', at], mounts: [{ type, source: volume, target: '/v', readOnly: true }] });
    if (out.exitCode !== 0) {
      throw new HoldfastError('integrity', `the restored files do not match the backup manifest: ${out.stderr.trim().split('\n').slice(-3).join(' | ')}`, { service, hint: 'restore from another snapshot' });
    }
    verified = true;
  } else {
    ctx.note(`pg_verifybackup not run: the image the backup came from${source ? ` (${source})` : ''} is not on the daemon`);
  }
  return { location: `${type}:${volume}${subdir ? `/${subdir}` : ''}`, details: { [type === 'volume' ? 'volume' : 'bind']: volume, ...(subdir ? { subdir } : {}), verifiedWithManifest: verified } };
}

/**
 * A `pg_basebackup` copy of PostgreSQL in a container put back in place,
 * as `holdfast rollback` does: into the data volume the copy recorded
 * (`volumes`, `dataSubdir`: postgres-basebackup.ts), with the container
 * stopped (the rollback stops every user of the volume first, and journals
 * the volume before it is touched: a rollback killed mid-way keeps them
 * stopped). Refused, as above, while any running container mounts it.
 */
export async function restoreBasebackupIntoContainerVolume(ctx: RestoreContext): Promise<RestoreResult> {
  const volumes = Array.isArray(ctx.recorded.details.volumes) ? (ctx.recorded.details.volumes as Array<{ type: string; source: string }>) : [];
  const data = volumes.find((v) => v.type === 'volume' || v.type === 'bind');
  if (!data) {
    throw new HoldfastError('usage', 'this pg_basebackup copy recorded no data volume to put it back into (the data directory was in the container\'s own layer)', {
      service: ctx.source.name,
      hint: `restore it into a new volume (--target ${ctx.source.name}=volume:NAME) or directory (=file:/empty/dir) and start a container of the same major on it`,
    });
  }
  // Its own container first: holdfast never replaces the files of a running server.
  const ref = ctx.target.container?.id ?? ctx.target.endpoint!.path;
  const own = await (await dockerApi()).inspectContainer(ref);
  if (own && (own.running || own.paused)) {
    throw new HoldfastError('target', `container ${own.name} is running on the data this copy would replace`, {
      service: ctx.source.name,
      hint: `holdfast rollback SNAPSHOT ${ctx.source.name.replace(/\.physical$/, '')} stops it for the restore and starts it again; or restore into a new volume (--target ${ctx.source.name}=volume:NAME)`,
    });
  }
  const subdir = typeof ctx.recorded.details.dataSubdir === 'string' ? ctx.recorded.details.dataSubdir : '';
  return restoreBasebackupIntoVolume(ctx, { type: data.type as 'volume' | 'bind', volume: data.source, subdir });
}
