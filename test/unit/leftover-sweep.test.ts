import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, expect, test } from 'vitest';
import { leftoverDir, LeftoverJournal, processStartOf, readLeftoverFile, type LeftoverFile } from '../../src/core/leftover-journal.js';
import { sweepLeftovers, sweepSpool } from '../../src/core/leftover-sweep.js';

let work: string;
let saved: string | undefined;
beforeEach(async () => {
  work = await mkdtemp(join(tmpdir(), 'holdfast-leftovers-'));
  saved = process.env.HOLDFAST_STATE_DIR;
  process.env.HOLDFAST_STATE_DIR = join(work, 'state');
});
afterEach(async () => {
  if (saved === undefined) delete process.env.HOLDFAST_STATE_DIR;
  else process.env.HOLDFAST_STATE_DIR = saved;
  await rm(work, { recursive: true, force: true });
});

/** A journal as another run would have left it. */
async function journalOf(owner: { pid: number; procStart?: string; hostname?: string }, leftovers: LeftoverFile['leftovers']): Promise<string> {
  await mkdir(leftoverDir(), { recursive: true });
  const file = join(leftoverDir(), `${owner.hostname ?? hostname()}-${owner.pid}-x.json`);
  const data: LeftoverFile = { version: 1, pid: owner.pid, ...(owner.procStart ? { procStart: owner.procStart } : {}), hostname: owner.hostname ?? hostname(), command: 'restore s1', createdAt: '2026-12-01T10:00:00Z', updatedAt: '2026-12-01T10:00:05Z', leftovers };
  await writeFile(file, JSON.stringify(data));
  return file;
}

async function spool(name: string): Promise<string> {
  const path = join(work, name);
  await mkdir(path);
  await writeFile(join(path, 'archive.pgdump'), 'x');
  return path;
}

async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ['-e', '0']);
  await new Promise((r) => child.once('exit', r));
  return child.pid!;
}

test('a dead run\'s spool directory is removed and reported, with when the run was last alive', async () => {
  const path = await spool('holdfast-restore-ab12');
  await journalOf({ pid: await deadPid() }, [{ kind: 'path', name: path, at: 'x' }]);
  const lines: string[] = [];
  await sweepSpool((l) => lines.push(l));
  expect(existsSync(path)).toBe(false);
  expect(lines).toEqual([expect.stringMatching(/^holdfast: removed leftover spool .*holdfast-restore-ab12 of a run killed after 2026-12-01T10:00:05Z \(pid \d+: holdfast restore s1\)$/)]);
  expect(await readdir(leftoverDir())).toEqual([]);
});

test('a live run\'s leftovers are never touched, nor another host\'s', async () => {
  const sleeper = spawn('sleep', ['30']);
  try {
    const live = await spool('holdfast-restore-live');
    const remote = await spool('holdfast-restore-remote');
    await journalOf({ pid: sleeper.pid!, procStart: processStartOf(sleeper.pid!) }, [{ kind: 'path', name: live, at: 'x' }]);
    await journalOf({ pid: await deadPid(), hostname: 'another-host' }, [{ kind: 'path', name: remote, at: 'x' }]);
    let asked = 0;
    const lines = await sweepLeftovers([], async () => (asked++, 'dropped'));
    expect(lines).toEqual([]);
    expect(asked).toBe(0);
    expect(existsSync(live) && existsSync(remote)).toBe(true);
  } finally {
    sleeper.kill();
  }
});

test('a recycled pid (same number, another start time) does not keep a dead run\'s leftovers alive', async () => {
  const sleeper = spawn('sleep', ['30']);
  try {
    const path = await spool('holdfast-restore-recycled');
    await journalOf({ pid: sleeper.pid!, procStart: '1' }, [{ kind: 'path', name: path, at: 'x' }]);
    await sweepSpool(() => undefined);
    expect(existsSync(path)).toBe(false);
  } finally {
    sleeper.kill();
  }
});

test('things on a server wait for a command that touches that server; a failed removal is kept for the next one', async () => {
  const entry = { kind: 'swap', name: 'app__holdfast', driver: 'postgres', service: 'db', endpoint: 'postgres://127.0.0.1:5432', data: { target: 'app', old: 'app__holdfast_old' }, at: 'x' };
  const file = await journalOf({ pid: await deadPid() }, [entry]);
  expect(await sweepLeftovers([], async () => 'dropped')).toEqual([]);
  expect((await readLeftoverFile(file))?.leftovers).toEqual([entry]);

  const elsewhere = [{ driver: 'postgres', endpoint: 'postgres://127.0.0.1:6543', service: 'other' }];
  expect(await sweepLeftovers(elsewhere, async () => 'dropped')).toEqual([]);

  const here = [{ driver: 'postgres', endpoint: 'postgres://127.0.0.1:5432', service: 'db' }];
  const failed = await sweepLeftovers(here, async () => {
    throw new Error('connection refused');
  });
  expect(failed).toEqual([{ service: 'db', line: expect.stringMatching(/could not remove leftover swap "app__holdfast" .*connection refused/) }]);
  expect((await readLeftoverFile(file))?.leftovers).toEqual([entry]);

  const seen: unknown[] = [];
  const done = await sweepLeftovers(here, async (target, leftover) => (seen.push([target.service, leftover.name]), 'dropped "app__holdfast"'));
  expect(seen).toEqual([['db', 'app__holdfast']]);
  expect(done).toEqual([{ service: 'db', line: expect.stringMatching(/^holdfast: removed leftover swap "app__holdfast" on postgres:\/\/127\.0\.0\.1:5432 of a run killed after .*: dropped "app__holdfast"$/) }]);
  expect(await readdir(leftoverDir())).toEqual([]);
});

test('this process\'s journal: written before, crossed out after; no file once nothing is left', async () => {
  const journal = new LeftoverJournal('restore s1');
  const entry = await journal.add({ kind: 'path', name: join(work, 'holdfast-restore-x') });
  const [file] = await readdir(leftoverDir());
  expect((await readLeftoverFile(join(leftoverDir(), file!)))?.leftovers.map((l) => l.name)).toEqual([join(work, 'holdfast-restore-x')]);
  // Its own journal is a live run's: a sweep leaves it.
  await sweepSpool(() => undefined);
  expect(await readdir(leftoverDir())).toHaveLength(1);
  await journal.remove(entry);
  expect(await readdir(leftoverDir())).toEqual([]);
});

test('a dead run\'s throwaway server is stopped before its directory goes; a process that its pid file names but that does not run on it is left alone', async () => {
  const base = await spool('holdfast_scratch_ab12cd_x1');
  await mkdir(join(base, 'data'));
  // Stand-ins for a detached postgres (its command line names the directory) and an unrelated process that took a recycled pid.
  const server = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 30000)', join(base, 'data')]);
  const stranger = spawn('sleep', ['30']);
  const serverExit = new Promise((r) => server.once('exit', r));
  try {
    await writeFile(join(base, 'data', 'postmaster.pid'), `${server.pid}\n${base}/data\n`);
    await writeFile(join(base, 'mysqld.pid'), `${stranger.pid}\n`);
    await journalOf({ pid: await deadPid() }, [{ kind: 'path', name: base, data: { pidFiles: 'data/postmaster.pid,mysqld.pid' }, at: 'x' }]);
    const lines: string[] = [];
    await sweepSpool((l) => lines.push(l));
    expect(lines).toEqual([expect.stringContaining(`removed leftover throwaway server (stopped pid ${server.pid}) and its directory ${base}`)]);
    expect(existsSync(base)).toBe(false);
    await serverExit;
    expect(stranger.exitCode).toBeNull();
    expect(() => process.kill(stranger.pid!, 0)).not.toThrow();
  } finally {
    server.kill();
    stranger.kill();
  }
});

test('a journal a dead run was rewriting when it was killed (.json.tmp) is removed; a live run\'s is not', async () => {
  await mkdir(leftoverDir(), { recursive: true });
  const dead = join(leftoverDir(), `${hostname()}-${await deadPid()}-123.json.tmp`);
  const live = join(leftoverDir(), `${hostname()}-${process.pid}-${processStartOf(process.pid)}.json.tmp`);
  await writeFile(dead, '{"version":1,"leftov');
  await writeFile(live, '{"version":1,"leftov');
  await sweepSpool(() => undefined);
  expect(existsSync(dead)).toBe(false);
  expect(existsSync(live)).toBe(true);
});

test('leftovers of two containers live at two places: a container endpoint keeps its name', async () => {
  const { leftoverEndpoint } = await import('../../src/core/leftover-journal.js');
  const a = leftoverEndpoint({ scheme: 'container', host: '', path: 'shop-db-1' });
  const b = leftoverEndpoint({ scheme: 'container', host: '', path: 'other-db-1' });
  expect(a).toBe('container:shop-db-1');
  expect(a).not.toBe(b);
  expect(leftoverEndpoint({ scheme: 'postgres', host: '127.0.0.1', port: 5432, path: 'app' })).toBe('postgres://127.0.0.1:5432');
});
