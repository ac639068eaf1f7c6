/** A minimal ustar writer for tests: hand-made archives, including hostile ones no tar would write. */
export interface TarEntry {
  name: string;
  /** A kind, or `{ flag }`: any typeflag byte ('D' GNU dumpdir, 'Z' unknown, ...). */
  type: 'file' | 'dir' | 'symlink' | 'hardlink' | 'chardev' | 'blockdev' | 'fifo' | { flag: string };
  /** Member data; any type may carry some (its size field says how much). */
  data?: string | Buffer;
  link?: string;
  mode?: number;
  /** Device numbers of a chardev / blockdev. */
  major?: number;
  minor?: number;
}

const TYPES = { file: '0', hardlink: '1', symlink: '2', chardev: '3', blockdev: '4', dir: '5', fifo: '6' } as const;

function field(block: Buffer, offset: number, length: number, value: string): void {
  block.write(value, offset, Math.min(length, Buffer.byteLength(value)), 'utf8');
}

function octal(value: number, length: number): string {
  return `${value.toString(8).padStart(length - 1, '0')}\0`;
}

/** An archive of `entries`; `end: false` leaves out the end-of-archive blocks (to embed it in another member's data). */
export function tarOf(entries: TarEntry[], options: { end?: boolean } = {}): Buffer {
  const parts: Buffer[] = [];
  for (const e of entries) {
    const data = Buffer.isBuffer(e.data) ? e.data : Buffer.from(e.data ?? '');
    const header = Buffer.alloc(512);
    field(header, 0, 100, e.name);
    field(header, 100, 8, octal(e.mode ?? (e.type === 'dir' ? 0o755 : 0o644), 8));
    field(header, 108, 8, octal(0, 8));
    field(header, 116, 8, octal(0, 8));
    field(header, 124, 12, octal(data.length, 12));
    field(header, 136, 12, octal(1_700_000_000, 12));
    field(header, 148, 8, '        ');
    field(header, 156, 1, typeof e.type === 'string' ? TYPES[e.type] : e.type.flag);
    field(header, 157, 100, e.link ?? '');
    field(header, 257, 6, 'ustar\0');
    field(header, 263, 2, '00');
    field(header, 329, 8, octal(e.major ?? 0, 8));
    field(header, 337, 8, octal(e.minor ?? 0, 8));
    let sum = 0;
    for (const b of header) sum += b;
    field(header, 148, 8, `${sum.toString(8).padStart(6, '0')}\0 `);
    parts.push(header);
    if (data.length) parts.push(data, Buffer.alloc((512 - (data.length % 512)) % 512));
  }
  if (options.end !== false) parts.push(Buffer.alloc(1024));
  return Buffer.concat(parts);
}
