import { stat } from 'node:fs/promises';
import { HoldfastError } from '../../src/core/errors.js';
import type { Service, ServiceMount } from '../../src/core/service.js';
import { runTool } from '../../src/core/process.js';
import type { DockerApi, StreamRun } from '../../src/docker/docker-api.js';
import type { IdleHelper } from '../../src/docker/docker-helper.js';
import { daemonFilesElsewhere } from '../../src/docker/docker-local-files.js';
import { probeHostTar, type TarFlavor } from './volume-tar-flavor.js';

/**
 * The mounts' paths on this machine, when tar can read them here rather
 * than in a helper container: the daemon's files are this machine's
 * (docker-local-files.ts), every volume is a plain `local` one (a volume
 * with driver options is an NFS or device mount that Docker mounts only
 * while a container uses it), every bind mount is a directory, and the
 * host has GNU tar. The helper costs a container start, a FIFO check and
 * a stop per backup, and its FIFO a second pipe hop (bench/README.md).
 *
 * HOLDFAST_VOLUME_TAR: `auto` (the default) takes this path when every
 * check passes, else the helper, and records why; `helper` always takes
 * the helper; `local` insists and fails with the reason (with no container
 * on the daemon to prove its data root by, the user's word is taken).
 */
export async function localMountPaths(api: DockerApi, service: Service, mounts: readonly ServiceMount[], helperTar: Promise<TarFlavor>): Promise<{ dirs: string[]; tar: TarFlavor } | { why: string }> {
  const mode = volumeTarMode();
  if (mode === 'helper') return { why: 'HOLDFAST_VOLUME_TAR=helper' };
  let found = await localPaths(api, service, mounts, mode === 'local');
  if (!('why' in found)) {
    // No helper image on the daemon: this machine's tar is the only one, and no helper is needed to copy.
    const helper = await helperTar.catch(() => undefined);
    const misfit = helper ? localTarFits(found.tar, helper) : undefined;
    if (misfit) found = { why: misfit };
  }
  if ('why' in found && mode === 'local') {
    throw new HoldfastError('config', `HOLDFAST_VOLUME_TAR=local, but tar cannot run on this machine: ${found.why}`, {
      service: service.name,
      hint: 'unset HOLDFAST_VOLUME_TAR (or set it to auto or helper) to copy through a helper container',
    });
  }
  return found;
}

/**
 * This machine's tar for the mounts, when it can copy them here (as
 * localMountPaths in `auto` mode, without a helper to compare with), else
 * undefined: for a plan whose helper image is missing, which then needs no
 * helper to back up.
 */
export async function localTarWithoutHelper(api: DockerApi, service: Service, mounts: readonly ServiceMount[]): Promise<TarFlavor | undefined> {
  if (volumeTarMode() === 'helper') return undefined;
  const found = await localPaths(api, service, mounts, false).catch(() => ({ why: 'unknown' }));
  return 'why' in found ? undefined : found.tar;
}

function volumeTarMode(): 'auto' | 'helper' | 'local' {
  const mode = process.env.HOLDFAST_VOLUME_TAR || 'auto';
  if (mode === 'auto' || mode === 'helper' || mode === 'local') return mode;
  throw new HoldfastError('config', `HOLDFAST_VOLUME_TAR=${mode} is not one of auto, helper, local`, { hint: 'unset it for the default (auto)' });
}

async function localPaths(api: DockerApi, service: Service, mounts: readonly ServiceMount[], insisted: boolean): Promise<{ dirs: string[]; tar: TarFlavor } | { why: string }> {
  const elsewhere = await dataRootElsewhere(api, service, insisted);
  if (elsewhere) return { why: elsewhere };
  const tar = await probeHostTar();
  if (tar?.kind !== 'gnu') return { why: 'this machine has no GNU tar' };
  const dirs: string[] = [];
  for (const m of mounts) {
    const found = await localDir(api, m);
    if (typeof found !== 'string') return found;
    dirs.push(found);
  }
  return { dirs, tar };
}

/**
 * Why the daemon's files are not this machine's, proven by a container's own directory under the data root: the
 * service's container, else any on the daemon. Another's container may be removed while it is checked (a compose
 * project going down): then the next one is asked, not the copy moved to a helper for a container that is gone.
 */
async function dataRootElsewhere(api: DockerApi, service: Service, insisted: boolean): Promise<string | undefined> {
  const witnesses = service.container?.id ? [service.container.id] : await api.listContainers();
  if (!witnesses.length) return insisted ? daemonFilesElsewhere(api, undefined) : 'no container on the daemon to check its data root by';
  let why: string | undefined;
  for (const witness of witnesses.slice(0, 5)) {
    why = await daemonFilesElsewhere(api, witness);
    if (!why || (await api.inspectContainer(witness))) return why;
  }
  return why;
}

async function localDir(api: DockerApi, m: ServiceMount): Promise<string | { why: string }> {
  let dir = m.source;
  if (m.type === 'volume') {
    const v = await api.inspectVolume(m.source);
    if (!v) return { why: `volume ${m.source} is gone` };
    if (v.driver !== 'local' || Object.keys(v.options).length) return { why: `volume ${m.source} is mounted by its driver (${v.driver}${Object.keys(v.options).length ? ' with options' : ''})` };
    dir = v.mountpoint;
  } else if (m.type !== 'bind') return { why: `${m.destination} is a ${m.type} mount` };
  const s = await stat(dir).catch(() => undefined);
  return s?.isDirectory() ? dir : { why: `${dir} is not a directory here` };
}

/**
 * Can the archives a local tar writes be restored by the helper image, with
 * everything the helper's own tar would have kept? Both GNU, and the host's
 * keeps at least what the helper's keeps.
 */
function localTarFits(local: TarFlavor, helper: TarFlavor): string | undefined {
  if (helper.kind !== 'gnu') return `the helper image ${helper.image} has ${helper.kind} tar, which restores only its own archives`;
  const missing = helper.features.filter((f) => !local.features.includes(f));
  return missing.length ? `this machine's tar lacks ${missing.join(', ')}` : undefined;
}

/** Runs commands on this machine with the shape of a helper container (exec, stop). */
export function localRunner(): IdleHelper {
  return {
    exec: async (cmd, signal) => localRun(cmd, signal),
    stop: async () => undefined,
  };
}

function localRun(cmd: readonly string[], signal?: AbortSignal): StreamRun {
  const run = runTool(cmd[0]!, cmd.slice(1), { stdout: 'pipe', ...(signal ? { signal } : {}) });
  return {
    stdout: run.stdout!,
    done: run.done.then((exit) => ({ exitCode: exit.code, stderr: exit.stderr })),
    abort: () => run.child.kill('SIGTERM'),
  };
}
