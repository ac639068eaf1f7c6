import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { holdfast, savedSnapshot } from '../support/cli.js';
import { docker, DockerLab, IMAGES } from '../support/docker.js';

/** Extended attributes are set and read on the volume's host path: no image here ships setfattr. */
function xattr(path: string, name: string, value?: string): string {
  const script = value === undefined ? 'import os,sys; print(os.getxattr(sys.argv[1], sys.argv[2]).decode())' : 'import os,sys; os.setxattr(sys.argv[1], sys.argv[2], sys.argv[3].encode())';
  return execFileSync('python3', ['-c', script, path, name, ...(value === undefined ? [] : [value])], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();
}

/** What must survive, per path: owner, mode, kind, link count, size; and which names share an inode. */
const LISTING = "cd /v && find . | sort | while read -r p; do stat -c '%n %u:%g %a %F %h %s' \"$p\"; done; stat -c %i h1 h2 | uniq | wc -l; readlink dir/up; stat -c %b sparse";

describe('volume archives keep owners, modes, links, xattrs and sparse files', () => {
  const lab = new DockerLab();
  let repo: string;
  let source: string;
  let mountpoint: string;
  let expected: string[];

  beforeAll(async () => {
    await lab.init();
    repo = join(await lab.dir('repo'), 'repo');
    source = await lab.volume('meta');
    await lab.inVolume(
      source,
      [
        'cd /v',
        'echo data > f && chown 1234:5678 f && chmod 0640 f',
        'echo tool > suid && chmod 4755 suid',
        'mkdir dir && echo in > dir/inner && chown -R 999:999 dir && chmod 0750 dir',
        'ln -s f sym && ln -s ../f dir/up',
        'echo linked > h1 && ln h1 h2',
        'truncate -s 64M sparse && echo end >> sparse',
        'mkfifo pipe',
      ].join(' && '),
    );
    mountpoint = await docker(['volume', 'inspect', '-f', '{{.Mountpoint}}', source]);
    xattr(join(mountpoint, 'f'), 'user.holdfast', 'kept');
    expected = (await lab.inVolume(source, LISTING)).split('\n');
  });

  afterAll(async () => {
    await lab.cleanup();
  });

  type Recorded = { details: { fingerprintMethod: string; transport: string }; fingerprint: { items: Record<string, { count: number; checksum: string }> } };
  const service = async (snapshot: string) => (await holdfast(['--repo', repo, 'show', snapshot, '--json'], lab.env())).json<{ services: { m: Recorded } }>().services.m;
  const details = async (snapshot: string) => (await service(snapshot)).details;
  const fingerprints: Record<string, { count: number; checksum: string }> = {};

  // tar on this machine (the default where the daemon's files are here) and tar in a helper container.
  for (const transport of ['local', 'helper'] as const) {
    const env = () => lab.env({ HOLDFAST_VOLUME_TAR: transport });
    const recorded = transport === 'local' ? 'local' : 'fifo';

    test(`GNU tar ${transport === 'local' ? 'on this machine' : 'in the helper'}: everything round-trips, the sparse file stays sparse`, async () => {
      const backup = await holdfast(['--repo', repo, 'backup', '--service', `m=volume:${source}`, '--fingerprint', 'full', '--json'], env());
      expect(backup.code, backup.stderr).toBe(0);
      const doc = backup.json<{ snapshot: string; services: Array<{ bytes: number; storedBytes: number; notes?: string[] }> }>();
      expect((await details(doc.snapshot)).transport).toBe(recorded);
      // 64 MiB of holes are not stored.
      expect(doc.services[0]!.bytes).toBeLessThan(1 << 20);
      expect(doc.services[0]!.notes ?? []).not.toContainEqual(expect.stringContaining('drops'));
      const target = lab.name(`meta-gnu-${transport}`);
      const restore = await holdfast(['--repo', repo, 'restore', doc.snapshot, '--target', `m=volume:${target}`, '--json'], env());
      expect(restore.code, restore.stderr).toBe(0);
      expect(restore.json<{ services: Array<{ fingerprint: { equal: boolean } }> }>().services[0]!.fingerprint.equal).toBe(true);
      const got = (await lab.inVolume(target, LISTING)).split('\n');
      expect(got).toEqual(expected);
      expect(Number(got.at(-1))).toBeLessThan(64); // allocated 512-byte blocks: still sparse
      expect(got.at(-3)).toBe('1'); // h1 and h2 are one inode
      expect(got).toContain('./f 1234:5678 640 regular file 1 5');
      expect(got).toContain('./suid 0:0 4755 regular file 1 5');
      expect(got).toContain('./dir 999:999 750 directory 2 4096');
      expect(got).toContain('./pipe 0:0 644 fifo 1 0');
      const restoredAt = await docker(['volume', 'inspect', '-f', '{{.Mountpoint}}', target]);
      expect(xattr(join(restoredAt, 'f'), 'user.holdfast')).toBe('kept');
    });

    test(`the default fingerprint, from GNU tar's own listing ${transport === 'local' ? 'on this machine' : 'in the helper'}, matches after a restore and sees an owner change`, async () => {
      const backup = await holdfast(['--repo', repo, 'backup', '--service', `m=volume:${source}`, '--json'], env());
      const id = savedSnapshot(backup);
      const target = lab.name(`meta-idx-${transport}`);
      const restore = await holdfast(['--repo', repo, 'restore', id, '--target', `m=volume:${target}`, '--json'], env());
      expect(restore.code, restore.stderr).toBe(0);
      expect(restore.json<{ services: Array<{ fingerprint: { equal: boolean; compared: number } }> }>().services[0]!.fingerprint).toMatchObject({ equal: true, compared: 1 });
      const original = await service(id);
      expect(original.details).toMatchObject({ fingerprintMethod: 'tar-index', transport: recorded });
      fingerprints[transport] = original.fingerprint.items[source]!;
      await lab.inVolume(target, 'chown 4321 /v/f');
      const changed = await holdfast(['--repo', repo, 'backup', '--service', `m=volume:${target}`, '--json'], env());
      const after = await service(changed.json<{ snapshot: string }>().snapshot);
      expect(after.fingerprint.items[target]!.count).toBe(original.fingerprint.items[source]!.count);
      expect(after.fingerprint.items[target]!.checksum).not.toBe(original.fingerprint.items[source]!.checksum);
    });
  }

  test('both transports fingerprint the same tree alike', () => {
    expect(fingerprints.local).toBeDefined();
    expect(fingerprints.local).toEqual(fingerprints.helper);
  });

  test('busybox tar in the helper: the manifest and the notes say what it drops; a GNU archive is not restored with it', async () => {
    const env = lab.env({ HOLDFAST_HELPER_IMAGE: IMAGES.busybox });
    const backup = await holdfast(['--repo', repo, 'backup', '--service', `m=volume:${source}`, '--json'], env);
    expect(backup.code, backup.stderr).toBe(0);
    const doc = backup.json<{ snapshot: string; services: Array<{ bytes: number; notes: string[] }> }>();
    expect(doc.services[0]!.notes.join('\n')).toContain('drops extended attributes, ACLs, holes of sparse files');
    expect(doc.services[0]!.bytes).toBeGreaterThan(64 << 20);
    const target = lab.name('meta-bb');
    const restore = await holdfast(['--repo', repo, 'restore', doc.snapshot, '--target', `m=volume:${target}`], env);
    expect(restore.code, restore.stderr).toBe(0);
    const got = (await lab.inVolume(target, LISTING)).split('\n');
    // Owners, modes, links and fifos survive busybox tar; only the sparse file's allocation differs.
    expect(got.slice(0, -1)).toEqual(expected.slice(0, -1));
    const restoredAt = await docker(['volume', 'inspect', '-f', '{{.Mountpoint}}', target]);
    expect(() => xattr(join(restoredAt, 'f'), 'user.holdfast')).toThrow();

    const snapshots = await holdfast(['--repo', repo, 'snapshots', '--json'], env);
    const gnu = snapshots.json<Array<{ id: string }> | { snapshots: Array<{ id: string }> }>();
    const ids = (Array.isArray(gnu) ? gnu : gnu.snapshots).map((s) => s.id);
    const refused = await holdfast(['--repo', repo, 'restore', ids[0]!, '--target', `m=volume:${lab.name('meta-bb2')}`], env);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('the archive was written by GNU tar');
    expect(refused.stderr).toContain('HOLDFAST_HELPER_IMAGE');
  });
});
