import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { DockerApi } from './docker-api.js';

/**
 * Does this process see the Docker daemon's own files, with the owners the
 * containers see? Then a volume can be read at its host path, with no helper
 * container in between. Every condition is checked, none assumed:
 * - the daemon is spoken to over a unix socket (a tcp:// daemon is elsewhere);
 * - holdfast runs as root (a volume's files belong to any user);
 * - the daemon remaps no user ids (userns-remap, rootless): the owners on
 *   disk are then not the ones inside the containers, which a restore
 *   through a helper would write;
 * - the directory Docker keeps for `containerId` exists here, under the
 *   daemon's data root. The id is 64 random hex digits: only the daemon's
 *   own filesystem has that directory (a forwarded socket, a VM, a
 *   container with another /var/lib/docker do not). Without a container
 *   to look for (none on the daemon), this check is the caller's to skip.
 * Returns why not, or undefined when the files are here.
 */
export async function daemonFilesElsewhere(api: DockerApi, containerId: string | undefined): Promise<string | undefined> {
  if (!api.host.startsWith('unix://')) return `the daemon at ${api.host} is on another machine`;
  if (process.geteuid?.() !== 0) return 'holdfast does not run as root';
  const info = await api.daemonInfo();
  const remap = info.securityOptions.find((o) => /name=(userns|rootless)\b/.test(o));
  if (remap) return `the daemon remaps user ids (${remap})`;
  if (!info.rootDir) return 'the daemon did not report its data root';
  if (containerId === undefined) return undefined;
  const own = await stat(join(info.rootDir, 'containers', containerId)).catch(() => undefined);
  if (!own?.isDirectory()) return `the daemon's data root ${info.rootDir} is not this machine's`;
  return undefined;
}
