/** A mariadb-backup snapshot restored into a Docker volume or bind mount: the data directory of a MariaDB container to be started on it, or put back into its own container by a rollback. */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { RestoreContext, RestoreResult, StagedRestore } from '../../src/core/driver.js';
import { HoldfastError } from '../../src/core/errors.js';
import { spoolDir, type SpoolDir } from '../../src/core/spool-dir.js';
import { helperImage, helperText } from '../../src/docker/docker-helper.js';
import type { DockerApi } from '../../src/docker/docker-api.js';
import { dockerApi } from '../../src/docker/docker-lazy.js';
import { recordedDataMount } from '../volume/volume-data-mount.js';
import type { MountedDir } from '../volume/volume-dir-transfer.js';
import { assertRestorableMount } from '../volume/volume-restore-target.js';
import { checkRestoreTools, chownTree, unpackAndPrepare } from './mysql-physical-restore.js';

// A fixed script; the directory it empties and fills comes as its argument ($1), under the helper's /v.
const COPY_IN = 'set -e; d="$1"; mkdir -p "$d"; rm -rf "$d"/* "$d"/.[!.]* "$d"/..?*; cp -a /src/. "$d"/';

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
 * `restore --recreate`, or the rollback) afterwards. The spool is
 * bind-mounted, so the daemon must share this machine's files (a unix
 * socket).
 */
export async function restorePhysicalIntoVolume(ctx: RestoreContext, into?: MountedDir, staged?: PreparedCopy): Promise<RestoreResult> {
  const service = ctx.source.name;
  const mount: MountedDir = into ?? { type: 'volume', source: ctx.target.endpoint!.path, subdir: '' };
  const where = `${mount.type === 'volume' ? 'volume ' : ''}${mount.source}${mount.subdir ? `/${mount.subdir}` : ''}`;
  const api = await sharedDocker(service, where);
  if (!staged) await checkRestoreTools(ctx);
  const image = helperImage(typeof ctx.target.options.helper_image === 'string' ? ctx.target.options.helper_image : undefined);
  await assertRestorableMount(ctx, api, mount, image);
  const copy = staged ?? (await prepareCopy(ctx));
  try {
    ctx.progress.phase(`copy into ${mount.type}`);
    // cp -a keeps the owner prepareCopy set.
    const out = await helperText(api, 'restore', {
      image,
      cmd: ['sh', '-c', COPY_IN, 'holdfast-copy-in', mount.subdir ? `/v/${mount.subdir}` : '/v'],
      mounts: [
        { type: 'bind', source: copy.data, target: '/src', readOnly: true },
        { type: mount.type, source: mount.source, target: '/v', readOnly: false },
      ],
    });
    if (out.exitCode !== 0) {
      throw new HoldfastError('tool', `could not copy the prepared files into ${where}: ${out.stderr.trim().split('\n').slice(-3).join(' | ')}`, { service, hint: 'it may hold part of the files: restore again with --force' });
    }
  } finally {
    await copy.spool.remove();
  }
  if (!into) ctx.note(`start the MariaDB container on volume ${mount.source} (mounted at its data directory): it opens the restored server`);
  const { owner } = copy;
  return {
    location: `${mount.type}:${mount.source}${mount.subdir ? `/${mount.subdir}` : ''}`,
    details: { [mount.type]: mount.source, ...(mount.subdir ? { subdir: mount.subdir } : {}), prepared: true, owner: `${owner.uid}:${owner.gid}`, serverVersion: ctx.recorded.details.serverVersion },
  };
}

/** A copy unpacked and prepared in a private spool directory of this host, owned as the data directory was. */
interface PreparedCopy {
  spool: SpoolDir;
  data: string;
  owner: { uid: number; gid: number };
}

/**
 * Unpacked, `--prepare`d, then given the owner the data directory had in the
 * source container (recorded at backup as `dataOwner`, else 999:999, the
 * mysql user of the official images). The spool is in the leftover journal:
 * a run killed meanwhile leaves nothing the next command does not remove.
 */
async function prepareCopy(ctx: RestoreContext): Promise<PreparedCopy> {
  const owner = parseOwner(ctx.recorded.details.dataOwner) ?? { uid: 999, gid: 999 };
  const spool = await spoolDir('holdfast-mysql-volume-');
  try {
    const data = join(spool.path, 'data');
    await mkdir(data, { mode: 0o750 });
    await unpackAndPrepare(ctx, data);
    await chownTree(data, owner);
    return { spool, data, owner };
  } catch (error) {
    await spool.remove();
    throw error;
  }
}

/**
 * A mariadb-backup copy of MariaDB in a container put back in place, as
 * `holdfast rollback` does: prepared here, then into the data mount the copy
 * recorded, with the container stopped (volume-data-mount.ts); the rollback
 * starts it again and waits until it answers.
 */
export async function restorePhysicalIntoContainerVolume(ctx: RestoreContext): Promise<RestoreResult> {
  return restorePhysicalIntoVolume(ctx, await recordedDataMount(ctx, { tool: 'mariadb-backup', startHint: 'start a container of the same series on it' }));
}

/**
 * Driver.stageRestore of a rollback, with the container still running: this
 * host's mbstream and mariadb-backup of the backup's series, and a Docker
 * that shares this machine's files, checked; then the copy unpacked and
 * prepared here, so that the container stays stopped only while the
 * prepared files are copied into its data mount.
 */
export async function stagePhysicalIntoContainerVolume(ctx: RestoreContext): Promise<StagedRestore> {
  await sharedDocker(ctx.source.name, 'the data volume');
  await checkRestoreTools(ctx);
  const copy = await prepareCopy(ctx);
  return {
    restore: async (now) => restorePhysicalIntoVolume(now, await recordedDataMount(now, { tool: 'mariadb-backup', startHint: 'start a container of the same series on it' }), copy),
    discard: () => copy.spool.remove(),
  };
}

/** The copy goes in through this machine's files (a bind-mounted spool): the daemon must share them. */
async function sharedDocker(service: string, where: string): Promise<DockerApi> {
  const api = await dockerApi();
  if (!api.host.startsWith('unix://')) {
    throw new HoldfastError('target', `a physical copy goes into ${where} through this machine's files, and Docker at ${api.host} does not share them`, {
      service,
      hint: `restore into a directory (--target ${service}=/empty/dir) and copy it into the volume on the Docker host`,
    });
  }
  return api;
}

function parseOwner(value: unknown): { uid: number; gid: number } | undefined {
  const m = typeof value === 'string' ? /^(\d+):(\d+)$/.exec(value) : null;
  return m ? { uid: Number(m[1]), gid: Number(m[2]) } : undefined;
}
