import type { Writable } from 'node:stream';
import type { LockWait } from './lock.js';
import { HoldfastError } from '../core/errors.js';
import { onPath } from '../core/process-deathsig.js';
import { lastLines, runTool, type ToolExit, type ToolRun } from '../core/process.js';
import { describeResticLock, parseResticLock } from './restic-lock.js';

/**
 * One restic repository as the restic CLI reaches it. The location goes to
 * restic as RESTIC_REPOSITORY and the password stays in the caller's
 * RESTIC_PASSWORD / RESTIC_PASSWORD_FILE / RESTIC_PASSWORD_COMMAND: a URL
 * with credentials (rest:https://user:pass@host/) never reaches argv.
 *
 * Every restic runs under `setpriv --pdeathsig KILL` (runTool does it for
 * every tool): a holdfast killed with -9 takes its restic along, so a
 * `backup --stdin` never sees an end of input that nobody sealed and saves
 * nothing.
 */
export class ResticCli {
  /** What happened that the user should know (a stale lock removed). */
  readonly notes: string[] = [];

  constructor(
    readonly repository: string,
    /** The location without credentials, for messages. */
    readonly display: string,
  ) {}

  /** Starts restic; the caller reads its output and judges the exit with `fail`. */
  spawn(args: readonly string[], options: { stdin?: 'pipe' | 'ignore'; stdout?: 'pipe' | 'ignore' | Writable; signal?: AbortSignal } = {}): ToolRun {
    assertPasswordSource();
    const restic = resticPath();
    return runTool(restic, args, {
      env: { RESTIC_REPOSITORY: this.repository, RESTIC_PROGRESS_FPS: undefined },
      stdin: options.stdin ?? 'ignore',
      stdout: options.stdout ?? 'pipe',
      signal: options.signal,
    });
  }

  /**
   * Runs a restic command to its end and returns its stdout. A lock that
   * restic calls stale (its process gone from this host, or not refreshed
   * for 30 minutes) is removed with `restic unlock` and the command runs once
   * more; a live lock is an error that says who holds it.
   */
  async text(args: readonly string[], action: string, signal?: AbortSignal, wait: LockWait = {}): Promise<string> {
    const deadline = Date.now() + (wait.waitMs ?? 0);
    let unlocked = false;
    let told = false;
    for (;;) {
      const run = this.spawn(args, { signal });
      let out = '';
      run.stdout!.setEncoding('utf8');
      run.stdout!.on('data', (chunk: string) => (out += chunk));
      const exit = await run.done;
      if (exit.code === 0) return out;
      if (!unlocked && (await this.unlockIfStale(exit))) {
        unlocked = true;
        continue;
      }
      // A live lock: with `wait`, retried every 2 s until the deadline (forget behind a running backup).
      const lock = parseResticLock(exit.stderr);
      const remaining = deadline - Date.now();
      if (lock && !lock.stale && remaining > 0 && !signal?.aborted) {
        if (!told) wait.onWait?.({ pid: lock.pid, host: lock.host, since: lock.createdAt, command: lock.command ?? 'restic' });
        told = true;
        await new Promise((resolve) => setTimeout(resolve, Math.min(2000, remaining)));
        continue;
      }
      throw this.failure(action, exit);
    }
  }

  async json<T>(args: readonly string[], action: string, signal?: AbortSignal): Promise<T> {
    const out = await this.text([...args, '--json'], action, signal);
    try {
      return JSON.parse(out) as T;
    } catch (cause) {
      throw new HoldfastError('repository', `restic ${action}: unexpected output ${JSON.stringify(out.slice(0, 200))}`, { cause, hint: 'check the restic version (`restic version`, 0.14 or newer)' });
    }
  }

  /** Removes a stale lock that made this exit fail; false when there was none. */
  async unlockIfStale(exit: ToolExit): Promise<boolean> {
    const lock = parseResticLock(exit.stderr);
    if (!lock?.stale) return false;
    const run = this.spawn(['unlock']);
    const done = await run.done;
    if (done.code !== 0) return false;
    this.notes.push(`removed a stale restic lock of PID ${lock.pid} on ${lock.host} (${lock.staleWhy}) with \`restic unlock\``);
    return true;
  }

  /** The HoldfastError for a failed restic run, by what restic said. */
  failure(action: string, raw: ToolExit): HoldfastError {
    // restic may repeat the location, which may carry credentials: only the redacted form is shown.
    const exit = { ...raw, stderr: raw.stderr.split(this.repository).join(this.display).replace(/:\/\/[^/@\s]*@/g, '://***@') };
    const said = lastLines(exit.stderr.replace(/^Fatal: /gm, ''), 4);
    const lock = parseResticLock(exit.stderr);
    if (lock) {
      const { message, hint } = describeResticLock(lock, this.display);
      return new HoldfastError('repository', `cannot ${action}: ${message}`, { hint });
    }
    if (/wrong password or no key found/i.test(exit.stderr)) {
      return new HoldfastError('auth', `restic refused the password for ${this.display}`, {
        hint: 'set RESTIC_PASSWORD or RESTIC_PASSWORD_FILE to the password of this restic repository',
      });
    }
    if (/Is there a repository at the following location\?|unable to open config file/i.test(exit.stderr)) {
      return new HoldfastError('not-found', `no restic repository at ${this.display}`, {
        hint: 'create it with `holdfast --repo restic:... init` (it runs `restic init`) or `holdfast backup --init`, or check the location',
      });
    }
    if (/no space left on device/i.test(exit.stderr)) {
      return new HoldfastError('no-space', `no space left on the device of ${this.display}: ${said}`, {
        hint: 'free space on the restic repository disk; nothing was committed',
      });
    }
    const how = exit.signal ? `was killed by ${exit.signal}` : `exited with status ${exit.code}`;
    return new HoldfastError('repository', `restic ${action} ${how} (${this.display})${said ? `: ${said}` : ''}`, {
      hint: 'run `restic check` on the repository; see the message above',
    });
  }
}

function assertPasswordSource(): void {
  const env = process.env;
  if (env.RESTIC_PASSWORD !== undefined || env.RESTIC_PASSWORD_FILE || env.RESTIC_PASSWORD_COMMAND) return;
  throw new HoldfastError('config', 'a restic repository needs its password, and none is set', {
    hint: 'export RESTIC_PASSWORD_FILE=/path/to/a/0600/file (or RESTIC_PASSWORD); holdfast passes it to restic through the environment',
  });
}

let restic: string | undefined;

function resticPath(): string {
  restic ??= onPath('restic', process.env.PATH);
  if (!restic) {
    throw new HoldfastError('tool', 'restic is not installed or not on PATH', {
      hint: 'install restic 0.14 or newer (Debian/Ubuntu: apt-get install restic)',
    });
  }
  return restic;
}
