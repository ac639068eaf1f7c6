/** The audit of a restored tree after tar: symlinks and device nodes as the file system has them. */
import { resolveThroughLinks } from './volume-tar-links.js';
import type { OutsideEntries } from './volume-tar-outside.js';

/**
 * The check after extraction: what tar really left in the target, read from
 * the file system (find and readlink in the helper), not from the archive. The check before
 * extraction (volume-tar-guard.ts) reads the archive with a second parser;
 * should it ever read one otherwise than tar, a symlink out of the volume
 * or a device node that it never saw still shows up here, and is removed.
 */
export interface FoundEntry {
  /** Relative to the target. */
  path: string;
  kind: 'link' | 'device';
  /** A symlink's text. */
  target?: string;
}

/**
 * A fixed script (the directory is its only argument, never part of its
 * text) that prints `l<path>\0<text>\0` for each symlink and
 * `d<path>\0\0` for each device node under it. Portable: busybox find has
 * no -printf, so readlink -n prints each symlink's text.
 */
const AUDIT_SCRIPT =
  'find "$1" \\( -type l -o -type b -o -type c \\) -exec sh -c \'for f; do if [ -L "$f" ]; then printf "l%s\\0" "$f"; readlink -n "$f"; printf "\\0"; else printf "d%s\\0\\0" "$f"; fi; done\' sh {} +';

export function auditFindArgs(dir: string): string[] {
  return ['sh', '-c', AUDIT_SCRIPT, 'sh', dir];
}

/** The script's output, paths made relative to `dir`. */
export function parseFindOutput(out: Buffer, dir: string): FoundEntry[] {
  const fields = out.toString('utf8').split('\0');
  const prefix = `${dir.replace(/\/+$/, '')}/`;
  const found: FoundEntry[] = [];
  for (let i = 0; i + 1 < fields.length; i += 2) {
    const head = fields[i]!;
    const path = head.slice(1).startsWith(prefix) ? head.slice(1 + prefix.length) : head.slice(1);
    if (head.startsWith('l')) found.push({ path, kind: 'link', target: fields[i + 1]! });
    else if (head.startsWith('d')) found.push({ path, kind: 'device' });
  }
  return found;
}

/**
 * Entries that should not be there: a device node the backup did not record
 * (or any, without --allow-devices), a symlink that leads out of the target
 * (following the tree's other symlinks) and that the backup did not record
 * with that very text.
 */
export function unexpectedEntries(found: FoundEntry[], recorded: Partial<OutsideEntries> | undefined, allowDevices: boolean): FoundEntry[] {
  const links = new Map(found.filter((f) => f.kind === 'link').map((f) => [f.path, f.target!]));
  const devices = new Set(allowDevices ? (recorded?.devices ?? []) : []);
  const allowedLinks = recorded?.outsideLinks ?? {};
  return found.filter((f) => {
    if (f.kind === 'device') return !devices.has(f.path);
    const parent = f.path.split('/').slice(0, -1);
    const out = f.target!.startsWith('/') || resolveThroughLinks([...parent, ...f.target!.split('/')], links) === undefined;
    return out && !(Object.hasOwn(allowedLinks, f.path) && allowedLinks[f.path] === f.target);
  });
}
