import { createWriteStream, existsSync } from 'node:fs';
import { dirname, isAbsolute } from 'node:path';
import { hostname } from 'node:os';
import { PassThrough, Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ArtifactSource, ByteProgress } from '../core/driver.js';
import { ByteMeter } from './byte-meter.js';
import { HoldfastError, toHoldfastError } from '../core/errors.js';
import { runTool } from '../core/process.js';
import { checksumGuard, openArtifactStream } from './artifact-reader.js';
import { findArtifact, parseManifest, type ArtifactRecord, type Manifest } from './manifest.js';
import type { LockWait } from './lock.js';
import type { BrokenSnapshot, HeldLock, Repository, SnapshotWriter } from './repository.js';
import { ResticCli } from './restic-cli.js';
import { dumpStream, readCatalog, SmallFileCache, TAG, writerMayRun, type CatalogEntry } from './restic-catalog.js';
import { ResticIntake } from './restic-intake.js';
import { ResticSnapshotWriter, type StoredDocument } from './restic-snapshot-writer.js';
import { listSnapshots, resolveSnapshotRef } from './resolve.js';
import { newSnapshotId, SNAPSHOT_ID } from './snapshot-id.js';

/**
 * `--repo restic:<restic repository>`: every artifact goes into restic as it
 * streams (`restic backup --stdin`, uncompressed, so that restic's
 * content-defined chunking finds what did not change since the last backup;
 * restic compresses and encrypts it), the manifest goes in last. Records say
 * compression 'none' and their sha256 is over the dump itself.
 * Concurrent holdfast writers are safe here (restic's own locks; distinct
 * snapshot ids), so no holdfast lock is taken.
 */
export class ResticRepository implements Repository {
  readonly location: string;
  private readonly cli: ResticCli;
  /** restic encrypts every repository. */
  readonly encrypted = true;
  private readonly cache = new SmallFileCache();
  private isOpen = false;
  /** Set while forget holds the lock: removals wait for restic's lock as told, and prune once at release. */
  private held?: { wait: LockWait; removed: number };
  private catalog?: Promise<CatalogEntry[]>;
  private sizes?: Promise<Map<string, number>>;

  constructor(resticRepository: string) {
    const display = resticRepository.replace(/:\/\/[^/@\s]*@/g, '://***@');
    this.location = `restic:${display}`;
    this.cli = new ResticCli(resticRepository, display);
  }

  /** restic always encrypts with its own password: `init --encrypt` asks for nothing more. */
  async init(): Promise<void> {
    const found = await this.readConfig().catch((error: unknown) => error);
    if (!(found instanceof HoldfastError && found.code === 'not-found')) {
      if (found instanceof HoldfastError && found.code !== 'auth') throw found;
      throw new HoldfastError('repository', `a restic repository already exists at ${this.cli.display}`, {
        hint: 'use it as it is (holdfast keeps its snapshots apart by tags), or choose another --repo',
      });
    }
    await this.create();
  }

  /**
   * Opening reads the list of snapshots: it proves the location and the
   * password, and the command that follows (list, backup) uses it, so that
   * each costs one restic start (each pays restic's key derivation).
   */
  async open({ create }: { create: boolean }): Promise<void> {
    try {
      await this.opened(readCatalog(this.cli));
    } catch (error) {
      if (!(create && error instanceof HoldfastError && error.code === 'not-found')) throw error;
      await this.create();
    }
  }

  /** `restic init`; for a local path only its last part is new (restic would make every missing parent). */
  private async create(): Promise<void> {
    const local = this.cli.repository;
    if (isAbsolute(local) && !existsSync(dirname(local))) {
      throw new HoldfastError('usage', `cannot create the restic repository at ${local}: its parent directory ${dirname(local)} does not exist`, {
        hint: `check the path for a typo, or create the parent first (mkdir -p ${dirname(local)})`,
      });
    }
    await this.cli.text(['init'], 'create the restic repository');
    this.opened(Promise.resolve([]));
  }

  /**
   * restic lets backups run side by side, so holdfast keeps no writer lock
   * of its own here. What forget needs from the lock is granted this way:
   * its removals (restic forget, which needs restic's exclusive lock) wait
   * for running backups as `waitMs` says, and one `restic prune` at release
   * frees what all of them held.
   */
  async lock(_command: string, options: LockWait = {}): Promise<HeldLock> {
    this.requireOpen();
    const held = { wait: options, removed: 0 };
    this.held = held;
    return {
      notes: [...this.cli.notes],
      release: async () => {
        if (this.held === held) this.held = undefined;
        if (held.removed > 0) await this.prune();
      },
    };
  }

  async beginSnapshot(_command: string, options: { id?: string } = {}): Promise<SnapshotWriter> {
    this.requireOpen();
    if (options.id !== undefined && !SNAPSHOT_ID.test(options.id)) {
      throw new HoldfastError('integrity', `${JSON.stringify(options.id)} is not a snapshot id`, { hint: 'the bundle or its manifest is damaged' });
    }
    const entries = await this.entries();
    const notes = [...this.cli.notes];
    const id = options.id ?? newSnapshotId();
    if (entries.some((e) => e.role === 'manifest' && e.holdfastId === id)) {
      throw new HoldfastError('repository', `snapshot ${id} is already in the repository at ${this.location}`, {
        hint: 'it was imported before; `holdfast show ' + id + '` shows it',
      });
    }
    notes.push(...(await this.removeLeftovers(entries)));
    return new ResticSnapshotWriter(id, this.cli, notes, () => this.forgetCached());
  }

  async list(): Promise<Array<Manifest | BrokenSnapshot>> {
    const entries = await this.entries();
    // The first manifest entry of each snapshot id.
    const manifests = new Map<string, (typeof entries)[number]>();
    for (const entry of entries) if (entry.role === 'manifest' && !manifests.has(entry.holdfastId)) manifests.set(entry.holdfastId, entry);
    return listSnapshots(manifests.keys(), async (id) => (await this.document(manifests.get(id)!)).manifest);
  }

  async load(id: string): Promise<Manifest> {
    return (await this.documentOf(id)).manifest;
  }

  async resolve(ref: string): Promise<string> {
    return resolveSnapshotRef(ref, await this.list());
  }

  artifacts(id: string, service: string, records: readonly ArtifactRecord[], signal?: AbortSignal, progress?: ByteProgress): ArtifactSource {
    // restic's artifacts are stored as they are: what it hands out is the raw bytes.
    const read = (record: ArtifactRecord) => this.openDecoded(id, service, record, signal).pipe(new ByteMeter({ onBytes: progress ? (n) => progress.add(n) : undefined }));
    const find = (name: string) => {
      const record = findArtifact(id, service, records, name);
      return record;
    };
    return {
      records,
      open: (name) => read(find(name)),
      pipeToCommand: async (name, command) => {
        const consumer = runTool(command.command, command.args, { env: command.env, secrets: command.secrets, stdin: 'pipe', stdout: command.stdout ?? 'ignore', signal });
        consumer.stdout?.resume();
        // A consumer that stops reading early (it failed) breaks the pipe: its exit says why.
        const feeding = pipeline(read(find(name)), consumer.stdin!).catch((error: unknown) => error);
        const [exit, fed] = await Promise.all([consumer.done, feeding]);
        if (fed && exit.code === 0) throw fed;
        return exit;
      },
      extractToFile: async (name, path) => {
        try {
          await pipeline(read(find(name)), createWriteStream(path, { mode: 0o600 }));
        } catch (error) {
          throw toHoldfastError(error, { service });
        }
      },
    };
  }

  async storedSize(id: string, service: string, record: ArtifactRecord): Promise<number | null> {
    const located = await this.locate(id, service, record).catch(() => undefined);
    if (!located) return null;
    this.sizes ??= this.readSizes();
    return (await this.sizes).get(`${located.snapshot.id}:${located.path}`) ?? null;
  }

  async verifyArtifact(id: string, service: string, record: ArtifactRecord, signal?: AbortSignal, onStoredBytes?: (n: number) => void): Promise<void> {
    await pipeline(this.openStored(id, service, record, signal), new ByteMeter({ onBytes: onStoredBytes }), new PassThrough().resume());
  }

  openStored(id: string, service: string, record: ArtifactRecord, signal?: AbortSignal): Readable {
    const out = new PassThrough({ highWaterMark: 1 << 20 });
    this.locate(id, service, record)
      .then(({ snapshot, path }) => pipeline(dumpStream(this.cli, snapshot.id, path, signal), checksumGuard(record, `${id}/${service}/${record.name}`), out, { signal }))
      .catch((error: unknown) => {
        if (!out.destroyed) out.destroy(error as Error);
      });
    return out;
  }

  async remove(id: string): Promise<void> {
    if (!SNAPSHOT_ID.test(id)) throw notFound(id);
    const entries = (await this.entries()).filter((e) => e.holdfastId === id);
    const manifests = entries.filter((e) => e.role === 'manifest');
    if (manifests.length === 0) throw notFound(id);
    // The manifest first: from then on the snapshot is not listed, whatever happens to the rest.
    const wait = this.held?.wait ?? {};
    await this.cli.text(['forget', ...manifests.map((e) => e.snapshot.id)], `forget snapshot ${id}`, wait.signal, wait);
    const rest = entries.filter((e) => e.role !== 'manifest');
    this.forgetCached();
    if (rest.length > 0) await this.cli.text(['forget', ...rest.map((e) => e.snapshot.id)], `forget the artifacts of snapshot ${id}`, wait.signal, wait);
    if (this.held) this.held.removed++;
    else await this.prune();
  }

  async annotate(id: string, kind: string, value: unknown): Promise<void> {
    if (!/^[a-z][a-z0-9-]{0,40}$/.test(kind)) throw new HoldfastError('internal', `invalid annotation kind ${JSON.stringify(kind)}`);
    await this.load(id);
    const older = (await this.entries()).filter((e) => e.role === 'annotation' && e.holdfastId === id && e.kind === kind);
    const intake = new ResticIntake(this.cli, `/holdfast/${id}/annotations/${kind}.json`, [TAG.annotation, `${TAG.id}${id}`, `${TAG.kind}${kind}`]);
    try {
      await intake.feed(Readable.from([Buffer.from(JSON.stringify(value, null, 2) + '\n')]));
    } catch (error) {
      await intake.kill();
      throw toHoldfastError(error);
    }
    await intake.seal(`store the ${kind} annotation of ${id}`);
    this.forgetCached();
    // Newest wins on reading; dropping the older ones only keeps the list short.
    if (older.length > 0) await this.cli.text(['forget', ...older.map((e) => e.snapshot.id)], 'forget an older annotation').catch(() => undefined);
  }

  async annotations(id: string): Promise<Record<string, unknown>> {
    if (!SNAPSHOT_ID.test(id)) throw notFound(id);
    const out: Record<string, unknown> = {};
    for (const entry of (await this.entries()).filter((e) => e.role === 'annotation' && e.holdfastId === id && e.kind)) {
      try {
        out[entry.kind!] = JSON.parse(await this.requireOpen().read(this.cli, entry)); // oldest first: the newest wins
      } catch {
        // A damaged annotation is not a damaged snapshot: it reads as absent.
      }
    }
    return Object.fromEntries(Object.entries(out).sort(([a], [b]) => a.localeCompare(b)));
  }

  /** `restic prune`: frees what forgotten snapshots held. A lock only defers it, and says so. */
  async prune(): Promise<void> {
    try {
      await this.cli.text(['prune'], 'prune');
    } catch (error) {
      const e = toHoldfastError(error);
      process.stderr.write(`holdfast: [restic] the snapshot is forgotten, but its data stays until the next \`restic prune\`: ${e.message}\n`);
    }
  }

  /** `restic check` (and `--read-data`): the storage's own integrity, beside holdfast's checksums. */
  async checkStorage(options: { readData: boolean; signal?: AbortSignal }): Promise<string[]> {
    const check = async () => {
      const run = this.cli.spawn(['check', ...(options.readData ? ['--read-data'] : [])], { signal: options.signal, stdout: 'pipe' });
      let out = '';
      run.stdout!.setEncoding('utf8');
      run.stdout!.on('data', (chunk: string) => (out += chunk));
      const exit = await run.done;
      return { out, exit };
    };
    let { out, exit } = await check();
    // A killed run's restic leaves its lock behind: stale locks are removed, as for every other restic command.
    if (exit.code !== 0 && (await this.cli.unlockIfStale(exit))) ({ out, exit } = await check());
    if (exit.code === 0) return [];
    if (exit.code !== 1 || /locked/.test(exit.stderr)) throw this.cli.failure('check the restic repository', exit);
    return `${out}\n${exit.stderr}`
      .split('\n')
      .map((line) => line.trim())
      .filter((line) => /error|damaged|missing|invalid|not referenced|unused/i.test(line) && !/^no errors were found/i.test(line))
      .map((line) => `restic check: ${line}`)
      .slice(0, 50);
  }

  private openDecoded(id: string, service: string, record: ArtifactRecord, signal?: AbortSignal): Readable {
    const out = new PassThrough({ highWaterMark: 1 << 20 });
    this.locate(id, service, record)
      .then(({ snapshot, path }) => pipeline(openArtifactStream(dumpStream(this.cli, snapshot.id, path, signal), record, `${id}/${service}/${record.name}`, signal), out))
      .catch((error: unknown) => {
        if (!out.destroyed) out.destroy(error as Error);
      });
    return out;
  }

  /** The restic snapshot and path of an artifact, by its snapshot's stored document. */
  private async locate(id: string, service: string, record: ArtifactRecord): Promise<{ snapshot: CatalogEntry['snapshot']; path: string }> {
    const where = `${id}/${service}/${record.name}`;
    const ref = (await this.documentOf(id)).artifacts[`${service}/${record.name}`];
    const entry = ref ? (await this.entries()).find((e) => e.role === 'artifact' && e.holdfastId === id && e.snapshot.id.startsWith(ref)) : undefined;
    if (!entry) {
      throw new HoldfastError('integrity', `artifact ${where} is corrupt: its restic snapshot is missing`, {
        hint: 'this artifact cannot be trusted: restore from another snapshot, and run `holdfast check --read-data`',
      });
    }
    return { snapshot: entry.snapshot, path: entry.path };
  }

  private async documentOf(id: string): Promise<StoredDocument> {
    if (!SNAPSHOT_ID.test(id)) throw notFound(id);
    const entry = (await this.entries()).find((e) => e.role === 'manifest' && e.holdfastId === id);
    if (!entry) throw notFound(id);
    return this.document(entry);
  }

  private async document(entry: CatalogEntry): Promise<StoredDocument> {
    const text = await this.requireOpen().read(this.cli, entry);
    let doc: Partial<StoredDocument>;
    try {
      doc = JSON.parse(text) as Partial<StoredDocument>;
    } catch (cause) {
      throw new HoldfastError('integrity', `the manifest of snapshot ${entry.holdfastId} is not valid JSON (restic snapshot ${entry.snapshot.short_id})`, { cause, hint: 'run `holdfast check`' });
    }
    const manifest = parseManifest(JSON.stringify(doc.manifest ?? null), `of snapshot ${entry.holdfastId}`);
    if (manifest.id !== entry.holdfastId) {
      throw new HoldfastError('integrity', `restic snapshot ${entry.snapshot.short_id} is tagged ${entry.holdfastId} but holds the manifest of ${manifest.id}`, { hint: 'run `holdfast check`' });
    }
    return { holdfast: 1, manifest, artifacts: doc.artifacts ?? {} };
  }

  private async entries(fresh = false): Promise<CatalogEntry[]> {
    this.requireOpen();
    if (fresh || !this.catalog) {
      this.catalog = readCatalog(this.cli);
      this.catalog.catch(() => (this.catalog = undefined));
    }
    return this.catalog;
  }

  private forgetCached(): void {
    this.catalog = undefined;
    this.sizes = undefined;
  }

  /**
   * Artifacts and annotations that no manifest refers to, written by a
   * holdfast that is gone (killed, or its restic snapshot of a discarded
   * artifact could not be forgotten): forgotten now; their data goes with the
   * next prune. Another host's unfinished run is left alone and named.
   */
  private async removeLeftovers(entries: CatalogEntry[]): Promise<string[]> {
    const garbage = await this.unreferenced(entries);
    const dead = garbage.filter((e) => e.role === 'annotation' || !writerMayRun(e));
    const notes: string[] = [];
    if (dead.length > 0) {
      try {
        await this.cli.text(['forget', ...dead.map((e) => e.snapshot.id)], 'forget what an interrupted run left');
        this.forgetCached();
        const ids = [...new Set(dead.map((e) => e.holdfastId))];
        notes.push(`forgot ${dead.length} restic snapshots that interrupted runs left (${ids.join(', ')}); the next \`restic prune\` frees their data`);
      } catch (error) {
        notes.push(`could not yet forget ${dead.length} restic snapshots that interrupted runs left: ${toHoldfastError(error).message}`);
      }
    }
    const elsewhere = garbage.filter((e) => !dead.includes(e) && e.snapshot.hostname !== hostname());
    if (elsewhere.length > 0) {
      const hosts = [...new Set(elsewhere.map((e) => e.snapshot.hostname))].join(', ');
      notes.push(`${elsewhere.length} restic snapshots of unfinished holdfast runs on ${hosts} are left alone (holdfast cannot tell from here whether they still run; \`restic forget\` them once they are gone)`);
    }
    return notes;
  }

  /** Artifacts (and annotations) that no committed manifest refers to, whoever wrote them: the repository suite's leftovers. */
  async leftovers(): Promise<string[]> {
    return (await this.unreferenced(await this.entries(true))).map((e) => `${e.holdfastId}:${e.path}`);
  }

  private async unreferenced(entries: CatalogEntry[]): Promise<CatalogEntry[]> {
    const referenced = new Map<string, string[]>();
    for (const entry of entries.filter((e) => e.role === 'manifest')) {
      const doc = await this.document(entry).catch(() => undefined);
      // A manifest that cannot be read now keeps all of its snapshot's pieces (the prefix '' matches every id).
      const refs = doc ? Object.values(doc.artifacts) : [''];
      referenced.set(entry.holdfastId, [...(referenced.get(entry.holdfastId) ?? []), ...refs]);
    }
    return entries.filter((e) =>
      e.role === 'artifact' ? !(referenced.get(e.holdfastId) ?? []).some((ref) => e.snapshot.id.startsWith(ref)) : e.role === 'annotation' && !referenced.has(e.holdfastId),
    );
  }

  private async readSizes(): Promise<Map<string, number>> {
    type Found = Array<{ snapshot: string; matches: Array<{ path: string; type: string; size?: number }> | null }>;
    const found = await this.cli.json<Found | null>(['find', '--tag', TAG.artifact, '*'], 'list the artifact sizes');
    const sizes = new Map<string, number>();
    for (const hit of found ?? []) {
      for (const m of hit.matches ?? []) if (m.type === 'file') sizes.set(`${hit.snapshot}:${m.path}`, m.size ?? 0);
    }
    return sizes;
  }

  private async readConfig(): Promise<{ id: string; version: number }> {
    return this.cli.json<{ id: string; version: number }>(['cat', 'config'], 'open the restic repository');
  }

  private opened(catalog: Promise<CatalogEntry[]>): Promise<CatalogEntry[]> {
    this.catalog = catalog;
    catalog.then(
      () => (this.isOpen = true),
      () => (this.catalog = undefined),
    );
    return catalog;
  }

  private requireOpen(): SmallFileCache {
    if (!this.isOpen) throw new HoldfastError('internal', 'repository used before open()');
    return this.cache;
  }
}

function notFound(id: string): HoldfastError {
  return new HoldfastError('not-found', `no snapshot ${JSON.stringify(id)} in this repository`, {
    hint: 'list them with `holdfast snapshots`',
  });
}
