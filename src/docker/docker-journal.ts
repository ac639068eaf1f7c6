import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { basename, join } from 'node:path';
import { processStart, stateDir } from '../core/state-dir.js';
import { readStateRecord, stateFiles } from '../core/state-files.js';

export { processStart, stateDir };

/**
 * The hold journal: before holdfast stops or pauses a container it writes
 * that down, and it crosses the entry out once the container runs again.
 * A run that dies in between (kill -9, power loss) leaves its file behind,
 * and the next holdfast command resumes what it lists (docker-resume.ts).
 *
 * One file per process in `<state>/held/`, replaced atomically on each
 * change, so two runs never write the same file.
 */
export interface JournalEntry {
  dockerHost: string;
  id: string;
  name: string;
  action: 'stop' | 'pause';
  service: string;
  at: string;
}

export interface JournalFile {
  version: 1;
  pid: number;
  /** The kernel's start time of the process, so a recycled pid is not taken for it. */
  procStart?: string;
  hostname: string;
  command: string;
  createdAt: string;
  entries: JournalEntry[];
}

export function journalDir(): string {
  return join(stateDir(), 'held');
}


/** This process's journal; writes are serialized. */
export class HoldJournal {
  private readonly file: string;
  private readonly data: JournalFile;
  private queue: Promise<void> = Promise.resolve();

  constructor(command = process.argv.slice(2).join(' ')) {
    this.file = join(journalDir(), `${hostname()}-${process.pid}.json`);
    const start = processStart(process.pid);
    this.data = { version: 1, pid: process.pid, ...(start ? { procStart: start } : {}), hostname: hostname(), command, createdAt: new Date().toISOString(), entries: [] };
  }

  /** Records an intent to hold; resolves once it is on disk. */
  add(entry: JournalEntry): Promise<void> {
    this.data.entries.push(entry);
    return this.flush();
  }

  /** Crosses a container out once it runs again. */
  remove(dockerHost: string, id: string): Promise<void> {
    this.data.entries = this.data.entries.filter((e) => !(e.id === id && e.dockerHost === dockerHost));
    return this.flush();
  }

  private flush(): Promise<void> {
    const next = this.queue.then(async () => {
      if (this.data.entries.length === 0) {
        await rm(this.file, { force: true });
        return;
      }
      await mkdir(journalDir(), { recursive: true, mode: 0o700 });
      const tmp = `${this.file}.tmp`;
      await writeFile(tmp, `${JSON.stringify(this.data, null, 2)}\n`, { mode: 0o600 });
      await rename(tmp, this.file);
    });
    this.queue = next.catch(() => undefined);
    return next;
  }
}

/** Journal files present now (finished runs leave none). */
export function journalFiles(): Promise<string[]> {
  return stateFiles(journalDir(), (f) => f.endsWith('.json'));
}

/** Records of rollbacks that have not finished rewriting data (docker-rollback-journal.ts); a cheap check for the start of every command. */
export async function rollbackFiles(): Promise<string[]> {
  return (await stateFiles(join(stateDir(), 'rollbacks'), (f) => f.endsWith('.json'))).map((f) => basename(f));
}

export function readJournal(path: string): Promise<JournalFile | undefined> {
  return readStateRecord<JournalFile>(path, (data) => Array.isArray(data.entries));
}
