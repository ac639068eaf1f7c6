import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { CommandSpec } from '../core/driver.js';
import { HoldfastError } from '../core/errors.js';
import { lastLines, runTool, type ToolExit } from '../core/process.js';
import { checksumGuard } from './artifact-reader.js';
import type { ArtifactRecord } from './manifest.js';

function corrupt(where: string, exit: ToolExit): HoldfastError {
  return new HoldfastError('integrity', `artifact ${where} does not decompress: ${lastLines(exit.stderr, 2)}`, {
    hint: 'this artifact cannot be trusted: restore from another snapshot, and run `holdfast check --read-data`',
  });
}

/** `zstd -d` of a stored artifact straight into a command's stdin. */
export async function decompressIntoCommand(path: string, where: string, spec: CommandSpec & { stdout?: 'ignore' | 'pipe' }, signal?: AbortSignal): Promise<ToolExit> {
  const consumer = runTool(spec.command, spec.args, { env: spec.env, secrets: spec.secrets, stdin: 'pipe', stdout: spec.stdout ?? 'ignore', signal });
  let zstd;
  try {
    zstd = runTool('zstd', ['-q', '-d', '-c', path], { stdout: consumer.stdin!, signal });
  } finally {
    consumer.stdin!.destroy();
  }
  consumer.stdout?.resume();
  const [exit, unpacked] = await Promise.all([consumer.done, zstd.done]);
  if (unpacked.code !== 0 && !/Broken pipe/i.test(unpacked.stderr)) throw corrupt(where, unpacked);
  return exit;
}

/** `zstd -d -o file`: for tools that need a seekable file (pg_restore -j). */
export async function decompressToFile(path: string, where: string, out: string, signal?: AbortSignal): Promise<void> {
  const run = runTool('zstd', ['-q', '-d', '-f', '-o', out, path], { stdout: 'ignore', signal });
  const exit = await run.done;
  if (exit.code === 0) return;
  if (/No space left/i.test(exit.stderr)) {
    throw new HoldfastError('no-space', `no space left for the temporary copy ${out}`, { hint: 'set HOLDFAST_TMPDIR to a disk with room, or restore with --jobs 1 (streamed)' });
  }
  throw corrupt(where, exit);
}

/**
 * `zstd -d` of stored bytes that arrive as a stream (an object store's GET),
 * checked against the manifest on the way, into a command's stdin. The
 * decompressed bytes go from zstd to the command without a copy through Node.
 */
export async function decompressStreamIntoCommand(
  stored: Readable,
  record: ArtifactRecord,
  where: string,
  spec: CommandSpec & { stdout?: 'ignore' | 'pipe' },
  signal?: AbortSignal,
): Promise<ToolExit> {
  const consumer = runTool(spec.command, spec.args, { env: spec.env, secrets: spec.secrets, stdin: 'pipe', stdout: spec.stdout ?? 'ignore', signal });
  let zstd;
  try {
    zstd = runTool('zstd', ['-q', '-d', '-c'], { stdin: 'pipe', stdout: consumer.stdin!, signal });
  } finally {
    consumer.stdin!.destroy();
  }
  consumer.stdout?.resume();
  const feeding = pipeline(stored, checksumGuard(record, where), zstd.stdin!, { signal }).then(
    () => undefined,
    (error: unknown) => error,
  );
  const [exit, unpacked, fed] = await Promise.all([consumer.done, zstd.done, feeding]);
  const consumerGone = unpacked.code !== 0 && /Broken pipe/i.test(unpacked.stderr);
  if (fed instanceof HoldfastError) throw fed;
  if (fed && !consumerGone && (fed as NodeJS.ErrnoException).code !== 'EPIPE') throw fed;
  if (unpacked.code !== 0 && !consumerGone) throw corrupt(where, unpacked);
  return exit;
}

/** `zstd -d -o file` of stored bytes that arrive as a stream, checked against the manifest. */
export async function decompressStreamToFile(stored: Readable, record: ArtifactRecord, where: string, out: string, signal?: AbortSignal): Promise<void> {
  const run = runTool('zstd', ['-q', '-d', '-f', '-o', out], { stdin: 'pipe', stdout: 'ignore', signal });
  const fed = await pipeline(stored, checksumGuard(record, where), run.stdin!, { signal }).then(
    () => undefined,
    (error: unknown) => error,
  );
  const exit = await run.done;
  if (fed) throw fed;
  if (exit.code === 0) return;
  if (/No space left/i.test(exit.stderr)) {
    throw new HoldfastError('no-space', `no space left for the temporary copy ${out}`, { hint: 'set HOLDFAST_TMPDIR to a disk with room, or restore with --jobs 1 (streamed)' });
  }
  throw corrupt(where, exit);
}
