import { HoldfastError } from '../../src/core/errors.js';

/** 16 MiB documents plus the headroom the server allows for its own fields. */
const MAX_DOCUMENT = 16 * 1024 * 1024 + 16 * 1024;
/** mongodump archives end every block with these four bytes (an impossible BSON length). */
const TERMINATOR = -1;

/**
 * Cuts a byte stream into BSON documents by their length prefix, the format
 * of mongodump's .bson files and of its archive. Pushes each document (or
 * `null` for an archive terminator) to `onFrame` as soon as it is complete;
 * keeps at most one partial document, so memory stays flat.
 */
export class BsonFramer {
  private rest: Buffer = Buffer.alloc(0);

  constructor(
    private readonly onFrame: (doc: Buffer | null) => void,
    private readonly what: string,
    private readonly allowTerminators = false,
  ) {}

  push(chunk: Buffer): void {
    const buf = this.rest.length ? Buffer.concat([this.rest, chunk]) : chunk;
    let at = 0;
    while (buf.length - at >= 4) {
      const size = buf.readInt32LE(at);
      if (size === TERMINATOR && this.allowTerminators) {
        at += 4;
        this.onFrame(null);
        continue;
      }
      if (size < 5 || size > MAX_DOCUMENT) throw this.corrupt(`${size} is not a BSON document length`);
      if (buf.length - at < size) break;
      const doc = buf.subarray(at, at + size);
      if (doc[size - 1] !== 0) throw this.corrupt('a document does not end with a zero byte');
      at += size;
      this.onFrame(doc);
    }
    // Copy the tail: holding a slice would pin the whole chunk it came from.
    this.rest = at === buf.length ? Buffer.alloc(0) : Buffer.from(buf.subarray(at));
  }

  /** Throws when the stream ended inside a document. */
  end(): void {
    if (this.rest.length) throw this.corrupt(`it is truncated: it ends inside a document (${this.rest.length} stray bytes)`);
  }

  private corrupt(why: string): HoldfastError {
    return new HoldfastError('integrity', `${this.what} is damaged: ${why}`, { hint: 'restore from another snapshot' });
  }
}
