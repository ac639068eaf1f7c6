import { createHash, type Hash } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import type { ByteProgress } from '../core/driver.js';
import { watchProcessIo } from '../core/proc-io.js';

/**
 * A pass-through that counts the bytes it passes on and, with `sha256`,
 * hashes them: how every writer and reader of artifacts and bundles learns
 * the sizes and checksums it records or compares. `onBytes` feeds progress.
 */
export class ByteMeter extends Transform {
  bytes = 0;
  private readonly hash?: Hash;

  constructor(private readonly options: { sha256?: boolean; onBytes?: (n: number) => void } = {}) {
    super();
    if (options.sha256) this.hash = createHash('sha256');
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    this.hash?.update(chunk);
    this.bytes += chunk.length;
    this.options.onBytes?.(chunk.length);
    done(null, chunk);
  }

  /** The hex sha256 of everything that passed; once, at the end. */
  sha256(): string {
    if (!this.hash) throw new Error('ByteMeter created without sha256');
    return this.hash.digest('hex');
  }
}

/** A progress sink as the two callbacks the writers take. */
export function meters(progress?: ByteProgress): { onRawBytes?: (n: number) => void; onStoredBytes?: (n: number) => void } {
  if (!progress) return {};
  return { onRawBytes: (n) => progress.add(n), onStoredBytes: (n) => progress.stored?.(n) };
}

/**
 * Counts what a child process reads (`read`: a compressor's raw input) or
 * writes (`written`: a decompressor's raw output) from /proc, for data that
 * never passes through Node; `settle` reports what the samples missed once
 * the exact total is known, so the progress ends on the true figure.
 */
export function processMeter(pid: number | undefined, which: 'read' | 'written', onBytes?: (n: number) => void): { settle(total?: number): Promise<void> } {
  if (!onBytes) return { settle: async () => undefined };
  let counted = 0;
  const watch = watchProcessIo(pid, (read, written) => {
    const n = which === 'read' ? read : written;
    counted += n;
    if (n > 0) onBytes(n);
  });
  return {
    settle: async (total) => {
      await watch.stop();
      if (total !== undefined && total > counted) onBytes(total - counted);
      counted = Math.max(counted, total ?? 0);
    },
  };
}

/**
 * The raw bytes of one artifact as a restore reads them: counted as they
 * come, and topped up to the manifest's size once the read succeeded (a
 * process sampled from /proc may exit between two samples).
 */
export function artifactProgress(progress: ByteProgress | undefined, rawBytes: number): { onRaw?: (n: number) => void; complete(): void } {
  if (!progress) return { complete: () => undefined };
  let counted = 0;
  return {
    onRaw: (n) => {
      counted += n;
      progress.add(n);
    },
    complete: () => {
      if (rawBytes > counted) progress.add(rawBytes - counted);
      counted = Math.max(counted, rawBytes);
    },
  };
}
