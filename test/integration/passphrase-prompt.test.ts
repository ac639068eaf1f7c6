import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';

const BIN = fileURLToPath(new URL('../../bin/holdfast.js', import.meta.url));

/**
 * Runs holdfast on a pseudo-terminal (util-linux `script`), answering each
 * prompt once it appears, so that what is typed is never echoed by the
 * terminal before holdfast turns echo off.
 */
function onTerminal(args: string[], answers: string[], env: Record<string, string | undefined>): Promise<{ code: number | null; output: string }> {
  const command = [process.execPath, BIN, ...args].map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
  return new Promise((resolve, reject) => {
    const child = spawn('script', ['-q', '-e', '-c', command, '/dev/null'], { env: { ...process.env, ...env }, stdio: ['pipe', 'pipe', 'pipe'] });
    let output = '';
    let asked = 0;
    const onData = (d: Buffer) => {
      output += d.toString();
      const prompts = (output.match(/passphrase[^:\n]*: /g) ?? []).length;
      while (asked < prompts && asked < answers.length) child.stdin.write(`${answers[asked++]}\r`);
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.once('error', reject);
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });
}

describe('passphrase prompt on a terminal', () => {
  let work: string;
  const env = (repo: string) => ({ HOLDFAST_REPO: repo, HOLDFAST_PASSWORD: undefined, HOLDFAST_PASSWORD_FILE: undefined, HOLDFAST_KEY_FILE: undefined });
  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'holdfast-tty-'));
  });
  afterAll(async () => {
    if (work) await rm(work, { recursive: true, force: true });
  });

  test('init --encrypt asks twice without echo; the next command asks once and opens it', async () => {
    const repo = join(work, 'repo');
    const secret = 'typed-secret-phrase-42';
    const init = await onTerminal(['init', '--encrypt'], [secret, secret], env(repo));
    expect(init.code, init.output).toBe(0);
    expect(init.output).toContain('the same passphrase again: ');
    expect(init.output).toContain(`created encrypted repository ${repo}`);
    expect(init.output).not.toContain(secret);
    expect(JSON.parse(await readFile(join(repo, 'config.json'), 'utf8'))).toMatchObject({ encryption: { slots: [{ type: 'passphrase' }] } });

    const list = await onTerminal(['snapshots'], [secret], env(repo));
    expect(list.code, list.output).toBe(0);
    expect(list.output).not.toContain(secret);
    const wrong = await onTerminal(['snapshots'], ['something else entirely'], env(repo));
    expect(wrong.code).toBe(2);
    expect(wrong.output).toContain(`wrong passphrase for the repository at ${repo}`);
  });

  test('two different answers at init: exit 2, no repository created', async () => {
    const repo = join(work, 'differ');
    const r = await onTerminal(['init', '--encrypt'], ['first-passphrase-1', 'second-passphrase-2'], env(repo));
    expect(r.code).toBe(2);
    expect(r.output).toContain('the two passphrases differ');
    await expect(stat(repo)).rejects.toMatchObject({ code: 'ENOENT' });
  });
});
