import { readdir } from 'node:fs/promises';
import type { ServiceMount } from '../core/service.js';
import type { DockerApi } from './docker-api.js';
import { helperImage, helperText } from './docker-helper.js';

/**
 * The top-level entries of a volume or bind mount, for engine detection by
 * contents (PG_VERSION, ibdata1, WiredTiger...). Read straight from the host
 * when holdfast runs beside a local daemon (no container needed); otherwise
 * through a read-only helper container. Undefined when neither works.
 */
export async function peekMount(api: DockerApi, mount: ServiceMount, image?: string): Promise<string[] | undefined> {
  let hostPath: string | undefined;
  if (mount.type === 'bind') hostPath = mount.source;
  else if (mount.type === 'volume' && api.host.startsWith('unix://')) hostPath = (await api.inspectVolume(mount.source))?.mountpoint;
  if (hostPath && api.host.startsWith('unix://')) {
    try {
      return await readdir(hostPath);
    } catch {
      // Not on this host, or not readable: ask Docker.
    }
  }
  if (mount.type !== 'volume' && mount.type !== 'bind') return undefined;
  const helper = helperImage(image);
  if (!(await api.imagePresent(helper))) return undefined;
  const out = await helperText(api, 'peek', {
    image: helper,
    cmd: ['ls', '-A', '/holdfast/peek'],
    mounts: [{ type: mount.type, source: mount.source, target: '/holdfast/peek', readOnly: true }],
  });
  return out.exitCode === 0 ? out.stdout.split('\n').filter(Boolean) : undefined;
}
