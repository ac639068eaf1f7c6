import { Readable } from 'node:stream';

/**
 * The tar framing of a bundle: plain ustar regular files, written and read
 * here so that every damaged header, short read and stray entry becomes a
 * precise error about the part it hit (see bundle-import.ts). Sizes beyond
 * ustar's 8 GiB use GNU's base-256 field, which GNU tar and busybox read, so
 * `tar -tvf bundle` lists any bundle.
 */
export const BLOCK = 512;
const OCTAL_LIMIT = 8 ** 11;

/** The 512-byte ustar header of a regular file. */
export function tarHeader(path: string, size: number, mtime = Math.floor(Date.now() / 1000)): Buffer {
  const header = Buffer.alloc(BLOCK);
  const [prefix, name] = splitPath(path);
  header.write(name, 0, 100, 'utf8');
  header.write(octal(0o644, 8), 100, 'ascii');
  header.write(octal(0, 8), 108, 'ascii');
  header.write(octal(0, 8), 116, 'ascii');
  if (size < OCTAL_LIMIT) header.write(octal(size, 12), 124, 'ascii');
  else {
    header[124] = 0x80;
    header.writeBigUInt64BE(BigInt(size), 128);
  }
  header.write(octal(mtime, 12), 136, 'ascii');
  header.write('        ', 148, 'ascii');
  header.write('0', 156, 'ascii');
  header.write('ustar\u000000', 257, 'ascii');
  header.write(prefix, 345, 155, 'utf8');
  let sum = 0;
  for (const byte of header) sum += byte;
  header.write(`${sum.toString(8).padStart(6, '0')}\u0000 `, 148, 'ascii');
  return header;
}

/** Zero bytes that pad `size` bytes of data to a whole block. */
export function tarPadding(size: number): Buffer {
  return Buffer.alloc((BLOCK - (size % BLOCK)) % BLOCK);
}

/** The two zero blocks that end an archive. */
export function tarEnd(): Buffer {
  return Buffer.alloc(2 * BLOCK);
}

function splitPath(path: string): [string, string] {
  if (Buffer.byteLength(path) <= 100) return ['', path];
  const cut = path.lastIndexOf('/', 155);
  const prefix = path.slice(0, Math.max(cut, 0));
  const name = path.slice(cut + 1);
  if (cut <= 0 || Buffer.byteLength(prefix) > 155 || Buffer.byteLength(name) > 100) throw new Error(`bundle entry name too long: ${path}`);
  return [prefix, name];
}

function octal(value: number, width: number): string {
  return `${value.toString(8).padStart(width - 1, '0')}\u0000`;
}

/** One entry as read: its path and declared size; its data comes next from the reader. */
export interface TarEntry {
  path: string;
  size: number;
}

/** What went wrong while reading, for the caller to phrase. */
export class TarReadError extends Error {
  constructor(
    readonly kind: 'truncated' | 'bad-header',
    message: string,
  ) {
    super(message);
  }
}

/**
 * Reads a tar stream entry by entry, pulling from the source only as fast as
 * the consumer of each entry's data reads it (memory stays flat).
 */
export class TarReader {
  private readonly chunks: AsyncIterator<Buffer>;
  private buffer: Buffer = Buffer.alloc(0);
  private eof = false;
  /** Data and padding of the current entry not read yet. */
  private left = 0;
  private padding = 0;

  constructor(source: AsyncIterable<Buffer>) {
    this.chunks = source[Symbol.asyncIterator]();
  }

  /** The next entry, or undefined at the end-of-archive blocks. Skips what is left of the previous one. */
  async next(): Promise<TarEntry | undefined> {
    if (this.left > 0) for await (const _ of this.data()) void _;
    await this.skip(this.padding, 'the padding of an entry');
    this.padding = 0;
    const block = await this.exact(BLOCK, 'an entry header');
    if (block.every((b) => b === 0)) {
      await this.exact(BLOCK, 'the end-of-archive marker');
      return undefined;
    }
    let sum = 0;
    for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 32 : block[i]!;
    const recorded = parseInt(text(block, 148, 8), 8);
    if (recorded !== sum) throw new TarReadError('bad-header', `an entry header has a bad checksum (${recorded}, computed ${sum})`);
    const type = String.fromCharCode(block[156]!);
    const name = text(block, 0, 100);
    const prefix = block.subarray(257, 262).toString('ascii') === 'ustar' ? text(block, 345, 155) : '';
    const path = prefix ? `${prefix}/${name}` : name;
    if (type !== '0' && type !== '\u0000') throw new TarReadError('bad-header', `entry ${path} is not a regular file (type ${JSON.stringify(type)})`);
    const size = block[124]! & 0x80 ? Number(block.readBigUInt64BE(128)) : parseInt(text(block, 124, 12) || '0', 8);
    if (!Number.isSafeInteger(size) || size < 0) throw new TarReadError('bad-header', `entry ${path} has an unreadable size`);
    this.left = size;
    this.padding = (BLOCK - (size % BLOCK)) % BLOCK;
    return { path, size };
  }

  /** The current entry's data, as a stream; errors with 'truncated' when the source ends inside it. */
  stream(): Readable {
    return Readable.from(this.data(), { objectMode: false });
  }

  /** The current entry's data in memory, for the small JSON parts; refuses more than `limit` bytes. */
  async readAll(limit: number): Promise<Buffer> {
    if (this.left > limit) throw new TarReadError('bad-header', `an entry of ${this.left} bytes where at most ${limit} are expected`);
    const parts: Buffer[] = [];
    for await (const chunk of this.data()) parts.push(chunk);
    return Buffer.concat(parts);
  }

  /** Stops reading the source (closes a file or stdin). */
  async close(): Promise<void> {
    await this.chunks.return?.();
  }

  private async *data(): AsyncGenerator<Buffer> {
    while (this.left > 0) {
      if (this.buffer.length === 0 && !(await this.pull())) throw new TarReadError('truncated', `the data ends ${this.left} bytes short`);
      const take = Math.min(this.left, this.buffer.length);
      const chunk = this.buffer.subarray(0, take);
      this.buffer = this.buffer.subarray(take);
      this.left -= take;
      yield chunk;
    }
  }

  private async exact(n: number, what: string): Promise<Buffer> {
    while (this.buffer.length < n) {
      if (!(await this.pull())) throw new TarReadError('truncated', `the data ends inside ${what}`);
    }
    const out = this.buffer.subarray(0, n);
    this.buffer = this.buffer.subarray(n);
    return out;
  }

  private async skip(n: number, what: string): Promise<void> {
    if (n > 0) await this.exact(n, what);
  }

  private async pull(): Promise<boolean> {
    if (this.eof) return false;
    const { value, done } = await this.chunks.next();
    if (done) {
      this.eof = true;
      return false;
    }
    this.buffer = this.buffer.length ? Buffer.concat([this.buffer, value]) : value;
    return true;
  }
}

function text(block: Buffer, at: number, length: number): string {
  const field = block.subarray(at, at + length);
  const end = field.indexOf(0);
  return field.subarray(0, end < 0 ? length : end).toString('utf8').trim();
}
