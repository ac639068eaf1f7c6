/**
 * A streaming reader of tar headers (ustar, GNU longname/longlink and old
 * sparse, pax extended headers): fed any chunks, it reports each member with
 * its effective path, link target, owner, mode, size and xattrs, and the
 * member's data as it passes. It reads what GNU tar and busybox tar write.
 * It never buffers member data, only headers and pax/longname records.
 */
export interface TarMember {
  path: string;
  /** The typeflag: '0' file, '1' hard link, '2' symlink, '3'/'4' devices, '5' directory, '6' fifo, 'S' old GNU sparse. */
  type: string;
  mode: number;
  uid: number;
  gid: number;
  /** Size of the file (the real size of a sparse file). */
  size: number;
  /** Bytes of data stored in the archive for it. */
  storedSize: number;
  mtime: number;
  linkpath: string;
  xattrs: Record<string, string>;
  sparse: boolean;
}

export interface TarEvents {
  member(m: TarMember): void;
  data(chunk: Buffer): void;
  memberEnd(): void;
}

const BLOCK = 512;
const META_LIMIT = 8 * 1024 * 1024;

export class TarParser {
  /** Two zero blocks were read: the archive is complete. */
  ended = false;
  members = 0;
  private block = Buffer.alloc(BLOCK);
  private fill = 0;
  private zeroBlocks = 0;
  /** Data bytes left in the current member, then padding. */
  private dataLeft = 0;
  private padLeft = 0;
  private meta?: { type: string; size: number; parts: Buffer[]; got: number };
  private sparseExtension = false;
  private pending?: TarMember;
  private pax: Record<string, string> = {};
  private globalPax: Record<string, string> = {};
  private longName?: string;
  private longLink?: string;
  private offset = 0;

  constructor(private readonly events: TarEvents) {}

  /** Feeds bytes; throws on a malformed archive. */
  write(chunk: Buffer): void {
    let at = 0;
    while (at < chunk.length) {
      if (this.dataLeft > 0) {
        const take = Math.min(this.dataLeft, chunk.length - at);
        const part = chunk.subarray(at, at + take);
        if (this.meta) this.collect(part);
        else this.events.data(part);
        this.dataLeft -= take;
        at += take;
        this.offset += take;
        if (this.dataLeft === 0) this.finishData();
        continue;
      }
      if (this.padLeft > 0) {
        const take = Math.min(this.padLeft, chunk.length - at);
        this.padLeft -= take;
        at += take;
        this.offset += take;
        continue;
      }
      const take = Math.min(BLOCK - this.fill, chunk.length - at);
      chunk.copy(this.block, this.fill, at, at + take);
      this.fill += take;
      at += take;
      this.offset += take;
      if (this.fill === BLOCK) {
        this.fill = 0;
        this.onBlock();
      }
    }
  }

  private onBlock(): void {
    if (this.ended) return; // the zero padding up to the record size
    if (this.sparseExtension) {
      this.sparseExtension = this.block[504] === 1;
      if (!this.sparseExtension) this.startData(this.pending!.storedSize);
      return;
    }
    if (this.block.every((b) => b === 0)) {
      if (++this.zeroBlocks >= 2) this.ended = true;
      return;
    }
    if (this.zeroBlocks > 0) throw new Error(`a lone zero block before offset ${this.offset}: the archive is damaged`);
    this.header();
  }

  private header(): void {
    const b = this.block;
    const sum = octal(b, 148, 8);
    let computed = 0;
    for (let i = 0; i < BLOCK; i++) computed += i >= 148 && i < 156 ? 32 : b[i]!;
    if (sum !== computed) throw new Error(`bad header checksum at offset ${this.offset - BLOCK}: not a tar archive, or damaged`);
    const type = String.fromCharCode(b[156]!) === '\0' ? '0' : String.fromCharCode(b[156]!);
    const size = octal(b, 124, 12);
    if (type === 'x' || type === 'g' || type === 'L' || type === 'K') {
      if (size > META_LIMIT) throw new Error(`a ${type} header of ${size} bytes at offset ${this.offset - BLOCK} is implausibly large`);
      this.meta = { type, size, parts: [], got: 0 };
      this.startData(size);
      return;
    }
    // POSIX ustar only: the GNU format ("ustar  ") keeps other fields where ustar has the prefix.
    const prefix = b.toString('latin1', 257, 263) === 'ustar\0' ? cstr(b, 345, 155) : '';
    const name = cstr(b, 0, 100);
    const pax = { ...this.globalPax, ...this.pax };
    const sparseName = pax['GNU.sparse.name'];
    const member: TarMember = {
      path: sparseName ?? pax.path ?? this.longName ?? (prefix ? `${prefix}/${name}` : name),
      type,
      mode: octal(b, 100, 8) & 0o7777,
      uid: pax.uid !== undefined ? Number(pax.uid) : octal(b, 108, 8),
      gid: pax.gid !== undefined ? Number(pax.gid) : octal(b, 116, 8),
      storedSize: pax.size !== undefined ? decimal(pax.size, 'size') : size,
      size: 0,
      mtime: Math.floor(pax.mtime !== undefined ? Number(pax.mtime) : octal(b, 136, 12)),
      linkpath: pax.linkpath ?? this.longLink ?? cstr(b, 157, 100),
      xattrs: Object.fromEntries(Object.entries(pax).filter(([k]) => k.startsWith('SCHILY.xattr.')).map(([k, v]) => [k.slice(13), v])),
      sparse: type === 'S' || sparseName !== undefined,
    };
    const realSize = pax['GNU.sparse.realsize'] ?? pax['GNU.sparse.size'];
    member.size = realSize !== undefined ? Number(realSize) : type === 'S' ? octal(b, 483, 12) : member.storedSize;
    this.pax = {};
    this.longName = undefined;
    this.longLink = undefined;
    this.members++;
    this.pending = member;
    this.events.member(member);
    // Links, directories, devices and fifos carry no data, whatever their size field says.
    const stored = type === '0' || type === '7' || type === 'S' ? member.storedSize : 0;
    if (type === 'S' && b[482] === 1) {
      member.storedSize = stored;
      this.sparseExtension = true;
      return;
    }
    this.startData(stored);
  }

  private startData(size: number): void {
    this.dataLeft = size;
    this.padLeft = (BLOCK - (size % BLOCK)) % BLOCK;
    if (size === 0) this.finishData();
  }

  private collect(part: Buffer): void {
    this.meta!.parts.push(Buffer.from(part));
    this.meta!.got += part.length;
  }

  private finishData(): void {
    const meta = this.meta;
    if (!meta) {
      this.events.memberEnd();
      return;
    }
    this.meta = undefined;
    const raw = Buffer.concat(meta.parts);
    if (meta.type === 'L') this.longName = raw.toString('utf8').replace(/\0.*$/s, '');
    else if (meta.type === 'K') this.longLink = raw.toString('utf8').replace(/\0.*$/s, '');
    else {
      const records = parsePax(raw);
      // A global path, link or size would apply to every member after it: nothing holdfast restores writes one, and readers differ on it.
      const unsafe = meta.type === 'g' ? Object.keys(records).find((k) => k === 'path' || k === 'linkpath' || k === 'size' || k.startsWith('GNU.sparse.')) : undefined;
      if (unsafe) throw new Error(`a global pax header sets ${unsafe}`);
      Object.assign(meta.type === 'g' ? this.globalPax : this.pax, records);
    }
  }
}

/**
 * pax records: "LEN key=value\n", LEN counting the whole record in bytes.
 * Read from the raw bytes: a value may be binary (GNU tar --xattrs stores
 * system.posix_acl_access as it is), and decoding the whole header as UTF-8
 * first would change its length.
 */
export function parsePax(input: Buffer | string): Record<string, string> {
  const out: Record<string, string> = {};
  const bytes = typeof input === 'string' ? Buffer.from(input, 'utf8') : input;
  let at = 0;
  while (at < bytes.length) {
    const space = bytes.indexOf(0x20, at);
    if (space < 0) break;
    const len = Number(bytes.toString('latin1', at, space));
    if (!Number.isInteger(len) || len <= 0 || at + len > bytes.length) throw new Error('malformed pax header');
    const record = bytes.toString('utf8', space + 1, at + len - 1);
    const eq = record.indexOf('=');
    if (eq > 0) out[record.slice(0, eq)] = record.slice(eq + 1);
    at += len;
  }
  return out;
}

/** A pax number that frames the archive: plain decimal digits, as GNU tar reads it (`Number` would take `0x10` or ` 1`). */
function decimal(value: string, key: string): number {
  if (!/^\d{1,18}$/.test(value)) throw new Error(`a pax header gives ${key}=${JSON.stringify(value)}, not a decimal number`);
  return Number(value);
}

function cstr(b: Buffer, start: number, len: number): string {
  const end = b.indexOf(0, start);
  return b.toString('utf8', start, end >= 0 && end < start + len ? end : start + len);
}

/** An octal field, or GNU base-256 when its first byte has the high bit set. */
function octal(b: Buffer, start: number, len: number): number {
  if (b[start]! & 0x80) {
    let n = b[start]! & 0x7f;
    for (let i = 1; i < len; i++) n = n * 256 + b[start + i]!;
    return n;
  }
  const text = b.toString('latin1', start, start + len).replace(/^[ \0]+/, '').replace(/[\0 ].*$/s, '');
  // Strict: GNU tar refuses a header with garbage here and skips to the next one, which this reader would not do.
  if (!/^[0-7]*$/.test(text)) throw new Error(`a numeric header field holds ${JSON.stringify(text)}, not an octal number`);
  return text ? parseInt(text, 8) : 0;
}
