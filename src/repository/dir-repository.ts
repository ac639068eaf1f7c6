import { randomUUID } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { mkdir, open, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ArtifactSink, ArtifactSource } from '../core/driver.js';
import { HoldfastError, toHoldfastError } from '../core/errors.js';
import { checksumGuard, openArtifactFile, openStoredFile, verifyArtifactFile } from './artifact-reader.js';
import { writeArtifactFile } from './artifact-writer.js';
import { writeCommandArtifactFile } from './command-artifact.js';
import { decompressIntoCommand, decompressToFile } from './command-restore.js';
import { DEFAULT_COMPRESSION, type CompressionSettings } from './compression.js';
import { RepositoryLock, type LockWait } from './lock.js';
import { parseManifest, type ArtifactRecord, type Manifest } from './manifest.js';
import type { BrokenSnapshot, HeldLock, Repository, SnapshotWriter } from './repository.js';
import { newSnapshotId, SNAPSHOT_ID } from './snapshot-id.js';
import { resolveSnapshotRef } from './resolve.js';

const FORMAT = 1;

interface RepoConfig {
  format: number;
  id: string;
  createdAt: string;
  compression: CompressionSettings;
  encryption: null;
}

/**
 * The embedded default: a local directory.
 *   config.json, snapshots/<id>/manifest.json, snapshots/<id>/<service>/<artifact>,
 *   tmp/<id>/ (staging, renamed into snapshots/ on commit), lock.
 */
export class DirRepository implements Repository {
  private config?: RepoConfig;

  constructor(readonly location: string) {}

  async init(): Promise<void> {
    await this.assertUsableDir(true);
    if (await exists(join(this.location, 'config.json'))) {
      throw new HoldfastError('repository', `a repository already exists at ${this.location}`, {
        hint: 'use it as it is, or choose another --repo',
      });
    }
    await this.create();
  }

  async open({ create }: { create: boolean }): Promise<void> {
    await this.assertUsableDir(create);
    const path = join(this.location, 'config.json');
    let text: string;
    try {
      text = await readFile(path, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw wrap(error, this.location);
      if (!create) {
        throw new HoldfastError('not-found', `no holdfast repository at ${this.location}`, {
          hint: 'run `holdfast init`, or point --repo / HOLDFAST_REPO at an existing repository',
        });
      }
      await this.create();
      return;
    }
    let config: RepoConfig;
    try {
      config = JSON.parse(text) as RepoConfig;
    } catch (cause) {
      throw new HoldfastError('repository', `${path} is not valid JSON`, { hint: 'the repository configuration is damaged', cause });
    }
    if (config.format !== FORMAT) {
      throw new HoldfastError('repository', `${this.location} has repository format ${config.format}; this holdfast reads format ${FORMAT}`, {
        hint: 'use the holdfast version that created it',
      });
    }
    this.config = config;
  }

  async beginSnapshot(command: string, options: { id?: string } = {}): Promise<SnapshotWriter> {
    const config = this.requireConfig();
    if (options.id !== undefined && !SNAPSHOT_ID.test(options.id)) {
      throw new HoldfastError('integrity', `${JSON.stringify(options.id)} is not a snapshot id`, { hint: 'the bundle or its manifest is damaged' });
    }
    const lock = await this.lock(command);
    const notes = [...lock.notes];
    try {
      // Holding the lock, any staging directory belongs to a writer that died.
      const tmp = join(this.location, 'tmp');
      for (const leftover of await readdir(tmp).catch(() => [] as string[])) {
        await rm(join(tmp, leftover), { recursive: true, force: true });
        notes.push(`removed the unfinished snapshot ${leftover} of an interrupted run`);
      }
      const id = options.id ?? newSnapshotId();
      if (await exists(join(this.location, 'snapshots', id))) {
        throw new HoldfastError('repository', `snapshot ${id} is already in the repository at ${this.location}`, {
          hint: 'it was imported before; `holdfast show ' + id + '` shows it',
        });
      }
      const staging = join(tmp, id);
      await mkdir(staging, { recursive: true });
      return new DirSnapshotWriter(id, staging, join(this.location, 'snapshots'), config.compression, lock, notes);
    } catch (error) {
      await lock.release();
      throw wrap(error, this.location);
    }
  }

  async lock(command: string, options: LockWait = {}): Promise<HeldLock> {
    this.requireConfig();
    const { lock, tookOverFrom } = await RepositoryLock.acquire(join(this.location, 'lock'), command, options).catch((e: unknown) => {
      throw wrap(e, this.location);
    });
    const notes = tookOverFrom ? [`took over a stale lock of pid ${tookOverFrom.pid} (${tookOverFrom.command}, since ${tookOverFrom.since})`] : [];
    return { notes, release: () => lock.release() };
  }

  async list(): Promise<Array<Manifest | BrokenSnapshot>> {
    this.requireConfig();
    const dir = join(this.location, 'snapshots');
    const ids = (await readdir(dir).catch(() => [] as string[])).filter((id) => SNAPSHOT_ID.test(id)).sort();
    const out: Array<Manifest | BrokenSnapshot> = [];
    for (const id of ids) {
      try {
        out.push(await this.load(id));
      } catch (error) {
        out.push({ id, broken: toHoldfastError(error).message });
      }
    }
    // Ids have one-second precision: within a second, the manifest's time decides.
    const when = (e: Manifest | BrokenSnapshot) => ('createdAt' in e ? e.createdAt : '');
    return out.sort((a, b) => a.id.slice(0, 16).localeCompare(b.id.slice(0, 16)) || when(a).localeCompare(when(b)) || a.id.localeCompare(b.id));
  }

  async load(id: string): Promise<Manifest> {
    this.requireConfig();
    if (!SNAPSHOT_ID.test(id)) throw notFound(id);
    const path = join(this.location, 'snapshots', id, 'manifest.json');
    let text: string;
    try {
      text = await readFile(path, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') throw notFound(id);
      throw wrap(error, this.location);
    }
    return parseManifest(text, `of snapshot ${id}`);
  }

  async resolve(ref: string): Promise<string> {
    return resolveSnapshotRef(ref, await this.list());
  }

  artifacts(id: string, service: string, records: readonly ArtifactRecord[], signal?: AbortSignal): ArtifactSource {
    const find = (name: string) => {
      const record = records.find((r) => r.name === name);
      if (!record) throw new HoldfastError('not-found', `snapshot ${id} has no artifact ${name} for service ${service}`, { service });
      return { record, path: this.artifactPath(id, service, name), where: `${id}/${service}/${name}` };
    };
    return {
      records,
      open: (name) => {
        const { record, path, where } = find(name);
        return openArtifactFile(path, record, where, signal);
      },
      pipeToCommand: async (name, command) => {
        const { path, where } = find(name);
        return decompressIntoCommand(path, where, command, signal);
      },
      extractToFile: async (name, out) => {
        const { path, where } = find(name);
        await decompressToFile(path, where, out, signal);
      },
    };
  }

  async verifyArtifact(id: string, service: string, record: ArtifactRecord, signal?: AbortSignal): Promise<void> {
    await verifyArtifactFile(this.artifactPath(id, service, record.name), record, `${id}/${service}/${record.name}`, signal);
  }

  openStored(id: string, service: string, record: ArtifactRecord, signal?: AbortSignal): Readable {
    return openStoredFile(this.artifactPath(id, service, record.name), record, `${id}/${service}/${record.name}`, signal);
  }

  async annotate(id: string, kind: string, value: unknown): Promise<void> {
    assertAnnotationKind(kind);
    await this.load(id);
    const dir = join(this.location, 'annotations', id);
    await mkdir(dir, { recursive: true });
    const path = join(dir, `${kind}.json`);
    const temp = `${path}.${process.pid}.tmp`;
    try {
      await writeFile(temp, JSON.stringify(value, null, 2) + '\n');
      await rename(temp, path);
    } catch (error) {
      await rm(temp, { force: true });
      throw wrap(error, this.location);
    }
  }

  async annotations(id: string): Promise<Record<string, unknown>> {
    this.requireConfig();
    if (!SNAPSHOT_ID.test(id)) throw notFound(id);
    const dir = join(this.location, 'annotations', id);
    const out: Record<string, unknown> = {};
    for (const file of (await readdir(dir).catch(() => [] as string[])).sort()) {
      if (!file.endsWith('.json')) continue;
      try {
        out[file.slice(0, -'.json'.length)] = JSON.parse(await readFile(join(dir, file), 'utf8'));
      } catch {
        // A damaged annotation is not a damaged snapshot: it reads as absent.
      }
    }
    return out;
  }

  async remove(id: string): Promise<void> {
    if (!SNAPSHOT_ID.test(id)) throw notFound(id);
    // Rename first so that a half-removed snapshot is never listed.
    const doomed = join(this.location, 'tmp', `${id}.removing`);
    await mkdir(join(this.location, 'tmp'), { recursive: true });
    try {
      await rename(join(this.location, 'snapshots', id), doomed);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') throw notFound(id);
      throw wrap(error, this.location);
    }
    await rm(doomed, { recursive: true, force: true });
    await rm(join(this.location, 'annotations', id), { recursive: true, force: true });
  }

  private artifactPath(id: string, service: string, name: string): string {
    return join(this.location, 'snapshots', id, service, name);
  }

  private requireConfig(): RepoConfig {
    if (!this.config) throw new HoldfastError('internal', 'repository used before open()');
    return this.config;
  }

  private async create(): Promise<void> {
    const config: RepoConfig = {
      format: FORMAT,
      id: randomUUID(),
      createdAt: new Date().toISOString(),
      compression: DEFAULT_COMPRESSION,
      encryption: null,
    };
    try {
      await mkdir(join(this.location, 'snapshots'), { recursive: true });
      await mkdir(join(this.location, 'tmp'), { recursive: true });
      await writeFile(join(this.location, 'config.json'), JSON.stringify(config, null, 2) + '\n', { flag: 'wx' });
    } catch (error) {
      const e = toHoldfastError(error);
      if (e.code === 'no-space') throw wrap(error, this.location);
      const code = (error as NodeJS.ErrnoException).code ?? e.code;
      throw new HoldfastError('repository', `cannot create the repository at ${this.location} (${code}: ${(error as Error).message})`, {
        hint: 'check that the parent directory exists and is writable (not on a read-only file system), or choose another --repo',
        cause: error,
      });
    }
    this.config = config;
  }

  private async assertUsableDir(mayCreate: boolean): Promise<void> {
    let info;
    try {
      info = await stat(this.location);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT' && mayCreate) return;
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return; // open() reports "no repository"
      throw wrap(error, this.location);
    }
    if (!info.isDirectory()) {
      throw new HoldfastError('repository', `the repository path ${this.location} is not a directory`, {
        hint: 'point --repo (or HOLDFAST_REPO) at a directory, or at a path that does not exist yet',
      });
    }
  }
}

class DirSnapshotWriter implements SnapshotWriter {
  private finished = false;

  constructor(
    readonly id: string,
    private readonly staging: string,
    private readonly snapshots: string,
    private readonly compression: CompressionSettings,
    private readonly lock: HeldLock,
    readonly notes: string[],
  ) {}

  sink(service: string, onBytes?: (n: number) => void, signal?: AbortSignal): ArtifactSink {
    const dir = join(this.staging, service);
    const prepare = async (name: string) => {
      if (!/^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(name) || name.length > 200) {
        throw new HoldfastError('internal', `driver chose an unsafe artifact name ${JSON.stringify(name)}`, { service });
      }
      await mkdir(dir, { recursive: true });
      return join(dir, name);
    };
    const record = (name: string, meta: { kind: string; label?: string }, written: { sha256: string; storedBytes: number; rawBytes: number }): ArtifactRecord => ({
      name,
      kind: meta.kind,
      ...(meta.label !== undefined ? { label: meta.label } : {}),
      compression: 'zstd',
      sha256: written.sha256,
      storedBytes: written.storedBytes,
      rawBytes: written.rawBytes,
    });
    return {
      write: async (name, source, meta) => {
        const path = await prepare(name);
        try {
          return record(name, meta, await writeArtifactFile(path, source, this.compression, { signal, onRawBytes: onBytes }));
        } catch (error) {
          throw wrap(error, path, service);
        }
      },
      discard: async (name) => {
        await rm(await prepare(name), { force: true });
      },
      writeCommand: async (name, command, meta) => {
        const path = await prepare(name);
        try {
          const written = await writeCommandArtifactFile(path, command, this.compression, { signal, onStoredBytes: onBytes });
          return { record: record(name, meta, written), exit: written.exit };
        } catch (error) {
          throw wrap(error, path, service);
        }
      },
    };
  }

  async putStored(service: string, record: ArtifactRecord, source: Readable, signal?: AbortSignal): Promise<void> {
    const dir = join(this.staging, service);
    if (!/^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(record.name) || record.name.length > 200) {
      throw new HoldfastError('integrity', `unsafe artifact name ${JSON.stringify(record.name)}`, { service, hint: 'the bundle is damaged or was tampered with' });
    }
    await mkdir(dir, { recursive: true });
    const path = join(dir, record.name);
    try {
      await pipeline(source, checksumGuard(record, `${this.id}/${service}/${record.name}`), createWriteStream(path, { flags: 'wx' }), { signal });
      const handle = await open(path, 'r');
      try {
        await handle.sync();
      } finally {
        await handle.close();
      }
    } catch (error) {
      await rm(path, { force: true });
      throw wrap(error, path, service);
    }
  }

  async discardService(service: string): Promise<void> {
    await rm(join(this.staging, service), { recursive: true, force: true });
  }

  async commit(manifest: Manifest): Promise<void> {
    if (this.finished) throw new HoldfastError('internal', 'snapshot committed twice');
    try {
      const path = join(this.staging, 'manifest.json');
      const handle = await open(path, 'wx');
      try {
        await handle.writeFile(JSON.stringify(manifest, null, 2) + '\n');
        await handle.sync();
      } finally {
        await handle.close();
      }
      await fsyncDir(this.staging);
      await mkdir(this.snapshots, { recursive: true });
      await rename(this.staging, join(this.snapshots, this.id));
      await fsyncDir(this.snapshots);
      this.finished = true;
    } catch (error) {
      await this.abort();
      throw wrap(error, this.staging);
    } finally {
      await this.lock.release();
    }
  }

  async abort(): Promise<void> {
    if (this.finished) return;
    this.finished = true;
    await rm(this.staging, { recursive: true, force: true });
    await this.lock.release();
  }
}

async function fsyncDir(path: string): Promise<void> {
  const handle = await open(path, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

function assertAnnotationKind(kind: string): void {
  if (!/^[a-z][a-z0-9-]{0,40}$/.test(kind)) throw new HoldfastError('internal', `invalid annotation kind ${JSON.stringify(kind)}`);
}

function notFound(id: string): HoldfastError {
  return new HoldfastError('not-found', `no snapshot ${JSON.stringify(id)} in this repository`, {
    hint: 'list them with `holdfast snapshots`',
  });
}

function wrap(error: unknown, where: string, service?: string): HoldfastError {
  const e = toHoldfastError(error, service ? { service } : {});
  if (e.code === 'repository' || e.code === 'no-space') {
    if (!e.message.includes(where)) {
      return new HoldfastError(e.code, `${e.message} (repository path ${where})`, { service: e.service, hint: e.hint, cause: e.cause });
    }
  }
  return e;
}
