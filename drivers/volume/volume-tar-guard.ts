import { resolveThroughLinks } from './volume-tar-links.js';
import type { TarMember } from './volume-tar-parse.js';

/** What a restore may let through that the guard refuses by default. */
export interface GuardAllowance {
  /** A device node at this path (the backup recorded it, and --allow-devices was given). */
  device?: (path: string) => boolean;
  /** A symlink at this path to this target, which leaves the tree (the backup recorded it). */
  outsideLink?: (path: string, target: string) => boolean;
}

/** Typeflags whose framing this reader and GNU tar agree on; anything else is refused, never guessed. */
const KNOWN = new Set(['0', '7', 'S', '1', '2', '3', '4', '5', '6']);
/** Types that carry no data: GNU tar ignores their size field, so a size there is a disguise. */
const NO_DATA = new Set(['1', '2', '3', '4', '5', '6']);
const FOREIGN: Record<string, string> = {
  D: 'GNU dumpdir',
  V: 'volume label',
  M: 'multi-volume continuation',
  N: 'old GNU long name',
  A: 'Solaris ACL',
  X: 'Solaris extended attributes',
  E: 'Solaris extended ACL',
  I: 'inode-only',
};

/**
 * Decides, before anything is extracted, whether an archive member would
 * land outside the target directory: an absolute path, a `..` segment, a
 * symlink whose target leaves the tree (absolute, or through `..`, also via
 * symlinks extracted earlier: a lexical check alone is fooled by
 * `a -> .` then `b -> a/..`), a hard link to outside or to a symlink whose
 * text leads out from the link's place, or a device node. Paths are resolved
 * the way the kernel would after extraction, following the archive's own
 * symlinks.
 *
 * It also refuses whatever would make GNU tar read the archive differently
 * from this reader (then tar would extract members this check never saw):
 * an entry type it does not know (GNU tar extracts those as plain files and
 * reads their data, where this reader would see headers), a link, directory,
 * device or fifo that claims data, a file named like a directory (GNU tar
 * makes it one and reads no data), and a path that appears twice (which of
 * the two wins is tar's choice, not this model's).
 */
export class PathGuard {
  private readonly links = new Map<string, string>();
  private readonly seen = new Set<string>();

  constructor(private readonly allow: GuardAllowance = {}) {}

  /** Undefined when safe, else why not. */
  check(m: TarMember): string | undefined {
    if (!KNOWN.has(m.type)) {
      const kind = FOREIGN[m.type];
      return `${m.path}: an entry of type ${JSON.stringify(m.type)}${kind ? ` (${kind})` : ''}, which a restore does not extract`;
    }
    if (NO_DATA.has(m.type) && m.storedSize > 0) return `${m.path}: a ${kindOf(m.type)} that claims ${m.storedSize} bytes of data`;
    if (!NO_DATA.has(m.type) && m.path.endsWith('/')) return `${m.path}: a file named like a directory`;
    const own = this.segments(m.path);
    if (typeof own === 'string') return own;
    const key = own.join('/');
    if (this.seen.has(key)) return `${m.path}: appears twice in the archive`;
    this.seen.add(key);
    const parent = own.slice(0, -1);
    if (this.resolve(parent) === undefined) return `${m.path}: its directory leads outside the target through a symlink`;
    if (m.type === '3' || m.type === '4') return this.allow.device?.(key) ? undefined : `${m.path}: a device node`;
    if (m.type === '2') return this.symlink(m.path, key, parent, m.linkpath);
    if (m.type === '1') {
      const target = this.segments(m.linkpath);
      if (typeof target === 'string') return `${m.path}: a hard link to ${target}`;
      // link() does not follow a final symlink: the new name is that symlink, its text now read from here.
      const dir = this.resolve(target.slice(0, -1));
      const text = dir && target.length > 0 ? this.links.get([...dir, target.at(-1)!].join('/')) : undefined;
      if (text !== undefined) return this.symlink(m.path, key, parent, text, m.linkpath);
      if (this.resolve(target) === undefined) return `${m.path}: a hard link to ${m.linkpath}, outside the target`;
    }
    return undefined;
  }

  /** A symlink at `key` with the text `target` (a hard link to the symlink `via`): refused when it leads out, else remembered. */
  private symlink(path: string, key: string, parent: string[], target: string, via?: string): string | undefined {
    const out = target.startsWith('/') || this.resolve([...parent, ...target.split('/')]) === undefined;
    if (out && !this.allow.outsideLink?.(key, target)) {
      if (via !== undefined) return `${path}: a hard link to the symlink ${via} (-> ${target}), which leads outside the target from here`;
      return target.startsWith('/') ? `${path}: a symlink to the absolute path ${target}` : `${path}: a symlink to ${target}, outside the target`;
    }
    this.links.set(key, target);
    return undefined;
  }

  /** A member name as segments; a string says why it is unsafe. */
  private segments(path: string): string[] | string {
    if (path.startsWith('/')) return `${path}: an absolute path`;
    if (path.includes('\0')) return `${JSON.stringify(path)}: a path with a NUL byte`;
    const parts = path.split('/').filter((p) => p !== '' && p !== '.');
    if (parts.includes('..')) return `${path}: a path with ".."`;
    return parts;
  }

  /** Follows `..` and known symlinks; undefined when the path leaves the root (or loops). */
  private resolve(segments: string[]): string[] | undefined {
    return resolveThroughLinks(segments, this.links);
  }
}

function kindOf(type: string): string {
  return { '1': 'hard link', '2': 'symlink', '3': 'character device', '4': 'block device', '5': 'directory', '6': 'fifo' }[type] ?? `type ${type} entry`;
}
