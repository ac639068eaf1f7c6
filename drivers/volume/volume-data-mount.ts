/**
 * The mount that holds a database container's data directory, for an
 * engine's physical copy taken inside the container with the server running
 * (PostgreSQL's pg_basebackup, MariaDB's mariadb-backup): recorded at backup,
 * and found again when a rollback puts the copy back in place.
 */
import type { RestoreContext } from '../../src/core/driver.js';
import { HoldfastError } from '../../src/core/errors.js';
import type { ServiceMount } from '../../src/core/service.js';
import { dockerApi } from '../../src/docker/docker-lazy.js';
import type { MountedDir } from './volume-dir-transfer.js';

/**
 * The Docker volume (or bind mount) that holds the data directory, as a
 * volume copy records it (`volumes`, so that rollback-plan.ts restores the
 * entry physically and journals the volume), with the data directory's path
 * inside it (`dataSubdir`, '' for its root: the official images' PGDATA and
 * /var/lib/mysql). None when the data lives in the container's own layer: a
 * rollback then restores the dump instead, and says why.
 */
export function dataMountRecord(mounts: readonly ServiceMount[] | undefined, dataDir: string | undefined): Record<string, unknown> {
  const dir = dataDir?.replace(/(.)\/+$/, '$1');
  if (!dir || !mounts) return {};
  const mount = mounts
    .filter((m) => (m.type === 'volume' || m.type === 'bind') && (dir === m.destination.replace(/\/$/, '') || dir.startsWith(`${m.destination.replace(/\/$/, '')}/`)))
    .sort((a, b) => b.destination.length - a.destination.length)[0];
  if (!mount) return {};
  const subdir = dir.slice(mount.destination.replace(/\/$/, '').length).replace(/^\/+/, '');
  return { volumes: [{ type: mount.type, source: mount.source, destination: mount.destination }], dataSubdir: subdir, dataDirectory: dir };
}

/**
 * Where a physical copy goes back when it is restored in place into its
 * container (`holdfast rollback`: the container stopped, every user of the
 * volume stopped, the volume journaled before it is touched, so that a
 * rollback killed mid-way keeps them stopped): the mount recorded above.
 * Refused while the container runs (holdfast never replaces the files of a
 * running server), and when the copy recorded no mount.
 */
export async function recordedDataMount(ctx: RestoreContext, copy: { tool: string; startHint: string }): Promise<MountedDir> {
  const service = ctx.source.name;
  const volumes = Array.isArray(ctx.recorded.details.volumes) ? (ctx.recorded.details.volumes as Array<{ type: string; source: string }>) : [];
  const data = volumes.find((v) => v.type === 'volume' || v.type === 'bind');
  if (!data) {
    throw new HoldfastError('usage', `this ${copy.tool} copy recorded no data volume to put it back into (the data directory was in the container's own layer)`, {
      service,
      hint: `restore it into a new volume (--target ${service}=volume:NAME) or directory (=file:/empty/dir) and ${copy.startHint}`,
    });
  }
  const ref = ctx.target.container?.id ?? ctx.target.endpoint!.path;
  const own = await (await dockerApi()).inspectContainer(ref);
  if (own && (own.running || own.paused)) {
    throw new HoldfastError('target', `container ${own.name} is running on the data this copy would replace`, {
      service,
      hint: `holdfast rollback SNAPSHOT ${service.replace(/\.physical$/, '')} stops it for the restore and starts it again; or restore into a new volume (--target ${service}=volume:NAME)`,
    });
  }
  return { type: data.type as 'volume' | 'bind', source: data.source, subdir: typeof ctx.recorded.details.dataSubdir === 'string' ? ctx.recorded.details.dataSubdir : '' };
}
