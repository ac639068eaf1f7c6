import type { RestoreContext, RestoreResult } from '../../src/core/driver.js';
import { HoldfastError } from '../../src/core/errors.js';
import { dockerApi } from '../../src/docker/docker-lazy.js';
import { helperImage, helperText } from '../../src/docker/docker-helper.js';
import { copyDirIn } from '../volume/volume-dir-transfer.js';
import { restorePlace } from '../volume/volume-restore.js';
import { recordedDataMount } from '../volume/volume-data-mount.js';
import { assertRestorableMount } from '../volume/volume-restore-target.js';

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
  await assertRestorableMount(ctx, api, { type, source: volume }, image);
  ctx.progress.phase('extract');
  // Emptied first, then extracted as root: the files keep the owner (the server's user id) the copy recorded.
  const flavor = await copyDirIn(ctx, { type, source: volume, subdir }, 'base.tar');
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
  return { location: `${type}:${volume}${subdir ? `/${subdir}` : ''}`, details: { [type === 'volume' ? 'volume' : 'bind']: volume, ...(subdir ? { subdir } : {}), verifiedWithManifest: verified, place: restorePlace(flavor) } };
}

/**
 * A `pg_basebackup` copy of PostgreSQL in a container put back in place,
 * as `holdfast rollback` does: into the data volume the copy recorded
 * (`volumes`, `dataSubdir`: volume-data-mount.ts), with the container
 * stopped (the rollback stops every user of the volume first, and journals
 * the volume before it is touched: a rollback killed mid-way keeps them
 * stopped). Refused, as above, while any running container mounts it.
 */
export async function restoreBasebackupIntoContainerVolume(ctx: RestoreContext): Promise<RestoreResult> {
  const data = await recordedDataMount(ctx, { tool: 'pg_basebackup', startHint: 'start a container of the same major on it' });
  return restoreBasebackupIntoVolume(ctx, { type: data.type, volume: data.source, subdir: data.subdir });
}
