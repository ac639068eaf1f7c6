import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { holdfast } from '../support/cli.js';

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

describe('key file and passphrase from the environment, through the CLI', () => {
  let work: string;
  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'holdfast-keyfile-'));
  });
  afterAll(async () => {
    if (work) await rm(work, { recursive: true, force: true });
  });
  const clean = { HOLDFAST_PASSWORD: undefined, HOLDFAST_PASSWORD_FILE: undefined, HOLDFAST_KEY_FILE: undefined };

  test('init --encrypt --key-file creates the key (0600); HOLDFAST_KEY_FILE or --key-file opens; none says what to set', async () => {
    const repo = join(work, 'repo');
    const key = join(work, 'repo.key');
    const init = await holdfast(['init', '--encrypt', '--key-file', key, '--repo', repo, '--json'], clean);
    expect(init.code, init.stderr).toBe(0);
    expect(init.json()).toMatchObject({ status: 'ok', encrypted: true });
    expect((await stat(key)).mode & 0o777).toBe(0o600);
    expect((await holdfast(['snapshots', '--repo', repo], { ...clean, HOLDFAST_KEY_FILE: key })).code).toBe(0);
    expect((await holdfast(['snapshots', '--repo', repo, '--key-file', key], clean)).code).toBe(0);
    const none = await holdfast(['snapshots', '--repo', repo], clean);
    expect(none.code).toBe(2);
    expect(none.stderr).toContain(`the repository at ${repo} is encrypted with a key file and none was given`);
    expect(none.stderr).toMatch(/hint: set HOLDFAST_KEY_FILE or --key-file/);
  });

  test('HOLDFAST_PASSWORD set: init encrypts without --encrypt; --no-encrypt makes a plain one; a backup never creates a plain one silently', async () => {
    const env = { ...clean, HOLDFAST_PASSWORD: 'environment passphrase' };
    const encrypted = await holdfast(['init', '--repo', join(work, 'by-env'), '--json'], env);
    expect(encrypted.json()).toMatchObject({ encrypted: true });
    const plain = await holdfast(['init', '--no-encrypt', '--repo', join(work, 'plain'), '--json'], env);
    expect(plain.json()).toMatchObject({ encrypted: false });
    const backup = await holdfast(['backup', '--repo', join(work, 'none-yet'), '--service', 'db=postgres://postgres@127.0.0.1:1/x'], env);
    expect(backup.code).toBe(2);
    expect(backup.stderr).toMatch(/hint: create an encrypted one first with `holdfast init --encrypt`/);
    await expect(stat(join(work, 'none-yet'))).rejects.toMatchObject({ code: 'ENOENT' });
  });

  test('a key file shorter than 32 bytes is refused with a way to make one', async () => {
    const short = join(work, 'short.key');
    await writeFile(short, 'too short', { mode: 0o600 });
    const r = await holdfast(['init', '--encrypt', '--key-file', short, '--repo', join(work, 'short-repo')], clean);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`the key file ${short} has 9 bytes`);
    expect(r.stderr).toContain('head -c 32 /dev/urandom');
  });
});
