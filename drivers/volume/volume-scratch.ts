import type { ScratchContext, ScratchTarget } from '../../src/core/driver.js';
import { toHoldfastError } from '../../src/core/errors.js';
import type { DockerApi } from '../../src/docker/docker-api.js';
import { dockerApi } from '../../src/docker/docker-lazy.js';
import { removeLeftoverScratch, scratchVolumeLabels } from '../../src/docker/docker-scratch.js';
import type { RecordedVolume } from './volume-backup.js';
import { isVolumeStrategy } from './volume-strategies.js';

/**
 * A restore test of a volume archive: each archived mount (volume or bind
 * directory) is extracted into a fresh Docker volume
 * `holdfast_scratch_<run>_<n>_<source>`, labelled `holdfast.scratch=<run>`,
 * through the ordinary volume restore (restore option `rename`). The volumes
 * are created here, with holdfast's labels only (the recorded compose labels
 * would make a scratch copy look like part of the stack), and removed by
 * cleanup, as is any other volume that carries the run's label. What a run
 * that died left is removed first (docker-scratch.ts).
 */
export async function volumeScratchTarget(ctx: ScratchContext): Promise<ScratchTarget | undefined> {
  if (!isVolumeStrategy(ctx.strategy)) return undefined;
  const api = await dockerApi();
  await removeLeftoverScratch(api);
  const recorded = (ctx.recorded.details.volumes as RecordedVolume[] | undefined) ?? [];
  const rename = Object.fromEntries(recorded.map((r, i) => [r.source, scratchVolumeName(ctx.prefix, i, r.source)]));
  const cleanup = () => removeScratchVolumes(api, Object.values(rename), ctx.run);
  try {
    for (const name of Object.values(rename)) await api.createVolume({ name, labels: scratchVolumeLabels(ctx.run, ctx.source.name) });
  } catch (error) {
    await cleanup().catch(() => undefined);
    throw error;
  }
  return {
    target: ctx.source,
    options: { rename },
    describe: Object.values(rename).map((n) => `volume:${n}`).join(', '),
    cleanup,
  };
}

/** Docker volume names: [a-zA-Z0-9][a-zA-Z0-9_.-]*; a path source keeps its readable part. */
function scratchVolumeName(prefix: string, index: number, source: string): string {
  return `${prefix}${index}_${source.replace(/[^A-Za-z0-9_.-]+/g, '_').replace(/^_+/, '')}`.slice(0, 200);
}

/**
 * Removes the scratch volumes; a helper container that still holds one (it is
 * being removed) gets a few seconds.
 */
async function removeScratchVolumes(api: DockerApi, names: string[], run: string): Promise<void> {
  const all = new Set([...names, ...(await api.listVolumes(`holdfast.scratch=${run}`))]);
  for (const name of all) {
    for (let attempt = 1; ; attempt++) {
      try {
        await api.removeVolume(name);
        break;
      } catch (error) {
        if (attempt >= 20) throw toHoldfastError(error);
        await new Promise((r) => setTimeout(r, 250));
      }
    }
  }
}
