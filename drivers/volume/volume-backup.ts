import type { BackupContext, BackupResult, Fingerprint } from '../../src/core/driver.js';
import { HoldfastError, toHoldfastError } from '../../src/core/errors.js';
import type { ServiceMount } from '../../src/core/service.js';
import { artifactSlug } from '../../src/core/tool-artifact.js';
import type { DockerApi } from '../../src/docker/docker-api.js';
import { dockerApi } from '../../src/docker/docker-lazy.js';
import { helperImage, removeLeftoverHelpers, startIdleHelper, type IdleHelper } from '../../src/docker/docker-helper.js';
import { FifoDir } from '../../src/docker/docker-fifo.js';
import { holdContainers, type HoldWindow } from '../../src/docker/docker-holds.js';
import { holdOrder } from '../../src/docker/docker-order.js';
import { containerRecord } from '../../src/core/container-record.js';
import { VOLUME_STRATEGIES, volumePlace, type VolumeStrategy } from './volume-strategies.js';
import { droppedByFlavor, probeTar, type TarFlavor } from './volume-tar-flavor.js';
import { startCopy, type MountCopy } from './volume-tar-mount.js';
import { localMountPaths, localRunner } from './volume-local-tar.js';
import { findWriters, mountLabel, stateMounts, stopTimeoutOf } from './volume-mounts.js';

/** What the manifest keeps per copied mount: enough to recreate the volume and to restore it. */
export interface RecordedVolume {
  artifact: string;
  type: 'volume' | 'bind';
  source: string;
  destination: string;
  driver?: string;
  options?: Record<string, string>;
  labels?: Record<string, string>;
  entries: number;
  bytes: number;
  /** Device nodes in it: a restore recreates them only with --allow-devices. */
  devices?: string[];
  /** Symlinks in it that lead out of it (path -> text): a restore refuses any other. */
  outsideLinks?: Record<string, string>;
}

const SRC = '/holdfast/src';

/**
 * Strategies `tar`, `tar-pause`, `tar-live`: hold the writers (stop or
 * pause, dependents first), tar every read-write mount (on this machine when
 * the daemon's files are here, else from a helper container that mounts it
 * read-only), then resume the writers, in a finally
 * (and after a crash through the journal). The tar stream is read as it
 * passes: an archive without its end blocks, or a tar that exited non-zero,
 * fails the service and its artifact is dropped.
 */
export async function backupVolumes(ctx: BackupContext, strategy: VolumeStrategy): Promise<BackupResult> {
  const mode = VOLUME_STRATEGIES[strategy];
  const service = ctx.service;
  const api = await dockerApi();
  const mounts = stateMounts(service);
  for (const m of service.container?.mounts ?? []) {
    if (m.type === 'tmpfs') ctx.note(`tmpfs ${m.destination} is memory only and was not copied`);
    else if (m.readOnly) ctx.note(`read-only mount ${m.destination} (${m.source}) is not state and was not copied`);
  }
  // Independent Docker round trips, at once: every one of them is time before the hold.
  const helperTar = probeTar(api, helperImage(stringOption(service.options.helper_image)), service.name);
  const prep = await Promise.allSettled([
    removeLeftoverHelpers(api),
    helperTar,
    api.host.startsWith('unix://') ? FifoDir.create() : Promise.resolve(undefined),
    localMountPaths(api, service, mounts, helperTar),
  ] as const);
  // A missing helper image fails the backup only when the copy needs the helper (no local tar).
  const localOk = prep[3].status === 'fulfilled' && !('why' in prep[3].value) && prep[2].status === 'fulfilled' && !!prep[2].value;
  const failed = prep.find((p, i) => p.status === 'rejected' && !(i === 1 && localOk));
  if (failed) {
    if (prep[2].status === 'fulfilled') await prep[2].value?.remove();
    throw (failed as PromiseRejectedResult).reason;
  }
  const [removed, helperFlavor, io, local] = prep.map((p) => (p.status === 'fulfilled' ? p.value : undefined)) as [string[], TarFlavor, FifoDir | undefined, Awaited<ReturnType<typeof localMountPaths>>];
  if (removed.length) ctx.note(`removed helper containers left by runs that died: ${removed.join(', ')}`);
  const localWhyNot = 'why' in local ? local.why : undefined;
  const flavor = 'why' in local ? helperFlavor : local.tar;
  const dropped = droppedByFlavor(flavor);
  if (dropped.length) ctx.note(`${flavor.version} in ${flavor.image} drops ${dropped.join(', ')}; set HOLDFAST_HELPER_IMAGE to an image with GNU tar to keep them`);

  // tar runs here on the mounts' own paths, or in a helper that is started
  // before the hold, so that the window holds only the tar itself.
  let helper: IdleHelper;
  let dirs: string[];
  let channel: FifoDir | undefined;
  const ranHere = !('why' in local) && !!io;
  if (!('why' in local) && io) {
    helper = localRunner();
    dirs = local.dirs;
    channel = io.forLocalWriter();
  } else {
    try {
      helper = await startIdleHelper(api, 'backup', {
        image: flavor.image,
        mounts: [...mounts.map((m, i) => ({ type: m.type === 'bind' ? ('bind' as const) : ('volume' as const), source: m.source, target: `${SRC}/${i}`, readOnly: true })), ...(io ? [io.mount] : [])],
        signal: ctx.signal,
      });
    } catch (error) {
      await io?.remove();
      throw error;
    }
    dirs = mounts.map((_, i) => `${SRC}/${i}`);
    // Bulk data through a named pipe when the helper shares this machine's files (4x faster than the exec stream).
    channel = io && (await io.verify(helper)) ? io : undefined;
  }
  const volumes: RecordedVolume[] = [];
  const copies: Array<{ mount: ServiceMount; done: Promise<MountCopy> }> = [];
  const fingerprint: Fingerprint = { scope: 'full', items: {} };
  let failure: unknown;
  let windows: HoldWindow[] = [];
  let holdMs = 0;
  const holdMode = mode === 'none' ? undefined : mode;
  try {
    ctx.progress.phase(holdMode ? `${holdMode} writers` : 'tar (live)');
    const writers = holdMode ? holdOrder(await findWriters(api, mounts, service)) : [];
    const held = await holdContainers(api, holdMode ? writers.map((c) => ({ container: c, mode: holdMode, stopTimeoutSec: stopTimeoutOf(c), service: service.name })) : [], ctx.signal);
    const heldAt = Date.now();
    try {
      // The writers wait only for tar to read each mount; compressing and syncing the tail runs after they resume.
      for (const [index, mount] of mounts.entries()) {
        ctx.progress.phase(`tar ${mountLabel(mount)}`);
        const started = await startCopy(ctx, helper, channel, flavor, mount, dirs[index]!, `${artifactSlug(mountLabel(mount), index)}.tar`, mode === 'none');
        copies.push({ mount, done: started.done });
        await started.tarDone;
      }
    } catch (error) {
      failure = error;
    }
    holdMs = writers.length ? Date.now() - heldAt : 0;
    // tar is done with the helper: it goes while the writers start again and the artifacts are flushed.
    const stopping = helper.stop();
    try {
      windows = await held.release();
    } catch (error) {
      // Not resuming a writer is worse than a failed copy: say that first.
      const e = toHoldfastError(error, { service: service.name });
      throw failure ? new HoldfastError(e.code, `${e.message}; the copy failed too: ${(failure as Error).message}`, { service: service.name, ...(e.hint ? { hint: e.hint } : {}) }) : e;
    }
    ctx.progress.phase('store');
    const settledCopies = await Promise.allSettled(copies.map((c) => c.done));
    await stopping;
    for (const [i, settled] of settledCopies.entries()) {
      if (settled.status === 'rejected') failure ??= settled.reason;
      else {
        const mount = copies[i]!.mount;
        fingerprint.items[mountLabel(mount)] = { count: settled.value.entries, checksum: settled.value.checksum };
        volumes.push(await recordVolume(api, mount, settled.value));
      }
    }
  } finally {
    await helper.stop();
    await io?.remove();
  }
  if (failure) throw failure;
  for (const w of windows) if (w.action !== 'none') ctx.note(`${w.container} was ${w.action === 'stop' ? 'stopped' : 'paused'} for ${w.heldMs} ms`);
  return {
    details: {
      strategy: strategy,
      quiesce: mode,
      tar: flavor,
      holdMs,
      held: windows,
      volumes,
      fingerprintContents: ctx.fingerprintScope === 'full',
      transport: localWhyNot ? (channel ? 'fifo' : 'exec-stream') : 'local',
      // Where tar ran and why: this machine's, or a helper container's.
      place: ranHere ? volumePlace(flavor) : volumePlace(undefined, flavor),
      ...(localWhyNot ? { localTarSkipped: localWhyNot } : {}),
      fingerprintMethod: fingerprintMethod(ctx, channel, flavor),
      ...(service.container ? { container: containerRecord(service.container) } : {}),
    },
    ...(ctx.fingerprintScope === 'none' ? {} : { fingerprint }),
  };
}

/** Which fingerprint copyMount() takes, recorded so that a restore checks the same way. */
export function fingerprintMethod(ctx: BackupContext, channel: FifoDir | undefined, flavor: TarFlavor): 'tar-index' | 'stream' {
  return channel && flavor.kind === 'gnu' && ctx.fingerprintScope !== 'full' ? 'tar-index' : 'stream';
}

async function recordVolume(api: DockerApi, mount: ServiceMount, copy: MountCopy): Promise<RecordedVolume> {
  const type = mount.type === 'bind' ? 'bind' : 'volume';
  const volume = type === 'volume' ? await api.inspectVolume(mount.source) : undefined;
  return {
    artifact: copy.artifact,
    type,
    source: mount.source,
    destination: mount.destination,
    ...(volume ? { driver: volume.driver, options: volume.options, labels: volume.labels } : {}),
    entries: copy.entries,
    bytes: copy.bytes,
    ...(copy.outside.devices.length ? { devices: copy.outside.devices } : {}),
    ...(Object.keys(copy.outside.outsideLinks).length ? { outsideLinks: copy.outside.outsideLinks } : {}),
  };
}

function stringOption(value: unknown): string | undefined {
  return typeof value === 'string' && value ? value : undefined;
}
