import { Transform, Writable, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Readable } from 'node:stream';
import { TreeFingerprint } from './volume-tar-fingerprint.js';
import { PathGuard, type GuardAllowance } from './volume-tar-guard.js';
import { emptyOutside, recordingAllowance, type OutsideEntries } from './volume-tar-outside.js';
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
  /** With `record`: the device nodes and outward symlinks it let through (a backup writes them down). */
  outside: OutsideEntries;
}

/**
 * Reads a tar stream as it passes: checks it is whole, fingerprints the
 * tree, and lists members that would escape the target. On the backup path
 * it is a pass-through between the helper's tar and the repository; on the
 * restore path it reads the archive once before anything is extracted.
 */
export class TarScanner extends Transform {
  private readonly fingerprint: TreeFingerprint;
  private readonly guard: PathGuard;
  private readonly parser: TarParser;
  private readonly unsafe: string[] = [];
  private unsafeCount = 0;
  private readonly outside = emptyOutside();

  /**
   * `allow`: what a restore lets through (what the backup recorded);
   * `record`: a backup's scan, which lets devices and outward symlinks
   * through and writes them down instead.
   */
  constructor(options: { contents: boolean; allow?: GuardAllowance; record?: boolean }) {
    super({ highWaterMark: 1 << 20 });
    this.guard = new PathGuard(options.record ? recordingAllowance(this.outside) : options.allow);
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
    return { complete: this.parser.ended, entries: d.entries, bytes: d.bytes, checksum: d.checksum, unsafe: [...this.unsafe], unsafeCount: this.unsafeCount, outside: this.outside };
  }
}

/** Scans a whole archive stream and drops the bytes. */
export async function scanArchive(source: Readable, contents: boolean, allow?: GuardAllowance): Promise<ScanResult> {
  const scanner = new TarScanner({ contents, ...(allow ? { allow } : {}) });
  await pipeline(source, scanner, new Writable({ write: (_c, _e, cb) => cb() }));
  return scanner.result();
}
