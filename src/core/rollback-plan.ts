import { HoldfastError } from './errors.js';
import type { Manifest, ServiceRecord } from '../repository/manifest.js';

/** How one service of a snapshot is put back by `holdfast rollback`. */
export interface RollbackStep {
  /** The service as the stack knows it (`db`). */
  service: string;
  /** The manifest entry restored: the service itself, or its physical copy (`db.physical`). */
  entry: string;
  record: ServiceRecord;
  /** physical: its files go back into its volumes with its containers stopped; logical: its dump is restored into the running server. */
  method: 'physical' | 'logical';
  /** The logical entry of a service restored from its physical copy: its fingerprint is checked once the engine runs again. */
  logical?: ServiceRecord;
  notes: string[];
}

/** Recorded volumes of an entry: what a rollback can put back in place. */
export function recordedVolumes(record: ServiceRecord): Array<{ type: 'volume' | 'bind'; source: string; destination: string }> {
  const volumes = record.details.volumes;
  return Array.isArray(volumes) ? (volumes as Array<{ type: 'volume' | 'bind'; source: string; destination: string }>) : [];
}

/** The container an entry was backed up from: its `container:NAME` endpoint, else the recorded container. */
export function recordedContainer(record: ServiceRecord): { name: string; image?: string; imageId?: string } | undefined {
  const c = record.details.container as { name?: string; image?: string; imageId?: string } | undefined;
  const name = record.endpoint?.startsWith('container:') ? record.endpoint.slice('container:'.length) : c?.name;
  if (!name) return undefined;
  return { name, ...(c?.image ? { image: c.image } : {}), ...(c?.imageId ? { imageId: c.imageId } : {}) };
}

/**
 * Per service of the snapshot, what to restore: its physical copy when one
 * was taken and holds volumes (files go back exactly, whatever the engine),
 * else the service's own entry: physically when it is itself a volume copy,
 * logically (its dump) otherwise. Services that failed at backup are left
 * out, and said so; a snapshot with nothing to put back is an error.
 */
export function rollbackSteps(manifest: Manifest, only: readonly string[] = []): RollbackStep[] {
  const entries = Object.entries(manifest.services);
  const copies = new Map(entries.filter(([, r]) => r.physicalOf).map(([name, r]) => [r.physicalOf!, { name, record: r }]));
  const services = entries.filter(([, r]) => !r.physicalOf).map(([name]) => name).sort();
  for (const name of only) {
    if (!services.includes(name)) {
      throw new HoldfastError('usage', `snapshot ${manifest.id} has no service ${JSON.stringify(name)}`, { hint: `it holds: ${services.join(', ')}` });
    }
  }
  const steps: RollbackStep[] = [];
  const skipped: string[] = [];
  for (const service of only.length ? only : services) {
    const own = manifest.services[service]!;
    const copy = copies.get(service);
    const notes: string[] = [];
    if (copy && copy.record.status === 'ok' && recordedVolumes(copy.record).length > 0) {
      steps.push({ service, entry: copy.name, record: copy.record, method: 'physical', ...(own.status === 'ok' ? { logical: own } : {}), notes });
      continue;
    }
    if (copy) {
      notes.push(
        copy.record.status === 'ok'
          ? `its ${copy.record.strategy} copy (${copy.name}) cannot be put back in place by rollback; restore it by hand with holdfast restore ${manifest.id} ${copy.name} --target ${copy.name}=/EMPTY/DIR`
          : `its physical copy (${copy.name}) failed at backup`,
      );
    }
    if (own.status !== 'ok') {
      skipped.push(service);
      continue;
    }
    steps.push({ service, entry: service, record: own, method: recordedVolumes(own).length > 0 ? 'physical' : 'logical', notes });
  }
  if (steps.length === 0) {
    throw new HoldfastError('not-found', `snapshot ${manifest.id} holds nothing a rollback can put back${skipped.length ? ` (failed at backup: ${skipped.join(', ')})` : ''}`, {
      hint: 'pick another snapshot (`holdfast snapshots`)',
    });
  }
  return steps;
}
