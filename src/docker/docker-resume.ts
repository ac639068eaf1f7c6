import { rename, rm, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { connectDocker } from './docker-client.js';
import { pidAlive } from './docker-helper.js';
import { journalFiles, processStart, readJournal, type JournalEntry } from './docker-journal.js';
import { describeInterrupted, interruptedRollbacks } from './docker-rollback-journal.js';

/**
 * Run at the start of every holdfast command: resumes the containers that a
 * run which died (kill -9, a crash, a lost machine) left stopped or paused,
 * as its journal says, and reports each one. Journals of runs still alive
 * are left alone, and so are the containers of a rollback that was killed
 * while it rewrote their data. Costs one directory read when there is
 * nothing to do.
 */
export async function resumeLeftovers(report: (line: string) => void): Promise<void> {
  // A rollback killed while it rewrote data: its containers stay stopped (docker-rollback-journal.ts), every command says so.
  const interrupted = await interruptedRollbacks();
  const keepStopped = new Set(interrupted.flatMap(({ record }) => record.containers.map((c) => `${c.dockerHost}#${c.id}`)));
  for (const { record } of interrupted) report(describeInterrupted(record));
  for (const file of await journalFiles()) {
    const journal = await readJournal(file);
    if (!journal) continue;
    if (journal.hostname !== hostname()) continue; // another machine sharing the state dir
    if (pidAlive(journal.pid) && (journal.procStart === undefined || processStart(journal.pid) === journal.procStart)) continue;
    // Claim it, so that two commands started at once do not both act on it.
    const claimed = `${file}.resuming-${process.pid}`;
    try {
      await rename(file, claimed);
    } catch {
      continue;
    }
    const left: JournalEntry[] = [];
    for (const entry of [...journal.entries].reverse()) {
      if (keepStopped.has(`${entry.dockerHost}#${entry.id}`)) continue; // the rollback record keeps it now
      const what = `container ${entry.name} (${entry.action === 'pause' ? 'paused' : 'stopped'} by holdfast pid ${journal.pid} at ${entry.at} for service ${entry.service}; that run did not finish)`;
      try {
        const api = connectDocker(entry.dockerHost);
        const now = await api.inspectContainer(entry.id);
        if (!now) {
          report(`holdfast: ${what} no longer exists; nothing to resume`);
          continue;
        }
        if (entry.action === 'pause' && now.paused) {
          await api.unpause(entry.id);
          report(`holdfast: resumed ${what}: unpaused`);
        } else if (entry.action === 'stop' && !now.running && !now.paused) {
          await api.start(entry.id);
          report(`holdfast: resumed ${what}: started`);
        } else {
          report(`holdfast: ${what} is already running`);
        }
      } catch (error) {
        left.push(entry);
        report(`holdfast: could not resume ${what}: ${(error as Error).message}; hint: docker ${entry.action === 'pause' ? 'unpause' : 'start'} ${entry.name}`);
      }
    }
    if (left.length) await writeFile(file, `${JSON.stringify({ ...journal, entries: left.reverse() }, null, 2)}\n`, { mode: 0o600 });
    await rm(claimed, { force: true });
  }
}
