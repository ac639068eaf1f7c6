/**
 * Runs a hook on this machine: argv spawned without a shell (a string hook is
 * already [/bin/sh, -c, ...]), in a process group of its own so that a timeout
 * stops the hook and everything it started (a `sleep` under a shell would
 * otherwise keep the pipes open and the run waiting), SIGTERM then SIGKILL.
 */
import { spawn } from 'node:child_process';
import type { HookCommand, HookExit } from './hooks.js';
import { withDeathSignal } from './process-deathsig.js';
import { HoldfastError } from './errors.js';

const STDERR_KEEP = 16 * 1024;
/** After SIGTERM, how long a hook's process group may take before SIGKILL. */
const KILL_AFTER_MS = 3000;

export function runHostHook(command: HookCommand, env: Record<string, string>): Promise<HookExit> {
  const fullEnv: Record<string, string> = {};
  for (const [k, v] of Object.entries({ ...process.env, ...env })) if (v !== undefined) fullEnv[k] = v;
  const [program, ...args] = command.argv as [string, ...string[]];
  const spawned = withDeathSignal(program, args, fullEnv.PATH);
  return new Promise((resolve, reject) => {
    // Its output is not holdfast's (stdout may carry --json): stdout is dropped, stderr kept for the error.
    const child = spawn(spawned.command, spawned.args, { env: fullEnv, stdio: ['ignore', 'ignore', 'pipe'], detached: true });
    let stderr = '';
    let timedOut = false;
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (chunk: string) => {
      stderr = (stderr + chunk).slice(-STDERR_KEEP);
    });
    const group = (signal: NodeJS.Signals) => {
      try {
        if (child.pid) process.kill(-child.pid, signal);
      } catch {
        // already gone
      }
    };
    let killer: NodeJS.Timeout | undefined;
    const timer = setTimeout(() => {
      timedOut = true;
      group('SIGTERM');
      killer = setTimeout(() => group('SIGKILL'), KILL_AFTER_MS);
    }, command.timeoutMs);
    child.once('error', (error: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      if (error.code === 'ENOENT') reject(new HoldfastError('hook', `the hook program ${program} is not installed or not on PATH`, { hint: 'give its full path in the hook' }));
      else reject(error);
    });
    // 'exit', not 'close': a child the hook left behind may hold stderr open; its group is stopped below.
    child.once('exit', (code) => {
      clearTimeout(timer);
      if (timedOut) group('SIGKILL');
      clearTimeout(killer);
      setImmediate(() => {
        child.stderr?.destroy();
        resolve({ code, timedOut, stderr });
      });
    });
  });
}
