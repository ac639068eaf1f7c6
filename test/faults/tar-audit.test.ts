/**
 * Fault suite: the audit after extraction reads what tar left on disk (find and
 * readlink, here on this machine's own file system) and names every symlink out
 * of the target and every device node that the backup did not record, so a
 * restore does not depend on its archive parser agreeing with tar.
 */
import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { auditFindArgs, parseFindOutput, unexpectedEntries } from '../../drivers/volume/volume-tar-audit.js';

const made: string[] = [];
afterAll(async () => Promise.all(made.map((d) => rm(d, { recursive: true, force: true }))));

describe('the audit of an extracted tree', () => {
  test('finds symlinks (with their text) and device nodes on disk; flags those that lead out or were not recorded', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'holdfast-faults-audit-'));
    made.push(dir);
    await mkdir(join(dir, 'a/b/c'), { recursive: true });
    await writeFile(join(dir, 'a/file'), 'x');
    await symlink('../..', join(dir, 'a/b/c/up')); // -> a: inside
    await symlink('../../../../..', join(dir, 'a/b/c/rootward')); // out
    await symlink('a/b/c/up/../..', join(dir, 'chain')); // through `up` to the root's parent: out
    await symlink('/etc/localtime', join(dir, 'tz')); // out, recorded
    await symlink('/etc', join(dir, 'etc')); // out, not recorded
    execFileSync('mknod', [join(dir, 'null'), 'c', '1', '3']);
    const [find, ...args] = auditFindArgs(dir);
    const found = parseFindOutput(execFileSync(find!, args), dir);
    expect(found.sort((x, y) => x.path.localeCompare(y.path))).toEqual([
      { path: 'a/b/c/rootward', kind: 'link', target: '../../../../..' },
      { path: 'a/b/c/up', kind: 'link', target: '../..' },
      { path: 'chain', kind: 'link', target: 'a/b/c/up/../..' },
      { path: 'etc', kind: 'link', target: '/etc' },
      { path: 'null', kind: 'device' },
      { path: 'tz', kind: 'link', target: '/etc/localtime' },
    ]);
    const recorded = { devices: ['null'], outsideLinks: { tz: '/etc/localtime' } };
    const paths = (allowDevices: boolean, r?: typeof recorded) => unexpectedEntries(found, r, allowDevices).map((f) => f.path).sort();
    expect(paths(true, recorded)).toEqual(['a/b/c/rootward', 'chain', 'etc']);
    expect(paths(false, recorded)).toEqual(['a/b/c/rootward', 'chain', 'etc', 'null']);
    expect(paths(true)).toEqual(['a/b/c/rootward', 'chain', 'etc', 'null', 'tz']);
    // The same path with another text than recorded is not the recorded symlink.
    expect(unexpectedEntries([{ path: 'tz', kind: 'link', target: '/etc/shadow' }], recorded, true)).toHaveLength(1);
  });
});
