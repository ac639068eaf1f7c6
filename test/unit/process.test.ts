import { text } from 'node:stream/consumers';
import { describe, expect, test, vi } from 'vitest';
import { assertToolSucceeded, lastLines, runCommandSpec, runTool, runToolText } from '../../src/core/process.js';

describe('runTool', () => {
  test('arguments go to the program as they are, never through a shell', async () => {
    const out = await runToolText('printf', ['%s|', 'a b', '$(echo hacked)', '; rm -rf /', '`x`']);
    expect(out).toBe('a b|$(echo hacked)|; rm -rf /|`x`|');
  });

  test('env reaches the child; undefined values remove a variable', async () => {
    vi.stubEnv('HOLDFAST_UNIT_REMOVE_ME', 'present');
    try {
      const out = await runToolText('sh', ['-c', 'printf "%s/%s" "$HOLDFAST_UNIT_SECRET" "${HOLDFAST_UNIT_REMOVE_ME:-unset}"'], {
        env: { HOLDFAST_UNIT_SECRET: 's3cret', HOLDFAST_UNIT_REMOVE_ME: undefined },
      });
      expect(out).toBe('s3cret/unset');
    } finally {
      vi.unstubAllEnvs();
    }
  });

  test('stdin can be piped', async () => {
    const run = runTool('cat', [], { stdin: 'pipe' });
    run.stdin!.end('through cat');
    expect(await text(run.stdout!)).toBe('through cat');
    expect((await run.done).code).toBe(0);
  });

  test('exit code, signal and stderr are reported; secrets are blanked from stderr', async () => {
    const run = runTool('sh', ['-c', 'echo "password Hunter2x rejected" >&2; exit 4'], { secrets: ['Hunter2x'] });
    run.stdout!.resume();
    const exit = await run.done;
    expect(exit).toEqual({ code: 4, signal: null, stderr: 'password *** rejected\n' });
  });

  test('an abort signal stops the child', async () => {
    const controller = new AbortController();
    const run = runTool('sleep', ['30'], { signal: controller.signal });
    setTimeout(() => controller.abort(), 50);
    const exit = await run.done;
    expect(exit.signal).toBe('SIGTERM');
  });

  test('a program that does not exist: a tool error saying so', async () => {
    await expect(runTool('holdfast-no-such-program', []).done).rejects.toMatchObject({ code: 'tool', message: expect.stringContaining('not installed') });
  });

  test("stdout can be another child's stdin, without a copy through Node", async () => {
    const consumer = runTool('tr', ['a-z', 'A-Z'], { stdin: 'pipe' });
    const output = text(consumer.stdout!);
    const producer = runTool('printf', ['piped'], { stdout: consumer.stdin! });
    consumer.stdin!.destroy(); // the producer holds the write end now
    expect((await producer.done).code).toBe(0);
    expect(await output).toBe('PIPED');
    expect((await consumer.done).code).toBe(0);
  });
});

describe('runToolText and assertToolSucceeded', () => {
  test('a failing tool: a tool error with its last stderr lines', async () => {
    await expect(runToolText('sh', ['-c', 'echo one >&2; echo two >&2; exit 2'])).rejects.toMatchObject({
      code: 'tool',
      message: 'sh exited with status 2: one\ntwo',
    });
  });

  test('a killed tool names the signal; the path is shortened to the program name', () => {
    expect(() => assertToolSucceeded('/usr/lib/postgresql/16/bin/pg_dump', { code: null, signal: 'SIGKILL', stderr: '' }, 'try again')).toThrow(
      expect.objectContaining({ code: 'tool', message: 'pg_dump was killed by SIGKILL', hint: 'try again' }),
    );
    expect(() => assertToolSucceeded('x', { code: 0, signal: null, stderr: 'warnings' })).not.toThrow();
  });

  test('lastLines', () => {
    expect(lastLines('\na\nb\nc\n\n', 2)).toBe('b\nc');
    expect(lastLines('', 3)).toBe('');
  });
});

describe('runCommandSpec', () => {
  test("tells the spec's exited hook the command's exit, as soon as it exits", async () => {
    let heard: { code: number | null } | undefined;
    const run = runCommandSpec({ command: 'sh', args: ['-c', 'exit 3'], exited: (exit) => (heard = exit) }, { stdout: 'ignore' });
    expect((await run.done).code).toBe(3);
    await Promise.resolve();
    expect(heard).toMatchObject({ code: 3 });
  });
});
