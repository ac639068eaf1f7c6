import { readStateRecord, stateFiles } from './state-files.js';
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { processStart, stateDir } from './state-dir.js';

/**
 * The leftover journal: before a run creates something it must remove
 * before it ends (a restore's working copy `<name>__holdfast`, a restore
 * test's `holdfast_scratch_<run>_*` databases, a spool directory in
 * HOLDFAST_TMPDIR), it writes that down here, and crosses it out once the
 * thing is gone. A run killed in between leaves its file behind; the next
 * command that touches the same target removes what it lists
 * (leftover-sweep.ts), and never what a run still alive lists: each file
 * names its process (pid, the kernel's start time of that pid, host).
 *
 * One file per process in `<state>/leftovers/`, replaced atomically on each
 * change, so two runs never write the same file.
 */
export interface Leftover {
  /** What it is, in the words of whoever removes it: 'path' (a local file or directory), or a driver's kind ('swap', 'scratch-prefix', …). */
  kind: string;
  /** Its name (a database, a prefix, a path). */
  name: string;
  /** The driver that removes it; absent for a local path. */
  driver?: string;
  /** The service it belongs to, for messages. */
  service?: string;
  /** Where it lives, `scheme://host:port` without credentials (leftoverEndpoint); absent for a local path. */
  endpoint?: string;
  /** More that its driver needs (e.g. the database a working copy replaces). */
  data?: Record<string, string>;
  at: string;
}

export interface LeftoverFile {
  version: 1;
  pid: number;
  procStart?: string;
  hostname: string;
  command: string;
  createdAt: string;
  /** The last write: the run was alive then. */
  updatedAt: string;
  leftovers: Leftover[];
}

/**
 * The place a service's leftovers live: its endpoint without path, user or
 * password; for an opaque endpoint (`container:NAME`) its name, so that a
 * leftover in one container is never taken for another container's.
 */
export function leftoverEndpoint(endpoint: { scheme: string; host: string; port?: number | undefined; path?: string }): string {
  if (!endpoint.host && endpoint.path) return `${endpoint.scheme}:${endpoint.path}`;
  return `${endpoint.scheme}://${endpoint.host}${endpoint.port ? `:${endpoint.port}` : ''}`;
}

export function leftoverDir(): string {
  return join(stateDir(), 'leftovers');
}

/** The start time of a process, or undefined off Linux or when it is gone (state-dir.ts). */
export const processStartOf = processStart;

/** Whether the process that wrote a journal still runs: same host, pid alive, and the same process (not a recycled pid). */
export function ownerAlive(file: Pick<LeftoverFile, 'pid' | 'procStart' | 'hostname'>): boolean {
  if (file.hostname !== hostname()) return true; // another machine's run: never ours to judge
  try {
    process.kill(file.pid, 0);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  return file.procStart === undefined || processStartOf(file.pid) === file.procStart;
}

/** This process's journal; writes are serialized. */
export class LeftoverJournal {
  private readonly file: string;
  private readonly data: LeftoverFile;
  private queue: Promise<void> = Promise.resolve();

  constructor(command = process.argv.slice(2).join(' ')) {
    const start = processStartOf(process.pid);
    // The start time in the name: a later process with a recycled pid gets a file of its own.
    this.file = join(leftoverDir(), `${hostname()}-${process.pid}-${start ?? Date.now()}.json`);
    const now = new Date().toISOString();
    this.data = { version: 1, pid: process.pid, ...(start ? { procStart: start } : {}), hostname: hostname(), command, createdAt: now, updatedAt: now, leftovers: [] };
  }

  /** Records something about to be created; resolves once it is on disk. Returns it, to cross it out later. */
  async add(item: Omit<Leftover, 'at'>): Promise<Leftover> {
    const entry: Leftover = { ...item, at: new Date().toISOString() };
    this.data.leftovers.push(entry);
    await this.flush();
    return entry;
  }

  /** Crosses something out once it is gone (or handed over: a swapped-in copy is the target now). */
  remove(entry: Leftover): Promise<void> {
    this.data.leftovers = this.data.leftovers.filter((e) => e !== entry);
    return this.flush();
  }

  private flush(): Promise<void> {
    const next = this.queue.then(async () => {
      if (this.data.leftovers.length === 0) {
        await rm(this.file, { force: true });
        return;
      }
      this.data.updatedAt = new Date().toISOString();
      await mkdir(leftoverDir(), { recursive: true, mode: 0o700 });
      const tmp = `${this.file}.tmp`;
      await writeFile(tmp, `${JSON.stringify(this.data, null, 2)}\n`, { mode: 0o600 });
      await rename(tmp, this.file);
    });
    this.queue = next.catch(() => undefined);
    return next;
  }
}

let journal: LeftoverJournal | undefined;

/** The journal of this process (one per process, as the file is). */
export function leftoverJournal(): LeftoverJournal {
  return (journal ??= new LeftoverJournal());
}

/** Journal files present now, with those a sweeper claimed (`.json.sweeping-<pid>`); finished runs leave none. */
export function leftoverFiles(): Promise<string[]> {
  return stateFiles(leftoverDir(), (f) => f.endsWith('.json') || /\.json\.sweeping-\d+$/.test(f));
}

export function readLeftoverFile(path: string): Promise<LeftoverFile | undefined> {
  return readStateRecord<LeftoverFile>(path, (data) => Array.isArray(data.leftovers));
}
