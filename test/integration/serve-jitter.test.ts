/**
 * serve's jitter: each run of a job with `jitter: N` waits a random delay
 * in [0, N) after its cron time, drawn anew for each run, and starts only
 * once that delay has passed (a quick `check` job on an empty repository).
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { initRepo } from '../support/cli.js';
import { startServe } from '../support/serve-process.js';

describe('serve jitter', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'holdfast-serve-jitter-'));
  });
  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  test('each run waits its own random delay within [0, jitter) after its cron time', async () => {
    const repo = join(dir, 'repo');
    await initRepo(repo);
    const config = join(dir, 'holdfast.yml');
    await writeFile(config, `repo: ${repo}\njobs:\n  scrub: { type: check, schedule: "*/2 * * * * *", jitter: 1500ms }\nserve:\n  metrics: false\n`);
    const serve = startServe(['--config', config], {});
    try {
      await serve.waitForLine('four runs', () => serve.lines.filter((l) => l.msg === 'run finished: ok').length >= 4);
      serve.child.kill('SIGTERM');
      expect(await serve.exited()).toBe(0);
    } finally {
      serve.child.kill('SIGKILL');
    }
    const delays = serve.lines.filter((l) => l.msg.startsWith('run delayed by jitter'));
    const starts = serve.lines.filter((l) => l.msg === 'run started: check');
    expect(starts.length).toBeGreaterThanOrEqual(4);
    for (const start of starts) {
      // The delay drawn for this cron time, and the run started no earlier than it allowed.
      const delay = delays.find((d) => d.scheduledAt === start.scheduledAt);
      expect(delay, `no jitter delay logged for the run due at ${String(start.scheduledAt)}`).toBeDefined();
      const delayMs = delay!.delayMs as number;
      expect(delayMs).toBeGreaterThanOrEqual(0);
      expect(delayMs).toBeLessThan(1500);
      const waited = Date.parse(start.time) - Date.parse(start.scheduledAt as string);
      expect(waited).toBeGreaterThanOrEqual(delayMs - 5);
      expect(waited).toBeLessThan(delayMs + 2000);
    }
    // Drawn anew each run: four draws from [0, 1500) ms are not all the same.
    expect(new Set(delays.map((d) => d.delayMs)).size).toBeGreaterThan(1);
  }, 60_000);
});
