import { createReadStream } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import type { CommandSpec } from '../core/driver.js';
import { HoldfastError } from '../core/errors.js';
import { lastLines, runTool, type ToolExit, type ToolRun } from '../core/process.js';
import type { Unseal } from './artifact-reader.js';

function corrupt(where: string, exit: ToolExit): HoldfastError {
  return new HoldfastError('integrity', `artifact ${where} does not decompress: ${lastLines(exit.stderr, 2)}`, {
    hint: 'this artifact cannot be trusted: restore from another snapshot, and run `holdfast check --read-data`',
  });
}

/**
 * Starts `zstd -d` on a stored artifact. A plain one is read by zstd itself;
 * an encrypted one is decrypted in Node and fed to zstd's stdin (`feeding`
 * rejects with an 'integrity' error when a segment fails authentication).
 */
function startUnpacker(path: string, args: string[], stdout: ToolRun['stdin'] | 'ignore', signal?: AbortSignal, unseal?: Unseal): { zstd: ToolRun; feeding: Promise<void> } {
  const out = stdout ?? 'ignore';
  if (!unseal) return { zstd: runTool('zstd', [...args, path], { stdout: out, signal }), feeding: Promise.resolve() };
  const zstd = runTool('zstd', args, { stdin: 'pipe', stdout: out, signal });
  const feeding = pipeline(createReadStream(path, { highWaterMark: 1 << 20 }), unseal(), zstd.stdin!, { signal }).catch((error: NodeJS.ErrnoException) => {
    // zstd stopped reading (its consumer ended early, or it failed): its own exit tells.
    if (error.code === 'EPIPE' || error.code === 'ERR_STREAM_DESTROYED') return;
    zstd.child.kill('SIGTERM');
    throw error;
  });
  return { zstd, feeding };
}

/** `zstd -d` of a stored artifact straight into a command's stdin. */
export async function decompressIntoCommand(path: string, where: string, spec: CommandSpec & { stdout?: 'ignore' | 'pipe' }, signal?: AbortSignal, unseal?: Unseal): Promise<ToolExit> {
  const consumer = runTool(spec.command, spec.args, { env: spec.env, secrets: spec.secrets, stdin: 'pipe', stdout: spec.stdout ?? 'ignore', signal });
  let unpacker;
  try {
    unpacker = startUnpacker(path, ['-q', '-d', '-c'], consumer.stdin!, signal, unseal);
  } finally {
    consumer.stdin!.destroy();
  }
  consumer.stdout?.resume();
  const [exit, unpacked] = await allDone(consumer.done, unpacker.zstd.done, unpacker.feeding);
  if (unpacked.code !== 0 && !/Broken pipe/i.test(unpacked.stderr)) throw corrupt(where, unpacked);
  return exit;
}

/** `zstd -d -o file`: for tools that need a seekable file (pg_restore -j). */
export async function decompressToFile(path: string, where: string, out: string, signal?: AbortSignal, unseal?: Unseal): Promise<void> {
  const { zstd, feeding } = startUnpacker(path, ['-q', '-d', '-f', '-o', out], 'ignore', signal, unseal);
  const [exit] = await allDone(zstd.done, feeding);
  if (exit.code === 0) return;
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
