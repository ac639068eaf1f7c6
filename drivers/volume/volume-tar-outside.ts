/** Device nodes and outward symlinks of a volume: recorded at backup, let through at restore only as recorded. */
import { PathGuard, type GuardAllowance } from './volume-tar-guard.js';
import type { TarMember } from './volume-tar-parse.js';

/**
 * What a backup records of the entries a restore refuses unless the backup
 * had them: device nodes, and symlinks that lead out of the volume (to
 * `/etc/localtime`, say). A restore lets exactly these through (devices
 * only with --allow-devices); anything else of the kind is refused as a
 * crafted archive.
 */
export interface OutsideEntries {
  devices: string[];
  /** Path in the volume -> the symlink's text. */
  outsideLinks: Record<string, string>;
}

export function emptyOutside(): OutsideEntries {
  return { devices: [], outsideLinks: {} };
}

/** A guard allowance for the backup side: lets devices and outward symlinks through, writing each down. */
export function recordingAllowance(found: OutsideEntries): GuardAllowance {
  return {
    device: (path) => {
      if (found.devices.length < 1000) found.devices.push(path);
      return true;
    },
    outsideLink: (path, target) => {
      if (Object.keys(found.outsideLinks).length < 1000) found.outsideLinks[path] = target;
      return true;
    },
  };
}

/** The restore side: what the backup recorded, devices only when the user allowed them. */
export function restoreAllowance(recorded: Partial<OutsideEntries> | undefined, allowDevices: boolean): GuardAllowance {
  const devices = new Set(allowDevices ? (recorded?.devices ?? []) : []);
  const links = recorded?.outsideLinks ?? {};
  return {
    device: (path) => devices.has(path),
    outsideLink: (path, target) => Object.hasOwn(links, path) && links[path] === target,
  };
}

/** Listing lines of GNU tar -vv (volume-tar-index.ts): type, name, and the rest. */
const LINE = /^(\S)\S{9}\*?\s+\d+\/\d+\s+\d+(?:,\s*\d+)?\s+\d{4}-\d\d-\d\d \d\d:\d\d(?::[\d.]+)?\s(.*)$/;

/**
 * The same record from GNU tar's verbose listing, for backups whose bytes
 * never pass through Node (the index path). Names in the listing are
 * escaped by tar; one that cannot be read back exactly is left out, so a
 * restore refuses it rather than allowing something else.
 */
export function outsideFromListing(listing: string): OutsideEntries {
  const found = emptyOutside();
  const guard = new PathGuard(recordingAllowance(found));
  for (const line of listing.split('\n')) {
    const m = LINE.exec(line);
    if (!m) continue;
    const [, kind, rest] = m as unknown as [string, string, string];
    const member = (type: string, path: string, linkpath = ''): TarMember => ({ path, type, linkpath, mode: 0, uid: 0, gid: 0, size: 0, storedSize: 0, mtime: 0, xattrs: {}, sparse: false });
    if (kind === 'b' || kind === 'c') guard.check(member(kind === 'b' ? '4' : '3', unescape(rest)));
    else if (kind === 'l' && rest.split(' -> ').length === 2) {
      const [path, target] = rest.split(' -> ') as [string, string];
      guard.check(member('2', unescape(path), unescape(target)));
    } else if (kind === 'h' && rest.split(' link to ').length === 2) {
      const [path, target] = rest.split(' link to ') as [string, string];
      guard.check(member('1', unescape(path), unescape(target)));
    } else if (kind === 'd') guard.check(member('5', unescape(rest)));
  }
  return found;
}

/** GNU tar's default `escape` quoting of names in listings. */
function unescape(text: string): string {
  const simple: Record<string, string> = { '\\': '\\', n: '\n', t: '\t', r: '\r', f: '\f', v: '\v', b: '\b', a: '\u0007', '?': '?', '"': '"', ' ': ' ' };
  const bytes: number[] = [];
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (c !== '\\') {
      bytes.push(...Buffer.from(c, 'utf8'));
      continue;
    }
    const octal = /^[0-7]{3}/.exec(text.slice(i + 1));
    if (octal) {
      bytes.push(parseInt(octal[0], 8));
      i += 3;
    } else if (simple[text[i + 1] ?? ''] !== undefined) {
      bytes.push(...Buffer.from(simple[text[i + 1]!]!, 'utf8'));
      i += 1;
    } else bytes.push(0x5c);
  }
  return Buffer.from(bytes).toString('utf8');
}
