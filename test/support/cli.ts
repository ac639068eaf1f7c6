import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { expect } from 'vitest';

const BIN = fileURLToPath(new URL('../../bin/holdfast.js', import.meta.url));
const UMASK_BIN = fileURLToPath(new URL('./umask-holdfast.mjs', import.meta.url));

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
  json<T = Record<string, unknown>>(): T;
}

export interface CliOptions {
  cwd?: string;
  onSpawn?: (pid: number) => void;
  onStderr?: (text: string) => void;
  /**
   * `backup` creates a missing repository only with `--init`. Tests mostly
   * back up into a fresh temp directory, so a `backup` without `--init` /
   * `--no-init` gets `--init` added; `init: false` runs it exactly as
   * written (for tests of the missing-repository rule itself).
   */
  init?: boolean;
  /** Run the CLI under this umask (e.g. 0o000, to prove its files are private whatever the umask). */
  umask?: number;
}

/** Global options that take a value: what follows them is not the command. */
const VALUED = new Set(['--repo', '--config', '--key-file', '--service', '--project']);

/** The command word of an argument list (`backup` in `--repo X backup --json`). */
export function commandOf(args: readonly string[]): string | undefined {
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (VALUED.has(arg)) i++;
    else if (!arg.startsWith('-')) return arg;
  }
  return undefined;
}

function withInit(args: string[], options: CliOptions): string[] {
  if (options.init === false || commandOf(args) !== 'backup') return args;
  if (args.some((a) => a === '--init' || a === '--no-init' || a.startsWith('--init='))) return args;
  return [...args, '--init'];
}

/**
 * The node arguments that run the CLI as holdfast() does (`--init` added to a
 * backup, the umask wrapper when asked), for a test that spawns it itself,
 * e.g. under `script` for a pseudo-terminal: spawn(process.execPath, cliArgv(args)).
 */
export function cliArgv(args: string[], options: Pick<CliOptions, 'init' | 'umask'> = {}): string[] {
  const argv = withInit(args, options);
  return options.umask === undefined ? [BIN, ...argv] : [UMASK_BIN, options.umask.toString(8), ...argv];
}

/** Runs the built CLI as a user would, with an environment of its own. */
export function holdfast(args: string[], env: Record<string, string | undefined> = {}, options: CliOptions = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, cliArgv(args, options), { env: { ...process.env, ...env }, cwd: options.cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    if (child.pid && options.onSpawn) options.onSpawn(child.pid);
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
      options.onStderr?.(stderr);
    });
    child.once('error', reject);
    child.once('close', (code) =>
      resolve({
        code,
        stdout,
        stderr,
        json<T>() {
          try {
            return JSON.parse(stdout) as T;
          } catch {
            throw new Error(`not JSON (exit ${code}):\n${stdout}\n--- stderr ---\n${stderr}`);
          }
        },
      }),
    );
  });
}

/** `holdfast --repo REPO init`, which must succeed: import (and anything but `backup --init`) needs an existing repository. */
export async function initRepo(repo: string, env: Record<string, string | undefined> = {}, ...flags: string[]): Promise<void> {
  const r = await holdfast(['--repo', repo, 'init', ...flags], env);
  expect(r.code, r.stderr + r.stdout).toBe(0);
}

/** The id of the snapshot a `backup --json` saved; the run must have exited 0 (its output is the failure message). */
export function savedSnapshot(result: CliResult): string {
  expect(result.code, result.stderr + result.stdout).toBe(0);
  return result.json<{ snapshot: string }>().snapshot;
}
