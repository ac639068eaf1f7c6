import { createReadStream, createWriteStream } from 'node:fs';
import { chmod } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { CommandSpec } from '../core/driver.js';
import { HoldfastError } from '../core/errors.js';
import { lastLines, runTool, type ToolExit, type ToolRun } from '../core/process.js';
import { checksumGuard, type Unseal } from './artifact-reader.js';
import { ByteMeter, processMeter } from './byte-meter.js';
import type { ArtifactRecord } from './manifest.js';

function corrupt(where: string, exit: ToolExit): HoldfastError {
  return new HoldfastError('integrity', `artifact ${where} does not decompress: ${lastLines(exit.stderr, 2)}`, {
    hint: 'this artifact cannot be trusted: restore from another snapshot, and run `holdfast check --read-data`',
  });
}

/**
 * Where zstd -d reads from: a plain file it opens itself, or streams fed to
 * its stdin (a file decrypted in Node; an object store's GET checked against
 * the manifest on the way).
 */
type Packed = string | NodeJS.ReadableStream[];

/** stream/promises' pipeline over an array, whose overloads TypeScript cannot pick for a mixed list. */
const pipelineAll = (streams: Array<NodeJS.ReadableStream | NodeJS.WritableStream>, signal?: AbortSignal): Promise<void> =>
  (pipeline as unknown as (streams: unknown[], options: { signal?: AbortSignal }) => Promise<void>)(streams, { signal });

function fileInput(path: string, unseal?: Unseal): Packed {
  return unseal ? [createReadStream(path, { highWaterMark: 1 << 20 }), unseal()] : path;
}

function streamInput(stored: Readable, record: ArtifactRecord, where: string): Packed {
  return [stored, checksumGuard(record, where)];
}

type Compression = ArtifactRecord['compression'];

/**
 * Starts `zstd -d` on stored bytes (`cat` for an artifact stored
 * uncompressed, as restic-sourced ones are). `feeding` rejects with the
 * stream's own error ('integrity' for a failed decryption or checksum).
 */
function startUnpacker(input: Packed, args: string[], stdout: ToolRun['stdin'] | 'ignore', signal?: AbortSignal, compression: Compression = 'zstd', onRawBytes?: (n: number) => void): { zstd: ToolRun; feeding: Promise<void>; meter: { settle(): Promise<void> } } {
  const out = stdout ?? 'ignore';
  const [tool, toolArgs] = compression === 'none' ? ['cat', []] : ['zstd', args];
  const start = (run: ToolRun) => ({ zstd: run, meter: processMeter(run.child.pid, 'written', onRawBytes) });
  if (typeof input === 'string') return { ...start(runTool(tool, [...toolArgs, input], { stdout: out, signal })), feeding: Promise.resolve() };
  const { zstd, meter } = start(runTool(tool, toolArgs, { stdin: 'pipe', stdout: out, signal }));
  const feeding = pipelineAll([...input, zstd.stdin!], signal).catch((error: NodeJS.ErrnoException) => {
    // zstd stopped reading (its consumer ended early, or it failed): its own exit tells.
    if (error.code === 'EPIPE' || error.code === 'ERR_STREAM_DESTROYED') return;
    zstd.child.kill('SIGTERM');
    throw error;
  });
  return { zstd, feeding, meter };
}

/** `zstd -d` of a stored artifact straight into a command's stdin. */
export function decompressIntoCommand(path: string, where: string, spec: CommandSpec & { stdout?: 'ignore' | 'pipe' }, signal?: AbortSignal, unseal?: Unseal, compression: Compression = 'zstd', onRawBytes?: (n: number) => void): Promise<ToolExit> {
  return unpackIntoCommand(fileInput(path, unseal), where, spec, signal, compression, onRawBytes);
}

/** The same for stored bytes that arrive as a stream (an object store's GET), checked against the manifest. */
export function decompressStreamIntoCommand(stored: Readable, record: ArtifactRecord, where: string, spec: CommandSpec & { stdout?: 'ignore' | 'pipe' }, signal?: AbortSignal, onRawBytes?: (n: number) => void): Promise<ToolExit> {
  return unpackIntoCommand(streamInput(stored, record, where), where, spec, signal, record.compression, onRawBytes);
}

async function unpackIntoCommand(input: Packed, where: string, spec: CommandSpec & { stdout?: 'ignore' | 'pipe' }, signal?: AbortSignal, compression: Compression = 'zstd', onRawBytes?: (n: number) => void): Promise<ToolExit> {
  const consumer = runTool(spec.command, spec.args, { env: spec.env, secrets: spec.secrets, stdin: 'pipe', stdout: spec.stdout ?? 'ignore', signal });
  let unpacker;
  try {
    unpacker = startUnpacker(input, ['-q', '-d', '-c'], consumer.stdin!, signal, compression, onRawBytes);
  } finally {
    consumer.stdin!.destroy();
  }
  consumer.stdout?.resume();
  const [exit, unpacked] = await allDone(consumer.done, unpacker.zstd.done, unpacker.feeding).finally(() => unpacker.meter.settle());
  // The consumer stopped reading (it failed): its own exit tells. zstd says Broken pipe; cat dies of SIGPIPE.
  if (unpacked.code !== 0 && unpacked.signal !== 'SIGPIPE' && !/Broken pipe/i.test(unpacked.stderr)) throw corrupt(where, unpacked);
  return exit;
}

/** `zstd -d -o file`: for tools that need a seekable file (pg_restore -j). */
export function decompressToFile(path: string, where: string, out: string, signal?: AbortSignal, unseal?: Unseal, compression: Compression = 'zstd', onRawBytes?: (n: number) => void): Promise<void> {
  return unpackToFile(fileInput(path, unseal), where, out, signal, compression, onRawBytes);
}

/** The same for stored bytes that arrive as a stream, checked against the manifest. */
export function decompressStreamToFile(stored: Readable, record: ArtifactRecord, where: string, out: string, signal?: AbortSignal, onRawBytes?: (n: number) => void): Promise<void> {
  return unpackToFile(streamInput(stored, record, where), where, out, signal, record.compression, onRawBytes);
}

async function unpackToFile(input: Packed, where: string, out: string, signal?: AbortSignal, compression: Compression = 'zstd', onRawBytes?: (n: number) => void): Promise<void> {
  if (compression === 'none') {
    await pipelineAll([...(typeof input === 'string' ? [createReadStream(input, { highWaterMark: 1 << 20 })] : input), new ByteMeter({ onBytes: onRawBytes }), createWriteStream(out, { mode: 0o600 })], signal);
    return;
  }
  const { zstd, feeding, meter } = startUnpacker(input, ['-q', '-d', '-f', '-o', out], 'ignore', signal, 'zstd', onRawBytes);
  const [exit] = await allDone(zstd.done, feeding).finally(() => meter.settle());
  // A temporary copy is as private as the repository: zstd creates it with the umask's mode (in
  // the caller's private temp folder), so it is made 0600 before the tool that reads it starts.
  if (exit.code === 0) return chmod(out, 0o600);
  if (/No space left/i.test(exit.stderr)) {
    throw new HoldfastError('no-space', `no space left for the temporary copy ${out}`, { hint: 'set HOLDFAST_TMPDIR to a disk with room, or restore with --jobs 1 (streamed)' });
  }
  throw corrupt(where, exit);
}

/** Waits for every process to end (none is left running), then throws the first failure: a failed decryption before the rest. */
async function allDone<A, B = void, C = void>(a: Promise<A>, b: Promise<B>, c?: Promise<C>): Promise<[A, B, C]> {
  const settled = await Promise.allSettled([c ?? Promise.resolve(undefined as C), a, b]);
  for (const s of settled) if (s.status === 'rejected') throw s.reason;
  const values = settled.map((s) => (s as PromiseFulfilledResult<unknown>).value);
  return [values[1] as A, values[2] as B, values[0] as C];
}
