/** A mariadb-backup snapshot restored into a Docker volume: the data directory of a MariaDB container to be started on it. */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { RestoreContext, RestoreResult } from '../../src/core/driver.js';
import { HoldfastError } from '../../src/core/errors.js';
import { spoolDir } from '../../src/core/spool-dir.js';
import { helperImage, helperText } from '../../src/docker/docker-helper.js';
import { dockerApi } from '../../src/docker/docker-lazy.js';
import { assertRestorableVolume } from '../volume/volume-restore-target.js';
import { checkRestoreTools, chownTree, unpackAndPrepare } from './mysql-physical-restore.js';

/**
 * `restore SNAP db --target db=volume:NAME`: as into a directory on this
 * host (unpacked, then `--prepare` by this host's mariadb-backup of the
 * backup's series), in a private spool directory; the prepared files get
 * the owner the data directory had in the source container (recorded at
 * backup as `dataOwner`, else 999:999, the mysql user of the official
 * images), then a helper container mounting the spool read-only and the
 * volume read-write empties the volume and copies them in (`cp -a`). The
 * volume is created when missing; one that holds files is refused without
 * --force, one that a running container mounts always: the server is
 * stopped while its files are put in place, and started by the user (or
 * `restore --recreate`) afterwards. The spool is bind-mounted, so the daemon
 * must share this machine's files (a unix socket).
 */
export async function restorePhysicalIntoVolume(ctx: RestoreContext): Promise<RestoreResult> {
  const service = ctx.source.name;
  const volume = ctx.target.endpoint!.path;
  const api = await dockerApi();
  if (!api.host.startsWith('unix://')) {
    throw new HoldfastError('target', `a physical copy goes into volume ${volume} through this machine's files, and Docker at ${api.host} does not share them`, {
      service,
      hint: `restore into a directory (--target ${service}=/empty/dir) and copy it into the volume on the Docker host`,
    });
  }
  await checkRestoreTools(ctx);
  const image = helperImage(typeof ctx.target.options.helper_image === 'string' ? ctx.target.options.helper_image : undefined);
  await assertRestorableVolume(ctx, api, volume, image);
  const owner = parseOwner(ctx.recorded.details.dataOwner) ?? { uid: 999, gid: 999 };
  const spool = await spoolDir('holdfast-mysql-volume-');
  try {
    const data = join(spool.path, 'data');
    await mkdir(data, { mode: 0o750 });
    await unpackAndPrepare(ctx, data);
    await chownTree(data, owner);
    ctx.progress.phase('copy into volume');
    // A fixed script; the names it removes come from the volume. cp -a keeps the owner set above.
    const out = await helperText(api, 'restore', {
      image,
      cmd: ['sh', '-c', 'rm -rf /v/* /v/.[!.]* /v/..?* && cp -a /src/. /v/'],
      mounts: [
        { type: 'bind', source: data, target: '/src', readOnly: true },
        { type: 'volume', source: volume, target: '/v', readOnly: false },
      ],
    });
    if (out.exitCode !== 0) {
      throw new HoldfastError('tool', `could not copy the prepared files into volume ${volume}: ${out.stderr.trim().split('\n').slice(-3).join(' | ')}`, { service, hint: 'the volume may hold part of the files: restore again with --force' });
    }
  } finally {
    await spool.remove();
  }
  ctx.note(`start the MariaDB container on volume ${volume} (mounted at its data directory): it opens the restored server`);
  return { location: `volume:${volume}`, details: { volume, prepared: true, owner: `${owner.uid}:${owner.gid}`, serverVersion: ctx.recorded.details.serverVersion } };
}

function parseOwner(value: unknown): { uid: number; gid: number } | undefined {
  const m = typeof value === 'string' ? /^(\d+):(\d+)$/.exec(value) : null;
  return m ? { uid: Number(m[1]), gid: Number(m[2]) } : undefined;
}
