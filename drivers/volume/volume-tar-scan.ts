import { Transform, Writable, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Readable } from 'node:stream';
import { TreeFingerprint } from './volume-tar-fingerprint.js';
import { PathGuard } from './volume-tar-guard.js';
import { TarParser, type TarMember } from './volume-tar-parse.js';

export interface ScanResult {
  /** The end-of-archive blocks were read: nothing was cut off. */
  complete: boolean;
  entries: number;
  bytes: number;
  checksum: string;
  /** Members that would escape the target on extraction (at most 20 kept). */
  unsafe: string[];
  unsafeCount: number;
}

/**
 * Reads a tar stream as it passes: checks it is whole, fingerprints the
 * tree, and lists members that would escape the target. On the backup path
 * it is a pass-through between the helper's tar and the repository; on the
 * restore path it reads the archive once before anything is extracted.
 */
export class TarScanner extends Transform {
  private readonly fingerprint: TreeFingerprint;
  private readonly guard = new PathGuard();
  private readonly parser: TarParser;
  private readonly unsafe: string[] = [];
  private unsafeCount = 0;

  constructor(options: { contents: boolean }) {
    super({ highWaterMark: 1 << 20 });
    this.fingerprint = new TreeFingerprint(options.contents);
    this.parser = new TarParser({
      member: (m: TarMember) => {
        this.fingerprint.member(m);
        const why = this.guard.check(m);
        if (why && ++this.unsafeCount <= 20) this.unsafe.push(why);
      },
      data: (chunk) => this.fingerprint.data(chunk),
      memberEnd: () => undefined,
    });
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, callback: TransformCallback): void {
    try {
      this.parser.write(chunk);
    } catch (error) {
      callback(error as Error);
      return;
    }
    callback(null, chunk);
  }

  result(): ScanResult {
    const d = this.fingerprint.digest();
    return { complete: this.parser.ended, entries: d.entries, bytes: d.bytes, checksum: d.checksum, unsafe: [...this.unsafe], unsafeCount: this.unsafeCount };
  }
}

/** Scans a whole archive stream and drops the bytes. */
export async function scanArchive(source: Readable, contents: boolean): Promise<ScanResult> {
  const scanner = new TarScanner({ contents });
  await pipeline(source, scanner, new Writable({ write: (_c, _e, cb) => cb() }));
  return scanner.result();
}
