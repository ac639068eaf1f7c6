import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import type { Fingerprint, OfferPlace, RestoreContext, RestoreResult } from '../../src/core/driver.js';
import { HoldfastError, toHoldfastError } from '../../src/core/errors.js';
import type { DockerApi, StreamExit } from '../../src/docker/docker-api.js';
import { dockerApi } from '../../src/docker/docker-lazy.js';
import { FifoDir, unblockWriter } from '../../src/docker/docker-fifo.js';
import { helperImage, helperText, removeLeftoverHelpers, startIdleHelper, type IdleHelper } from '../../src/docker/docker-helper.js';
import { holdContainers } from '../../src/docker/docker-holds.js';
import { holdOrder } from '../../src/docker/docker-order.js';
import type { RecordedVolume } from './volume-backup.js';
import { resolveDestinations, type Destination } from './volume-destinations.js';
import { stopTimeoutOf, usersOf } from './volume-mounts.js';
import { canRestore, createArgs, extractArgs, HOST_TAR, probeTar, type TarFlavor } from './volume-tar-flavor.js';
import { indexFingerprint } from './volume-tar-index.js';
import { auditFindArgs, parseFindOutput, unexpectedEntries } from './volume-tar-audit.js';
import { restoreAllowance, type OutsideEntries } from './volume-tar-outside.js';
import { scanArchive } from './volume-tar-scan.js';
import { fingerprintMount } from './volume-fingerprint.js';

const DST = '/holdfast/dst';

/**
 * Restores volume archives:
 * 1. reads every archive once and refuses it whole if a member would land
 *    outside the target (`..`, absolute paths, symlinks or hard links out,
 *    device nodes) or if it is cut short: nothing is touched before that;
 * 2. refuses a non-empty destination without --force;
 * 3. stops the containers that use a destination (journaled, always
 *    started again), creates missing volumes, empties (with --force) and
 *    extracts through a helper's stdin, keeping numeric owners, modes and
 *    what the recorded tar kept;
 * 4. fingerprints the restored tree the way the backup did.
 */
export async function restoreVolumes(ctx: RestoreContext): Promise<RestoreResult> {
  const service = ctx.source.name;
  const api = await dockerApi();
  await removeLeftoverHelpers(api);
  const recorded = (ctx.recorded.details.volumes as RecordedVolume[] | undefined) ?? [];
  if (recorded.length === 0) throw new HoldfastError('integrity', 'the snapshot records no volume for this service', { service });
  const destinations = await resolveDestinations(api, ctx, recorded);

  ctx.progress.phase('check archives');
  for (const d of destinations) await assertSafeArchive(ctx, d.recorded.artifact, d.recorded.source, d.recorded);

  const flavor = await restoreFlavor(api, ctx);
  for (const d of destinations) {
    if (await isNonEmpty(api, flavor, d)) {
      if (!ctx.force) {
        throw new HoldfastError('target', `${d.type} ${d.source} is not empty`, {
          service,
          hint: `restore into a new volume (--target ${service}=volume:NEW), or pass --force to replace its contents (its containers are stopped meanwhile)`,
        });
      }
      d.wipe = true;
    }
  }

  const users = new Map<string, Awaited<ReturnType<typeof usersOf>>[number]>();
  for (const d of destinations) for (const c of await usersOf(api, { type: d.type, source: d.source, destination: DST, readOnly: false })) users.set(c.id, c);
  const held = await holdContainers(api, holdOrder([...users.values()]).map((c) => ({ container: c, mode: 'stop' as const, stopTimeoutSec: stopTimeoutOf(c), service })), ctx.signal);
  let failure: unknown;
  try {
    for (const d of destinations) {
      ctx.progress.phase(`extract ${d.source}`);
      await create(api, d, service);
      await extract(ctx, api, flavor, { type: d.type, source: d.source, artifact: d.recorded.artifact, ...(d.wipe ? { wipe: true } : {}), ...(devicesAllowed(ctx, d.recorded) ? { devices: true } : {}), recorded: d.recorded });
    }
  } catch (error) {
    failure = error;
  }
  try {
    await held.release();
  } catch (error) {
    const e = toHoldfastError(error, { service });
    throw failure ? new HoldfastError(e.code, `${e.message}; the restore failed too: ${(failure as Error).message}`, { service, ...(e.hint ? { hint: e.hint } : {}) }) : e;
  }
  if (failure) throw failure;

  const fingerprint: Fingerprint = { scope: 'full', items: {} };
  if (ctx.recorded.fingerprint) {
    for (const d of destinations) {
      ctx.progress.phase(`fingerprint ${d.source}`);
      const scan =
        ctx.recorded.details.fingerprintMethod === 'tar-index'
          ? await listingFingerprint(api, flavor, d, ctx.signal)
          : await fingerprintMount(api, flavor, { type: d.type, source: d.source }, ctx.recorded.details.fingerprintContents === true);
      fingerprint.items[d.recorded.source] = { count: scan.entries, checksum: scan.checksum };
    }
  }
  return {
    location: destinations.map((d) => `${d.type}:${d.source}`).join(', '),
    ...(ctx.recorded.fingerprint ? { fingerprint } : {}),
    // tar extracts in a helper container (its mounts, its caps): that place, in the shape the backup records.
    details: { destinations: destinations.map((d) => ({ from: d.recorded.source, to: d.source, type: d.type })), tar: flavor, place: restorePlace(flavor), restartedContainers: [...users.values()].filter((c) => c.running).map((c) => c.name) },
  };
}

/** Where a restore's tar runs: always a helper container of the flavor's image, which mounts the destinations read-write. */
export function restorePlace(flavor: TarFlavor): OfferPlace {
  return { kind: 'sidecar', where: `in a helper container of ${flavor.image}`, reason: `${flavor.version} extracts into the volumes, mounted read-write` };
}

/** Device nodes are recreated only when the backup recorded them and the user said --allow-devices. */
function devicesAllowed(ctx: RestoreContext, recorded?: RecordedVolume): boolean {
  const option = ctx.options.allow_devices;
  return (option === true || option === 'true') && (recorded?.devices?.length ?? 0) > 0;
}

/**
 * Reads an archive once and refuses it whole if a member would land outside
 * the target (`..`, absolute paths, symlinks or hard links out, device
 * nodes) or could be read differently by tar (volume-tar-guard.ts), or if it
 * is cut short: nothing is touched before this passed. What the backup
 * recorded (`recorded`) may pass: its symlinks out of the volume, and its
 * device nodes with --allow-devices.
 */
export async function assertSafeArchive(ctx: RestoreContext, artifact: string, label: string, recorded?: RecordedVolume): Promise<void> {
  const service = ctx.source.name;
  const allow = restoreAllowance(recorded, devicesAllowed(ctx, recorded));
  const scan = await scanArchive(ctx.artifacts.open(artifact), false, allow).catch((error: unknown) => {
    throw new HoldfastError('integrity', `the archive of ${label} is not a readable tar: ${(error as Error).message}`, { service, hint: 'restore from another snapshot', cause: error });
  });
  if (scan.unsafeCount > 0) {
    const devices = recorded?.devices?.length && !devicesAllowed(ctx, recorded) && scan.unsafe.some((u) => u.endsWith(': a device node'));
    throw new HoldfastError('integrity', `the archive of ${label} has ${scan.unsafeCount} entries that would land outside the target or that tar could read otherwise: ${scan.unsafe.slice(0, 5).join('; ')}`, {
      service,
      hint: devices
        ? `nothing was extracted; the backup recorded ${recorded!.devices!.length} device nodes: pass --allow-devices to recreate them`
        : 'nothing was extracted; this archive cannot be restored safely (inspect it with zstd -dc ARTIFACT | tar -tv)',
    });
  }
  if (!scan.complete) throw new HoldfastError('integrity', `the archive of ${label} is truncated`, { service, hint: 'restore from another snapshot' });
}

/** The image the user chose (config or --target), else the default; the snapshot's own only with --force. */
export async function restoreFlavor(api: DockerApi, ctx: RestoreContext): Promise<TarFlavor> {
  const chosen = typeof ctx.target.options.helper_image === 'string' ? ctx.target.options.helper_image : undefined;
  return restoreTarFlavor(api, ctx.recorded.details.tar as TarFlavor | undefined, chosen, ctx.source.name, { force: ctx.force, note: ctx.note });
}

/**
 * The tar that restores an archive (as root, into the target):
 * HOLDFAST_HELPER_IMAGE, an image the user chose, else the default. The
 * image a manifest names is untrusted input (a snapshot may come from
 * elsewhere): it is used only with --force and when it is still on the
 * daemon, and either way the note says which image ran. Refused when it
 * would not restore what the recorded tar kept. Exported for rollback,
 * which checks this before it stops anything.
 */
export async function restoreTarFlavor(api: DockerApi, recorded: TarFlavor | undefined, chosenImage: string | undefined, service: string, options: { force?: boolean; note?: (text: string) => void } = {}): Promise<TarFlavor> {
  const chosen = process.env.HOLDFAST_HELPER_IMAGE || chosenImage;
  let image = chosen ?? helperImage();
  const named = recorded?.image;
  if (!chosen && named && named !== HOST_TAR && named !== image) {
    if (options.force && (await api.imagePresent(named))) {
      image = named;
      options.note?.(`extracting with the helper image ${named}, which the snapshot names (--force)`);
    } else {
      options.note?.(`the snapshot names the helper image ${named}; extracting with ${image} instead (set HOLDFAST_HELPER_IMAGE, or pass --force to use the snapshot's)`);
    }
  }
  const flavor = await probeTar(api, image, service);
  const problem = recorded ? canRestore(recorded, flavor) : undefined;
  if (problem) {
    throw new HoldfastError('tool', `${problem}: it would not restore faithfully`, {
      service,
      hint: `set HOLDFAST_HELPER_IMAGE to an image with GNU tar (the backup used ${recorded!.image})`,
    });
  }
  return flavor;
}

async function isNonEmpty(api: DockerApi, flavor: TarFlavor, d: Destination): Promise<boolean> {
  if (d.type === 'volume' && !(await api.inspectVolume(d.source))) return false;
  if (d.type === 'bind' && api.host.startsWith('unix://') && !existsSync(d.source)) return false;
  const out = await helperText(api, 'check', { image: flavor.image, cmd: ['ls', '-A', DST], mounts: [{ type: d.type, source: d.source, target: DST, readOnly: true }] });
  if (out.exitCode !== 0) {
    if (d.type === 'bind' && /No such file/i.test(out.stderr)) return false;
    throw new HoldfastError('target', `cannot look into ${d.type} ${d.source}: ${out.stderr.trim()}`, { hint: 'check that it exists and Docker may mount it' });
  }
  return out.stdout.trim() !== '';
}

/** Creates a missing volume (with the recorded driver, options and labels) or host directory, before any helper mounts it. */
async function create(api: DockerApi, d: Destination, service: string): Promise<void> {
  const r = d.recorded;
  if (d.type === 'volume' && !(await api.inspectVolume(d.source))) {
    await api.createVolume({
      name: d.source,
      ...(r.driver ? { driver: r.driver } : {}),
      ...(r.options ? { options: r.options } : {}),
      labels: { ...(r.labels ?? {}), 'holdfast.restored-from': r.source, 'holdfast.service': service },
    });
  }
  if (d.type === 'bind' && api.host.startsWith('unix://')) await mkdir(d.source, { recursive: true });
}

/** What extract() writes into: a volume or host directory, optionally a directory inside it. */
export interface ExtractTarget {
  type: 'volume' | 'bind';
  source: string;
  artifact: string;
  /** A relative path inside the mount to extract into (created; emptied first when `wipe`). */
  subdir?: string;
  /** Empty the target first (--force, or a directory holdfast owns). */
  wipe?: boolean;
  /** The archive may hold device nodes (recorded, --allow-devices): else tar runs without the capability to make one. */
  devices?: boolean;
  /** What the backup recorded of devices and outward symlinks: the audit after extraction lets exactly these stay. */
  recorded?: Partial<OutsideEntries>;
}

/**
 * Empties the target when asked (--force), then extracts the archive
 * into it: through a named pipe when the helper shares this machine's files
 * (zstd -d into dd into the pipe, no copy through Node), else through the
 * exec's stdin.
 */
export async function extract(ctx: RestoreContext, api: DockerApi, flavor: TarFlavor, d: ExtractTarget): Promise<void> {
  const service = ctx.source.name;
  const into = d.subdir ? `${DST}/${d.subdir}` : DST;
  const io = api.host.startsWith('unix://') ? await FifoDir.create() : undefined;
  try {
    // Without CAP_MKNOD no device node can appear, whatever tar makes of the archive.
    const capDrop = d.devices ? [] : ['MKNOD'];
    const helper = await startIdleHelper(api, 'restore', { image: flavor.image, mounts: [{ type: d.type, source: d.source, target: DST, readOnly: false }, ...(io ? [io.mount] : [])], capDrop, signal: ctx.signal });
    try {
      if (d.wipe) {
        // A fixed script: the names it removes come from the volume, never from a user.
        const out = d.subdir ? await helperExec(helper, ['rm', '-rf', into]) : await helperExec(helper, ['sh', '-c', `rm -rf ${DST}/* ${DST}/.[!.]* ${DST}/..?*`]);
        if (out.exitCode !== 0) throw new HoldfastError('target', `could not empty ${d.type} ${d.source}: ${out.stderr.trim()}`, { service });
      }
      if (d.subdir) {
        const out = await helperExec(helper, ['mkdir', '-p', into]);
        if (out.exitCode !== 0) throw new HoldfastError('target', `could not create ${d.subdir} in ${d.type} ${d.source}: ${out.stderr.trim()}`, { service });
      }
      const channel = io && (await io.verify(helper)) ? io : undefined;
      // A tar that failed half way may have left part of a hostile archive: the audit runs either way.
      const audited = () => auditExtracted(ctx, helper, d, into).then(() => undefined, (error: unknown) => error as Error);
      const exit = await (channel ? viaFifo(ctx, helper, channel, flavor, d, into) : viaStdin(ctx, helper, flavor, d, into)).catch(async (error: unknown) => {
        const found = await audited();
        throw found ?? error;
      });
      const found = await audited();
      if (exit.exitCode !== 0) {
        const tarSaid = `tar extract into ${d.type} ${d.source} exited with status ${exit.exitCode}: ${exit.stderr.trim().split('\n').slice(-4).join('\n')}`;
        if (found instanceof HoldfastError && found.code === 'integrity') throw new HoldfastError('integrity', `${found.message}; ${tarSaid}`, { service, ...(found.hint ? { hint: found.hint } : {}) });
        throw new HoldfastError('tool', tarSaid, { service, hint: 'the destination may hold part of the data: restore again with --force' });
      }
      if (found) throw found;
    } finally {
      await helper.stop();
    }
  } finally {
    await io?.remove();
  }
}

async function viaFifo(ctx: RestoreContext, helper: IdleHelper, channel: FifoDir, flavor: TarFlavor, d: ExtractTarget, into: string): Promise<StreamExit> {
  const fifo = await channel.fifo('in.tar');
  const run = await helper.exec(extractArgs(flavor, into, fifo.helper), ctx.signal);
  run.stdout.resume();
  // A tar that died before opening the pipe would leave dd waiting on it forever.
  void run.done.finally(() => unblockWriter(fifo.host));
  const [fed, exited] = await Promise.allSettled([ctx.artifacts.pipeToCommand(d.artifact, { command: 'dd', args: [`of=${fifo.host}`, 'bs=1M', 'status=none'] }), run.done]);
  if (exited.status === 'rejected') throw exited.reason;
  if (exited.value.exitCode === 0) {
    if (fed.status === 'rejected') throw fed.reason;
    // tar exits 0 only after the end-of-archive blocks: padding it did not read may break dd's pipe, harmlessly.
    if (fed.value.code !== 0 && !/Broken pipe/i.test(fed.value.stderr)) {
      throw new HoldfastError('tool', `feeding the archive into the pipe failed: ${fed.value.stderr.trim()}`, { service: ctx.source.name });
    }
  }
  return exited.value;
}

async function viaStdin(ctx: RestoreContext, helper: IdleHelper, flavor: TarFlavor, d: ExtractTarget, into: string): Promise<StreamExit> {
  const run = await helper.exec(extractArgs(flavor, into), ctx.signal, { stdin: true });
  run.stdout.resume();
  const source = ctx.artifacts.open(d.artifact);
  const fed = new Promise<void>((resolve, reject) => {
    source.once('error', (e) => {
      run.abort();
      reject(e);
    });
    run.stdin!.once('error', () => resolve()); // tar quit early: its exit says why
    source.pipe(run.stdin!).once('finish', resolve);
  });
  const [feeding, exited] = await Promise.allSettled([fed, run.done]);
  if (feeding.status === 'rejected') throw toHoldfastError(feeding.reason, { service: ctx.source.name });
  if (exited.status === 'rejected') throw exited.reason;
  return exited.value;
}

/** tar's listing of the restored tree, written to /dev/null (GNU tar then reads no file contents): see volume-tar-index.ts. */
async function listingFingerprint(api: DockerApi, flavor: TarFlavor, d: Destination, signal: AbortSignal) {
  if (flavor.kind !== 'gnu') throw new HoldfastError('tool', `the snapshot was checked with GNU tar's listing; ${flavor.image} has ${flavor.kind} tar`, { hint: 'set HOLDFAST_HELPER_IMAGE to an image with GNU tar' });
  const helper = await startIdleHelper(api, 'fingerprint', { image: flavor.image, mounts: [{ type: d.type, source: d.source, target: DST, readOnly: true }], signal });
  try {
    const run = await helper.exec(createArgs(flavor, DST, '/dev/null', ['--verbose', '--verbose', '--full-time']), signal);
    let listing = '';
    run.stdout.setEncoding('utf8');
    run.stdout.on('data', (chunk: string) => (listing += chunk));
    const exit = await run.done;
    if (exit.exitCode !== 0) throw new HoldfastError('tool', `listing ${d.source} for its fingerprint failed: ${exit.stderr.trim().slice(-300)}`);
    return indexFingerprint(listing);
  } finally {
    await helper.stop();
  }
}

/**
 * Reads what tar left (symlinks and device nodes, from the file system) and
 * removes what neither the archive check nor the backup's record allowed:
 * the archive check reads the archive with a parser of its own, this does
 * not depend on it agreeing with tar. When find fails in the helper, a note
 * says the audit did not run (device nodes still cannot appear: see capDrop).
 */
async function auditExtracted(ctx: RestoreContext, helper: IdleHelper, d: ExtractTarget, into: string): Promise<void> {
  const service = ctx.source.name;
  const run = await helper.exec(auditFindArgs(into), ctx.signal);
  const chunks: Buffer[] = [];
  run.stdout.on('data', (c: Buffer) => chunks.push(c));
  const exit = await run.done;
  if (exit.exitCode !== 0) {
    ctx.note(`${d.source}: the extracted tree was not audited (find in the helper: ${exit.stderr.trim().split('\n')[0] || `status ${exit.exitCode}`})`);
    return;
  }
  const bad = unexpectedEntries(parseFindOutput(Buffer.concat(chunks), into), d.recorded, d.devices === true);
  if (bad.length === 0) return;
  for (let i = 0; i < bad.length; i += 200) {
    const out = await helperExec(helper, ['rm', '-f', '--', ...bad.slice(i, i + 200).map((b) => `${into}/${b.path}`)]);
    if (out.exitCode !== 0) throw new HoldfastError('target', `could not remove unexpected entries from ${d.type} ${d.source}: ${out.stderr.trim()}`, { service });
  }
  const shown = bad.slice(0, 5).map((b) => (b.kind === 'device' ? `${b.path}: a device node` : `${b.path} -> ${b.target}`));
  throw new HoldfastError('integrity', `after extraction, ${d.type} ${d.source} held ${bad.length} ${bad.length === 1 ? 'entry' : 'entries'} the archive check did not allow (${shown.join('; ')}); they were removed`, {
    service,
    hint: 'this archive reads differently to tar than to holdfast (crafted or damaged): restore from another snapshot',
  });
}

async function helperExec(helper: IdleHelper, cmd: string[]): Promise<StreamExit> {
  const run = await helper.exec(cmd);
  run.stdout.resume();
  return run.done;
}
