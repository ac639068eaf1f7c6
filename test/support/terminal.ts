import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const BIN = fileURLToPath(new URL('../../bin/holdfast.js', import.meta.url));

/**
 * Runs the built CLI on a pseudo-terminal (util-linux `script`), as a user at
 * a terminal sees it: stdout and stderr are both the terminal, so progress
 * lines are drawn. Returns everything the terminal received.
 */
export function onTerminal(args: string[], env: Record<string, string | undefined> = {}, timeoutMs = 120_000): Promise<{ code: number | null; output: string }> {
  const command = [process.execPath, BIN, ...args].map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
  return new Promise((resolve, reject) => {
    const child = spawn('script', ['-q', '-e', '-c', command, '/dev/null'], { env: { ...process.env, COLUMNS: '200', ...env }, stdio: ['pipe', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('error', reject);
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });
}

/** The lines a terminal shows in turn: each redraw (after a carriage return or a cursor move) as a line of its own, escapes removed. */
export function terminalFrames(output: string): string[] {
  return output
    // eslint-disable-next-line no-control-regex
    .split(/\r|\n|\x1b\[\d*[AFJK]/)
    .map((l) => l.trim())
    .filter(Boolean);
}
