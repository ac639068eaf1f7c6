import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { holdfast, savedSnapshot } from '../support/cli.js';
import { containerState, DockerLab, IMAGES } from '../support/docker.js';
import { committedSnapshots } from '../support/repo-files.js';
import { WRITER } from '../support/stack-writer.js';

type Details = { transport: string; localTarSkipped?: string; tar: { image: string }; held: Array<{ container: string; action: string }> };

/**
 * Which tar copies a volume: the one on this machine when the daemon's files
 * are here (HOLDFAST_VOLUME_TAR=auto, the default), else a helper container,
 * with the reason recorded; `local` insists, `helper` never tries.
 */
describe('volume copies with the tar of this machine', () => {
  const lab = new DockerLab();
  let repo: string;
  const details = async (id: string, service: string) => (JSON.parse(await readFile(join(repo, 'snapshots', id, 'manifest.json'), 'utf8')) as { services: Record<string, { details: Details }> }).services[service]!.details;

  beforeAll(async () => {
    await lab.init();
    repo = join(await lab.dir('repo'), 'repo');
  });

  afterAll(async () => {
    await lab.cleanup();
  });

  test("a container's volume on this machine's daemon: tar runs here, the writer is held while it reads, and the copy restores", async () => {
    const project = `${lab.prefix}here`;
    const data = await lab.volume('heredata');
    // The stack's app: on SIGTERM it finishes its step, so the counter and the log agree when it stops.
    const writer = await lab.run('herewriter', ['--init', '-v', `${data}:/data`, IMAGES.busybox, 'sh', '-c', WRITER], { project, service: 'w' });
    const res = await holdfast(['--repo', repo, 'backup', '--project', project, '--json'], lab.env());
    const id = savedSnapshot(res);
    const d = await details(id, 'w');
    expect(d).toMatchObject({ transport: 'local', tar: { image: 'host' }, held: [expect.objectContaining({ container: writer, action: 'stop' })] });
    expect(d.localTarSkipped).toBeUndefined();
    expect(await containerState(writer)).toBe('running');

    const target = lab.name('herecopy');
    const restore = await holdfast(['--repo', repo, 'restore', id, '--target', `w=volume:${target}`, '--json'], lab.env());
    expect(restore.code, restore.stderr).toBe(0);
    expect(restore.json<{ services: Array<{ fingerprint: { equal: boolean } }> }>().services[0]!.fingerprint.equal).toBe(true);
    // Stopped before tar read: the counter, the log's last line and the app's own stop record agree.
    const [counter, last, stopped] = (await lab.inVolume(target, 'cat /v/counter; tail -n 1 /v/log; tail -n 1 /v/events')).split('\n');
    expect(Number(counter)).toBeGreaterThan(0);
    expect([last, stopped]).toEqual([`line ${counter}`, `stop ${counter}`]);
  });

  test('no helper image on the daemon: the plan takes this machine\'s tar and the backup needs no helper (issue 14 item 6)', async () => {
    const project = `${lab.prefix}nohelper`;
    const data = await lab.volume('nohelperdata');
    await lab.run('nohelperwriter', ['--init', '-v', `${data}:/data`, IMAGES.busybox, 'sh', '-c', 'echo kept > /data/f; sleep 600'], { project, service: 'n' });
    const env = lab.env({ HOLDFAST_HELPER_IMAGE: 'holdfast-test/no-such-helper:1' });
    const plan = await holdfast(['plan', '--project', project, '--json'], env);
    expect(plan.code, plan.stderr + plan.stdout).toBe(0);
    const item = plan.json<{ services: Array<{ strategy: string; offers: Array<{ name: string; requirements: Array<{ what: string; met: boolean }> }> }> }>().services[0]!;
    expect(item.strategy).toBe('tar');
    expect(item.offers[0]!.requirements).toContainEqual(expect.objectContaining({ what: 'tar on this machine (no helper needed)', met: true }));
    const res = await holdfast(['--repo', repo, 'backup', '--project', project, '--json'], env);
    const id = savedSnapshot(res);
    expect(await details(id, 'n')).toMatchObject({ transport: 'local', tar: { image: 'host' } });
    expect(await lab.helpers()).toEqual([]);
  });

  test('a volume its driver mounts (tmpfs options): auto copies through the helper and says why; local refuses and stores nothing', async () => {
    const project = `${lab.prefix}opts`;
    const data = await lab.volume('tmpfsdata', ['--opt', 'type=tmpfs', '--opt', 'device=tmpfs', '--opt', 'o=size=16m']);
    const writer = await lab.run('optswriter', ['--init', '-v', `${data}:/data`, IMAGES.busybox, 'sh', '-c', 'echo kept > /data/f; sleep 600'], { project, service: 'o' });
    const auto = await holdfast(['--repo', repo, 'backup', '--project', project, '--json'], lab.env());
    expect(auto.code, auto.stderr).toBe(0);
    const d = await details(auto.json<{ snapshot: string }>().snapshot, 'o');
    expect(d.transport).toBe('fifo');
    expect(d.localTarSkipped).toBe(`volume ${data} is mounted by its driver (local with options)`);

    const before = await committedSnapshots(repo);
    const insisted = await holdfast(['--repo', repo, 'backup', '--project', project], lab.env({ HOLDFAST_VOLUME_TAR: 'local' }));
    expect(insisted.code).toBe(1);
    expect(insisted.stderr).toContain(`HOLDFAST_VOLUME_TAR=local, but tar cannot run on this machine: volume ${data} is mounted by its driver (local with options)`);
    expect(insisted.stderr).toContain('set it to auto or helper');
    expect(await committedSnapshots(repo)).toEqual(before);
    expect(await containerState(writer)).toBe('running');
  });

  test('HOLDFAST_VOLUME_TAR=helper never tries the local tar; an unknown value is refused', async () => {
    const project = `${lab.prefix}helper`;
    const data = await lab.volume('helperdata');
    await lab.run('helperwriter', ['--init', '-v', `${data}:/data`, IMAGES.busybox, 'sh', '-c', 'echo x > /data/f; sleep 600'], { project, service: 'h' });
    const res = await holdfast(['--repo', repo, 'backup', '--project', project, '--json'], lab.env({ HOLDFAST_VOLUME_TAR: 'helper' }));
    expect(res.code, res.stderr).toBe(0);
    expect(await details(res.json<{ snapshot: string }>().snapshot, 'h')).toMatchObject({ transport: 'fifo', localTarSkipped: 'HOLDFAST_VOLUME_TAR=helper' });

    const before = await committedSnapshots(repo);
    const bad = await holdfast(['--repo', repo, 'backup', '--project', project], lab.env({ HOLDFAST_VOLUME_TAR: 'host; rm -rf /' }));
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('HOLDFAST_VOLUME_TAR=host; rm -rf / is not one of auto, helper, local');
    expect(await committedSnapshots(repo)).toEqual(before);
  });
});
