/** Checks a Docker volume or bind mount before an engine's physical copy is restored into it (PostgreSQL's pg_basebackup, MariaDB's mariadb-backup). */
import type { RestoreContext } from '../../src/core/driver.js';
import { HoldfastError } from '../../src/core/errors.js';
import type { DockerApi } from '../../src/docker/docker-api.js';
import { helperText } from '../../src/docker/docker-helper.js';

/**
 * A volume that a running container mounts is always refused (its server
 * would see its files replaced); a mount that holds files is refused without
 * --force. A missing volume is fine: the restore creates it. Docker lists
 * the users of a named volume only: a bind mount's is the target's own
 * container, which the caller checks (volume-data-mount.ts).
 */
export async function assertRestorableMount(ctx: RestoreContext, api: DockerApi, mount: { type: 'volume' | 'bind'; source: string }, image: string): Promise<void> {
  const service = ctx.source.name;
  const { type, source } = mount;
  const what = type === 'volume' ? `volume ${source}` : source;
  if (type === 'volume') {
    const users = await api.listContainers({ volume: source, status: ['running', 'paused', 'restarting'] });
    if (users.length) {
      const names = await Promise.all(users.map(async (id) => (await api.inspectContainer(id))?.name ?? id));
      throw new HoldfastError('target', `volume ${source} is in use by running container ${names.join(', ')}`, { service, hint: `stop it first (docker stop ${names[0]}); holdfast never replaces the files of a running server` });
    }
    if (!(await api.inspectVolume(source))) return;
  }
  const listed = await helperText(api, 'restore', { image, cmd: ['ls', '-A', '/v'], mounts: [{ type, source, target: '/v', readOnly: true }] });
  if (listed.exitCode !== 0) throw new HoldfastError('target', `cannot read ${what}: ${listed.stderr.trim()}`, { service });
  if (listed.stdout.trim() && !ctx.force) {
    throw new HoldfastError('target', `${what} is not empty`, { service, hint: `restore into a new volume (--target ${service}=volume:NEW), or pass --force to replace its contents` });
  }
}
