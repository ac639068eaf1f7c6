/**
 * What the tests of an engine's physical copy in a container and its
 * rollback share (PostgreSQL's pg_basebackup, MariaDB's mariadb-backup): the
 * container's Docker state sampled through a command, and a rollback killed
 * with -9 while it rewrites the data volume, then resumed.
 */
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { expect } from 'vitest';
import { waitFor } from '../../src/core/wait.js';
import { holdfast, type CliResult } from './cli.js';
import { docker, type DockerLab } from './docker.js';

/** `holdfast rollback --json`, as far as these tests read it. */
export interface RollbackDoc {
  status: string;
  services: Array<{ service: string; entry: string; method: string; strategy: string; verdict: string; checks: Array<{ what: string; against?: string; equal: boolean }> }>;
}

/** Docker's status and start time of a container: the same string while it neither stops nor restarts. */
export function containerState(container: string): Promise<string> {
  return docker(['inspect', '-f', '{{.State.Status}} {{.State.StartedAt}}', container]);
}

/** Runs `command` while sampling the container's state every ~50 ms; returns its result and every state seen. */
export async function statesDuring<T>(container: string, command: () => Promise<T>): Promise<{ result: T; seen: string[] }> {
  const seen = new Set<string>([await containerState(container)]);
  let sampling = true;
  const sampler = (async () => {
    while (sampling) {
      seen.add(await containerState(container));
      await new Promise((r) => setTimeout(r, 50));
    }
  })();
  try {
    return { result: await command(), seen: [...seen] };
  } finally {
    sampling = false;
    await sampler;
  }
}

/** The rollback records in the lab's state directory: one while a rollback rewrites data. */
export async function rollbackRecords(lab: DockerLab): Promise<string[]> {
  return (await readdir(join(lab.stateDir, 'rollbacks')).catch(() => [] as string[])).filter((f) => f.endsWith('.json'));
}

/**
 * `holdfast rollback SNAPSHOT` killed with -9 as soon as it has written its
 * record (it then rewrites the data): the next command must keep the
 * database container stopped and name the volume; then `rollback --resume`,
 * whose result is returned.
 */
export async function killRollbackThenResume(lab: DockerLab, repo: string, snapshot: string, db: string, volume: string): Promise<CliResult> {
  let pid = 0;
  const running = holdfast(['--repo', repo, 'rollback', snapshot], lab.env(), { onSpawn: (p) => (pid = p) });
  await waitFor('the rollback rewriting the volume', async () => ((await rollbackRecords(lab)).length === 1 ? true : undefined), { timeoutMs: 60_000, intervalMs: 10 });
  process.kill(pid, 'SIGKILL');
  expect((await running).code).toBeNull();
  // The database must not start on a half-restored volume: the next command keeps it stopped and says why.
  const next = await holdfast(['--repo', repo, 'snapshots'], lab.env());
  expect(next.code, next.stderr).toBe(0);
  expect(next.stderr).toContain(`was killed while it rewrote volume ${volume}`);
  expect(await lab.held()).toEqual([`${db} exited`]);
  const resumed = await holdfast(['--repo', repo, 'rollback', '--resume', '--json'], lab.env());
  expect(resumed.code, resumed.stderr + resumed.stdout).toBe(0);
  return resumed;
}
