import { PassThrough, Writable } from 'node:stream';

const STDERR_KEEP = 16 * 1024;

/**
 * Splits Docker's multiplexed attach stream (8-byte frame headers: stream
 * type, 3 zero bytes, big-endian length) into a stdout stream and the tail of
 * stderr. Unlike dockerode's demuxStream it honours backpressure: a frame is
 * acknowledged only once `stdout` took it, so a slow repository slows the
 * tool instead of filling memory.
 */
export class DockerDemux extends Writable {
  readonly stdout = new PassThrough({ highWaterMark: 1 << 20 });
  private stderrText = '';
  private header = Buffer.alloc(8);
  private headerFill = 0;
  private remaining = 0;
  private type = 0;

  get stderr(): string {
    return this.stderrText.slice(-STDERR_KEEP);
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, callback: (error?: Error | null) => void): void {
    let offset = 0;
    let pending = false;
    while (offset < chunk.length) {
      if (this.remaining === 0) {
        const take = Math.min(8 - this.headerFill, chunk.length - offset);
        chunk.copy(this.header, this.headerFill, offset, offset + take);
        this.headerFill += take;
        offset += take;
        if (this.headerFill < 8) break;
        this.headerFill = 0;
        this.type = this.header[0]!;
        this.remaining = this.header.readUInt32BE(4);
        if (this.type > 2) {
          callback(new Error(`malformed Docker stream (frame type ${this.type}); was the exec started with a TTY?`));
          return;
        }
        continue;
      }
      const take = Math.min(this.remaining, chunk.length - offset);
      const part = chunk.subarray(offset, offset + take);
      offset += take;
      this.remaining -= take;
      if (this.type === 1) {
        if (!this.stdout.write(part)) pending = true;
      } else if (this.type === 2) {
        this.stderrText += part.toString('utf8');
        if (this.stderrText.length > STDERR_KEEP * 2) this.stderrText = this.stderrText.slice(-STDERR_KEEP);
      }
    }
    if (pending) this.stdout.once('drain', () => callback());
    else callback();
  }

  override _final(callback: (error?: Error | null) => void): void {
    this.stdout.end();
    callback();
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    if (error) this.stdout.destroy(error);
    else if (!this.stdout.writableEnded) this.stdout.end();
    callback(error);
  }
}
