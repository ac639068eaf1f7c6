import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { BackupContext } from '../../src/core/driver.js';
import { HoldfastError } from '../../src/core/errors.js';
import type { ServiceMount } from '../../src/core/service.js';
import type { StreamExit } from '../../src/docker/docker-api.js';
import { readFifo, unblockFifoReader, type FifoDir } from '../../src/docker/docker-fifo.js';
import type { IdleHelper } from '../../src/docker/docker-helper.js';
import { createArgs, HOST_TAR, type TarFlavor } from './volume-tar-flavor.js';
import { indexArgs, indexFingerprint } from './volume-tar-index.js';
import { outsideFromListing, type OutsideEntries } from './volume-tar-outside.js';
import { TarScanner } from './volume-tar-scan.js';

export interface MountCopy {
  artifact: string;
  entries: number;
  bytes: number;
  checksum: string;
  unsafe: string[];
  /** Device nodes and symlinks out of the volume: recorded, so that a restore lets exactly these through. */
  outside: OutsideEntries;
}

/**
 * Copies one mount (mounted read-only at `dir` in the helper) into the
 * artifact `name`, by the cheapest path that still checks the copy:
 * - `index` (GNU tar, a shared FIFO directory, no content fingerprint): tar
 *   writes into a named pipe that `dd` reads straight into zstd, so the
 *   bytes never pass through Node; tar's own listing gives the fingerprint;
 * - `stream` (busybox tar, a remote daemon, or --fingerprint full): the
 *   archive passes through Node, which checks that it is whole,
 *   fingerprints it (contents too) and lists entries that point outside.
 * Either way a tar or dd that exits non-zero fails the service, and the
 * artifact is dropped (a live copy's "file changed as we read it" aside).
 */
export interface StartedCopy {
  /** Settles once tar has read the whole mount: the writers may run again from then on. */
  tarDone: Promise<void>;
  /** Settles once the artifact is stored (compressed, hashed, on disk) and checked. */
  done: Promise<MountCopy>;
}

export async function startCopy(
  ctx: BackupContext,
  helper: IdleHelper,
  channel: FifoDir | undefined,
  flavor: TarFlavor,
  mount: ServiceMount,
  dir: string,
  name: string,
  live: boolean,
  meta: { kind: string; label?: string } = { kind: 'volume-tar' },
): Promise<StartedCopy> {
  const label = mount.source;
  const record = { kind: meta.kind, label: meta.label ?? label };
  const useIndex = channel && flavor.kind === 'gnu' && ctx.fingerprintScope !== 'full';
  const discard = async (error: unknown): Promise<never> => {
    await ctx.artifacts.discard(name).catch(() => undefined);
    throw error;
  };
  const started = await (useIndex ? viaIndex(ctx, helper, channel, flavor, dir, name, label, record) : viaStream(ctx, helper, channel, flavor, dir, name, label, record)).catch(discard);
  const done = started.finish.then((result) => {
    const tail = result.tar.stderr.trim().split('\n').slice(-4).join('\n');
    // GNU tar exits 1 when a file changed while it was read: expected only for a live copy.
    const liveChange = live && flavor.kind === 'gnu' && result.tar.exitCode === 1;
    if (result.tar.exitCode !== 0 && !liveChange) {
      throw new HoldfastError('tool', `tar of ${label} ${flavor.image === HOST_TAR ? 'on this machine' : `in ${flavor.image}`} exited with status ${result.tar.exitCode}${tail ? `: ${tail}` : ''}`, {
        service: ctx.service.name,
        hint: /Not a directory/.test(tail) ? `${label} is a single file: mount its directory instead` : 'check the volume and the helper image; nothing was stored for this service',
      });
    }
    if (liveChange) ctx.note(`${label}: files changed while tar read them (a live copy): ${tail}`);
    const devices = result.copy.outside.devices;
    if (devices.length) ctx.note(`${label}: ${devices.length} device nodes (e.g. ${devices.slice(0, 3).join(', ')}); a restore recreates them only with --allow-devices`);
    return { artifact: name, ...result.copy };
  }).catch(discard);
  done.catch(() => undefined); // judged by the caller, after the writers are resumed
  return { tarDone: started.tarDone.then(() => undefined, () => undefined), done };
}

type RecordMeta = { kind: string; label: string };

async function viaIndex(ctx: BackupContext, helper: IdleHelper, channel: FifoDir, flavor: TarFlavor, dir: string, name: string, label: string, record: RecordMeta) {
  if (channel.local) return viaLocalIndex(ctx, channel, flavor, dir, name, label, record);
  const fifo = await channel.fifo(`${name}.fifo`);
  const index = `${name}.index`;
  const run = await helper.exec(createArgs(flavor, dir, fifo.helper, indexArgs(`${fifo.helper.replace(/[^/]+$/, '')}${index}`)), ctx.signal);
  run.stdout.resume();
  // dd blocks in open() until tar opens its end; a tar that died first would leave it there.
  void run.done.finally(() => unblockFifoReader(fifo.host));
  const writing = ctx.artifacts.writeCommand(name, { command: 'dd', args: [`if=${fifo.host}`, 'bs=1M', 'status=none'] }, record);
  const finish = (async () => {
    const [written, exited] = await Promise.allSettled([writing, run.done]);
    if (exited.status === 'rejected') throw exited.reason;
    if (written.status === 'rejected') throw written.reason;
    if (exited.value.exitCode === 0 && written.value.exit.code !== 0) {
      throw new HoldfastError('tool', `reading the tar stream of ${label} failed: ${written.value.exit.stderr.trim()}`, { service: ctx.service.name });
    }
    const listing = await readFile(join(channel.dir, index), 'utf8').catch(() => '');
    if (exited.value.exitCode === 0 && !listing) throw new HoldfastError('tool', `tar wrote no listing for ${label}`, { service: ctx.service.name });
    const fp = indexFingerprint(listing);
    return { tar: exited.value, copy: { entries: fp.entries, bytes: fp.bytes, checksum: fp.checksum, unsafe: [] as string[], outside: outsideFromListing(listing) } };
  })();
  return { tarDone: run.done, finish };
}

/**
 * tar on this machine, run by the repository's writer itself: its stdout
 * goes straight into the compressor (no FIFO, no dd), and the writers
 * resume as soon as tar exits, through the command's `exited` hook (a
 * writer that does not call it resumes them once the artifact is stored).
 */
async function viaLocalIndex(ctx: BackupContext, channel: FifoDir, flavor: TarFlavor, dir: string, name: string, label: string, record: RecordMeta) {
  const index = join(channel.dir, `${name}.index`);
  let tarExited!: () => void;
  const exited = new Promise<void>((resolve) => (tarExited = resolve));
  const [command, ...args] = createArgs(flavor, dir, '-', indexArgs(index));
  const writing = ctx.artifacts.writeCommand(name, { command: command!, args, exited: () => tarExited() }, record);
  const finish = (async () => {
    const { exit } = await writing;
    const listing = await readFile(index, 'utf8').catch(() => '');
    if (exit.code === 0 && !listing) throw new HoldfastError('tool', `tar wrote no listing for ${label}`, { service: ctx.service.name });
    const fp = indexFingerprint(listing);
    return { tar: { exitCode: exit.code, stderr: exit.stderr }, copy: { entries: fp.entries, bytes: fp.bytes, checksum: fp.checksum, unsafe: [] as string[], outside: outsideFromListing(listing) } };
  })();
  return { tarDone: Promise.race([exited, writing]), finish };
}

async function viaStream(ctx: BackupContext, helper: IdleHelper, channel: FifoDir | undefined, flavor: TarFlavor, dir: string, name: string, label: string, record: RecordMeta) {
  const fifo = channel ? await channel.fifo(`${name}.fifo`) : undefined;
  const reader = fifo ? readFifo(fifo.host, ctx.signal) : undefined;
  const run = await helper.exec(createArgs(flavor, dir, fifo?.helper), ctx.signal).catch((error: unknown) => {
    reader?.writerDone();
    throw error;
  });
  const source = reader ? reader.stream : run.stdout;
  if (reader) {
    run.stdout.resume();
    void run.done.finally(() => reader.writerDone());
  }
  const scanner = new TarScanner({ contents: ctx.fingerprintScope === 'full', record: true });
  source.on('error', (e) => scanner.destroy(e));
  source.pipe(scanner);
  const writing = ctx.artifacts.write(name, scanner, record);
  // Either side failing must stop the other, or tar blocks on a pipe nobody reads.
  writing.catch(() => {
    run.abort();
    reader?.stream.destroy();
    reader?.writerDone();
  });
  run.done.catch((e: Error) => scanner.destroy(e));
  const finish = (async () => {
    const [written, exited] = await Promise.allSettled([writing, run.done]);
    if (written.status === 'rejected') {
      run.abort();
      throw written.reason;
    }
    if (exited.status === 'rejected') throw exited.reason;
    const dd = reader ? await reader.done : undefined;
    if (exited.value.exitCode === 0 && dd && dd.code !== 0) throw new HoldfastError('tool', `reading the tar stream of ${label} failed: ${dd.stderr.trim()}`, { service: ctx.service.name });
    const scan = scanner.result();
    if (exited.value.exitCode === 0 && !scan.complete) {
      throw new HoldfastError('tool', `the tar stream of ${label} ended without its end-of-archive blocks (truncated)`, { service: ctx.service.name, hint: 'run the backup again' });
    }
    if (scan.unsafeCount) ctx.note(`${label}: ${scan.unsafeCount} entries point outside the volume and a restore will refuse them, e.g. ${scan.unsafe.slice(0, 3).join('; ')}`);
    const tar: StreamExit = exited.value;
    return { tar, copy: { entries: scan.entries, bytes: scan.bytes, checksum: scan.checksum, unsafe: scan.unsafe, outside: scan.outside } };
  })();
  return { tarDone: run.done, finish };
}
