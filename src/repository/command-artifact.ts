import { createHash } from 'node:crypto';
import { createWriteStream, fdatasync } from 'node:fs';
import { chmod, open, type FileHandle } from 'node:fs/promises';
import { PassThrough, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { ByteMeter, processMeter } from './byte-meter.js';
import type { CommandSpec } from '../core/driver.js';
import { HoldfastError } from '../core/errors.js';
import { lastLines, runCommandSpec, runTool, type ToolExit } from '../core/process.js';
import type { CompressionSettings } from './compression.js';
import type { WrittenArtifact } from './artifact-writer.js';

const FLUSH_EVERY_MS = 1000;

/**
 * Runs `spec` with its stdout connected straight to `zstd -o path`: the data
 * never passes through Node, which on a 2-core machine is worth ~15% of a
 * dump's wall time. While it runs, the new bytes of the file are hashed and
 * flushed to disk every second (so the final fsync is short and write-back
 * overlaps the dump), and feed the progress line. zstd -vv reports the exact
 * uncompressed size.
 */
export async function writeCommandArtifactFile(
  path: string,
  spec: CommandSpec,
  settings: CompressionSettings,
  options: { signal?: AbortSignal; onRawBytes?: (n: number) => void; onStoredBytes?: (n: number) => void } = {},
): Promise<WrittenArtifact & { exit: ToolExit }> {
  const copied = copiedFd(spec);
  const zstd = runTool('zstd', ['-vv', '-T0', `-${settings.level}`, '-o', path], { stdin: copied ?? 'pipe', stdout: 'ignore', signal: options.signal });
  // zstd's reads are the tool's raw output, which Node never sees.
  const rawMeter = processMeter(zstd.child.pid, 'read', options.onRawBytes);
  let tool;
  try {
    tool = copied === undefined ? runCommandSpec(spec, { stdout: zstd.stdin!, signal: options.signal }) : copyDone(zstd.done);
  } catch (error) {
    await stopZstd(zstd);
    await rawMeter.settle();
    throw error;
  } finally {
    // The tool holds the pipe's write end now; ours must close or zstd never sees the end.
    zstd.stdin?.destroy();
  }
  const follower = followFile(path, options.onStoredBytes);
  let zstdExit: ToolExit;
  let toolExit: ToolExit;
  try {
    [toolExit, zstdExit] = await Promise.all([tool.done, zstd.done.catch(withZstdHint)]);
  } catch (error) {
    // zstd must be gone before the caller discards the file: else it can create the file after the discard, and a
    // second write of the same name (a driver's fallback tool) finds it there (seen in CI: "out.zst already exists").
    await stopZstd(zstd, tool);
    await follower.stop().catch(() => undefined);
    await rawMeter.settle();
    throw error;
  }
  if (zstdExit.code !== 0) {
    await follower.stop();
    await rawMeter.settle();
    zstdFailed(zstdExit, path);
  }
  const { sha256, storedBytes } = await follower.finish();
  // zstd creates the file with the umask's mode (it has no option for it); the folder it is in is
  // private (0700) all along, and the file is made 0600 before anything else can see it.
  await chmod(path, 0o600);
  const rawBytes = reportedRawBytes(zstdExit) ?? (await countDecompressed(path));
  await rawMeter.settle(rawBytes);
  return { sha256, storedBytes, rawBytes, exit: toolExit };
}

/**
 * The encrypted repository's path: the tool's stdout goes straight into
 * zstd as above, but zstd's output passes through Node, to be hashed (the
 * checksum is of the compressed bytes) and sealed on its way to the file.
 * The file is flushed every second, as above.
 */
export async function writeSealedCommandArtifactFile(
  path: string,
  spec: CommandSpec,
  settings: CompressionSettings,
  seal: () => Transform,
  options: { signal?: AbortSignal; onRawBytes?: (n: number) => void; onStoredBytes?: (n: number) => void } = {},
): Promise<WrittenArtifact & { exit: ToolExit }> {
  const copied = copiedFd(spec);
  const zstd = runTool('zstd', ['-vv', '-T0', `-${settings.level}`, '-c'], { stdin: copied ?? 'pipe', stdout: 'pipe', signal: options.signal });
  const rawMeter = processMeter(zstd.child.pid, 'read', options.onRawBytes);
  let tool;
  try {
    tool = copied === undefined ? runCommandSpec(spec, { stdout: zstd.stdin!, signal: options.signal }) : copyDone(zstd.done);
  } finally {
    zstd.stdin?.destroy();
  }
  const hasher = new ByteMeter({ sha256: true, onBytes: options.onStoredBytes });
  const file = createWriteStream(path, { flags: 'wx', mode: 0o600 });
  let fd: number | undefined;
  file.once('open', (opened: number) => (fd = opened));
  file.once('close', () => (fd = undefined));
  const flusher = setInterval(() => {
    if (fd !== undefined) fdatasync(fd, () => undefined);
  }, FLUSH_EVERY_MS);
  let toolExit: ToolExit;
  let zstdExit: ToolExit;
  try {
    [toolExit, zstdExit] = await Promise.all([tool.done, zstd.done.catch(withZstdHint), pipeline(zstd.stdout!, hasher, seal(), file, { signal: options.signal })]);
  } catch (error) {
    await stopZstd(zstd, tool);
    await rawMeter.settle();
    throw error;
  } finally {
    clearInterval(flusher);
  }
  if (zstdExit.code !== 0) {
    await rawMeter.settle();
    zstdFailed(zstdExit, path);
  }
  const handle = await open(path, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
  const rawBytes = reportedRawBytes(zstdExit);
  await rawMeter.settle(rawBytes);
  if (rawBytes === undefined) {
    throw new HoldfastError('tool', 'zstd did not report the size it compressed', { hint: 'install zstd 1.4 or newer (Debian/Ubuntu: apt-get install zstd)' });
  }
  return { sha256: hasher.sha256(), storedBytes: hasher.bytes, rawBytes, exit: toolExit };
}

/** Stops zstd (and the tool that feeds it) and waits until both have exited: nothing writes the file afterwards. */
async function stopZstd(zstd: { child: { kill(signal: NodeJS.Signals): boolean }; done: Promise<ToolExit> }, tool?: { child?: { kill(signal: NodeJS.Signals): boolean }; done: Promise<unknown> }): Promise<void> {
  zstd.child.kill('SIGTERM');
  tool?.child?.kill('SIGTERM');
  await Promise.allSettled([zstd.done, tool?.done]);
}

/**
 * `cat` of an open descriptor with no arguments (a pipe out of a container, container-pipe.ts) only copies it:
 * zstd reads the descriptor itself, one process and one copy of every byte fewer.
 */
function copiedFd(spec: CommandSpec): number | undefined {
  return spec.command === 'cat' && spec.args.length === 0 && spec.stdinFd !== undefined && !spec.exited ? spec.stdinFd : undefined;
}

/** The copy that did not run: it "exits" 0 when zstd has read everything (zstd's own failure is reported as zstd's). */
function copyDone(zstdDone: Promise<ToolExit>): { done: Promise<ToolExit>; child: { kill: (signal?: NodeJS.Signals) => boolean } } {
  return { done: zstdDone.then(() => ({ code: 0, signal: null, stderr: '' }), () => ({ code: 0, signal: null, stderr: '' })), child: { kill: () => false } };
}

function zstdFailed(exit: ToolExit, path: string): never {
  const tail = lastLines(exit.stderr, 3);
  if (/No space left on device/i.test(tail)) {
    throw new HoldfastError('no-space', `no space left on the device while writing ${path}`, {
      hint: 'free space on the repository disk or point --repo at a larger one; nothing was committed',
    });
  }
  throw new HoldfastError('repository', `zstd failed writing ${path}: ${tail}`, { hint: 'check the repository disk' });
}

/** zstd -vv prints `(RAW B => STORED B, ...)`, RAW padded with spaces when small: the exact uncompressed size. */
function reportedRawBytes(exit: ToolExit): number | undefined {
  const sizes = /\(\s*(\d+) B =>/.exec(exit.stderr);
  return sizes ? Number(sizes[1]) : undefined;
}

function withZstdHint(error: unknown): never {
  if (error instanceof HoldfastError && error.code === 'tool') {
    throw new HoldfastError('tool', error.message, { hint: 'install zstd (Debian/Ubuntu: apt-get install zstd) so that holdfast can compress' });
  }
  throw error;
}

/**
 * Follows the file zstd appends to: every second it hashes the new bytes
 * (from the page cache) and flushes them to disk, so that neither the hash
 * nor the final fsync has to start from zero when the dump ends.
 */
function followFile(path: string, onStoredBytes?: (n: number) => void) {
  const hash = createHash('sha256');
  const buffer = Buffer.allocUnsafe(1 << 20);
  let handle: FileHandle | undefined;
  let offset = 0;
  let busy: Promise<void> = Promise.resolve();
  const catchUp = async () => {
    handle ??= await open(path, 'r').catch(() => undefined);
    if (!handle) return;
    const before = offset;
    for (;;) {
      const { bytesRead } = await handle.read(buffer, 0, buffer.length, offset);
      if (bytesRead === 0) break;
      hash.update(buffer.subarray(0, bytesRead));
      offset += bytesRead;
    }
    if (offset > before) onStoredBytes?.(offset - before);
  };
  const timer = setInterval(() => {
    busy = busy.then(async () => {
      await catchUp();
      await handle?.datasync();
    }).catch(() => undefined);
  }, FLUSH_EVERY_MS);
  const stop = async () => {
    clearInterval(timer);
    await busy;
  };
  return {
    stop: async () => {
      await stop();
      await handle?.close().catch(() => undefined);
    },
    /** After zstd exited: hash the rest, fsync, close. */
    finish: async (): Promise<{ sha256: string; storedBytes: number }> => {
      await stop();
      try {
        await catchUp();
        if (!handle) handle = await open(path, 'r');
        await handle.sync();
        const size = (await handle.stat()).size;
        if (size !== offset) throw new HoldfastError('internal', `${path} changed while it was hashed (${size} != ${offset} bytes)`);
      } finally {
        await handle?.close().catch(() => undefined);
      }
      return { sha256: hash.digest('hex'), storedBytes: offset };
    },
  };
}

/** Fallback for a zstd that does not print exact sizes: decompress and count. */
async function countDecompressed(path: string): Promise<number> {
  const run = runTool('zstd', ['-q', '-d', '-c', path]);
  let n = 0;
  const counter = new PassThrough();
  counter.on('data', (c: Buffer) => (n += c.length));
  await pipeline(run.stdout!, counter);
  await run.done;
  return n;
}
