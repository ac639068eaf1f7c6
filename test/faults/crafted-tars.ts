/**
 * Hostile volume archives for the fault suite: each one makes a second tar
 * reader see something other than what GNU tar extracts (the tricks of issue
 * 12), or puts a device node or an outward symlink in the volume.
 */
import { tarOf, type TarEntry } from '../support/tar-build.js';

/** What a crafted archive hides from a careless reader: an absolute symlink to /etc and two device nodes. */
const HIDDEN: TarEntry[] = [
  { name: 'etc', type: 'symlink', link: '/etc' },
  { name: 'sda', type: 'blockdev', major: 8, minor: 0 },
  { name: 'null', type: 'chardev', major: 1, minor: 3 },
];

/**
 * `pad` (of typeflag `flag`, with one block of data that is the header of a
 * file `cover` whose data is the hidden entries), then those entries. A
 * reader that gives `pad` no data reads `cover` and skips the hidden entries
 * as its data; GNU tar reads `pad`'s block as data and extracts them.
 */
function hiddenBehind(flag: string, name = 'pad'): Buffer {
  const hidden = tarOf(HIDDEN, { end: false });
  const cover = tarOf([{ name: 'cover', type: 'file', data: hidden }], { end: false }).subarray(0, 512);
  return Buffer.concat([tarOf([{ name: 'ok', type: 'file', data: 'fine\n' }, { name, type: { flag }, data: cover }], { end: false }), hidden, Buffer.alloc(1024)]);
}

/**
 * A regular file named like a directory, whose data is the hidden entries:
 * GNU tar makes it a directory and reads no data, so it extracts them; a
 * reader that takes the size field skips them.
 */
function fileNamedLikeDirectory(): Buffer {
  const hidden = tarOf(HIDDEN, { end: false });
  return Buffer.concat([tarOf([{ name: 'pad/', type: 'file', data: hidden }], { end: false }), Buffer.alloc(1024)]);
}

const DEEP = 'a/b/c/d/e/f/g/h';

export interface CraftedTar {
  what: string;
  archive: Buffer;
  /** Part of the guard's reason. */
  reason: RegExp;
}

export const CRAFTED_TARS: CraftedTar[] = [
  {
    // The symlink resolves to the volume's root where it is; its hard link at the top, with the same text, to the host's root.
    what: 'a hard link to an inner symlink',
    archive: tarOf([
      { name: `${DEEP}/s`, type: 'symlink', link: '../'.repeat(7) + '..' },
      { name: 'rootlink', type: 'hardlink', link: `${DEEP}/s` },
    ]),
    reason: /rootlink: a hard link to the symlink a\/b\/c\/d\/e\/f\/g\/h\/s \(-> (\.\.\/)+\.\.\), which leads outside the target from here/,
  },
  { what: 'an unknown entry type', archive: hiddenBehind('Z'), reason: /pad: an entry of type "Z"/ },
  { what: 'a GNU dumpdir entry', archive: hiddenBehind('D'), reason: /pad: an entry of type "D" \(GNU dumpdir\)/ },
  { what: 'a directory that claims data', archive: hiddenBehind('5'), reason: /pad: a directory that claims 512 bytes of data/ },
  { what: 'a file named like a directory', archive: fileNamedLikeDirectory(), reason: /pad\/: a file named like a directory/ },
  {
    what: 'a path that appears twice (a symlink, then a directory over it)',
    archive: tarOf([
      { name: 'sub', type: 'dir' },
      { name: 'x', type: 'symlink', link: 'sub' },
      { name: 'x', type: 'dir' },
    ]),
    reason: /x: appears twice in the archive/,
  },
];
