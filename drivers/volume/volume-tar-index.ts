import { createHash } from 'node:crypto';

/**
 * A tree fingerprint from GNU tar's own verbose listing (`-vv --full-time
 * --numeric-owner --index-file=...`), so that the archive bytes never have to
 * pass through Node: tar writes the listing as it archives, and `tar -c
 * --file=/dev/null` lists a restored tree without reading file contents.
 *
 * Lines look like `-rw-r--r--* 0/0  5 2026-11-23 10:46:31.37 ./f`. The sum
 * (mod 2^64) of one hash per line is order-independent; like the stream
 * fingerprint (volume-tar-fingerprint.ts) it leaves out the times of
 * directories and symlinks, and a hard-linked group counts its size, time and
 * xattr mark once, whichever name tar met first. It covers names, kinds,
 * modes, owners, sizes, mtimes, link targets and the presence of xattrs, not
 * contents (`--fingerprint full` takes the stream path for that).
 */
const LINE = /^(\S)(\S{9})(\*?)\s+(\d+)\/(\d+)\s+(\d+(?:,\s*\d+)?)\s+(\d{4}-\d\d-\d\d \d\d:\d\d(?::[\d.]+)?)\s(.*)$/;

export function indexFingerprint(listing: string): { entries: number; bytes: number; checksum: string; unparsed: number } {
  let sum = 0n;
  let entries = 0;
  let bytes = 0;
  let unparsed = 0;
  const add = (...parts: string[]) => {
    sum = (sum + createHash('sha256').update(parts.join('\u0000')).digest().readBigUInt64BE(0)) & 0xffffffffffffffffn;
  };
  for (const line of listing.split('\n')) {
    if (!line) continue;
    const m = LINE.exec(line);
    if (!m) {
      // Warnings tar writes into the listing ("socket ignored"): counted, so a difference still shows.
      unparsed++;
      add('?', line);
      continue;
    }
    const [, type, perm, xattr, uid, gid, size, time, rest] = m as unknown as string[];
    entries++;
    const owner = `${uid}/${gid}`;
    if (type === 'h') {
      const at = rest!.lastIndexOf(' link to ');
      add('name', 'f', perm!, owner, at > 0 ? rest!.slice(0, at) : rest!);
    } else if (type === '-') {
      add('name', 'f', perm!, owner, rest!);
      add('content', size!, time!, xattr!);
      bytes += Number(size);
    } else if (type === 'd' || type === 'l') {
      add('name', type, perm!, owner, rest!, xattr!);
    } else {
      add('name', type!, perm!, owner, size!, time!, rest!, xattr!);
    }
  }
  return { entries, bytes, checksum: sum.toString(16).padStart(16, '0'), unparsed };
}

/** The GNU tar options that write the listing indexFingerprint() reads. */
export function indexArgs(file: string): string[] {
  return ['--verbose', '--verbose', '--full-time', `--index-file=${file}`];
}
