import { createHash, type Hash } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';

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
