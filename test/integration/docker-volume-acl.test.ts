import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { holdfast, savedSnapshot } from '../support/cli.js';
import { docker, DockerLab } from '../support/docker.js';

const run = promisify(execFile);

/** ACL entries of a file as getfacl prints them, numeric, without the header. */
async function acl(path: string): Promise<string[]> {
  const { stdout } = await run('getfacl', ['--numeric', '--omit-header', '--absolute-names', path]);
  return stdout.split('\n').filter((l) => l && !l.startsWith('#'));
}

// setfacl/getfacl come from Debian's acl package (scripts/install/docker.sh installs it). The
// ACLs are set on the volume's directory on this host (the test daemon is local), the copy
// and the restore go through GNU tar --acls in the helper (holdfast-test/postgres).
describe.runIf(existsSync('/usr/bin/setfacl') && process.getuid?.() === 0)('volume ACLs round-trip (GNU tar --acls in the helper)', () => {
  const lab = new DockerLab();
  let source: string;
  let repo: string;

  beforeAll(async () => {
    await lab.init();
    repo = join(await lab.dir('repo'), 'repo');
    source = await lab.volume('acl-source');
    await lab.inVolume(source, 'mkdir -p /v/shared && echo data > /v/shared/report && echo other > /v/plain');
    const root = await docker(['volume', 'inspect', '-f', '{{.Mountpoint}}', source]);
    await run('setfacl', ['-m', 'u:1234:rw-,g:4321:r--', join(root, 'shared', 'report')]);
    await run('setfacl', ['-m', 'u:1234:rwx', '-d', '-m', 'g:4321:r-x', join(root, 'shared')]);
  });

  afterAll(async () => {
    await lab.cleanup();
  });

  test('access and default ACLs come back in a new volume, and the manifest says tar kept ACLs', async () => {
    const backup = await holdfast(['--repo', repo, 'backup', '--service', `v=volume:${source}`, '--json'], lab.env());
    const id = savedSnapshot(backup);
    const show = await holdfast(['--repo', repo, 'show', id, '--json'], lab.env());
    expect(show.json<{ services: { v: { details: { tar: { features: string[] } } } } }>().services.v.details.tar.features).toContain('acls');

    const target = lab.name('acl-target');
    const restore = await holdfast(['--repo', repo, 'restore', id, '--target', `v=volume:${target}`, '--json'], lab.env());
    expect(restore.code, restore.stderr + restore.stdout).toBe(0);
    const root = await docker(['volume', 'inspect', '-f', '{{.Mountpoint}}', target]);
    const file = await acl(join(root, 'shared', 'report'));
    expect(file).toEqual(expect.arrayContaining(['user:1234:rw-', 'group:4321:r--']));
    const dir = await acl(join(root, 'shared'));
    expect(dir).toEqual(expect.arrayContaining(['user:1234:rwx', 'default:group:4321:r-x']));
    // A file without ACLs gets none.
    expect((await acl(join(root, 'plain'))).some((l) => /^(user|group):\d+:/.test(l))).toBe(false);
  });
});
