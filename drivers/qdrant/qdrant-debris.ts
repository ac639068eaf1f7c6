import { mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { pidAlive } from '../../src/docker/docker-helper.js';
import { processStart, stateDir } from '../../src/core/state-dir.js';
import { q, type QdrantNode } from './qdrant-connection.js';
import { removeUploaded } from './qdrant-transfer.js';

/**
 * The snapshot files holdfast causes on a Qdrant node, written down before
 * they exist and crossed out once deleted, one journal file per process in
 * `<state>/qdrant/`. A run killed in between (kill -9, the node or the
 * network gone) leaves its entries, and the next Qdrant command against
 * that node deletes what they name and says so (sweepDebris).
 * - `snapshot`: a collection snapshot being made; until its name is known,
 *   `before` lists the collection's snapshots that existed already.
 * - `full`: a full-storage snapshot, likewise.
 * - `upload`: a file holdfast uploaded (its name is holdfast's own).
 */
export interface DebrisEntry {
  id: string;
  location: string;
  kind: 'snapshot' | 'full' | 'upload';
  collection?: string;
  name?: string;
  before?: string[];
  /** When the entry was written: an unnamed snapshot must have been made in the hours after. */
  at: string;
}
interface DebrisFile {
  pid: number;
  procStart?: string;
  hostname: string;
  entries: DebrisEntry[];
}

const dir = () => join(stateDir(), 'qdrant');

export class DebrisJournal {
  private readonly file = join(dir(), `${process.pid}.json`);
  /** One queue for the process: every instance writes the same file. */
  private static queue: Promise<void> = Promise.resolve();
  private static entries: DebrisEntry[] = [];
  private static seq = 0;

  constructor(private readonly node: QdrantNode) {}

  /** Writes the entry down before the file it names can exist. */
  async add(entry: Omit<DebrisEntry, 'id' | 'location' | 'at'>): Promise<DebrisEntry> {
    const full = { ...entry, id: `${process.pid}-${++DebrisJournal.seq}`, location: this.node.location, at: new Date().toISOString() };
    DebrisJournal.entries.push(full);
    await this.save();
    return full;
  }

  async name(entry: DebrisEntry, name: string): Promise<void> {
    entry.name = name;
    delete entry.before;
    await this.save();
  }

  async done(entry: DebrisEntry): Promise<void> {
    DebrisJournal.entries = DebrisJournal.entries.filter((e) => e.id !== entry.id);
    await this.save();
  }

  private save(): Promise<void> {
    const entries = DebrisJournal.entries.map((e) => ({ ...e }));
    DebrisJournal.queue = DebrisJournal.queue.catch(() => undefined).then(async () => {
      if (entries.length === 0) return void (await rm(this.file, { force: true }));
      await mkdir(dir(), { recursive: true });
      const start = processStart(process.pid);
      const data: DebrisFile = { pid: process.pid, ...(start ? { procStart: start } : {}), hostname: hostname(), entries };
      await writeFile(`${this.file}.tmp`, JSON.stringify(data, null, 2), { mode: 0o600 });
      await rename(`${this.file}.tmp`, this.file);
    });
    // Best effort: a state directory that cannot be written must not fail the backup or restore itself.
    return DebrisJournal.queue.catch(() => undefined);
  }
}

/**
 * Deletes what dead runs left on this node: files of this host whose
 * process is gone. Entries of other nodes stay for a command against them.
 * Returns one line per file removed (for notes); a failure leaves the entry.
 */
export async function sweepDebris(node: QdrantNode): Promise<string[]> {
  let names: string[];
  try {
    names = (await readdir(dir())).filter((n) => /^\d+\.json$/.test(n));
  } catch {
    return [];
  }
  const removed: string[] = [];
  for (const n of names) {
    const path = join(dir(), n);
    let data: DebrisFile;
    try {
      data = JSON.parse(await readFile(path, 'utf8')) as DebrisFile;
    } catch {
      continue;
    }
    if (data.hostname !== hostname() || data.pid === process.pid) continue;
    if (pidAlive(data.pid) && (data.procStart === undefined || processStart(data.pid) === data.procStart)) continue;
    const left: DebrisEntry[] = [];
    for (const entry of data.entries) {
      if (entry.location !== node.location) {
        left.push(entry);
        continue;
      }
      try {
        removed.push(...(await clear(node, entry)));
      } catch {
        left.push(entry);
      }
    }
    if (left.length === 0) await rm(path, { force: true });
    else await writeFile(path, JSON.stringify({ ...data, entries: left }, null, 2), { mode: 0o600 });
  }
  return removed;
}

/** A snapshot the entry may have made: named so, or new since `before` and made in the six hours after `at` (creation_time is UTC without a zone). */
function made(e: DebrisEntry, s: { name: string; creation_time?: string | null }, prefix: string): boolean {
  if (e.name) return s.name === e.name;
  if (e.before?.includes(s.name) || !s.name.startsWith(prefix)) return false;
  const t = s.creation_time ? Date.parse(/Z|[+-]\d\d:?\d\d$/.test(s.creation_time) ? s.creation_time : `${s.creation_time}Z`) : NaN;
  const at = Date.parse(e.at);
  return Number.isFinite(t) && t >= at - 2000 && t <= at + 6 * 3600_000;
}

async function clear(node: QdrantNode, e: DebrisEntry): Promise<string[]> {
  if (e.kind === 'upload' && e.collection && e.name) {
    return (await removeUploaded(node, e.collection, e.name)) === 'deleted' ? [`${e.collection}/${e.name}`] : [];
  }
  if (e.kind === 'full') {
    const all = await q(node, 'list the full snapshots', () => node.client.listFullSnapshots());
    const ours = all.filter((s) => made(e, s, 'full-snapshot-'));
    for (const s of ours) await q(node, `delete the full snapshot ${s.name}`, () => node.client.deleteFullSnapshot(s.name));
    return ours.map((s) => s.name);
  }
  if (e.kind === 'snapshot' && e.collection) {
    const c = e.collection;
    if (!(await q(node, `check whether ${c} exists`, () => node.client.collectionExists(c))).exists) return [];
    const all = await q(node, `list the snapshots of ${c}`, () => node.client.listSnapshots(c));
    // Qdrant names a collection snapshot `{collection}-{peer}-{time}.snapshot` (collection/snapshots.rs).
    const ours = all.filter((s) => made(e, s, `${c}-`));
    for (const s of ours) await q(node, `delete the snapshot ${s.name} of ${c}`, () => node.client.deleteSnapshot(c, s.name));
    return ours.map((s) => `${c}/${s.name}`);
  }
  return [];
}
