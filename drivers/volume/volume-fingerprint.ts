import { HoldfastError } from '../../src/core/errors.js';
import type { DockerApi } from '../../src/docker/docker-api.js';
import { runHelper } from '../../src/docker/docker-helper.js';
import { createArgs, type TarFlavor } from './volume-tar-flavor.js';
import { scanArchive, type ScanResult } from './volume-tar-scan.js';

/**
 * The fingerprint of a volume or host directory as it is now: a read-only
 * helper tars it and the stream is scanned and dropped. Used after a restore
 * and by `fingerprint()`; the backup takes its fingerprint from the very
 * stream it stores.
 */
export async function fingerprintMount(api: DockerApi, flavor: TarFlavor, mount: { type: 'volume' | 'bind'; source: string }, contents: boolean): Promise<ScanResult> {
  const run = await runHelper(api, 'fingerprint', {
    image: flavor.image,
    cmd: createArgs(flavor, '/holdfast/src'),
    mounts: [{ type: mount.type, source: mount.source, target: '/holdfast/src', readOnly: true }],
  });
  const [scan, exit] = await Promise.allSettled([scanArchive(run.stdout, contents), run.done]);
  if (scan.status === 'rejected') {
    run.abort();
    throw scan.reason;
  }
  if (exit.status === 'rejected') throw exit.reason;
  if (exit.value.exitCode !== 0) {
    throw new HoldfastError('tool', `tar of ${mount.source} for its fingerprint exited with status ${exit.value.exitCode}: ${exit.value.stderr.trim().slice(-300)}`);
  }
  return scan.value;
}
