import { spawn, type ChildProcess } from 'node:child_process';
import { waitFor } from '../../src/core/wait.js';
import { cliArgv } from './cli.js';

/** One JSON log line of `holdfast serve --log-format json`. */
export interface ServeLine {
  time: string;
  level: string;
  msg: string;
  job?: string;
  runId?: string;
  status?: string;
  [key: string]: unknown;
}

/** A running `holdfast serve --log-format json`, its log lines parsed as they come. */
export interface ServeProcess {
  child: ChildProcess;
  lines: ServeLine[];
  stderr(): string;
  /** Resolves with the first line that matches, waiting up to timeoutMs. */
  waitForLine(what: string, match: (l: ServeLine) => boolean, timeoutMs?: number): Promise<ServeLine>;
  /** Resolves with the exit code once the process has ended. */
  exited(): Promise<number | null>;
}

export function startServe(args: string[], env: Record<string, string | undefined>): ServeProcess {
  const child = spawn(process.execPath, cliArgv(['serve', '--log-format', 'json', ...args]), { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: ServeLine[] = [];
  let buffer = '';
  let stderr = '';
  child.stdout!.on('data', (d: Buffer) => {
    buffer += d.toString();
    let nl: number;
    while ((nl = buffer.indexOf('\n')) >= 0) {
      const text = buffer.slice(0, nl);
      buffer = buffer.slice(nl + 1);
      try {
        lines.push(JSON.parse(text) as ServeLine);
      } catch {
        lines.push({ time: '', level: 'raw', msg: text });
      }
    }
  });
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const exit = new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)));
  return {
    child,
    lines,
    stderr: () => stderr,
    waitForLine: async (what, match, timeoutMs = 40_000) => {
      try {
        return await waitFor(what, async () => {
          const found = lines.find(match);
          if (found) return found;
          if (child.exitCode !== null) throw new Error(`serve exited ${child.exitCode}`);
          return undefined;
        }, { timeoutMs, intervalMs: 50 });
      } catch (error) {
        // The log says why: show its end with the failure.
        throw new Error(`${(error as Error).message}\n--- serve log ---\n${lines.slice(-30).map((l) => JSON.stringify(l)).join('\n')}\n--- stderr ---\n${stderr}`);
      }
    },
    exited: () => exit,
  };
}
