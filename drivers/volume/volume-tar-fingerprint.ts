import { createHash, type Hash } from 'node:crypto';
import type { TarMember } from './volume-tar-parse.js';

/**
 * An order-independent fingerprint of a tree as tar sees it: the sum, modulo
 * 2^64, of one hash per member over its path, kind, mode, owner, mtime
 * (not for directories, which extraction order moves, nor symlinks, whose
 * times busybox tar does not restore), link target, xattrs
 * and, when asked, its content. Two tars of the same tree agree whatever
 * order readdir gave. A hard link counts as the file it links to (which of
 * two names tar stores as the file also depends on readdir order); its
 * content is counted once, with the file's.
 */
export class TreeFingerprint {
  entries = 0;
  /** Bytes of regular files (real sizes). */
  bytes = 0;
  private sum = 0n;
  private current?: { head: string; content?: Hash };

  constructor(private readonly contents: boolean) {}

  member(m: TarMember): void {
    this.close();
    this.entries++;
    const path = m.path.split('/').filter((p) => p !== '' && p !== '.').join('/');
    const file = m.type === '0' || m.type === '7' || m.type === 'S' || m.type === '1';
    if (m.type !== '1') this.bytes += file ? m.size : 0;
    const kind = file ? 'f' : m.type;
    const xattrs = Object.keys(m.xattrs)
      .sort()
      .map((k) => `${k}=${m.xattrs[k]}`)
      .join('\u0001');
    const link = m.type === '2' ? m.linkpath : '';
    const mtime = m.type === '5' || m.type === '2' ? '' : String(m.mtime);
    const head = [kind, path, m.mode.toString(8), m.uid, m.gid, mtime, link, xattrs].join('\u0000');
    this.current = { head };
    if (this.contents && file && m.type !== '1') {
      this.current.content = createHash('sha256').update(`${m.size}\u0000`);
    }
  }

  data(chunk: Buffer): void {
    this.current?.content?.update(chunk);
  }

  /** The result: entries, bytes and a 16-hex-digit checksum. */
  digest(): { entries: number; bytes: number; checksum: string } {
    this.close();
    return { entries: this.entries, bytes: this.bytes, checksum: this.sum.toString(16).padStart(16, '0') };
  }

  private close(): void {
    if (!this.current) return;
    this.add(this.current.head);
    if (this.current.content) this.add(`content\u0000${this.current.content.digest('hex')}`);
    this.current = undefined;
  }

  private add(text: string): void {
    const h = createHash('sha256').update(text).digest();
    this.sum = (this.sum + h.readBigUInt64BE(0)) & 0xffffffffffffffffn;
  }
}
