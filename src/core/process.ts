import { spawn, type ChildProcess } from 'node:child_process';
import type { Readable, Writable } from 'node:stream';
import { HoldfastError } from './errors.js';
import { withDeathSignal } from './process-deathsig.js';
import { redactSecrets } from './secrets.js';
import type { CommandSpec } from './driver.js';

/**
 * Child processes are spawned with argument arrays, never through a shell.
 * Secrets go through the environment of the child (readable only by its
 * owner), never argv. Every child gets a parent-death signal: none outlives
 * a holdfast killed with -9.
 */
export interface ToolOptions {
  env?: Record<string, string | undefined>;
  /** 'pipe' to write to the child's stdin, or an open file descriptor it reads; default: ignored. */
  stdin?: 'pipe' | 'ignore' | number;
  /**
   * 'pipe' (default) to read stdout as a stream; 'ignore' to drop it; or the
   * stdin of another child, to connect the two without a copy through Node.
   */
  stdout?: 'pipe' | 'ignore' | Writable;
  signal?: AbortSignal;
  cwd?: string;
  /** Values to blank out of stderr in error messages. */
  secrets?: Array<string | undefined>;
  /** The parent-death signal (default KILL); TERM for a shell that traps it (process-tree.ts). */
  deathSignal?: 'KILL' | 'TERM';
}

export interface ToolRun {
  child: ChildProcess;
  stdin: Writable | null;
  stdout: Readable | null;
  /** Resolves with the exit code and the tail of stderr once the child has exited. */
  done: Promise<ToolExit>;
}

export interface ToolExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  stderr: string;
}

const STDERR_KEEP = 16 * 1024;

export function runTool(command: string, args: readonly string[], options: ToolOptions = {}): ToolRun {
  const env = { ...process.env, ...options.env };
  for (const [k, v] of Object.entries(env)) if (v === undefined) delete env[k];
  // Every tool dies with holdfast (process-deathsig.ts).
  const spawned = withDeathSignal(command, args, env.PATH, options.deathSignal);
  const child = spawn(spawned.command, spawned.args, {
    env,
    cwd: options.cwd,
    stdio: [options.stdin ?? 'ignore', options.stdout ?? 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr?.setEncoding('utf8');
  child.stderr?.on('data', (chunk: string) => {
    stderr += chunk;
    if (stderr.length > STDERR_KEEP * 2) stderr = stderr.slice(-STDERR_KEEP);
  });
  const onAbort = () => child.kill('SIGTERM');
  options.signal?.addEventListener('abort', onAbort, { once: true });
  const done = new Promise<ToolExit>((resolve, reject) => {
    child.once('error', (error: NodeJS.ErrnoException) => {
      options.signal?.removeEventListener('abort', onAbort);
      if (error.code === 'ENOENT') {
        reject(new HoldfastError('tool', `${command} is not installed or not on PATH`, {
          hint: `install it (see the README) or put it on PATH`,
          cause: error,
        }));
      } else reject(error);
    });
    child.once('close', (code, signal) => {
      options.signal?.removeEventListener('abort', onAbort);
      resolve({ code, signal, stderr: redactSecrets(stderr.slice(-STDERR_KEEP), options.secrets ?? []) });
    });
  });
  // A child that fails to spawn also emits errors on its pipes; `done` reports it.
  child.stdin?.on('error', () => undefined);
  return { child, stdin: child.stdin, stdout: child.stdout, done };
}

/** Runs a tool to completion and returns its stdout as text; throws a 'tool' error on a non-zero exit. */
export async function runToolText(command: string, args: readonly string[], options: ToolOptions = {}): Promise<string> {
  const run = runTool(command, args, options);
  let out = '';
  run.stdout?.setEncoding('utf8');
  run.stdout?.on('data', (chunk: string) => (out += chunk));
  const exit = await run.done;
  assertToolSucceeded(command, exit);
  return out;
}

export function assertToolSucceeded(command: string, exit: ToolExit, hint?: string): void {
  if (exit.code === 0) return;
  const how = exit.signal ? `was killed by ${exit.signal}` : `exited with status ${exit.code}`;
  const tail = lastLines(exit.stderr, 6);
  throw new HoldfastError('tool', `${baseName(command)} ${how}${tail ? `: ${tail}` : ''}`, { hint });
}

export function lastLines(text: string, count: number): string {
  return text.trim().split('\n').slice(-count).join('\n').trim();
}

function baseName(path: string): string {
  return path.split('/').pop() ?? path;
}

/** Runs a driver's command (its environment and secrets as given) with stdout where asked; tells its `exited` hook when it exits. */
export function runCommandSpec(spec: CommandSpec, options: { stdout: ToolOptions['stdout']; signal?: AbortSignal | undefined }): ToolRun {
  const run = runTool(spec.command, spec.args, { env: spec.env, secrets: spec.secrets, stdout: options.stdout, signal: options.signal, ...(spec.stdinFd !== undefined ? { stdin: spec.stdinFd } : {}) });
  if (spec.exited) run.done.then(spec.exited, () => undefined);
  return run;
}
