/**
 * A path inside an archive's tree as segments, `..` and the tree's symlinks
 * (`links`: a link's path -> its target, both relative to the root) followed;
 * undefined when it leaves the root, meets an absolute target, or loops
 * (more than 40 hops, as the kernel's limit). Shared by the audit of a tree
 * (volume-tar-audit.ts) and the guard of an extraction (volume-tar-guard.ts).
 */
export function resolveThroughLinks(segments: readonly string[], links: ReadonlyMap<string, string>): string[] | undefined {
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
    const target = links.get(out.join('/'));
    if (target === undefined) continue;
    if (++hops > 40 || target.startsWith('/')) return undefined;
    out.pop();
    queue.unshift(...target.split('/'));
  }
  return out;
}
