import { spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { ArtifactSink, CommandSpec } from '../../src/core/driver.js';
import { runTool } from '../../src/core/process.js';
import { connectDocker } from '../../src/docker/docker-client.js';
import { ContainerPlace } from '../../src/place/container-place.js';
import type { ArtifactRecord } from '../../src/repository/manifest.js';
import { docker, DockerLab, IMAGES } from '../support/docker.js';

// A tool's output leaves its container through a named pipe read on this host (container-pipe.ts),
// not through dockerd's stdio copy. The pipe's host path runs through the container's root: a
// container that swaps the pipe for a symlink must get a refusal, never a read of a host file.
function memorySink(): ArtifactSink & { got: Map<string, Buffer> } {
  const got = new Map<string, Buffer>();
  return {
    got,
    async write(name: string, source: Readable): Promise<ArtifactRecord> {
      const chunks: Buffer[] = [];
      for await (const c of source) chunks.push(c as Buffer);
      got.set(name, Buffer.concat(chunks));
      return { name, rawBytes: got.get(name)!.length } as unknown as ArtifactRecord;
    },
    // As the repository does: the command's stdout is the artifact (here kept in memory).
    async writeCommand(name: string, spec: CommandSpec) {
      const run = runTool(spec.command, spec.args, { ...(spec.stdinFd !== undefined ? { stdin: spec.stdinFd } : {}) });
      const chunks: Buffer[] = [];
      for await (const c of run.stdout!) chunks.push(c as Buffer);
      const exit = await run.done;
      got.set(name, Buffer.concat(chunks));
      return { record: { name, rawBytes: got.get(name)!.length } as unknown as ArtifactRecord, exit };
    },
    async discard(name: string) {
      got.delete(name);
    },
  } as ArtifactSink & { got: Map<string, Buffer> };
}

const judge = (exit: { code: number | null; stderr: string }) => {
  throw new Error(`exit ${exit.code}: ${exit.stderr}`);
};

describe.runIf(process.getuid?.() === 0)('a tool output through a pipe in the container', () => {
  const lab = new DockerLab();
  let name: string;

  beforeAll(async () => {
    await lab.init();
    name = await lab.run('box', [IMAGES.busybox, 'sleep', '600']);
  }, 120_000);

  afterAll(async () => {
    await lab.cleanup();
  });

  test('the bytes arrive whole through the pipe, and the pipe is removed', async () => {
    const place = await ContainerPlace.open(name, { service: 'box', engine: 'test', api: connectDocker() });
    const sink = memorySink();
    await place.toArtifact(['sh', '-c', 'head -c 3000000 /dev/zero | tr "\\0" x; echo end'], sink, { name: 'a', kind: 'test' }, { judge });
    expect(place.lastOutput).toBe('pipe');
    expect(sink.got.get('a')!.length).toBe(3_000_004);
    expect(await docker(['exec', name, 'sh', '-c', 'ls -d /tmp/holdfast-io.* 2>/dev/null || true'])).toBe('');
  });

  test('a run staged ahead: nothing runs until go(), whose words reach argv as they are; a word sh would split is refused; cancel() starts nothing and leaves no pipe', async () => {
    const place = await ContainerPlace.open(name, { service: 'box', engine: 'test', api: connectDocker() });
    const sink = memorySink();
    const marker = `/tmp/staged-${process.pid}`;
    const argv = ['sh', '-c', `touch ${marker}; printf "%s|" "$@"`, 'tool', 'fixed'];
    const staged = (await place.stageArtifact(argv, sink, { name: 'g', kind: 'test' }, { judge }))!;
    expect(staged.dir).toMatch(/^\/tmp\/holdfast-io\./);
    // Made and waiting: its pipe is there, its tool has not started.
    expect(await docker(['exec', name, 'sh', '-c', `ls -d ${staged.dir}; ls ${marker} 2>/dev/null || echo none`])).toBe(`${staged.dir}\nnone`);
    await staged.go(['--snapshot=00000003-0000001B-1', `--target-dir=${staged.dir}`]);
    expect(sink.got.get('g')!.toString()).toBe(`fixed|--snapshot=00000003-0000001B-1|--target-dir=${staged.dir}|`);

    const refused = (await place.stageArtifact(argv, sink, { name: 'r', kind: 'test' }, { judge }))!;
    await expect(refused.go(['two words'])).rejects.toThrow(/cannot be passed to a staged run/);
    const cancelled = (await place.stageArtifact(argv, sink, { name: 'c', kind: 'test' }, { judge }))!;
    await cancelled.cancel();
    expect(sink.got.has('r') || sink.got.has('c')).toBe(false);
    expect(await docker(['exec', name, 'sh', '-c', `rm ${marker} && ls -d /tmp/holdfast-io.* 2>/dev/null || true`])).toBe('');
  });

  test('a small output, written and closed before holdfast opens its read end, arrives whole', async () => {
    const place = await ContainerPlace.open(name, { service: 'box', engine: 'test', api: connectDocker() });
    for (let i = 0; i < 5; i++) {
      const sink = memorySink();
      await place.toArtifact(['echo', `small ${i}`], sink, { name: 's', kind: 'test' }, { judge });
      expect(place.lastOutput).toBe('pipe');
      expect(sink.got.get('s')!.toString()).toBe(`small ${i}\n`);
    }
  });

  test('a failing tool fails the artifact (nothing kept) without hanging', async () => {
    const place = await ContainerPlace.open(name, { service: 'box', engine: 'test', api: connectDocker() });
    const sink = memorySink();
    await expect(place.toArtifact(['sh', '-c', 'echo broken >&2; exit 3'], sink, { name: 'b', kind: 'test' }, { judge })).rejects.toThrow('exit 3: broken');
    expect(sink.got.has('b')).toBe(false);
  });

  test('a pipe swapped for a symlink to a file is refused before a byte is read; the host file is untouched', async () => {
    const before = await readFile('/etc/hostname', 'utf8');
    // A hostile container (its credential wrapper runs first): it redefines printf in holdfast's own script, so that
    // the pipe is swapped for a symlink to /etc/hostname after it was made and before holdfast opens it.
    const swap = [
      `hostile='printf() { case "$1" in "%s %s"*) rm -f "$d/pipe"; ln -s /etc/hostname "$d/pipe";; esac; command printf "$@"; }'`,
      'script="$hostile',
      '$3"',
      'shift 3',
      'exec sh -c "$script" "$@"',
    ].join('\n');
    const place = await ContainerPlace.open(name, { service: 'box', engine: 'test', api: connectDocker(), wrapper: swap });
    const sink = memorySink();
    await expect(place.toArtifact(['echo', 'hello'], sink, { name: 'c', kind: 'test' }, { judge })).rejects.toMatchObject({
      code: 'integrity',
      message: expect.stringMatching(new RegExp(`the pipe holdfast made in container ${name} was replaced \\(a symbolic link\\): refused`)),
    });
    expect(sink.got.size).toBe(0);
    expect(await readFile('/etc/hostname', 'utf8')).toBe(before);
    // A tool that swaps the pipe while it writes: what was read is dropped.
    const plain = await ContainerPlace.open(name, { service: 'box', engine: 'test', api: connectDocker() });
    const swapping = 'for d in /tmp/holdfast-io.*; do rm -f "$d/pipe"; ln -s /etc/hostname "$d/pipe"; done; echo hello';
    await expect(plain.toArtifact(['sh', '-c', swapping], sink, { name: 'e', kind: 'test' }, { judge })).rejects.toMatchObject({ code: 'integrity', message: expect.stringContaining('was replaced (after it was opened)') });
    expect(sink.got.size).toBe(0);
    expect(await readFile('/etc/hostname', 'utf8')).toBe(before);
  });

  test('holdfast killed (-9) mid-read leaves no pipe directory in the container', async () => {
    // A holdfast process whose repository side never reads: the tool fills the pipe and waits.
    const dist = (p: string) => fileURLToPath(new URL(`../../dist/src/${p}`, import.meta.url));
    const script = [
      `const { ContainerPlace } = await import(${JSON.stringify(dist('place/container-place.js'))});`,
      `const { connectDocker } = await import(${JSON.stringify(dist('docker/docker-client.js'))});`,
      `const place = await ContainerPlace.open(${JSON.stringify(name)}, { service: 'box', engine: 'test', api: connectDocker() });`,
      "const sink = { writeCommand: () => new Promise(() => process.stdout.write('reading\\n')), write: () => new Promise(() => {}), discard: async () => {} };",
      "await place.toArtifact(['yes'], sink, { name: 'k', kind: 'test' }, { judge: () => {} });",
    ].join('\n');
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    const exited = new Promise((resolve) => child.once('exit', resolve));
    await new Promise<void>((resolve, reject) => {
      child.stdout!.on('data', (d: Buffer) => d.toString().includes('reading') && resolve());
      child.once('exit', () => reject(new Error('the holdfast process ended before it read')));
    });
    const dirs = () => docker(['exec', name, 'sh', '-c', 'ls -d /tmp/holdfast-io.* 2>/dev/null || true']);
    expect(await dirs()).not.toBe('');
    child.kill('SIGKILL');
    await exited;
    let left = await dirs();
    for (let i = 0; i < 50 && left !== ''; i++) {
      await new Promise((r) => setTimeout(r, 100));
      left = await dirs();
    }
    expect(left).toBe('');
  });

  test('HOLDFAST_EXEC_STREAM=1 reads through docker exec instead', async () => {
    process.env.HOLDFAST_EXEC_STREAM = '1';
    try {
      const place = await ContainerPlace.open(name, { service: 'box', engine: 'test', api: connectDocker() });
      const sink = memorySink();
      await place.toArtifact(['echo', 'hello'], sink, { name: 'd', kind: 'test' }, { judge });
      expect(place.lastOutput).toBe('exec');
      expect(sink.got.get('d')!.toString()).toBe('hello\n');
    } finally {
      delete process.env.HOLDFAST_EXEC_STREAM;
    }
  });
});
