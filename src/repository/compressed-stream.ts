import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { ByteMeter, processMeter } from './byte-meter.js';
import type { CommandSpec } from '../core/driver.js';
import { HoldfastError } from '../core/errors.js';
import { assertToolSucceeded, lastLines, runCommandSpec, runTool, type ToolExit } from '../core/process.js';
import type { WrittenArtifact } from './artifact-writer.js';
import { startCompressor, type CompressionSettings } from './compression.js';

/**
 * Compressed bytes on their way to a store that takes a stream (an object
 * store's multipart upload): `stored` is zstd's output, hashed and counted as
 * the consumer reads it; `done` resolves with the artifact's sizes and sha256
 * once zstd has exited and `stored` has ended. Nothing is staged on disk.
 */
export interface CompressedStream {
  stored: Readable;
  done: Promise<WrittenArtifact>;
  /** Stops the compressor (and the command feeding it) after a failure downstream. */
  kill(): void;
}

/** `source` → zstd → hash. Progress counts raw bytes. */
export function compressStream(source: Readable, settings: CompressionSettings, options: { signal?: AbortSignal; onRawBytes?: (n: number) => void; onStoredBytes?: (n: number) => void } = {}): CompressedStream {
  const compressor = startCompressor(settings, options.signal);
  const counter = new ByteMeter({ onBytes: options.onRawBytes });
  const hashing = hashingTransform(options.onStoredBytes);
  compressor.stdout!.pipe(hashing.transform);
  compressor.stdout!.on('error', (error) => hashing.transform.destroy(error));
  const feeding = pipeline(source, counter, compressor.stdin!, { signal: options.signal });
  const kill = () => {
    compressor.child.kill('SIGTERM');
    source.destroy();
  };
  const done = (async () => {
    try {
      const [, exit] = await Promise.all([feeding, compressor.done, hashing.ended]);
      assertToolSucceeded('zstd', exit);
    } catch (error) {
      kill();
      throw error;
    }
    return { ...hashing.result(), rawBytes: counter.bytes };
  })();
  done.catch(() => undefined);
  return { stored: hashing.transform, done, kill };
}

/**
 * A command's stdout straight into zstd's stdin (no copy through Node), zstd's
 * output hashed on its way out. `zstd -vv` reports the exact raw size.
 * Progress counts stored bytes (the raw ones never pass through Node).
 */
export function compressCommand(
  spec: CommandSpec,
  settings: CompressionSettings,
  options: { signal?: AbortSignal; onRawBytes?: (n: number) => void; onStoredBytes?: (n: number) => void } = {},
): CompressedStream & { exit: Promise<ToolExit> } {
  const zstd = runTool('zstd', ['-vv', '-T0', `-${settings.level}`, '-c'], { stdin: 'pipe', signal: options.signal });
  const rawMeter = processMeter(zstd.child.pid, 'read', options.onRawBytes);
  let tool;
  try {
    tool = runCommandSpec(spec, { stdout: zstd.stdin!, signal: options.signal });
  } finally {
    // The tool holds the pipe's write end now; ours must close or zstd never sees the end.
    zstd.stdin!.destroy();
  }
  const hashing = hashingTransform(options.onStoredBytes);
  zstd.stdout!.pipe(hashing.transform);
  zstd.stdout!.on('error', (error) => hashing.transform.destroy(error));
  const kill = () => {
    zstd.child.kill('SIGTERM');
    tool.child.kill('SIGTERM');
  };
  const exit = tool.done;
  exit.catch(() => undefined);
  const done = (async () => {
    let zstdExit: ToolExit;
    try {
      [zstdExit] = await Promise.all([zstd.done, hashing.ended, exit]);
    } catch (error) {
      kill();
      await rawMeter.settle();
      throw error;
    }
    if (zstdExit.code !== 0) throw new HoldfastError('internal', `zstd failed: ${lastLines(zstdExit.stderr, 3)}`);
    const sizes = /\(\s*(\d+) B =>\s*(\d+) B/.exec(zstdExit.stderr);
    await rawMeter.settle(sizes ? Number(sizes[1]) : undefined);
    if (!sizes) throw new HoldfastError('tool', 'zstd did not report the uncompressed size', { hint: 'install a zstd of version 1.4 or newer' });
    return { ...hashing.result(), rawBytes: Number(sizes[1]) };
  })();
  done.catch(() => undefined);
  return { stored: hashing.transform, done, kill, exit };
}

function hashingTransform(onBytes?: (n: number) => void) {
  const transform = new ByteMeter({ sha256: true, onBytes });
  const ended = new Promise<void>((resolve, reject) => {
    transform.once('end', resolve);
    transform.once('error', reject);
    transform.once('close', () => reject(new HoldfastError('internal', 'the compressed stream was closed before its end')));
  });
  return { transform, ended, result: () => ({ sha256: transform.sha256(), storedBytes: transform.bytes }) };
}
