import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import { HoldfastError } from '../core/errors.js';

/**
 * The encrypted file format of a repository (version 1): authenticated,
 * streamed in segments so that memory stays flat whatever the file size.
 *
 *   header (48 bytes): "HFSE" | version 1 | log2(segment size) | 0 0 | salt (32) | nonce prefix (8)
 *   segments: AES-256-GCM(ciphertext of up to `segment size` bytes) | tag (16)
 *
 * - Each file has its own key, HKDF-SHA256(master key, salt, info = format
 *   name + the file's context, e.g. `<snapshot>/<service>/<artifact>`): a
 *   file moved to another place, or sealed under another master key, fails.
 * - Segment i is sealed with nonce = prefix | u32be(i) and associated data
 *   = header | u32be(i) | final flag: reordered, dropped, duplicated or
 *   truncated segments fail authentication; only the last segment carries
 *   the final flag, so a cut at a segment boundary is detected too.
 * - An empty plaintext is one empty final segment (a tag): a file is never
 *   just a header.
 */
export const SEGMENT_FORMAT = 'holdfast-segmented-aes-256-gcm-v1';
export const SEGMENT_SIZE = 64 * 1024;
const MAGIC = Buffer.from('HFSE', 'ascii');
const VERSION = 1;
const HEADER_BYTES = 48;
const TAG_BYTES = 16;
const MAX_SEGMENTS = 2 ** 32;

/** The size of the sealed form of `plainBytes` bytes. */
export function sealedSize(plainBytes: number, segmentSize = SEGMENT_SIZE): number {
  const segments = plainBytes === 0 ? 1 : Math.ceil(plainBytes / segmentSize);
  return HEADER_BYTES + plainBytes + segments * TAG_BYTES;
}

/**
 * The plaintext size of a sealed file of `fileBytes` bytes, from its size
 * alone; -1 for a size no sealed file can have (cut inside a tag or header).
 */
export function plainSize(fileBytes: number, segmentSize = SEGMENT_SIZE): number {
  const body = fileBytes - HEADER_BYTES;
  if (body < TAG_BYTES) return -1;
  const full = Math.floor(body / (segmentSize + TAG_BYTES));
  const rest = body - full * (segmentSize + TAG_BYTES);
  if (rest === 0) return full * segmentSize;
  return rest < TAG_BYTES ? -1 : full * segmentSize + rest - TAG_BYTES;
}

function fileKey(masterKey: Buffer, salt: Buffer, context: string): Buffer {
  return Buffer.from(hkdfSync('sha256', masterKey, salt, Buffer.from(`${SEGMENT_FORMAT}\0${context}`, 'utf8'), 32));
}

function segmentParams(header: Buffer, index: number, final: boolean): { nonce: Buffer; aad: Buffer } {
  if (index >= MAX_SEGMENTS) throw new HoldfastError('internal', 'file too large for the segment counter');
  const counter = Buffer.alloc(4);
  counter.writeUInt32BE(index);
  return {
    nonce: Buffer.concat([header.subarray(40, 48), counter]),
    aad: Buffer.concat([header, counter, Buffer.from([final ? 1 : 0])]),
  };
}

function corrupt(where: string, what: string): HoldfastError {
  return new HoldfastError('integrity', `${where} fails decryption: ${what}`, {
    hint: 'the file was damaged, truncated, reordered or replaced: restore from another snapshot, and run `holdfast check --read-data`',
  });
}

/** Seals segment after segment; the caller says which one is the last. */
class Sealer {
  readonly header: Buffer;
  private readonly key: Buffer;
  private index = 0;

  constructor(masterKey: Buffer, context: string, segmentSize: number) {
    const salt = randomBytes(32);
    this.header = Buffer.concat([MAGIC, Buffer.from([VERSION, Math.log2(segmentSize), 0, 0]), salt, randomBytes(8)]);
    this.key = fileKey(masterKey, salt, context);
  }

  seal(plain: Buffer, final: boolean): Buffer[] {
    const { nonce, aad } = segmentParams(this.header, this.index++, final);
    const cipher = createCipheriv('aes-256-gcm', this.key, nonce);
    cipher.setAAD(aad);
    const body = cipher.update(plain);
    cipher.final();
    return [body, cipher.getAuthTag()];
  }
}

/** Opens segment after segment, after reading the header. */
class Opener {
  private key?: Buffer;
  private header?: Buffer;
  private index = 0;
  segmentSize = 0;

  constructor(private readonly masterKey: Buffer, private readonly context: string, private readonly where: string) {}

  readHeader(header: Buffer): void {
    if (header.length < HEADER_BYTES) throw corrupt(this.where, `only ${header.length} bytes, shorter than the header`);
    if (!header.subarray(0, 4).equals(MAGIC)) throw corrupt(this.where, 'not a holdfast encrypted file');
    if (header[4] !== VERSION) throw corrupt(this.where, `encryption format version ${header[4]}; this holdfast reads version ${VERSION}`);
    const log = header[5]!;
    if (log < 10 || log > 24) throw corrupt(this.where, `invalid segment size 2^${log}`);
    this.segmentSize = 2 ** log;
    this.header = Buffer.from(header.subarray(0, HEADER_BYTES));
    this.key = fileKey(this.masterKey, this.header.subarray(8, 40), this.context);
  }

  open(sealed: Buffer, final: boolean): Buffer {
    if (sealed.length < TAG_BYTES) throw corrupt(this.where, `truncated in segment ${this.index}`);
    const index = this.index++;
    const { nonce, aad } = segmentParams(this.header!, index, final);
    const decipher = createDecipheriv('aes-256-gcm', this.key!, nonce);
    decipher.setAAD(aad);
    decipher.setAuthTag(sealed.subarray(sealed.length - TAG_BYTES));
    const plain = decipher.update(sealed.subarray(0, sealed.length - TAG_BYTES));
    try {
      decipher.final();
    } catch {
      throw corrupt(this.where, `segment ${index} fails authentication (damaged, truncated, reordered, or sealed with another key)`);
    }
    return plain;
  }
}

/**
 * Collects bytes into fixed-size blocks and hands each full block on only
 * once more bytes follow, so that the last block is known when the stream
 * ends (it is the final segment).
 */
class Blocks {
  private buffer: Buffer;
  private filled = 0;

  constructor(private readonly size: number) {
    this.buffer = Buffer.allocUnsafe(size);
  }

  /** Calls `full` for each block known not to be the last. */
  add(chunk: Buffer, full: (block: Buffer) => void): void {
    let at = 0;
    while (at < chunk.length) {
      if (this.filled === this.size) {
        full(this.buffer);
        this.filled = 0;
      }
      const n = Math.min(this.size - this.filled, chunk.length - at);
      chunk.copy(this.buffer, this.filled, at, at + n);
      this.filled += n;
      at += n;
    }
  }

  /** What is left: the last block (possibly empty). */
  rest(): Buffer {
    return this.buffer.subarray(0, this.filled);
  }
}

/** A transform that encrypts a stream into the segmented format. */
export function sealStream(masterKey: Buffer, context: string, segmentSize = SEGMENT_SIZE): Transform {
  const sealer = new Sealer(masterKey, context, segmentSize);
  const blocks = new Blocks(segmentSize);
  let started = false;
  const start = (push: (b: Buffer) => void) => {
    if (!started) push(sealer.header);
    started = true;
  };
  return new Transform({
    transform(chunk: Buffer, _enc, callback: TransformCallback) {
      start((b) => this.push(b));
      blocks.add(chunk, (block) => {
        for (const part of sealer.seal(block, false)) this.push(part);
      });
      callback();
    },
    flush(callback: TransformCallback) {
      start((b) => this.push(b));
      for (const part of sealer.seal(blocks.rest(), true)) this.push(part);
      callback();
    },
  });
}

/** A transform that decrypts and authenticates the segmented format; errors with an 'integrity' error naming `where` (e.g. `artifact <snapshot>/<service>/<name>`). */
export function openStream(masterKey: Buffer, context: string, where: string): Transform {
  const opener = new Opener(masterKey, context, where);
  let head = Buffer.alloc(0);
  let body: Blocks | undefined;
  return new Transform({
    transform(chunk: Buffer, _enc, callback: TransformCallback) {
      try {
        if (!body) {
          const need = HEADER_BYTES - head.length;
          head = Buffer.concat([head, chunk.subarray(0, need)]);
          if (head.length < HEADER_BYTES) return callback();
          opener.readHeader(head);
          body = new Blocks(opener.segmentSize + TAG_BYTES);
          chunk = chunk.subarray(need);
        }
        body.add(chunk, (block) => this.push(opener.open(block, false)));
        callback();
      } catch (error) {
        callback(error as Error);
      }
    },
    flush(callback: TransformCallback) {
      try {
        if (!body) opener.readHeader(head);
        this.push(opener.open(body!.rest(), true));
        callback();
      } catch (error) {
        callback(error as Error);
      }
    },
  });
}

/** Seals a small document (a manifest, an annotation) in one piece. */
export function sealBuffer(masterKey: Buffer, context: string, plain: Buffer, segmentSize = SEGMENT_SIZE): Buffer {
  const sealer = new Sealer(masterKey, context, segmentSize);
  const parts: Buffer[] = [sealer.header];
  let at = 0;
  do {
    const end = Math.min(at + segmentSize, plain.length);
    parts.push(...sealer.seal(plain.subarray(at, end), end === plain.length));
    at = end;
  } while (at < plain.length);
  return Buffer.concat(parts);
}

/** Opens a sealed document; throws an 'integrity' error naming `where`. */
export function openBuffer(masterKey: Buffer, context: string, sealed: Buffer, where: string): Buffer {
  const opener = new Opener(masterKey, context, where);
  opener.readHeader(sealed.subarray(0, HEADER_BYTES));
  const step = opener.segmentSize + TAG_BYTES;
  const parts: Buffer[] = [];
  let at = HEADER_BYTES;
  do {
    const end = Math.min(at + step, sealed.length);
    parts.push(opener.open(sealed.subarray(at, end), end === sealed.length));
    at = end;
  } while (at < sealed.length);
  return Buffer.concat(parts);
}
