import type { BackupContext, RestoreContext } from '../../src/core/driver.js';
import { HoldfastError } from '../../src/core/errors.js';
import { ContainerPlace } from '../../src/place/container-place.js';
import { runText, runWithInput } from '../../src/place/place.js';

/**
 * The repository directory of a node whose path.repo is on its container's
 * own filesystem (no volume, no bind mount): copied out and back with the
 * tar of the node's own image, through docker exec in its container. No host
 * path, no helper, no port. Only for a node holdfast knows runs in that
 * container (discovery, `container:NAME`); the archive is checked before
 * anything is written, as a volume copy is.
 */
// note: the run's; the pipes a dead run left in the container go first, and are noted (container-pipe-sweep.ts).
async function nodePlace(service: string, container: string, signal?: AbortSignal, note?: (text: string) => void): Promise<ContainerPlace> {
  return ContainerPlace.open(container, { service, engine: 'OpenSearch', ...(note ? { note } : {}), ...(signal ? { signal } : {}) });
}

export async function copyRepositoryOutByExec(ctx: BackupContext, container: string, location: string, artifact: string, meta: { kind: string; label?: string }): Promise<void> {
  const place = await nodePlace(ctx.service.name, container, ctx.signal, (text) => ctx.note(text));
  try {
    await place.toArtifact(['tar', '-C', location, '-cf', '-', '.'], ctx.artifacts, { name: artifact, ...meta }, {
      signal: ctx.signal,
      judge: (exit) => {
        throw new HoldfastError('tool', `tar of the snapshot repository ${location} inside container ${container} failed (exit ${exit.code}): ${exit.stderr.trim()}`, {
          service: ctx.service.name,
          driver: 'opensearch',
          hint: 'the node\'s image needs tar; or mount a volume at path.repo (the copy then goes through a helper)',
        });
      },
    });
  } finally {
    await place.close();
  }
}

export async function copyRepositoryInByExec(ctx: RestoreContext, container: string, location: string, artifact: string): Promise<void> {
  const { assertSafeArchive } = await import('../volume/volume-restore.js');
  await assertSafeArchive(ctx, artifact, `${location} in container ${container}`);
  const place = await nodePlace(ctx.target.name, container, ctx.signal, (text) => ctx.note(text));
  try {
    // Fixed text: the path reaches it only as an argument.
    const fresh = await runText(place, ['sh', '-c', 'rm -rf "$1" && mkdir -p "$1"', 'holdfast-repo', location], { signal: ctx.signal });
    if (fresh.exitCode !== 0) throw failure(ctx, `cannot prepare ${location} inside container ${container}: ${fresh.stderr.trim()}`);
    const exit = await runWithInput(place, ['tar', '-C', location, '-xf', '-'], ctx.artifacts.open(artifact), { signal: ctx.signal });
    if (exit.exitCode !== 0) throw failure(ctx, `tar could not unpack the repository into ${location} inside container ${container} (exit ${exit.exitCode}): ${exit.stderr.trim()}`);
  } finally {
    await place.close();
  }
}

export async function removeRepositoryByExec(service: string, container: string, location: string): Promise<void> {
  const place = await nodePlace(service, container);
  try {
    const out = await runText(place, ['rm', '-rf', location]);
    if (out.exitCode !== 0) throw new HoldfastError('target', `could not remove ${location} inside container ${container}: ${out.stderr.trim()}`, { service, driver: 'opensearch' });
  } finally {
    await place.close();
  }
}

function failure(ctx: RestoreContext, message: string): HoldfastError {
  return new HoldfastError('tool', message, { service: ctx.target.name, driver: 'opensearch', hint: 'check free space under path.repo inside the container, and that its image has tar' });
}
