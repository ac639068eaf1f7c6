/** Checks a Docker volume before an engine's physical copy is restored into it (PostgreSQL's pg_basebackup, MariaDB's mariadb-backup). */
import type { RestoreContext } from '../../src/core/driver.js';
import { HoldfastError } from '../../src/core/errors.js';
import type { DockerApi } from '../../src/docker/docker-api.js';
import { helperText } from '../../src/docker/docker-helper.js';

/**
 * A volume that a running container mounts is always refused (its server
 * would see its files replaced); one that holds files is refused without
 * --force. A missing volume is fine: the restore creates it.
 */
export async function assertRestorableVolume(ctx: RestoreContext, api: DockerApi, volume: string, image: string): Promise<void> {
  const service = ctx.source.name;
  const users = await api.listContainers({ volume, status: ['running', 'paused', 'restarting'] });
  if (users.length) {
    const names = await Promise.all(users.map(async (id) => (await api.inspectContainer(id))?.name ?? id));
    throw new HoldfastError('target', `volume ${volume} is in use by running container ${names.join(', ')}`, { service, hint: `stop it first (docker stop ${names[0]}); holdfast never replaces the files of a running server` });
  }
  if (await api.inspectVolume(volume)) {
    const listed = await helperText(api, 'restore', { image, cmd: ['ls', '-A', '/v'], mounts: [{ type: 'volume', source: volume, target: '/v', readOnly: true }] });
    if (listed.exitCode !== 0) throw new HoldfastError('target', `cannot read volume ${volume}: ${listed.stderr.trim()}`, { service });
    if (listed.stdout.trim() && !ctx.force) {
      throw new HoldfastError('target', `volume ${volume} is not empty`, { service, hint: `restore into a new volume (--target ${service}=volume:NEW), or pass --force to replace its contents` });
    }
  }
}
