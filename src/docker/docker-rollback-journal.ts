import { mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { pidAlive } from './docker-helper.js';
import { processStart, stateDir } from './docker-journal.js';

/**
 * The rollback journal: while a rollback rewrites volumes and databases, a
 * file says which, and which containers it stopped for that. A rollback
 * killed then (kill -9, a crash) leaves data that is neither the snapshot's
 * nor what was there: the next holdfast command must not start those
 * containers on it (docker-resume.ts keeps them stopped and says why), and
 * `holdfast rollback --resume` finishes the rollback, `--abandon --yes`
 * starts them on what the volumes hold now (rollback-resume.ts).
 *
 * One file per process in `<state>/rollbacks/`, written before the first
 * volume or database is touched and removed once every restore has run.
 */
export interface RollbackRecord {
  version: 1;
  pid: number;
  procStart?: string;
  hostname: string;
  command: string;
  at: string;
  /** The snapshot being put back, and the services (rollback arguments) it was rolling back. */
  snapshot: string;
  services: string[];
  /** What it was rewriting: volume names (physical steps) and services restored from a dump. */
  volumes: string[];
  databases: string[];
  /** The containers it stopped (and the stopped ones it was to start), which must not run on half-restored data. */
  containers: Array<{ dockerHost: string; id: string; name: string }>;
}

export function rollbackDir(): string {
  return join(stateDir(), 'rollbacks');
}

/** Writes this process's record; resolves once it is on disk. Returns its path, for `finishRollbackRecord`. */
export async function writeRollbackRecord(record: Omit<RollbackRecord, 'version' | 'pid' | 'procStart' | 'hostname' | 'at' | 'command'>, command = process.argv.slice(2).join(' ')): Promise<string> {
  const start = processStart(process.pid);
  const data: RollbackRecord = { version: 1, pid: process.pid, ...(start ? { procStart: start } : {}), hostname: hostname(), command, at: new Date().toISOString(), ...record };
  await mkdir(rollbackDir(), { recursive: true, mode: 0o700 });
  const file = join(rollbackDir(), `${hostname()}-${process.pid}-${start ?? Date.now()}.json`);
  await writeFile(`${file}.tmp`, `${JSON.stringify(data, null, 2)}\n`, { mode: 0o600 });
  await rename(`${file}.tmp`, file);
  return file;
}

export async function finishRollbackRecord(file: string): Promise<void> {
  await rm(file, { force: true });
}

/** Rollbacks whose process died before their restores finished, with their files. */
export async function interruptedRollbacks(): Promise<Array<{ file: string; record: RollbackRecord }>> {
  let names: string[];
  try {
    names = await readdir(rollbackDir());
  } catch {
    return [];
  }
  // Killed while writing its record, before it touched any data: nothing to keep stopped, only the half-written file to remove.
  for (const name of names) {
    const m = /^(.+)-(\d+)-(\d+)\.json\.tmp$/.exec(name);
    if (m && m[1] === hostname() && !pidAlive(Number(m[2]))) await rm(join(rollbackDir(), name), { force: true });
  }
  names = names.filter((f) => f.endsWith('.json'));
  const out: Array<{ file: string; record: RollbackRecord }> = [];
  for (const name of names) {
    const file = join(rollbackDir(), name);
    try {
      const record = JSON.parse(await readFile(file, 'utf8')) as RollbackRecord;
      if (record.version !== 1 || !Array.isArray(record.containers)) continue;
      if (record.hostname === hostname() && pidAlive(record.pid) && (record.procStart === undefined || processStart(record.pid) === record.procStart)) continue;
      if (record.hostname !== hostname()) continue; // another machine's: not ours to judge
      out.push({ file, record });
    } catch {
      // unreadable: not ours
    }
  }
  return out;
}

/** What the next command says about an interrupted rollback, every time, until it is resumed or abandoned. */
export function describeInterrupted(record: RollbackRecord): string {
  const what = [...record.volumes.map((v) => `volume ${v}`), ...record.databases.map((d) => `the database of ${d}`)].join(', ');
  return (
    `holdfast: a rollback to snapshot ${record.snapshot} (pid ${record.pid}, started ${record.at}: holdfast ${record.command}) was killed while it rewrote ${what || 'data'}; ` +
    `containers ${record.containers.map((c) => c.name).join(', ')} are kept stopped: their data may be half-restored.\n` +
    `  hint: finish it with \`holdfast rollback --resume\`, or start them on what is there now with \`holdfast rollback --abandon --yes\``
  );
}
