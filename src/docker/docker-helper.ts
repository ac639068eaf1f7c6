import { createHash } from 'node:crypto';
import { hostname } from 'node:os';
import { HoldfastError } from '../core/errors.js';
import type { DockerApi, RunSpec, StreamRun } from './docker-api.js';
import { stateDir } from './docker-journal.js';
import { HELPER_LABEL } from './docker-labels.js';

/**
 * Helper containers: throwaway containers holdfast starts to read or write a
 * volume (tar, ls). Always `--network none`, labelled `holdfast.helper=true`
 * with the pid and host of the run (so that leftovers can be told apart from
 * a live run's), and removed when their run settles.
 */
export const DEFAULT_HELPER_IMAGE = 'debian:stable-slim';

/** The helper image: a service's own setting, else HOLDFAST_HELPER_IMAGE, else a Debian image (GNU tar). */
export function helperImage(preferred?: string): string {
  return preferred || process.env.HOLDFAST_HELPER_IMAGE || DEFAULT_HELPER_IMAGE;
}

export function helperLabels(purpose: string): Record<string, string> {
  return { [HELPER_LABEL]: 'true', 'holdfast.purpose': purpose, 'holdfast.pid': String(process.pid), 'holdfast.hostname': hostname(), 'holdfast.state': stateTag() };
}

/** Which holdfast installation (state dir) made a helper: cleanup touches only its own. */
function stateTag(): string {
  return createHash('sha256').update(stateDir()).digest('hex').slice(0, 12);
}

/** Fails early, with what to do, when the helper image is not on the daemon (holdfast never pulls). */
export async function requireImage(api: DockerApi, image: string, service?: string): Promise<void> {
  if (await api.imagePresent(image)) return;
  throw new HoldfastError('tool', `the helper image ${image} is not on the Docker daemon at ${api.host}`, {
    service,
    hint: `docker pull ${image}, or set HOLDFAST_HELPER_IMAGE (or the label holdfast.helper-image) to an image you have; GNU tar in it keeps xattrs and sparse files`,
  });
}

export function runHelper(api: DockerApi, purpose: string, spec: Omit<RunSpec, 'labels'>): Promise<StreamRun> {
  return api.run({ ...spec, labels: helperLabels(purpose) });
}

/**
 * A helper that idles with the mounts in place, so that the work done while
 * writers are held is only `docker exec` (about 60 ms to start, against about
 * 250 ms for a new container): the hold window stays short.
 */
export interface IdleHelper {
  /** The helper container's id (none for a local runner with the same shape). */
  id?: string;
  exec(cmd: readonly string[], signal?: AbortSignal, options?: { stdin?: boolean }): Promise<StreamRun>;
  /** Removes the helper (also after an error). */
  stop(): Promise<void>;
}

/** Where a helper sees holdfast's FIFO directory (docker-fifo.ts). */
export const FIFO_DIR_IN_HELPER = '/holdfast/io';

export async function startIdleHelper(api: DockerApi, purpose: string, spec: Omit<RunSpec, 'labels' | 'cmd' | 'stdin'>): Promise<IdleHelper> {
  const cmd = ['sleep', '2147483647'];
  let run: StreamRun;
  try {
    run = await runHelper(api, purpose, { ...spec, cmd });
  } catch (error) {
    // holdfast in a container (its image): the FIFO directory is in its own
    // /tmp, which the daemon cannot bind ("bind source path does not exist").
    // The helper goes without it; FifoDir.verify then fails and the data takes the exec stream.
    const io = spec.mounts.find((m) => m.target === FIFO_DIR_IN_HELPER);
    if (!io || !String((error as Error)?.message).includes(io.source)) throw error;
    run = await runHelper(api, purpose, { ...spec, mounts: spec.mounts.filter((m) => m !== io), cmd });
  }
  run.stdout.resume();
  const id = run.containerId!;
  return {
    id,
    exec: (cmd, signal, options) => api.exec(id, { cmd, ...(signal ? { signal } : {}), ...(options?.stdin ? { stdin: true } : {}) }),
    stop: async () => {
      run.abort();
      await run.done.catch(() => undefined);
    },
  };
}

/** Runs a short helper command and returns its stdout; throws with its stderr on a non-zero exit. */
export async function helperText(api: DockerApi, purpose: string, spec: Omit<RunSpec, 'labels'>): Promise<{ stdout: string; exitCode: number | null; stderr: string }> {
  const run = await runHelper(api, purpose, spec);
  let stdout = '';
  run.stdout.setEncoding('utf8');
  run.stdout.on('data', (d: string) => (stdout += d));
  const exit = await run.done;
  return { stdout, ...exit };
}

/** Helper containers whose run is gone (another host's are left alone); for `discover` and cleanup. */
export async function leftoverHelpers(api: DockerApi, options: { ownOnly?: boolean } = {}): Promise<Array<{ id: string; name: string; pid: number }>> {
  const out: Array<{ id: string; name: string; pid: number }> = [];
  const label = [`${HELPER_LABEL}=true`, ...(options.ownOnly ? [`holdfast.state=${stateTag()}`] : [])];
  for (const id of await api.listContainers({ label })) {
    const c = await api.inspectContainer(id);
    if (!c) continue;
    const pid = Number(c.labels['holdfast.pid']);
    if (c.labels['holdfast.hostname'] !== hostname() || pidAlive(pid)) continue;
    out.push({ id, name: c.name, pid });
  }
  return out;
}

/** Removes the helpers of runs of this installation that died (kill -9 while a tar ran); they hold nothing. */
export async function removeLeftoverHelpers(api: DockerApi): Promise<string[]> {
  const removed: string[] = [];
  for (const h of await leftoverHelpers(api, { ownOnly: true })) {
    await api.remove(h.id);
    removed.push(h.name);
  }
  return removed;
}

export function pidAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
  return true;
}
