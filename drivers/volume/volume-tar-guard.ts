import type { TarMember } from './volume-tar-parse.js';

/**
 * Decides, before anything is extracted, whether an archive member would
 * land outside the target directory: an absolute path, a `..` segment, a
 * symlink whose target leaves the tree (absolute, or through `..`, also via
 * symlinks extracted earlier: a lexical check alone is fooled by
 * `a -> .` then `b -> a/..`), a hard link to outside, or a device node.
 * Paths are resolved the way the kernel would after extraction, following
 * the archive's own symlinks.
 */
export class PathGuard {
  private readonly links = new Map<string, string>();

  /** Undefined when safe, else why not. */
  check(m: TarMember): string | undefined {
    const own = this.segments(m.path);
    if (typeof own === 'string') return own;
    const parent = own.slice(0, -1);
    if (this.resolve(parent) === undefined) return `${m.path}: its directory leads outside the target through a symlink`;
    const key = own.join('/');
    if (m.type === '3' || m.type === '4') return `${m.path}: a device node`;
    if (m.type === '2') {
      if (m.linkpath.startsWith('/')) return `${m.path}: a symlink to the absolute path ${m.linkpath}`;
      if (this.resolve([...parent, ...m.linkpath.split('/')]) === undefined) return `${m.path}: a symlink to ${m.linkpath}, outside the target`;
      this.links.set(key, m.linkpath);
      return undefined;
    }
    this.links.delete(key);
    if (m.type === '1') {
      const target = this.segments(m.linkpath);
      if (typeof target === 'string') return `${m.path}: a hard link to ${target}`;
      if (this.resolve(target) === undefined) return `${m.path}: a hard link to ${m.linkpath}, outside the target`;
    }
    return undefined;
  }

  /** A member name as segments; a string says why it is unsafe. */
  private segments(path: string): string[] | string {
    if (path.startsWith('/')) return `${path}: an absolute path`;
    const parts = path.split('/').filter((p) => p !== '' && p !== '.');
    if (parts.includes('..')) return `${path}: a path with ".."`;
    return parts;
  }

  /** Follows `..` and known symlinks; undefined when the path leaves the root (or loops). */
  private resolve(segments: string[]): string[] | undefined {
    const out: string[] = [];
    const queue = [...segments];
    let hops = 0;
    while (queue.length > 0) {
      const s = queue.shift()!;
      if (s === '' || s === '.') continue;
      if (s === '..') {
        if (out.length === 0) return undefined;
        out.pop();
        continue;
      }
      out.push(s);
      const target = this.links.get(out.join('/'));
      if (target === undefined) continue;
      if (++hops > 40 || target.startsWith('/')) return undefined;
      out.pop();
      queue.unshift(...target.split('/'));
    }
    return out;
  }
}
