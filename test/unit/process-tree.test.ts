/**
 * runToolTree (src/core/process-tree.ts): a tool's own children die with a
 * holdfast killed with -9, not only the process holdfast started. A Node
 * process (the built module, as the CLI runs it) starts a script that forks
 * two sleeps, prints their pids, and is killed with -9. runTool's
 * parent-death signal alone leaves the sleeps running: that is what the
 * MariaDB restore-test kill trial found (mariadb-install-db's cat and
 * mariadbd --bootstrap still running 1 s after the kill).
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { expect, test } from 'vitest';
import { waitFor } from '../../src/core/wait.js';
import { stillRunning } from '../support/process-tree.js';

const DIST = fileURLToPath(new URL('../../dist/src/core/', import.meta.url));
const SCRIPT = 'sleep 300 & a=$!; sleep 300 & b=$!; echo "$a $b"; wait';

async function childrenAfterKill(runner: 'runTool' | 'runToolTree'): Promise<number[]> {
  const module = runner === 'runTool' ? 'process.js' : 'process-tree.js';
  const code = `const m = await import(${JSON.stringify(DIST + module)}); const r = m.${runner}('sh', ['-c', ${JSON.stringify(SCRIPT)}], {}); r.stdout.pipe(process.stdout); await r.done;`;
  const node = spawn(process.execPath, ['--input-type=module', '-e', code], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  node.stdout.setEncoding('utf8');
  node.stdout.on('data', (d: string) => (out += d));
  const pids = await waitFor('the sleeps started', async () => (/^\d+ \d+\n/.test(out) ? out.trim().split(' ').map(Number) : undefined), { timeoutMs: 10_000, intervalMs: 20 });
  node.kill('SIGKILL');
  await new Promise((resolve) => node.once('exit', resolve));
  await new Promise((resolve) => setTimeout(resolve, 1000));
  const left = stillRunning(pids.map((pid) => ({ pid, name: 'sleep' }))).map((p) => p.pid);
  for (const pid of left) process.kill(pid, 'SIGKILL');
  return left;
}

test('runToolTree: the tool\'s children are gone 1 s after holdfast is killed with -9', async () => {
  expect(await childrenAfterKill('runToolTree')).toEqual([]);
}, 20_000);

test('runTool alone leaves them (why runToolTree exists)', async () => {
  expect((await childrenAfterKill('runTool')).length).toBe(2);
}, 20_000);
