import { hostname } from 'node:os';
import type { DockerApi } from './docker-api.js';
import { pidAlive, removeLeftoverHelpers } from './docker-helper.js';

/**
 * Labels of a restore test's scratch volume: the run, the service, and the
 * pid and host of the holdfast that made it, so that a volume left by a run
 * that died (kill -9) is told apart from one a live run is using.
 */
export function scratchVolumeLabels(run: string, service: string): Record<string, string> {
  return { 'holdfast.scratch': run, 'holdfast.service': service, 'holdfast.pid': String(process.pid), 'holdfast.hostname': hostname() };
}

/** Scratch volumes of this host whose run is gone: for `discover`, and removed by the next restore test. */
export async function leftoverScratchVolumes(api: DockerApi): Promise<string[]> {
  const out: string[] = [];
  for (const name of await api.listVolumes('holdfast.scratch')) {
    const v = await api.inspectVolume(name);
    if (!v || v.labels['holdfast.hostname'] !== hostname() || pidAlive(Number(v.labels['holdfast.pid']))) continue;
    out.push(name);
  }
  return out;
}

/** Removes what dead restore tests left: their throwaway containers (helpers), then their volumes. */
export async function removeLeftoverScratch(api: DockerApi): Promise<string[]> {
  const removed = await removeLeftoverHelpers(api);
  for (const name of await leftoverScratchVolumes(api)) {
    await api.removeVolume(name).catch(() => undefined);
    removed.push(name);
  }
  return removed;
}
