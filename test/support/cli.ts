import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { expect } from 'vitest';

const BIN = fileURLToPath(new URL('../../bin/holdfast.js', import.meta.url));

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
  json<T = Record<string, unknown>>(): T;
}

/** Runs the built CLI as a user would, with an environment of its own. */
export function holdfast(args: string[], env: Record<string, string | undefined> = {}, options: { cwd?: string; onSpawn?: (pid: number) => void; onStderr?: (text: string) => void } = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { env: { ...process.env, ...env }, cwd: options.cwd, stdio: ['ignore', 'pipe', 'pipe'] });
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

/** The id of the snapshot a `backup --json` saved; the run must have exited 0 (its output is the failure message). */
export function savedSnapshot(result: CliResult): string {
  expect(result.code, result.stderr + result.stdout).toBe(0);
  return result.json<{ snapshot: string }>().snapshot;
}
