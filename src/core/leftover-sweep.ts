import { readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { basename, isAbsolute, join } from 'node:path';
import { leftoverDir, leftoverFiles, ownerAlive, processStartOf, readLeftoverFile, type Leftover, type LeftoverFile } from './leftover-journal.js';

/** A place the current command touches: leftovers recorded there by a dead run are removed. */
export interface SweepTarget {
  driver: string;
  /** leftoverEndpoint() of the service. */
  endpoint: string;
  service: string;
}

/**
 * Removes one recorded leftover; says what it did ("dropped the database
 * \"app__holdfast\""), or false when it does not know the kind (then the
 * line tells the user to remove it by hand).
 */
export type LeftoverRemover = (target: SweepTarget, leftover: Leftover) => Promise<string | false>;

export interface SweepLine {
  /** The service it concerned; absent for a spool file. */
  service?: string;
  line: string;
}

/**
 * Removes what runs that died (kill -9, a crash) recorded in their leftover
 * journals (leftover-journal.ts) and did not remove: local spool paths
 * always, things on a server when the current command touches that server
 * (`targets`). A journal of a live run is never read for removal. Each file
 * is claimed by a rename first, so two commands started at once do not both
 * act on it; what is not removed now goes back for a later command.
 * Costs one directory read when there is nothing to do.
 */
export async function sweepLeftovers(targets: readonly SweepTarget[], remove: LeftoverRemover): Promise<SweepLine[]> {
  const lines: SweepLine[] = [];
  await removeDeadTempFiles();
  for (const file of await leftoverFiles()) {
    const claimedBy = /\.sweeping-(\d+)$/.exec(file);
    if (claimedBy && ownerAlive({ pid: Number(claimedBy[1]), hostname: (await readLeftoverFile(file))?.hostname ?? '' })) continue;
    const original = claimedBy ? file.slice(0, claimedBy.index) : file;
    const journal = await readLeftoverFile(file);
    if (!journal || ownerAlive(journal)) continue;
    const claimed = `${original}.sweeping-${process.pid}`;
    try {
      await rename(file, claimed);
    } catch {
      continue; // another command claimed it first
    }
    const kept: Leftover[] = [];
    for (const leftover of journal.leftovers) {
      const done = await sweepOne(leftover, journal, targets, remove);
      if (done.keep) kept.push(leftover);
      if (done.line) lines.push(done.line);
    }
    if (kept.length) await writeFile(original, `${JSON.stringify({ ...journal, leftovers: kept }, null, 2)}\n`, { mode: 0o600 });
    await rm(claimed, { force: true });
  }
  return lines;
}

/**
 * A run killed while it rewrote its journal leaves `<host>-<pid>-<start>.json.tmp`.
 * Nothing it lists exists yet (an entry is on disk before its object is made),
 * so the file of a dead run is simply removed.
 */
async function removeDeadTempFiles(): Promise<void> {
  for (const name of await readdir(leftoverDir()).catch(() => [] as string[])) {
    const m = /^(.+)-(\d+)-(\d+)\.json\.tmp$/.exec(name);
    if (!m || ownerAlive({ hostname: m[1]!, pid: Number(m[2]), ...(processStartOf(process.pid) ? { procStart: m[3]! } : {}) })) continue;
    await rm(join(leftoverDir(), name), { force: true });
  }
}

async function sweepOne(leftover: Leftover, journal: LeftoverFile, targets: readonly SweepTarget[], remove: LeftoverRemover): Promise<{ keep: boolean; line?: SweepLine }> {
  const of = `of a run killed after ${journal.updatedAt} (pid ${journal.pid}: holdfast ${journal.command})`;
  if (leftover.kind === 'path') {
    // Only what holdfast names as its own: an absolute path whose last part starts with "holdfast".
    if (!isAbsolute(leftover.name) || !basename(leftover.name).startsWith('holdfast')) return { keep: false, line: { line: `holdfast: ignored the leftover path ${leftover.name} ${of}: not a holdfast spool path` } };
    try {
      const stopped = await stopScratchServers(leftover);
      await rm(leftover.name, { recursive: true, force: true });
      return { keep: false, line: { line: `holdfast: removed leftover ${stopped.length ? `throwaway server (stopped pid ${stopped.join(', ')}) and its directory` : 'spool'} ${leftover.name} ${of}` } };
    } catch (error) {
      return { keep: true, line: { line: `holdfast: could not remove leftover spool ${leftover.name} ${of}: ${(error as Error).message}` } };
    }
  }
  const target = targets.find((t) => t.driver === leftover.driver && t.endpoint === leftover.endpoint);
  if (!target) return { keep: true };
  try {
    const did = await remove(target, leftover);
    // A restore test whose scratch copies are containers and volumes: labelled with their run's pid, removed by the Docker scratch sweep (docker-scratch.ts).
    if (did === false && leftover.kind === 'scratch-prefix') return { keep: false };
    if (did === false) return { keep: false, line: { service: target.service, line: `holdfast: a leftover ${leftover.kind} ${JSON.stringify(leftover.name)} on ${leftover.endpoint} ${of} is not one holdfast can remove here; remove it by hand` } };
    return { keep: false, line: { service: target.service, line: `holdfast: removed leftover ${leftover.kind} ${JSON.stringify(leftover.name)} on ${leftover.endpoint} ${of}: ${did}` } };
  } catch (error) {
    // Kept for the next command; said now.
    return { keep: true, line: { service: target.service, line: `holdfast: could not remove leftover ${leftover.kind} ${JSON.stringify(leftover.name)} on ${leftover.endpoint} ${of}: ${(error as Error).message}` } };
  }
}

/**
 * A restore test's throwaway server whose holdfast died (pg_ctl detaches
 * PostgreSQL; mysqld run as root drops the parent-death signal when it
 * switches user) still runs on the directory: its pid files name it, and
 * it is killed only when its command line names that directory.
 */
async function stopScratchServers(leftover: Leftover): Promise<number[]> {
  const stopped: number[] = [];
  for (const rel of leftover.data?.pidFiles?.split(',').filter(Boolean) ?? []) {
    const pid = Number((await readFile(join(leftover.name, rel), 'utf8').catch(() => '')).split('\n')[0]);
    if (!Number.isInteger(pid) || pid <= 1) continue;
    const cmdline = (await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '')).split('\0').join(' ');
    if (!cmdline.includes(leftover.name)) continue;
    try {
      process.kill(pid, 'SIGKILL');
      stopped.push(pid);
    } catch {
      // gone meanwhile
    }
  }
  return stopped;
}

/**
 * Run before every command: removes the spool paths (HOLDFAST_TMPDIR) that
 * runs which died recorded; what lives on a server waits for a command that
 * touches that server. Costs one directory read when there is nothing to do.
 */
export async function sweepSpool(report: (line: string) => void): Promise<void> {
  for (const { line } of await sweepLeftovers([], async () => false)) report(line);
}
