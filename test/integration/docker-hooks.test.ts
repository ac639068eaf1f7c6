/**
 * Hooks from a container's labels run inside it through docker exec: the
 * pre-hook before its volume is copied (its file is in the snapshot), the
 * post-hook after, told the outcome; a failing pre-hook fails the service.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { holdfast } from '../support/cli.js';
import { docker, DockerLab, IMAGES } from '../support/docker.js';

describe('container hooks (labels holdfast.pre-backup / holdfast.post-backup)', () => {
  const lab = new DockerLab();
  let repo: string;

  beforeAll(async () => {
    await lab.init();
    repo = join(await lab.dir('repo'), 'repo');
  });
  afterAll(async () => {
    await lab.cleanup();
  });

  test('run in the container, before and after the copy; a failing one fails only its service', async () => {
    const project = `${lab.prefix}hooks`;
    const good = await lab.volume('good');
    const bad = await lab.volume('bad');
    const ok = await lab.run('app', [
      '--init',
      '--label', 'holdfast.quiesce=pause',
      '--label', 'holdfast.pre-backup=echo flushed > /data/flushed',
      '--label', 'holdfast.post-backup=["sh","-c","echo \\"$HOLDFAST_STATUS $HOLDFAST_SERVICE $HOLDFAST_SNAPSHOT\\" > /data/post"]',
      '-v', `${good}:/data`, IMAGES.busybox, 'sleep', '600',
    ], { project, service: 'app' });
    await lab.run('other', [
      '--init',
      '--label', 'holdfast.quiesce=pause',
      '--label', 'holdfast.pre-backup=echo "no lock" >&2; exit 4',
      '--label', 'holdfast.post-backup=echo "$HOLDFAST_STATUS: $HOLDFAST_ERROR" > /data/post',
      '-v', `${bad}:/data`, IMAGES.busybox, 'sleep', '600',
    ], { project, service: 'other' });
    const r = await holdfast(['--repo', repo, 'backup', '--init', '--project', project, '--json'], lab.env());
    expect(r.code, r.stderr + r.stdout).toBe(3);
    const doc = r.json<{ snapshot: string; services: Array<{ service: string; status: string; error?: { message: string } }> }>();
    expect(doc.services.find((s) => s.service === 'app')!.status).toBe('ok');
    const other = doc.services.find((s) => s.service === 'other')!;
    expect(other.status).toBe('failed');
    expect(other.error!.message).toMatch(/^pre-backup hook \(label holdfast\.pre-backup: \/bin\/sh in container \S+-other\) exited with status 4: no lock$/);
    expect((await docker(['exec', ok, 'cat', '/data/post'])).trim()).toBe(`ok app ${doc.snapshot}`);
    expect((await lab.inVolume(bad, 'cat /v/post')).trim()).toMatch(/^failed: pre-backup hook .* exited with status 4: no lock$/);
    // The pre-hook's file was written before the copy: the restored volume holds it.
    const restored = await holdfast(['--repo', repo, 'restore', doc.snapshot, 'app', '--target', `app=volume:${lab.name('copy')}`, '--json'], lab.env());
    expect(restored.code, restored.stderr + restored.stdout).toBe(0);
    expect((await lab.inVolume(lab.name('copy'), 'cat /v/flushed')).trim()).toBe('flushed');
    expect(await lab.held()).toEqual([]);
  });

  test('a hook that outlives its timeout is killed inside the container and fails its service clearly', async () => {
    const project = `${lab.prefix}slow`;
    const data = await lab.volume('slow');
    const app = await lab.run('slow', [
      '--init',
      '--label', 'holdfast.quiesce=pause',
      '--label', 'holdfast.pre-backup=sleep 297; echo late > /data/late',
      '--label', 'holdfast.hook-timeout=1s',
      '-v', `${data}:/data`, IMAGES.busybox, 'sleep', '600',
    ], { project, service: 'slow' });
    const started = Date.now();
    const r = await holdfast(['--repo', repo, 'backup', '--project', project, '--json'], lab.env());
    expect(Date.now() - started).toBeLessThan(30_000);
    expect(r.code, r.stderr + r.stdout).not.toBe(0);
    const slow = r.json<{ services: Array<{ service: string; status: string; error?: { message: string } }> }>().services.find((s) => s.service === 'slow')!;
    expect(slow.status).toBe('failed');
    // Its processes are gone from the container (docker top lists what runs in it), the service itself runs on.
    const top = await docker(['top', app]);
    expect(top).not.toContain('sleep 297');
    expect(top).toContain('sleep 600');
    expect(slow.error!.message).toMatch(/^pre-backup hook \(label holdfast\.pre-backup: \/bin\/sh in container \S+-slow\) did not finish within 1s and was killed in the container/);
    expect(await lab.held()).toEqual([]);
  });
});
