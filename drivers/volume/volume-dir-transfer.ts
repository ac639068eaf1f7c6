import type { BackupContext, RestoreContext } from '../../src/core/driver.js';
import { HoldfastError } from '../../src/core/errors.js';
import type { ServiceMount } from '../../src/core/service.js';
import { dockerApi } from '../../src/docker/docker-lazy.js';
import { FifoDir } from '../../src/docker/docker-fifo.js';
import { helperImage, helperText, removeLeftoverHelpers, startIdleHelper, type IdleHelper } from '../../src/docker/docker-helper.js';
import { assertSafeArchive, extract, restoreFlavor } from './volume-restore.js';
import { probeTar, type TarFlavor } from './volume-tar-flavor.js';
import { startCopy } from './volume-tar-mount.js';

/** A directory inside a volume or bind mount, as another engine's driver names it (an OpenSearch repository). */
export interface MountedDir {
  type: 'volume' | 'bind';
  /** Volume name or host path. */
  source: string;
  /** Relative path inside the mount; '' for the whole mount. */
  subdir: string;
}

const AT = '/holdfast/src';

/**
 * Copies one directory of a volume into an artifact, the way the volume
 * strategy copies a mount (a helper container mounting it read-only, GNU tar
 * through a named pipe when the helper shares this machine's files), but
 * without holding any writer: the caller has made sure nothing writes there.
 */
export async function copyDirOut(ctx: BackupContext, dir: MountedDir, artifact: string, meta: { kind: string; label?: string }): Promise<{ tar: TarFlavor; transport: 'fifo' | 'exec-stream'; entries: number; bytes: number }> {
  const api = await dockerApi();
  await removeLeftoverHelpers(api);
  const flavor = await probeTar(api, helperImage(stringOption(ctx.service.options.helper_image)), ctx.service.name);
  const io = api.host.startsWith('unix://') ? await FifoDir.create() : undefined;
  let helper: IdleHelper | undefined;
  try {
    helper = await startIdleHelper(api, 'backup', { image: flavor.image, mounts: [{ type: dir.type, source: dir.source, target: AT, readOnly: true }, ...(io ? [io.mount] : [])], signal: ctx.signal });
    const channel = io && (await io.verify(helper)) ? io : undefined;
    const mount: ServiceMount = { type: dir.type, source: dir.source, destination: AT, readOnly: true };
    const started = await startCopy(ctx, helper, channel, flavor, mount, dir.subdir ? `${AT}/${dir.subdir}` : AT, artifact, false, meta);
    const copy = await started.done;
    return { tar: flavor, transport: channel ? 'fifo' : 'exec-stream', entries: copy.entries, bytes: copy.bytes };
  } finally {
    await helper?.stop();
    await io?.remove();
  }
}

/**
 * Extracts an artifact into a directory of a volume (created, emptied
 * first), through a helper that mounts it read-write. The archive is read
 * once before anything is written and refused whole if a member would land
 * outside that directory.
 */
export async function copyDirIn(ctx: RestoreContext, dir: MountedDir, artifact: string): Promise<TarFlavor> {
  await assertSafeArchive(ctx, artifact, `${dir.source}/${dir.subdir}`);
  const api = await dockerApi();
  await removeLeftoverHelpers(api);
  const flavor = await restoreFlavor(api, ctx);
  await extract(ctx, api, flavor, { type: dir.type, source: dir.source, artifact, ...(dir.subdir ? { subdir: dir.subdir } : {}), wipe: true });
  // The helper's tar that extracted: the caller's restore place (volume-restore.ts restorePlace).
  return flavor;
}

/** Removes a directory holdfast put into a volume (a restore's scratch copy); the mount itself stays. */
export async function removeDirIn(dir: MountedDir, service: string, preferredImage?: string): Promise<void> {
  if (!dir.subdir) throw new HoldfastError('usage', 'refusing to remove a whole mount', { service });
  const api = await dockerApi();
  const flavor = await probeTar(api, helperImage(preferredImage), service);
  const out = await helperText(api, 'cleanup', { image: flavor.image, cmd: ['rm', '-rf', `${AT}/${dir.subdir}`], mounts: [{ type: dir.type, source: dir.source, target: AT, readOnly: false }] });
  if (out.exitCode !== 0) throw new HoldfastError('target', `could not remove ${dir.subdir} from ${dir.type} ${dir.source}: ${out.stderr.trim()}`, { service });
}

function stringOption(value: unknown): string | undefined {
  return typeof value === 'string' && value ? value : undefined;
}
