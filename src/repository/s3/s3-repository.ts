import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import type { Readable } from 'node:stream';
import type { ArtifactSource, ByteProgress } from '../../core/driver.js';
import { artifactProgress } from '../byte-meter.js';
import { HoldfastError, toHoldfastError } from '../../core/errors.js';
import { guardStoredStream, openArtifactStream, verifyArtifactStream } from '../artifact-reader.js';
import { decompressStreamIntoCommand, decompressStreamToFile } from '../command-restore.js';
import { DEFAULT_COMPRESSION, type CompressionSettings } from '../compression.js';
import { findArtifact, parseManifest, type ArtifactRecord, type Manifest } from '../manifest.js';
import type { BrokenSnapshot, HeldLock, Repository, SnapshotWriter } from '../repository.js';
import { listSnapshots, resolveSnapshotRef } from '../resolve.js';
import { newSnapshotId, SNAPSHOT_ID } from '../snapshot-id.js';
import type { S3Location } from './s3-location.js';
import { S3Lock, type S3LockInfo } from './s3-lock.js';
import type { LockWait } from '../lock.js';
import { S3SnapshotWriter } from './s3-snapshot-writer.js';
import { S3Store } from './s3-store.js';
import { artifactKey, manifestKey, snapshotPrefix, stagingKey, type StagingMarker } from './s3-keys.js';

const FORMAT = 1;

interface RepoConfig {
  format: number;
  id: string;
  createdAt: string;
  compression: CompressionSettings;
  encryption: null;
  backend: 's3';
}

/**
 * A repository in an S3 bucket (AWS or any S3-compatible server), under a
 * key prefix:
 *   config.json, lock.json,
 *   snapshots/<id>/<service>/<artifact>   streamed in by multipart uploads,
 *   snapshots/<id>/manifest.json          written last: a snapshot exists once it does,
 *   annotations/<id>/<kind>.json,
 *   staging/<id>.json                     marks a write or removal in progress.
 * S3 has no rename, so a snapshot's objects are written in place and only
 * its manifest makes it visible. A writer that dies leaves its marker; the
 * next writer (holding the lock) deletes that snapshot's objects and aborts
 * every unfinished multipart upload, as the dir repository empties tmp/.
 */
export class S3Repository implements Repository {
  private config?: RepoConfig;
  private readonly store: S3Store;

  constructor(
    readonly location: string,
    where: S3Location,
  ) {
    this.store = new S3Store(where);
  }

  async init(): Promise<void> {
    await this.store.checkBucket();
    if ((await this.store.getText('config.json')) !== undefined) {
      throw new HoldfastError('repository', `a repository already exists at ${this.location}`, { hint: 'use it as it is, or choose another --repo' });
    }
    await this.create();
  }

  async open({ create }: { create: boolean }): Promise<void> {
    const text = await this.store.getText('config.json');
    if (text === undefined) {
      await this.store.checkBucket();
      if (!create) {
        throw new HoldfastError('not-found', `no holdfast repository at ${this.location}`, {
          hint: 'create one with `holdfast init` (or `holdfast backup --init`), or point --repo / HOLDFAST_REPO at an existing repository',
        });
      }
      await this.create();
      return;
    }
    let config: RepoConfig;
    try {
      config = JSON.parse(text) as RepoConfig;
    } catch (cause) {
      throw new HoldfastError('repository', `${this.location}/config.json is not valid JSON`, { hint: 'the repository configuration is damaged', cause });
    }
    if (config.format !== FORMAT) {
      throw new HoldfastError('repository', `${this.location} has repository format ${config.format}; this holdfast reads format ${FORMAT}`, {
        hint: 'use the holdfast version that created it',
      });
    }
    this.config = config;
  }

  async lock(command: string, options: LockWait = {}): Promise<HeldLock> {
    this.requireConfig();
    const { lock, tookOverFrom, bestEffort } = await S3Lock.acquire(this.store, command, options);
    return { notes: lockNotes(tookOverFrom, bestEffort), release: () => lock.release() };
  }

  async beginSnapshot(command: string, options: { id?: string } = {}): Promise<SnapshotWriter> {
    const config = this.requireConfig();
    if (options.id !== undefined && !SNAPSHOT_ID.test(options.id)) {
      throw new HoldfastError('integrity', `${JSON.stringify(options.id)} is not a snapshot id`, { hint: 'the bundle or its manifest is damaged' });
    }
    const { lock, tookOverFrom, bestEffort } = await S3Lock.acquire(this.store, command);
    const notes = lockNotes(tookOverFrom, bestEffort);
    try {
      notes.push(...(await this.removeLeftovers()));
      const id = options.id ?? newSnapshotId();
      if (await this.store.exists(manifestKey(id))) {
        throw new HoldfastError('repository', `snapshot ${id} is already in the repository at ${this.location}`, {
          hint: 'it was imported before; `holdfast show ' + id + '` shows it',
        });
      }
      const marker: StagingMarker = { kind: 'backup', pid: process.pid, host: hostname(), since: new Date().toISOString(), command };
      await this.store.putText(stagingKey(id), JSON.stringify(marker));
      return new S3SnapshotWriter(id, this.store, config.compression, lock, notes);
    } catch (error) {
      await lock.release().catch(() => undefined);
      throw toHoldfastError(error);
    }
  }

  /**
   * Holding the lock: every staging marker belongs to a run that died. A
   * backup's snapshot without a manifest is deleted (with a manifest it was
   * committed, only the marker remained); a removal is finished. Then every
   * multipart upload left under snapshots/ is aborted.
   */
  private async removeLeftovers(): Promise<string[]> {
    const notes: string[] = [];
    for (const name of await this.store.listChildren('staging/')) {
      const id = name.replace(/\.json$/, '');
      if (!SNAPSHOT_ID.test(id)) continue;
      const marker = await this.store.getText(stagingKey(id));
      const kind = marker ? (JSON.parse(marker) as StagingMarker).kind : 'backup';
      if (kind === 'backup' && (await this.store.exists(manifestKey(id)))) {
        await this.store.delete(stagingKey(id));
        continue;
      }
      await this.store.delete(manifestKey(id));
      await this.store.deletePrefix(snapshotPrefix(id));
      if (kind === 'remove') await this.store.deletePrefix(`annotations/${id}/`);
      await this.store.delete(stagingKey(id));
      notes.push(kind === 'remove' ? `finished the interrupted removal of snapshot ${id}` : `removed the unfinished snapshot ${id} of an interrupted run`);
    }
    const uploads = await this.store.listUploads('snapshots/');
    for (const upload of uploads) await this.store.abortUpload(upload.key, upload.uploadId);
    if (uploads.length > 0) notes.push(`aborted ${uploads.length} unfinished multipart upload${uploads.length === 1 ? '' : 's'} of an interrupted run`);
    return notes;
  }

  async list(): Promise<Array<Manifest | BrokenSnapshot>> {
    this.requireConfig();
    const ids = (await this.store.listChildren('snapshots/')).filter((id) => SNAPSHOT_ID.test(id));
    return listSnapshots(ids, async (id) => {
      const text = await this.store.getText(manifestKey(id));
      // No manifest object: being written or removed, not a snapshot.
      return text === undefined ? undefined : parseManifest(text, `of snapshot ${id}`, id);
    });
  }

  async load(id: string): Promise<Manifest> {
    this.requireConfig();
    if (!SNAPSHOT_ID.test(id)) throw notFound(id);
    const text = await this.store.getText(manifestKey(id));
    if (text === undefined) throw notFound(id);
    return parseManifest(text, `of snapshot ${id}`, id);
  }

  async resolve(ref: string): Promise<string> {
    return resolveSnapshotRef(ref, await this.list());
  }

  artifacts(id: string, service: string, records: readonly ArtifactRecord[], signal?: AbortSignal, progress?: ByteProgress): ArtifactSource {
    const onRaw = progress ? (n: number) => progress.add(n) : undefined;
    const find = (name: string) => {
      const record = findArtifact(id, service, records, name);
      return { record, key: artifactKey(id, service, name), where: `${id}/${service}/${name}` };
    };
    return {
      records,
      open: (name) => {
        const { record, key, where } = find(name);
        return openArtifactStream(this.store.openRead(key, signal), record, where, signal, onRaw);
      },
      pipeToCommand: async (name, command) => {
        const { record, key, where } = find(name);
        const meter = artifactProgress(progress, record.rawBytes);
        const exit = await decompressStreamIntoCommand(this.store.openRead(key, signal), record, where, command, signal, meter.onRaw);
        meter.complete();
        return exit;
      },
      extractToFile: async (name, out) => {
        const { record, key, where } = find(name);
        const meter = artifactProgress(progress, record.rawBytes);
        await decompressStreamToFile(this.store.openRead(key, signal), record, where, out, signal, meter.onRaw);
        meter.complete();
      },
    };
  }

  async verifyArtifact(id: string, service: string, record: ArtifactRecord, signal?: AbortSignal, onStoredBytes?: (n: number) => void): Promise<void> {
    const where = `${id}/${service}/${record.name}`;
    await verifyArtifactStream(this.store.openRead(artifactKey(id, service, record.name), signal), record, where, signal, onStoredBytes);
  }

  openStored(id: string, service: string, record: ArtifactRecord, signal?: AbortSignal): Readable {
    const where = `${id}/${service}/${record.name}`;
    return guardStoredStream(this.store.openRead(artifactKey(id, service, record.name), signal), record, where, signal);
  }

  async storedSize(id: string, service: string, record: ArtifactRecord): Promise<number | null> {
    return (await this.store.size(artifactKey(id, service, record.name))) ?? null;
  }

  async annotate(id: string, kind: string, value: unknown): Promise<void> {
    if (!/^[a-z][a-z0-9-]{0,40}$/.test(kind)) throw new HoldfastError('internal', `invalid annotation kind ${JSON.stringify(kind)}`);
    await this.load(id);
    await this.store.putText(`annotations/${id}/${kind}.json`, JSON.stringify(value, null, 2) + '\n');
  }

  async annotations(id: string): Promise<Record<string, unknown>> {
    this.requireConfig();
    if (!SNAPSHOT_ID.test(id)) throw notFound(id);
    const out: Record<string, unknown> = {};
    for (const file of (await this.store.listChildren(`annotations/${id}/`)).sort()) {
      if (!file.endsWith('.json')) continue;
      const text = await this.store.getText(`annotations/${id}/${file}`);
      try {
        if (text !== undefined) out[file.slice(0, -'.json'.length)] = JSON.parse(text);
      } catch {
        // A damaged annotation is not a damaged snapshot: it reads as absent.
      }
    }
    return out;
  }

  async remove(id: string): Promise<void> {
    this.requireConfig();
    if (!SNAPSHOT_ID.test(id)) throw notFound(id);
    if (!(await this.store.exists(manifestKey(id)))) throw notFound(id);
    // Marker first, then the manifest, so that the snapshot stops being listed
    // at once and an interrupted removal is finished by the next writer.
    const marker: StagingMarker = { kind: 'remove', pid: process.pid, host: hostname(), since: new Date().toISOString(), command: 'remove' };
    await this.store.putText(stagingKey(id), JSON.stringify(marker));
    await this.store.delete(manifestKey(id));
    await this.store.deletePrefix(snapshotPrefix(id));
    await this.store.deletePrefix(`annotations/${id}/`);
    await this.store.delete(stagingKey(id));
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
      backend: 's3',
    };
    const written = await this.store.putText('config.json', JSON.stringify(config, null, 2) + '\n', { ifNoneMatch: true });
    if (written === 'exists') {
      throw new HoldfastError('repository', `a repository was created at ${this.location} at the same time`, { hint: 'use it as it is' });
    }
    if (written === 'unsupported') await this.store.putText('config.json', JSON.stringify(config, null, 2) + '\n');
    this.config = config;
  }
}

function notFound(id: string): HoldfastError {
  return new HoldfastError('not-found', `no snapshot ${JSON.stringify(id)} in this repository`, { hint: 'list them with `holdfast snapshots`' });
}

function lockNotes(tookOverFrom: S3LockInfo | undefined, bestEffort: boolean): string[] {
  const notes: string[] = [];
  if (tookOverFrom) notes.push(`took over a stale lock of pid ${tookOverFrom.pid} on ${tookOverFrom.host} (${tookOverFrom.command}, since ${tookOverFrom.since})`);
  if (bestEffort) notes.push('this S3 server does not implement conditional writes (If-None-Match): the repository lock is a best effort');
  return notes;
}
