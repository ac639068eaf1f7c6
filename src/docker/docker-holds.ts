import { HoldfastError } from '../core/errors.js';
import type { ContainerDetails, DockerApi } from './docker-api.js';
import { HoldJournal } from './docker-journal.js';

/**
 * Holding writers still: `docker stop` (with the container's stop timeout)
 * or `docker pause`, always undone. Holds are counted per container across
 * the whole process, so two services of one run that share a writer do not
 * start it again while the other still copies. Every hold is written to the
 * journal before it happens and crossed out after the resume.
 */
export interface HoldRequest {
  container: ContainerDetails;
  mode: 'stop' | 'pause';
  /** Seconds docker stop waits before it kills. */
  stopTimeoutSec: number;
  service: string;
}

export interface HoldWindow {
  container: string;
  action: 'stop' | 'pause' | 'none';
  /** How long this container was held by this run, in ms. */
  heldMs: number;
  note?: string;
}

interface Entry {
  count: number;
  action: 'stop' | 'pause';
  ready: Promise<void>;
  heldAt: number;
  name: string;
}

const entries = new Map<string, Entry>();
let journal: HoldJournal | undefined;

function theJournal(): HoldJournal {
  journal ??= new HoldJournal();
  return journal;
}

export interface HeldSet {
  /** Resumes this set's containers (in reverse order) unless another service still holds them. */
  release(): Promise<HoldWindow[]>;
}

/** Holds the containers in the given order (see holdOrder); on any failure, resumes what it held and throws. */
export async function holdContainers(api: DockerApi, requests: readonly HoldRequest[], signal?: AbortSignal): Promise<HeldSet> {
  const held: Array<{ key: string; request: HoldRequest; start: number; action: HoldWindow['action']; note?: string }> = [];
  const set: HeldSet = {
    release: async () => {
      const windows: HoldWindow[] = [];
      const failures: string[] = [];
      for (const h of [...held].reverse()) {
        const window: HoldWindow = { container: h.request.container.name, action: h.action, heldMs: Date.now() - h.start, ...(h.note ? { note: h.note } : {}) };
        windows.unshift(window);
        if (h.action === 'none') continue;
        const error = await releaseOne(api, h.key);
        if (error) failures.push(`${h.request.container.name}: ${error}`);
      }
      held.length = 0;
      if (failures.length) {
        throw new HoldfastError('tool', `could not resume ${failures.join('; ')}`, {
          hint: `start them by hand (docker start / docker unpause); the journal keeps them, and the next holdfast command tries again`,
        });
      }
      return windows;
    },
  };
  try {
    for (const request of requests) {
      if (signal?.aborted) throw new HoldfastError('interrupted', 'interrupted before the copy', { service: request.service });
      const key = `${api.host}#${request.container.id}`;
      const start = Date.now();
      const existing = entries.get(key);
      if (existing) {
        existing.count++;
        held.push({ key, request, start, action: existing.action });
        await existing.ready;
        continue;
      }
      const current = await api.inspectContainer(request.container.id);
      if (!current || (!current.running && !current.paused)) {
        held.push({ key, request, start, action: 'none', note: 'not running' });
        continue;
      }
      if (current.paused) {
        if (request.mode === 'stop') {
          throw new HoldfastError('target', `container ${current.name} is paused (not by holdfast) and cannot be stopped cleanly`, {
            service: request.service,
            hint: `docker unpause ${current.name}, or label it holdfast.quiesce=pause`,
          });
        }
        held.push({ key, request, start, action: 'none', note: 'already paused' });
        continue;
      }
      const entry: Entry = { count: 1, action: request.mode, ready: Promise.resolve(), heldAt: start, name: current.name };
      entry.ready = holdOne(api, request, current);
      entries.set(key, entry);
      held.push({ key, request, start, action: request.mode });
      await entry.ready;
    }
  } catch (error) {
    await set.release().catch(() => undefined);
    throw error;
  }
  return set;
}

async function holdOne(api: DockerApi, request: HoldRequest, c: ContainerDetails): Promise<void> {
  await theJournal().add({ dockerHost: api.host, id: c.id, name: c.name, action: request.mode, service: request.service, at: new Date().toISOString() });
  if (request.mode === 'pause') {
    await api.pause(c.id);
    return;
  }
  const started = Date.now();
  await api.stop(c.id, request.stopTimeoutSec);
  const elapsed = Date.now() - started;
  const after = await api.inspectContainer(c.id);
  // Docker kills what did not stop within the timeout: exit 137 after the full wait.
  const killed = after && after.exitCode === 137 && elapsed >= request.stopTimeoutSec * 1000 - 250 && c.stopSignal !== 'SIGKILL';
  if (killed) {
    throw new HoldfastError('timeout', `container ${c.name} did not stop within its stop timeout of ${request.stopTimeoutSec}s, so Docker killed it; its files would be crash-consistent at best, so nothing was copied and it was started again`, {
      service: request.service,
      hint: `give it longer (label holdfast.stop-timeout=SECONDS, or compose stop_grace_period), or let its main process handle ${c.stopSignal ?? 'SIGTERM'} (docker run --init / init: true)`,
    });
  }
}

/** Undoes one hold when its last holder lets go; returns an error text instead of throwing. */
async function releaseOne(api: DockerApi, key: string): Promise<string | undefined> {
  const entry = entries.get(key);
  if (!entry) return undefined;
  entry.count--;
  if (entry.count > 0) return undefined;
  entries.delete(key);
  await entry.ready.catch(() => undefined);
  const id = key.slice(key.indexOf('#') + 1);
  let last: unknown;
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      if (entry.action === 'pause') await api.unpause(id);
      else await api.start(id);
      await theJournal().remove(api.host, id);
      return undefined;
    } catch (error) {
      last = error;
      await new Promise((r) => setTimeout(r, 500 * (attempt + 1)));
    }
  }
  return (last as Error).message;
}
