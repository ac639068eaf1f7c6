import { createReadStream } from 'node:fs';
import { copyFile } from 'node:fs/promises';
import { pipeline } from 'node:stream/promises';
import type { CommandSpec } from '../core/driver.js';
import { HoldfastError } from '../core/errors.js';
import { lastLines, runTool, type ToolExit } from '../core/process.js';

function corrupt(where: string, exit: ToolExit): HoldfastError {
  return new HoldfastError('integrity', `artifact ${where} does not decompress: ${lastLines(exit.stderr, 2)}`, {
    hint: 'this artifact cannot be trusted: restore from another snapshot, and run `holdfast check --read-data`',
  });
}

/** `zstd -d` of a stored artifact straight into a command's stdin (an uncompressed one is copied as it is). */
export async function decompressIntoCommand(path: string, where: string, spec: CommandSpec & { stdout?: 'ignore' | 'pipe' }, signal?: AbortSignal, compression: 'zstd' | 'none' = 'zstd'): Promise<ToolExit> {
  const consumer = runTool(spec.command, spec.args, { env: spec.env, secrets: spec.secrets, stdin: 'pipe', stdout: spec.stdout ?? 'ignore', signal });
  if (compression === 'none') {
    consumer.stdout?.resume();
    // A consumer that stops reading early (it failed) breaks the pipe: its exit says why.
    const feeding = pipeline(createReadStream(path, { highWaterMark: 1 << 20 }), consumer.stdin!, { signal }).catch((error: unknown) => error);
    const [exit, fed] = await Promise.all([consumer.done, feeding]);
    if (fed && exit.code === 0) throw fed;
    return exit;
  }
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
export async function decompressToFile(path: string, where: string, out: string, signal?: AbortSignal, compression: 'zstd' | 'none' = 'zstd'): Promise<void> {
  if (compression === 'none') return copyFile(path, out);
  const run = runTool('zstd', ['-q', '-d', '-f', '-o', out, path], { stdout: 'ignore', signal });
  const exit = await run.done;
  if (exit.code === 0) return;
  if (/No space left/i.test(exit.stderr)) {
    throw new HoldfastError('no-space', `no space left for the temporary copy ${out}`, { hint: 'set HOLDFAST_TMPDIR to a disk with room, or restore with --jobs 1 (streamed)' });
  }
  throw corrupt(where, exit);
}
