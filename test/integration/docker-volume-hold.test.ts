import { readdir, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { waitFor } from '../../src/core/wait.js';
import { holdfast, savedSnapshot } from '../support/cli.js';
import { containerState, docker, DockerLab, IMAGES } from '../support/docker.js';
import { committedSnapshots } from '../support/repo-files.js';

/** Journal entries holdfast has written in the lab's state dir. */
async function journalEntries(stateDir: string): Promise<Array<{ name: string; action: string }>> {
  const dir = join(stateDir, 'held');
  const files = (await readdir(dir).catch(() => [] as string[])).filter((f) => f.endsWith('.json'));
  const all = await Promise.all(files.map(async (f) => (JSON.parse(await readFile(join(dir, f), 'utf8').catch(() => '{"entries":[]}')) as { entries: Array<{ name: string; action: string }> }).entries));
  return all.flat();
}

describe('holding the writers of a volume: stop, pause, timeouts, crashes', () => {
  const lab = new DockerLab();
  let repo: string;

  beforeAll(async () => {
    await lab.init();
    repo = join(await lab.dir('repo'), 'repo');
  });

  afterAll(async () => {
    await lab.cleanup();
  });

  test('holdfast.quiesce=pause: a crash-consistent copy with the writer paused, then unpaused', async () => {
    const project = `${lab.prefix}pause`;
    const data = await lab.volume('pausedata');
    const writer = await lab.run('pauser', ['--init', '--label', 'holdfast.quiesce=pause', '-v', `${data}:/data`, IMAGES.busybox, 'sh', '-c', 'while true; do date >> /data/log; sleep 0.05; done'], { project, service: 'pauser' });
    const plan = await holdfast(['plan', '--project', project, '--json'], lab.env());
    const item = plan.json<{ services: Array<{ strategy: string; consistency: string; reason: string }> }>().services[0]!;
    expect(item).toMatchObject({ strategy: 'tar-pause', consistency: 'crash-consistent' });
    expect(item.reason).toContain(`skipped tar: every writer may be stopped (${writer} has quiesce=pause)`);
    const res = await holdfast(['--repo', repo, 'backup', '--project', project, '--json'], lab.env());
    const id = savedSnapshot(res);
    const manifest = JSON.parse(await readFile(join(repo, 'snapshots', id, 'manifest.json'), 'utf8')) as { services: Record<string, { consistency: string; details: { held: Array<{ container: string; action: string }> } }> };
    expect(manifest.services.pauser!.consistency).toBe('crash-consistent');
    expect(manifest.services.pauser!.details.held).toEqual([expect.objectContaining({ container: writer, action: 'pause' })]);
    expect(await containerState(writer)).toBe('running');
  });

  test('a live copy is never chosen silently: holdfast.quiesce=none needs the strategy pinned, and is marked inconsistent', async () => {
    const project = `${lab.prefix}live`;
    const data = await lab.volume('livedata');
    await lab.run('live', ['--init', '--label', 'holdfast.quiesce=none', '-v', `${data}:/data`, IMAGES.busybox, 'sh', '-c', 'echo hi > /data/f; sleep 600'], { project, service: 'live' });
    const unpinned = await holdfast(['plan', '--project', project, '--json'], lab.env());
    expect(unpinned.code).toBe(1);
    const item = unpinned.json<{ services: Array<{ strategy?: string; error: { message: string } }> }>().services[0]!;
    expect(item.strategy).toBeUndefined();
    expect(item.error.message).toContain('no backup strategy can run');
    const pinned = await holdfast(['--repo', repo, 'backup', '--project', project, '--strategy', 'live=tar-live', '--json'], lab.env());
    expect(pinned.code, pinned.stderr).toBe(0);
    expect(pinned.json<{ services: Array<{ consistency: string }> }>().services[0]!.consistency).toBe('inconsistent');
  });

  test('a container that does not stop within its timeout: a clear error, nothing stored, and it runs again', async () => {
    const project = `${lab.prefix}stub`;
    const before = await committedSnapshots(repo);
    // busybox sleep as PID 1 ignores SIGTERM: docker stop has to kill it.
    const stubborn = await lab.run('stubborn', ['--label', 'holdfast.stop-timeout=1', '-v', `${await lab.volume('stubdata')}:/data`, IMAGES.busybox, 'sleep', '600'], { project, service: 'stubborn' });
    const res = await holdfast(['--repo', repo, 'backup', '--project', project], lab.env());
    expect(res.code).toBe(1);
    expect(res.stderr).toContain(`container ${stubborn} did not stop within its stop timeout of 1s, so Docker killed it`);
    expect(res.stderr).toContain('holdfast.stop-timeout');
    expect(await committedSnapshots(repo)).toEqual(before);
    expect(await containerState(stubborn)).toBe('running');
    expect(await journalEntries(lab.stateDir)).toEqual([]);
  });

  test('SIGTERM while containers are held: the run stops, resumes them itself and stores nothing', async () => {
    const project = `${lab.prefix}term`;
    const data = await lab.volume('termdata');
    const a = await lab.run('ta', ['--init', '-v', `${data}:/data`, IMAGES.busybox, 'sleep', '600'], { project, service: 'ta' });
    const b = await lab.run('tb', ['--init', '--label', 'holdfast.stop-timeout=30', '-v', `${data}:/data`, IMAGES.busybox, 'sh', '-c', 'trap "sleep 2; exit 0" TERM; while true; do sleep 0.1; done'], { project, service: 'tb' });
    const before = await committedSnapshots(repo);
    let pid = 0;
    const running = holdfast(['--repo', repo, 'backup', '--project', project, 'ta'], lab.env(), { onSpawn: (p) => (pid = p) });
    await waitFor('both writers in the journal', async () => ((await journalEntries(lab.stateDir)).length === 2 ? true : undefined), { timeoutMs: 30_000, intervalMs: 20 });
    process.kill(pid, 'SIGTERM');
    const res = await running;
    expect(res.code).toBe(1);
    expect(res.stderr).toContain('SIGTERM received');
    expect(await containerState(a)).toBe('running');
    expect(await containerState(b)).toBe('running');
    expect(await journalEntries(lab.stateDir)).toEqual([]);
    expect(await committedSnapshots(repo)).toEqual(before);
  });

  test('kill -9 while containers are held: the next holdfast command resumes them and says so', async () => {
    const project = `${lab.prefix}crash`;
    const data = await lab.volume('crashdata');
    const a = await lab.run('a', ['--init', '-v', `${data}:/data`, IMAGES.busybox, 'sleep', '600'], { project, service: 'a' });
    // b takes 3 s to stop: holdfast is killed while it waits for b, with a already stopped.
    const b = await lab.run('b', ['--init', '--label', 'holdfast.stop-timeout=30', '-v', `${data}:/data`, IMAGES.busybox, 'sh', '-c', 'trap "sleep 3; exit 0" TERM; while true; do sleep 0.1; done'], { project, service: 'b' });
    let pid = 0;
    // Through a helper container, whose leftover this test also checks (the tar on this machine leaves none).
    const env = lab.env({ HOLDFAST_VOLUME_TAR: 'helper' });
    const running = holdfast(['--repo', repo, 'backup', '--project', project, 'a'], env, { onSpawn: (p) => (pid = p) });
    await waitFor('both writers in the journal', async () => ((await journalEntries(lab.stateDir)).length === 2 ? true : undefined), { timeoutMs: 30_000, intervalMs: 20 });
    process.kill(pid, 'SIGKILL');
    const killed = await running;
    expect(killed.code).toBeNull();
    expect(await containerState(a)).toBe('exited');
    await waitFor(`${b} stopped`, async () => ((await containerState(b)) === 'exited' ? true : undefined), { timeoutMs: 30_000 });
    // The run's idle helper is left behind too (it is removed by the next backup).
    const helper = await docker(['ps', '-aq', '--filter', 'label=holdfast.helper=true', '--filter', `label=holdfast.pid=${pid}`]);
    expect(helper).not.toBe('');
    // Its pipe directory too (any later run may remove it first: it belongs to a dead pid).
    const ioDirs = async () => (await readdir(tmpdir())).filter((d) => d.startsWith(`holdfast-io-${pid}-`));

    const next = await holdfast(['--repo', repo, 'snapshots'], lab.env());
    expect(next.code, next.stderr).toBe(0);
    expect(next.stderr).toContain(`holdfast: resumed container ${a} (stopped by holdfast pid ${pid}`);
    expect(next.stderr).toContain(`holdfast: resumed container ${b} (stopped by holdfast pid ${pid}`);
    expect(await containerState(a)).toBe('running');
    expect(await containerState(b)).toBe('running');
    expect(await journalEntries(lab.stateDir)).toEqual([]);
    // Said once: the command after that has nothing to resume.
    const quiet = await holdfast(['--repo', repo, 'snapshots'], lab.env());
    expect(quiet.stderr).not.toContain('resumed');

    const discover = await holdfast(['discover', '--project', project, '--json'], lab.env());
    expect(discover.json<{ notes: string[] }>().notes.join('\n')).toContain(`of holdfast pid ${pid} (that run died)`);
    const again = await holdfast(['--repo', repo, 'backup', '--project', project, 'a', '--json'], env);
    expect(again.code, again.stderr).toBe(0);
    expect(again.json<{ services: Array<{ notes: string[] }> }>().services[0]!.notes.join('\n')).toContain('removed helper containers left by runs that died');
    expect(await docker(['ps', '-aq', '--filter', 'label=holdfast.helper=true', '--filter', `label=holdfast.pid=${pid}`])).toBe('');
    expect(await ioDirs()).toEqual([]);
    expect(await lab.held()).toEqual([]);
  });
});
