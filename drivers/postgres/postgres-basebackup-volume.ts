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
export async function restoreBasebackupIntoVolume(ctx: RestoreContext): Promise<RestoreResult> {
  const service = ctx.source.name;
  const volume = ctx.target.endpoint!.path;
  const api = await dockerApi();
  const image = helperImage(typeof ctx.target.options.helper_image === 'string' ? ctx.target.options.helper_image : undefined);
  await assertRestorableVolume(ctx, api, volume, image);
  ctx.progress.phase('extract');
  // Emptied first, then extracted as root: the files keep the owner (the server's user id) the copy recorded.
  await copyDirIn(ctx, { type: 'volume', source: volume, subdir: '' }, 'base.tar');
  const source = (ctx.recorded.details.container as { image?: string } | undefined)?.image;
  let verified = false;
  if (source && (await api.imagePresent(source))) {
    ctx.progress.phase('pg_verifybackup');
    const out = await helperText(api, 'restore', { image: source, cmd: ['pg_verifybackup', '--quiet', '/v'], mounts: [{ type: 'volume', source: volume, target: '/v', readOnly: true }] });
    if (out.exitCode !== 0) {
      throw new HoldfastError('integrity', `the restored files do not match the backup manifest: ${out.stderr.trim().split('\n').slice(-3).join(' | ')}`, { service, hint: 'restore from another snapshot' });
    }
    verified = true;
  } else {
    ctx.note(`pg_verifybackup not run: the image the backup came from${source ? ` (${source})` : ''} is not on the daemon`);
  }
  return { location: `volume:${volume}`, details: { volume, verifiedWithManifest: verified } };
}
